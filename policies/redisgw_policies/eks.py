"""EKS hardening: endpoint exposure, Secrets encryption, control-plane logs, OIDC, node access.

Rules read both the inputs we pass the pulumi-eks component (``eks:index:Cluster``, all that the
offline engine sees) and the ``aws:eks/cluster:Cluster`` it creates (seen in real previews), in
either shape the provider sends (``encryptionConfig`` is one object in pulumi-aws 7, a list before).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._policy import as_int, as_map, get, maps, resource_policy, strings, truthy

COMPONENT = "eks:index:Cluster"
CLUSTER = "aws:eks/cluster:Cluster"
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")
_OPEN = ("0.0.0.0/0", "::/0")


def _vpc_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    for config in maps(props.get("vpcConfig")):
        return config
    return props


def public_endpoint(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    cfg = _vpc_config(props)
    public = cfg.get("endpointPublicAccess", props.get("endpointPublicAccess", True))
    if public is False or (isinstance(public, str) and public.lower() == "false"):
        return
    if not config.get("allowPublicEndpoint", False):
        yield "The EKS API endpoint is public; this stack requires a private-only endpoint."
        return
    cidrs = strings(cfg.get("publicAccessCidrs")) or strings(props.get("publicAccessCidrs"))
    if not cidrs or set(cidrs) & set(_OPEN):
        yield "The EKS API endpoint is public and open to 0.0.0.0/0."
        return
    allowed = set(strings(config.get("allowedPublicCidrs")))
    extra = sorted(set(cidrs) - allowed)
    if allowed and extra:
        yield f"The EKS API endpoint admits CIDRs outside allowedPublicCidrs: {extra}."


def secrets_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if isinstance(props.get("encryptionConfigKeyArn"), str) and props.get("encryptionConfigKeyArn"):
        return
    for entry in maps(props.get("encryptionConfig")):
        if "secrets" in strings(entry.get("resources")) and get(entry, "provider.keyArn"):
            return
        if "secrets" in strings(entry.get("resources")) and any(p.get("keyArn") for p in maps(entry.get("provider"))):
            return
    yield "Kubernetes Secrets are not envelope-encrypted with a KMS key."


def control_plane_logs(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    enabled = set(strings(props.get("enabledClusterLogTypes")))
    missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
    if missing:
        yield f"Control-plane log types {missing} are not enabled."


def oidc_provider(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not truthy(props.get("createOidcProvider")):
        yield "No IAM OIDC provider: workloads would need node credentials instead of IRSA roles."


def access_mode(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """Access entries (API mode) instead of the aws-auth ConfigMap; no implicit creator admin."""
    mode = props.get("authenticationMode") or get(props, "accessConfig.authenticationMode")
    if mode not in ("API",):
        yield f"Authentication mode is {mode or 'CONFIG_MAP (default)'}: use API (access entries only)."
    creator = props.get("bootstrapClusterCreatorAdminPermissions")
    if creator is None:
        creator = get(props, "accessConfig.bootstrapClusterCreatorAdminPermissions")
    if truthy(creator):
        yield "The cluster creator is made cluster admin implicitly."


def supported_version(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    version = props.get("version")
    minimum = str(config.get("minimumVersion") or "1.32")
    match, floor = re.fullmatch(r"1\.(\d+)", str(version or "")), re.fullmatch(r"1\.(\d+)", minimum)
    if version is None:
        yield "The Kubernetes version is not pinned; EKS would pick its default."
    elif match is None or (floor is not None and int(match.group(1)) < int(floor.group(1))):
        yield f"Kubernetes {version} is older than {minimum}, outside standard support."


def network_policy_enforcement(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """NetworkPolicies are only enforced when the VPC CNI runs its network policy agent."""
    if "addonName" in props:  # aws:eks/addon:Addon
        if props.get("addonName") != "vpc-cni":
            return
        values = props.get("configurationValues")
        try:
            parsed = json.loads(values) if isinstance(values, str) else values
        except ValueError:
            parsed = None
        if not truthy(as_map(parsed).get("enableNetworkPolicy")):
            yield "The vpc-cni add-on does not enforce NetworkPolicies (enableNetworkPolicy)."
        return
    if not truthy(get(props, "vpcCniOptions.enableNetworkPolicy")):
        yield "The VPC CNI does not enforce NetworkPolicies (vpcCniOptions.enableNetworkPolicy)."


def imdsv2(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    found = maps(props.get("metadataOptions"))
    options: Mapping[str, Any] = found[0] if found else {}
    if options.get("httpTokens") != "required":
        yield "Instance metadata does not require IMDSv2 session tokens."
    if (as_int(options.get("httpPutResponseHopLimit"), 1) or 1) > 1:
        yield "IMDS hop limit above 1 lets pods reach the node's credentials."


def node_ssh(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("remoteAccess") or props.get("keyName"):
        yield "SSH access to nodes is configured; use SSM Session Manager instead."


def deletion_protection(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """The cluster holds Redis' volumes and the backup jobs: one ``destroy`` or a replacement must not
    take it. Read from the component's input and from the created cluster."""
    if not truthy(props.get("deletionProtection")):
        yield (
            "The EKS cluster has no deletion protection: a destroy, or a change that replaces it, deletes the "
            "cluster with Redis' volumes attached."
        )


def node_group_template(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """A managed node group without a launch template gets the default metadata and volume settings."""
    if not props.get("launchTemplate"):
        yield "The node group has no launch template: IMDSv2 and volume encryption are not enforced."


POLICIES = [
    resource_policy(
        name="eks-cluster-require-deletion-protection",
        description="EKS clusters that hold the stack's data cannot be deleted while deletion protection is on.",
        types=(COMPONENT, CLUSTER),
        rule=deletion_protection,
        severity=Severity.HIGH,
        remediation="Set redisgw:cluster.deletionProtection to true (EksClusterArgs.deletion_protection).",
    ),
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
        name="eks-cluster-require-access-entries",
        description="Cluster access is granted by access entries (API mode), never implicitly to the creator.",
        types=(COMPONENT, CLUSTER),
        rule=access_mode,
        severity=Severity.HIGH,
        remediation="Set authentication_mode API and bootstrap_cluster_creator_admin_permissions False.",
    ),
    resource_policy(
        name="eks-cluster-require-supported-version",
        description="The cluster runs a pinned Kubernetes version inside EKS standard support.",
        types=(COMPONENT, CLUSTER),
        rule=supported_version,
        severity=Severity.MEDIUM,
        remediation="Set redisgw:cluster.version to a supported minor and upgrade before it leaves support.",
        config={"minimumVersion": {"type": "string", "default": "1.32"}},
    ),
    resource_policy(
        name="eks-cluster-require-network-policy-enforcement",
        description="The cluster's CNI enforces NetworkPolicies, so default-deny rules take effect.",
        types=(COMPONENT, "aws:eks/addon:Addon"),
        rule=network_policy_enforcement,
        severity=Severity.HIGH,
        remediation="Set vpcCniOptions.enableNetworkPolicy (or the vpc-cni add-on's enableNetworkPolicy) to true.",
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
    resource_policy(
        name="eks-node-group-require-launch-template",
        description="Managed node groups use a hardened launch template.",
        types=("aws:eks/nodeGroup:NodeGroup",),
        rule=node_group_template,
        severity=Severity.MEDIUM,
        remediation="Create node groups through EksCluster, which gives each a hardened launch template.",
    ),
]
