"""EKS hardening: endpoint exposure, Secrets encryption, control-plane logs, OIDC, node access, and
the versions of node groups and add-ons against their control plane.

Rules read both the inputs we pass the pulumi-eks component (``eks:index:Cluster``, all that the
offline engine sees) and the ``aws:eks/cluster:Cluster`` it creates (seen in real previews), in
either shape the provider sends (``encryptionConfig`` is one object in pulumi-aws 7, a list before).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._policy import (
    Finding,
    as_int,
    as_map,
    get,
    known_items,
    maps,
    of_type,
    resource_policy,
    stack_policy,
    strings,
    truthy,
)

COMPONENT = "eks:index:Cluster"
CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
_ONE_BUILD = {
    "vpc-cni": "v1.21.1-eksbuild.7",
    "aws-ebs-csi-driver": "v1.58.0-eksbuild.1",
    "metrics-server": "v0.8.1-eksbuild.5",
}
ADDON_VERSIONS: Mapping[str, Mapping[str, str]] = {
    "1.32": {**_ONE_BUILD, "coredns": "v1.11.4-eksbuild.33", "kube-proxy": "v1.32.13-eksbuild.5"},
    "1.33": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.33.10-eksbuild.2"},
    "1.34": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.34.6-eksbuild.2"},
    "1.35": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.35.3-eksbuild.2"},
}
"""The program's EKS add-on builds per control-plane minor (``EKS_ADDON_VERSIONS`` of
``components/eks_cluster.py``, sources cited there). The pack is deployed on its own and cannot import
the program: a test holds the two tables equal. A build's line (``v1.13`` of ``v1.13.2-eksbuild.4``) is
for the minors whose pinned build is of that line."""
_COMPONENT_ADDONS = (
    ("coredns", "corednsAddonOptions", "version"),
    ("kube-proxy", "kubeProxyAddonOptions", "version"),
    ("vpc-cni", "vpcCniOptions", "addonVersion"),
)
"""Add-ons pulumi-eks creates from the component's options: (add-on, options key, version key)."""
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


def kubernetes_minor(value: Any) -> int | None:
    """``35`` for ``"1.35"``, ``"1.35.2"``, ``"v1.35.3-eksbuild.2"``; None for anything else."""
    match = re.fullmatch(r"v?1\.(\d{1,3})(?:\.\d+)?(?:[-+][\w.-]*)?", value.strip()) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _line(build: Any) -> str | None:
    match = re.match(r"(v\d+\.\d+)\.", build) if isinstance(build, str) else None
    return match.group(1) if match else None


def _known(props: Any) -> dict[str, Any]:
    """The properties the engine knows now (a name from another resource may not be, in a preview)."""
    return {key: value for key, value, known in known_items(props) if known}


def _unknown(props: Any) -> set[str]:
    """The properties set to values the engine does not know yet: not judged, never taken as missing."""
    return {key for key, _, known in known_items(props) if not known}


def _addon_findings(addon: str, build: Any, control: int, what: str) -> Iterator[Finding]:
    """An add-on's build against its control plane's minor: pinned, and for that minor. kube-proxy's line
    is the minor it is for (``v1.35.3-eksbuild.2``); the others' lines are judged by the table, on the
    minors it covers."""
    if not isinstance(build, str) or not build.strip():
        yield Finding(
            f"{what} pins no version: EKS keeps the build it installed when the control plane moves to another "
            "minor (and picks one itself at creation).",
            field="addonVersion",
        )
        return
    row = ADDON_VERSIONS.get(f"1.{control}")
    pinned = f" (pinned for it: {row[addon]})" if row and addon in row else ""
    if addon == "kube-proxy":
        minor = kubernetes_minor(build)
        if minor is None:
            yield Finding(
                f"{what} runs {build!r}, not a kube-proxy build (v1.<minor>.<patch>-eksbuild.<n>): EKS refuses it"
                f"{pinned}.",
                field="addonVersion",
            )
        elif minor != control:
            yield Finding(
                f"{what} runs {build}, for Kubernetes 1.{minor}; its control plane runs 1.{control}{pinned}.",
                field="addonVersion",
            )
        return
    known = any(addon in r for r in ADDON_VERSIONS.values())
    minors = sorted(
        {kubernetes_minor(m) or 0 for m, r in ADDON_VERSIONS.items() if _line(r.get(addon)) == _line(build)}
    )
    if known and (_line(build) is None or not minors):
        # A line the table lists for no minor (an older build, a typo): EKS answers "Addon version
        # specified is not supported" at create or update, after the rest of the plan has moved.
        yield Finding(
            f"{what} runs {build!r}, a build of no line EKS offers for the Kubernetes minors this program "
            f"supports{pinned}.",
            field="addonVersion",
        )
        return
    if row is not None and minors and control not in minors:
        yield Finding(
            f"{what} runs {build}, a build for Kubernetes {', '.join(f'1.{m}' for m in minors)}, not for its "
            f"control plane's 1.{control} (pinned for it: {row.get(addon)}).",
            field="addonVersion",
        )


def version_skew(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """Node groups and add-ons against the minor of the control plane they run on (matched by cluster
    name; one cluster per region otherwise).

    A managed node group pins its ``version`` (unpinned, it keeps its creation minor while the control
    plane moves), is never newer than its control plane and at most ``maxMinorsBehind`` older. The
    Kubernetes skew policy lets a kubelet of 1.28 or later be three minors older than the API server
    (kubernetes.io/releases/version-skew-policy), and the EKS User Guide ("Update existing cluster to
    new Kubernetes version", update-cluster.html, read 2026-12-05) lets a cluster whose kubelets are
    1.25 or later move up to three minors ahead of them, while it recommends that nodes run the control
    plane's minor before the next update. One minor is this program's choice: the lag a staged upgrade
    needs (``redisgw:cluster.nodeVersion``, which settings hold to one minor), and no more, so that the
    next control-plane update never starts with nodes already behind. Each add-on the program knows pins a build of
    a line EKS offers for the control plane's minor (:data:`ADDON_VERSIONS`)."""
    behind = max(0, as_int(config.get("maxMinorsBehind"), 1) or 0)
    clusters: dict[str, int] = {}
    for cluster in of_type(args, COMPONENT, CLUSTER):
        props = _known(cluster.props)
        control = kubernetes_minor(props.get("version"))
        if control is None:
            continue  # eks-cluster-require-supported-version reports an unpinned version
        clusters[str(props.get("name") or cluster.urn)] = control
        if cluster.resource_type == COMPONENT:
            for addon, options, key in _COMPONENT_ADDONS:
                found = _known(props.get(options))
                if found.get("enabled") is False or options in _unknown(cluster.props):
                    continue
                if key in _unknown(props.get(options)):
                    continue  # known once the value it comes from is
                for finding in _addon_findings(addon, found.get(key), control, f"Add-on {addon} of {cluster.name}"):
                    yield finding, cluster.urn

    def control_of(props: Mapping[str, Any]) -> int | None:
        name = props.get("clusterName")
        if isinstance(name, str) and name in clusters:
            return clusters[name]
        return next(iter(clusters.values())) if len(clusters) == 1 else None

    for group in of_type(args, NODE_GROUP):
        yield from ((f, group.urn) for f in _node_group_findings(group, control_of(_known(group.props)), behind))
    for resource in of_type(args, ADDON):
        props = _known(resource.props)
        control, name = control_of(props), props.get("addonName")
        known = {addon for row in ADDON_VERSIONS.values() for addon in row}
        if control is None or not isinstance(name, str) or name not in known:
            continue
        if "addonVersion" in _unknown(resource.props):
            continue
        for finding in _addon_findings(name, props.get("addonVersion"), control, f"Add-on {name} ({resource.name})"):
            yield finding, resource.urn


def _node_group_findings(group: PolicyResource, control: int | None, behind: int) -> Iterator[Finding]:
    if control is None or "version" in _unknown(group.props):
        return
    version = _known(group.props).get("version")
    minor = kubernetes_minor(version)
    if version is None:
        yield Finding(
            f"Node group {group.name} pins no Kubernetes version: it keeps the minor it was created with while "
            f"its control plane (1.{control}) moves on.",
            field="version",
        )
    elif minor is None:
        yield Finding(f"Node group {group.name}'s version {version!r} is not a Kubernetes minor.", field="version")
    elif minor > control:
        yield Finding(
            f"Node group {group.name} runs Kubernetes 1.{minor}, newer than its control plane (1.{control}): a "
            "kubelet must not be newer than the API server.",
            field="version",
        )
    elif control - minor > behind:
        yield Finding(
            f"Node group {group.name} runs Kubernetes 1.{minor}, {control - minor} minors behind its control plane "
            f"(1.{control}); at most {behind} allowed: EKS updates a control plane only once its managed nodes run "
            "its minor.",
            field="version",
        )


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
    stack_policy(
        name="eks-cluster-disallow-version-skew",
        description=(
            "Node groups and EKS add-ons follow their control plane's Kubernetes minor: node groups pinned, "
            "never newer and within EKS's skew, add-ons on a build for that minor."
        ),
        rule=version_skew,
        severity=Severity.HIGH,
        remediation=(
            "Let redisgw:cluster.version drive node groups and add-ons (EksCluster pins them from EKS_ADDON_VERSIONS); "
            "a staged upgrade holds node groups at most one minor behind with redisgw:cluster.nodeVersion "
            "(docs/runbooks/upgrades.md)."
        ),
        config={
            "maxMinorsBehind": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1,
                "default": 1,
                "description": "How many minors a node group may trail its control plane (0 or 1: settings hold "
                "redisgw:cluster.nodeVersion to one minor; the kubelet skew would allow 3).",
            }
        },
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
