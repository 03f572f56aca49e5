"""Every policy has a compliant and a violating case; the pack assembles and keeps its metadata."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs

from redisgw_policies import POLICIES, eks, network

COMPLIANT_CLUSTER = {
    "endpointPublicAccess": False,
    "encryptionConfigKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/abc",
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "createOidcProvider": True,
}


def _messages(rule: Any, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    return list(rule(props, config or {}))


@pytest.mark.parametrize(
    ("rule", "violating"),
    [
        (eks.public_endpoint, {**COMPLIANT_CLUSTER, "endpointPublicAccess": True}),
        (eks.secrets_encryption, {k: v for k, v in COMPLIANT_CLUSTER.items() if k != "encryptionConfigKeyArn"}),
        (eks.control_plane_logs, {**COMPLIANT_CLUSTER, "enabledClusterLogTypes": ["api"]}),
        (eks.oidc_provider, {**COMPLIANT_CLUSTER, "createOidcProvider": False}),
    ],
    ids=["public-endpoint", "secrets-encryption", "control-plane-logs", "oidc"],
)
def test_cluster_rules(rule: Any, violating: dict[str, Any]) -> None:
    assert _messages(rule, COMPLIANT_CLUSTER) == []
    assert len(_messages(rule, violating)) == 1


def test_public_endpoint_allowed_by_config_only_with_named_cidrs() -> None:
    allowed = {"allowPublicEndpoint": True}
    public = {**COMPLIANT_CLUSTER, "endpointPublicAccess": True}
    assert _messages(eks.public_endpoint, {**public, "publicAccessCidrs": ["203.0.113.0/24"]}, allowed) == []
    assert _messages(eks.public_endpoint, {**public, "publicAccessCidrs": ["0.0.0.0/0"]}, allowed)
    assert _messages(eks.public_endpoint, public, allowed)


def test_rules_read_the_aws_cluster_shape_too() -> None:
    cluster = {
        "vpcConfig": {"endpointPublicAccess": False},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}}],
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
    }
    assert _messages(eks.public_endpoint, cluster) == []
    assert _messages(eks.secrets_encryption, cluster) == []
    assert _messages(eks.secrets_encryption, {"encryptionConfig": [{"resources": ["configmaps"]}]})


def test_imdsv2_rule() -> None:
    good = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}}
    assert _messages(eks.imdsv2, good) == []
    assert len(_messages(eks.imdsv2, {"metadataOptions": {"httpTokens": "optional"}})) == 1
    assert (
        len(_messages(eks.imdsv2, {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}})) == 1
    )


def test_ssh_rule() -> None:
    assert _messages(eks.node_ssh, {"instanceTypes": ["m7i.large"]}) == []
    assert _messages(eks.node_ssh, {"remoteAccess": {"ec2SshKey": "ops"}})
    assert _messages(eks.node_ssh, {"keyName": "ops"})


def _res(
    typ: str, name: str, props: dict[str, Any], deps: dict[str, list[PolicyResource]] | None = None
) -> PolicyResource:
    return PolicyResource(
        typ,
        props,
        f"urn:{typ}::{name}",
        name,
        PolicyResourceOptions(False, [], None, [], None, [], None),
        None,
        None,
        [],
        deps or {},
    )


def _stack(*resources: PolicyResource) -> StackValidationArgs:
    return StackValidationArgs(list(resources), None)


def test_flow_log_rule() -> None:
    vpc = _res("aws:ec2/vpc:Vpc", "main", {})
    flow = _res("aws:ec2/flowLog:FlowLog", "fl", {}, {"vpcId": [vpc]})
    assert list(network.flow_logs(_stack(vpc, flow))) == []
    ((message, urn),) = network.flow_logs(_stack(vpc))
    assert urn == vpc.urn and "no flow log" in message


def test_nat_per_zone_rule() -> None:
    subnets = [_res("aws:ec2/subnet:Subnet", f"pub-{z}", {"availabilityZone": z}) for z in "abc"]
    nats = [_res("aws:ec2/natGateway:NatGateway", f"nat-{s.name}", {}, {"subnetId": [s]}) for s in subnets]
    assert list(network.nat_per_zone(_stack(*subnets, *nats))) == []
    ((message, _),) = network.nat_per_zone(_stack(*subnets, nats[0]))
    assert "['b', 'c']" in message


def test_every_policy_has_metadata_and_a_kebab_case_name() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    for p in POLICIES:
        assert p.name == p.name.lower() and " " not in p.name and p.name.count("-") >= 2
        assert p.description.endswith(".")
        assert p.severity is not None
        assert p.remediation_steps
