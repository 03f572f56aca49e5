"""EKS hardening: endpoint exposure, Secrets encryption, control-plane logs, OIDC, node access.

Rules read both the inputs we pass the pulumi-eks component (``eks:index:Cluster``, all that the
offline engine sees) and the ``aws:eks/cluster:Cluster`` it creates (seen in real previews).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._policy import get, resource_policy

COMPONENT = "eks:index:Cluster"
CLUSTER = "aws:eks/cluster:Cluster"
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")


def _vpc_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return get(props, "vpcConfig", {}) or props


def public_endpoint(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    cfg = _vpc_config(props)
    if not cfg.get("endpointPublicAccess", props.get("endpointPublicAccess", True)):
        return
    if not config.get("allowPublicEndpoint", False):
        yield "The EKS API endpoint is public; this stack requires a private-only endpoint."
        return
    cidrs = cfg.get("publicAccessCidrs") or props.get("publicAccessCidrs") or []
    if not cidrs or "0.0.0.0/0" in cidrs:
        yield "The EKS API endpoint is public and open to 0.0.0.0/0."
        return
    allowed = set(config.get("allowedPublicCidrs") or [])
    extra = sorted(set(cidrs) - allowed)
    if allowed and extra:
        yield f"The EKS API endpoint admits CIDRs outside allowedPublicCidrs: {extra}."


def secrets_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("encryptionConfigKeyArn"):
        return
    for entry in props.get("encryptionConfig") or []:
        if "secrets" in (entry.get("resources") or []) and get(entry, "provider.keyArn"):
            return
    yield "Kubernetes Secrets are not envelope-encrypted with a KMS key."


def control_plane_logs(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    enabled = set(props.get("enabledClusterLogTypes") or [])
    missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
    if missing:
        yield f"Control-plane log types {missing} are not enabled."


def oidc_provider(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("createOidcProvider"):
        yield "No IAM OIDC provider: workloads would need node credentials instead of IRSA roles."


def imdsv2(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if get(props, "metadataOptions.httpTokens") != "required":
        yield "Instance metadata does not require IMDSv2 session tokens."
    if int(get(props, "metadataOptions.httpPutResponseHopLimit", 1) or 1) > 1:
        yield "IMDS hop limit above 1 lets pods reach the node's credentials."


def node_ssh(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("remoteAccess") or props.get("keyName"):
        yield "SSH access to nodes is configured; use SSM Session Manager instead."


POLICIES = [
    resource_policy(
        name="eks-cluster-disallow-public-endpoint",
        description="The EKS API endpoint is private, or public only for named CIDRs where a stack allows it.",
        types=(COMPONENT, CLUSTER),
        rule=public_endpoint,
        severity=Severity.HIGH,
        remediation="Set redisgw:cluster.endpointPublicAccess to false (or list publicAccessCidrs where allowed).",
        config={
            "allowPublicEndpoint": {"type": "boolean", "default": False},
            "allowedPublicCidrs": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "CIDRs a public endpoint may admit; others are violations.",
            },
        },
    ),
    resource_policy(
        name="eks-cluster-require-secrets-encryption",
        description="Kubernetes Secrets are envelope-encrypted with a customer-managed KMS key.",
        types=(COMPONENT, CLUSTER),
        rule=secrets_encryption,
        severity=Severity.HIGH,
        remediation="Pass encryption_config_key_arn (a rotating KMS key) to the cluster.",
    ),
    resource_policy(
        name="eks-cluster-require-control-plane-logs",
        description="The api, audit and authenticator control-plane logs are enabled.",
        types=(COMPONENT, CLUSTER),
        rule=control_plane_logs,
        severity=Severity.MEDIUM,
        remediation="Enable the api, audit and authenticator log types on the cluster.",
    ),
    resource_policy(
        name="eks-cluster-require-oidc-provider",
        description="The cluster has an IAM OIDC provider so workloads use IRSA roles.",
        types=(COMPONENT,),
        rule=oidc_provider,
        severity=Severity.MEDIUM,
        remediation="Set create_oidc_provider=True on the cluster.",
    ),
    resource_policy(
        name="ec2-launch-template-require-imdsv2",
        description="Node launch templates require IMDSv2 tokens with a hop limit of 1.",
        types=("aws:ec2/launchTemplate:LaunchTemplate",),
        rule=imdsv2,
        severity=Severity.HIGH,
        remediation="Set metadata_options http_tokens='required' and http_put_response_hop_limit=1.",
    ),
    resource_policy(
        name="eks-node-group-disallow-ssh",
        description="Nodes have no SSH key or remote access; SSM Session Manager is the way in.",
        types=("aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate"),
        rule=node_ssh,
        severity=Severity.HIGH,
        remediation="Remove remote_access / key_name; attach AmazonSSMManagedInstanceCore to the node role.",
    ),
]
