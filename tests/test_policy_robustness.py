"""No policy raises, whatever shape a resource arrives in.

The engine hands policies whatever the provider sends: an object where another version sent a list
(pulumi-aws 7's ``encryptionConfig``), a string where a number was expected, null, a missing key,
or an unknown value during preview. A policy that raises is a bug: for any input it must report a
violation or nothing. Hypothesis generates such shapes two ways, for every type the pack handles:

* real resources from the recorded production plan (and seeds for types the program does not
  create) with one random subtree replaced by an arbitrary value, or removed;
* arbitrary objects built from the property names the real resources use.

Properties go through pulumi_policy's own unknown-checking proxy, as in the analyzer; reading an
unknown raises ``UnknownValueError``, which the analyzer turns into an advisory note, so that one
exception is allowed. Stack policies see the mutated resource inside the whole production plan.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from redisgw_policies import POLICIES
from tests.conftest import Recording
from tests.policy_harness import as_policy_resources, pack_config

EXTRA_SEEDS: dict[str, dict[str, Any]] = {
    "aws:eks/addon:Addon": {"addonName": "vpc-cni", "configurationValues": '{"enableNetworkPolicy": "true"}'},
    "aws:eks/cluster:Cluster": {
        "version": "1.34",
        "vpcConfig": {"endpointPublicAccess": False, "publicAccessCidrs": ["10.0.0.0/8"]},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    },
    "aws:s3/bucketV2:BucketV2": {
        "versionings": [{"enabled": True}],
        "serverSideEncryptionConfigurations": [
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
        ],
        "objectLockConfiguration": {"objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"days": 14}}},
        "replicationConfiguration": {"rules": [{"status": "Enabled"}]},
        "acl": "private",
        "grants": [{"uri": "http://acs.amazonaws.com/groups/global/AllUsers"}],
    },
    "aws:s3/bucketAclV2:BucketAclV2": {
        "acl": "private",
        "accessControlPolicy": {"grants": [{"grantee": {"uri": "x"}}]},
    },
    "aws:lb/listener:Listener": {
        "protocol": "HTTPS",
        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}],
    },
    "aws:alb/listener:Listener": {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]},
    "aws:lb/loadBalancer:LoadBalancer": {
        "accessLogs": {"enabled": True, "bucket": "b"},
        "dropInvalidHeaderFields": True,
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    },
    "aws:ec2/securityGroupRule:SecurityGroupRule": {
        "type": "ingress",
        "protocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "cidrBlocks": ["10.0.0.0/8"],
    },
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
        "ipProtocol": "tcp",
        "fromPort": 6379,
        "toPort": 6379,
        "cidrIpv4": "10.0.0.0/16",
    },
    "aws:iam/policy:Policy": {
        "policy": '{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}'
    },
    "aws:iam/userPolicy:UserPolicy": {"policy": {"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}},
    "aws:kms/keyPolicy:KeyPolicy": {
        "policy": '{"Statement": [{"Effect": "Allow", "Principal": "*", "Condition": {"Bool": {"x": true}}}]}'
    },
    "aws:ebs/volume:Volume": {"availabilityZone": "eu-west-1a", "size": 10, "encrypted": True},
    "aws:ec2/instance:Instance": {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"encrypted": False}]},
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": {
        "logDestinationConfigs": ["arn"],
        "resourceArn": "arn",
    },
    "kubernetes:networking.k8s.io/v1:IngressClass": {
        "kind": "IngressClass",
        "metadata": {"name": "alb"},
        "spec": {"controller": "ingress.k8s.aws/alb"},
    },
    "kubernetes:apps/v1:DaemonSet": {
        "kind": "DaemonSet",
        "spec": {
            "template": {"spec": {"hostNetwork": True, "containers": [{"name": "c", "ports": [{"hostPort": "80"}]}]}}
        },
    },
    "kubernetes:core/v1:Pod": {
        "kind": "Pod",
        "spec": {"volumes": [{"name": "v", "hostPath": {"path": "/"}}], "ephemeralContainers": [{"name": "e"}]},
    },
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": {
        "kind": "ClusterRoleBinding",
        "roleRef": {"name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:anonymous"}],
    },
}

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["*", "0.0.0.0/0", "true", "false", "Enabled", "ALL", "%", "50%", "-1", UNKNOWN_STRING_VALUE]),
)


def _json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
        max_leaves=12,
    )


def _keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _keys(v, out)
    return out


@pytest.fixture(scope="module")
def plan(stack_run: Callable[[str], Recording]) -> list[PolicyResource]:
    return as_policy_resources(stack_run("production"))


@pytest.fixture(scope="module")
def seeds(plan: list[PolicyResource]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in plan:
        out.setdefault(r.resource_type, []).append(dict(r.props))
    for typ, props in EXTRA_SEEDS.items():
        out.setdefault(typ, []).append(props)
    return out


RESOURCE_POLICIES = [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)]
STACK_POLICIES = [p for p in POLICIES if not isinstance(p, ResourceValidationPolicy)]
CONFIG = pack_config("production")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a JSON-like tree, as a path of keys and indices (the root is ``()``)."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


_HOSTILE = st.one_of(
    st.sampled_from([None, 0, 1, -1, 5, 2.5, True, False, "", "x", "*", [], {}, [None], [1, "a"], {"a": None}]),
    st.just(UNKNOWN_STRING_VALUE),
)


def _replace_somewhere(data: st.DataObject, value: Any, keys: st.SearchStrategy[str]) -> Any:
    """``value`` with one node (chosen uniformly) replaced by a hostile or arbitrary value, or removed."""
    value = copy.deepcopy(value)
    path = data.draw(st.sampled_from(_paths(value)))
    replacement = data.draw(st.one_of(_HOSTILE, _json(keys)))
    if not path:
        return replacement
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.integers(0, 4)) == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return value


def _run_resource_policies(typ: str, props: Any) -> None:
    proxied = unknown_checking_proxy(copy.deepcopy(props))
    opts = PolicyResourceOptions(False, [], None, [], None, [], None)
    for policy in RESOURCE_POLICIES:
        if not policy.handles(typ):  # type: ignore[attr-defined]
            continue
        args = ResourceValidationArgs(
            typ, proxied, f"urn:pulumi:p::redisgw::{typ}::x", "x", opts, None, CONFIG[policy.name][1]
        )
        with contextlib.suppress(UnknownValueError):
            policy.validate(args, lambda message, urn=None: None)


def _run_stack_policies(plan: list[PolicyResource], typ: str, props: Any) -> None:
    extra = PolicyResource(
        typ,
        unknown_checking_proxy(copy.deepcopy(props)),
        f"urn:pulumi:p::redisgw::{typ}::fuzzed",
        "fuzzed",
        PolicyResourceOptions(False, [], None, [], None, [], None),
        None,
        None,
        [],
        {
            "bucket": plan[:3],
            "resourceArn": plan[-3:],
            "planId": plan[5:6],
            "backupVaultName": plan[7:8],
            "vpcId": plan[:1],
        },
    )
    resources = [*plan, extra]
    for policy in STACK_POLICIES:
        with contextlib.suppress(UnknownValueError):
            policy.validate(StackValidationArgs(resources, CONFIG[policy.name][1]), lambda message, urn=None: None)


def test_most_handled_types_have_a_real_seed(seeds: dict[str, list[dict[str, Any]]]) -> None:
    """Generated shapes start from real ones wherever the plan or a seed has the type."""
    missing = [t for t in HANDLED_TYPES if t not in seeds]
    assert len(missing) <= len(HANDLED_TYPES) // 3, missing


SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
K8S_TYPES = {
    kind: f"kubernetes:{group}:{kind}"
    for group, kinds in {
        "apps/v1": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
        "batch/v1": ["Job", "CronJob"],
        "core/v1": [
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "Service",
            "Namespace",
            "Secret",
            "ServiceAccount",
            "ConfigMap",
        ],
        "core/v1:": [],
        "argoproj.io/v1alpha1": ["Rollout", "AnalysisTemplate"],
        "redis.redis.opstreelabs.in/v1beta2": ["RedisReplication", "RedisSentinel", "Redis", "RedisCluster"],
        "networking.k8s.io/v1": ["Ingress", "NetworkPolicy", "IngressClass"],
        "storage.k8s.io/v1": ["StorageClass"],
        "rbac.authorization.k8s.io/v1": ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
        "policy/v1": ["PodDisruptionBudget"],
        "autoscaling/v2": ["HorizontalPodAutoscaler"],
        "monitoring.coreos.com/v1": ["ServiceMonitor", "PrometheusRule"],
        "helm.sh/v3": ["Release"],
    }.items()
    for kind in kinds
}
"""A type for every Kubernetes kind the pack reads (policies match kinds in any group and version)."""
HANDLED_TYPES = sorted(
    {t for p in RESOURCE_POLICIES for t in p.types}  # type: ignore[attr-defined]
    | {K8S_TYPES[k] for p in RESOURCE_POLICIES for k in p.kinds}  # type: ignore[attr-defined]
)
STACK_TYPES = sorted(
    set(HANDLED_TYPES)
    | set(K8S_TYPES.values())
    | set(EXTRA_SEEDS)
    | {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:backup/vault:Vault",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:backup/plan:Plan",
        "aws:backup/selection:Selection",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/flowLog:FlowLog",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:wafv2/webAcl:WebAcl",
        "eks:index:Cluster",
    }
)


@pytest.mark.parametrize("typ", HANDLED_TYPES)
@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_resource_policies_never_raise_on_mutated_real_shapes(
    typ: str, data: st.DataObject, seeds: dict[str, list[dict[str, Any]]]
) -> None:
    seed = data.draw(st.sampled_from(seeds.get(typ) or [{}]))
    keys = st.sampled_from(sorted(_keys(seed, set())) or ["x"])
    _run_resource_policies(typ, _replace_somewhere(data, seed, keys))


@pytest.mark.parametrize("typ", HANDLED_TYPES)
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_resource_policies_never_raise_on_arbitrary_objects(
    typ: str, data: st.DataObject, seeds: dict[str, list[dict[str, Any]]]
) -> None:
    vocabulary = sorted(_keys(seeds.get(typ, []), set()) | {"kind", "spec", "metadata"})
    props = data.draw(st.dictionaries(st.sampled_from(vocabulary), _json(st.sampled_from(vocabulary)), max_size=8))
    if typ.startswith("kubernetes:") and data.draw(st.booleans()):
        props["kind"] = typ.rsplit(":", 1)[-1]
    _run_resource_policies(typ, props)


@pytest.mark.parametrize("typ", STACK_TYPES)
@settings(SETTINGS, max_examples=4)
@given(data=st.data())
def test_stack_policies_never_raise_on_a_mutated_resource_in_the_plan(
    typ: str, data: st.DataObject, plan: list[PolicyResource], seeds: dict[str, list[dict[str, Any]]]
) -> None:
    seed = data.draw(st.sampled_from(seeds.get(typ) or [{}]))
    keys = st.sampled_from(sorted(_keys(seed, set())) or ["x"])
    _run_stack_policies(plan, typ, _replace_somewhere(data, seed, keys))


@pytest.mark.parametrize(
    "shape",
    [
        {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}},  # pulumi-aws 7: one object
        [{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}}],  # older: a list
    ],
    ids=["object", "list"],
)
def test_eks_cluster_encryption_config_in_both_provider_shapes(shape: Any) -> None:
    """The real engine's shape of aws:eks/cluster:Cluster passes the pack when compliant."""
    from tests.policy_harness import evaluate_resource

    cluster = {
        "version": "1.34",
        "vpcConfig": {"endpointPublicAccess": False},
        "encryptionConfig": shape,
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "accessConfig": {"authenticationMode": "API"},
        "deletionProtection": True,  # pulumi-aws 7's aws.eks.Cluster input, as the component passes it
    }
    resource = PolicyResource(
        "aws:eks/cluster:Cluster",
        unknown_checking_proxy(cluster),
        "urn:pulumi:p::redisgw::aws:eks/cluster:Cluster::c",
        "c",
        PolicyResourceOptions(True, [], None, [], None, [], None),
        None,
        None,
        [],
        {},
    )
    assert evaluate_resource(resource, CONFIG) == []
