"""EksCluster: a hardened EKS control plane, its node groups and the add-ons every workload needs.

pulumi-eks defaults are not production defaults (public endpoint, no envelope encryption, no
control-plane logs, no OIDC provider, IMDSv1 reachable from pods), so every one of them is set here
explicitly:

* API-only authentication with EKS access entries (no ``aws-auth`` ConfigMap);
* private endpoint always on, public endpoint off or limited to configured CIDRs;
* Secrets envelope-encrypted with a rotating customer-managed KMS key;
* all five control-plane log types into a KMS-encrypted log group with retention;
* an OIDC provider for IAM Roles for Service Accounts;
* managed node groups ``main`` and ``redis`` in private subnets only, launched from templates that
  require IMDSv2 with a hop limit of 1 (pods cannot reach node credentials), encrypted gp3 root
  volumes, no SSH key (SSM Session Manager instead);
* managed add-ons: vpc-cni with NetworkPolicy enforcement, CoreDNS, kube-proxy, EBS CSI driver (IRSA)
  and metrics-server; the default StorageClass is encrypted gp3 with a customer-managed key;
* AWS Load Balancer Controller and Cluster Autoscaler from their Helm charts, each with its own
  least-privilege IRSA role.

**Versions.** ``version`` is the one Kubernetes minor everything follows: the control plane, every
managed node group's ``version`` (``node_version`` holds them one minor behind during a staged
upgrade), every add-on's build (:data:`EKS_ADDON_VERSIONS`) and the Cluster Autoscaler's image. On a
change, ``pulumi up`` applies them in dependency order: the control plane, with the add-ons pulumi-eks
creates beside it (vpc-cni, CoreDNS, kube-proxy); then the node groups, rolled by EKS one node at a
time (``update_config.max_unavailable``); then the EBS CSI driver, metrics-server and the charts,
which wait for the node groups. The procedure is ``docs/runbooks/upgrades.md``.

Cluster autoscaling uses the Cluster Autoscaler, not Karpenter: the managed node groups stay the unit
of configuration, policy and capacity planning (the ``redis`` group is tainted and sized on its own),
zonal EBS volumes of Redis keep their pods in their zone, and there is no extra interruption queue or
node-class API to operate. ``balance-similar-node-groups`` keeps zones even.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components import _iam_documents
from components._shared import encryption_key, helm_release, irsa_role, service_role

REDIS_NODE_LABELS: Mapping[str, str] = {"role": "redis"}
"""Labels of the Redis node group; Redis pods select them."""
REDIS_NODE_TAINT = {"key": "redis-workload", "value": "true", "effect": "NO_SCHEDULE"}
"""Taint of the Redis node group (``redis-workload=true:NoSchedule``); only Redis pods tolerate it."""
MAIN_NODE_LABELS: Mapping[str, str] = {"role": "general"}
"""Labels of the general-purpose node group."""

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
"""Name of the default StorageClass (encrypted gp3, customer-managed key, Retain)."""

LOAD_BALANCER_CONTROLLER_CHART = ("aws-load-balancer-controller", "1.14.0", "https://aws.github.io/eks-charts")
"""(chart, version, repository). 1.14.0 ships controller v2.14.0 (IngressClassParams, ALB/NLB, WAFv2)."""
CLUSTER_AUTOSCALER_CHART = ("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
"""(chart, version, repository). The image tag is matched to the cluster minor below."""
CLUSTER_AUTOSCALER_IMAGES = {"1.32": "v1.32.5", "1.33": "v1.33.3", "1.34": "v1.34.2", "1.35": "v1.35.0"}
"""Cluster Autoscaler releases per Kubernetes minor (the autoscaler must match the control plane)."""

NODE_GROUPS = ("main", "redis")
"""The managed node groups of a cluster, named ``<component>-<group>`` in EKS."""
EKS_ADDONS = ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server")
"""The EKS add-ons this component installs, each pinned per Kubernetes minor in :data:`EKS_ADDON_VERSIONS`."""
# EKS add-on builds per Kubernetes minor; the control plane's minor picks the row, so a change of
# redisgw:cluster.version moves every add-on with it (EKS does not: an add-on keeps its version
# until it is told otherwise). Sources, read 2026-12-05:
# * coredns, kube-proxy: the "latest version of the Amazon EKS add-on type for each Kubernetes
#   version" tables of the EKS User Guide, docs.aws.amazon.com/eks/latest/userguide/managing-coredns.html
#   and .../managing-kube-proxy.html, in the edition that lists 1.30 to 1.35 (read from its copy at
#   docs.amazonaws.cn/zh_cn/eks/latest/userguide/managing-coredns.md and managing-kube-proxy.md; the
#   tables are the same in every language). kube-proxy has one build line per minor; CoreDNS v1.11
#   serves up to 1.32, v1.13 from 1.33.
# * vpc-cni, aws-ebs-csi-driver, metrics-server: one build serves every minor here (the guide's VPC
#   CNI table, .../managing-vpc-cni.html, lists one build for 1.28 to 1.34); the builds are those
#   `aws eks describe-addon-versions --kubernetes-version <minor>` listed in the same period, as
#   recorded in a public aws-eks-v2 CDK project's per-minor table whose coredns and kube-proxy rows
#   equal the guide's.
# Before an upgrade, check the row of the target minor against
# `aws eks describe-addon-versions --addon-name <name> --kubernetes-version <minor>`
# (docs/runbooks/upgrades.md); the pack keeps a copy (policies/redisgw_policies/eks.py), a test
# holds the two equal.
_ONE_BUILD = {
    "vpc-cni": "v1.21.1-eksbuild.7",
    "aws-ebs-csi-driver": "v1.58.0-eksbuild.1",
    "metrics-server": "v0.8.1-eksbuild.5",
}
EKS_ADDON_VERSIONS: Mapping[str, Mapping[str, str]] = {
    "1.32": {**_ONE_BUILD, "coredns": "v1.11.4-eksbuild.33", "kube-proxy": "v1.32.13-eksbuild.5"},
    "1.33": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.33.10-eksbuild.2"},
    "1.34": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.34.6-eksbuild.2"},
    "1.35": {**_ONE_BUILD, "coredns": "v1.13.2-eksbuild.4", "kube-proxy": "v1.35.3-eksbuild.2"},
}
"""Kubernetes minor -> add-on name -> the EKS add-on build installed on a control plane of that minor."""
# Node AMIs are not pinned: the node groups use the EKS-optimized AL2023 AMI type without a
# release_version, so EKS launches the newest AL2023 release of the group's minor when the group is
# created and whenever its `version` moves. A release pin would be one more table keyed by minor
# ("1.35": "1.35.<patch>-<date>") that goes stale within weeks: on an update EKS accepts only the
# newest release of a minor. Refreshing the AMI within a minor is an explicit operation (runbook).


def declared_versions(name: str, args: EksClusterArgs) -> dict[str, Any]:
    """What a finished ``pulumi up`` of :class:`EksCluster` ``name`` leaves running: the control
    plane's minor, the node groups' (by their EKS names) and each add-on's build. The readiness
    scorecard compares it with EKS (``ops.readiness.targets.Versions``)."""
    return {
        "version": args.version,
        "node_version": args.node_version or args.version,
        "node_groups": [f"{name}-{group}" for group in NODE_GROUPS],
        "addons": {addon: addon_version(args.version, addon) for addon in EKS_ADDONS},
    }


def version_pins_missing(minor: str) -> list[str]:
    """What this component pins per Kubernetes minor but has no entry for at ``minor`` (empty when
    a control plane of that minor can be built)."""
    row = EKS_ADDON_VERSIONS.get(minor, {})
    missing = [f"the {addon} add-on" for addon in EKS_ADDONS if addon not in row]
    if minor not in CLUSTER_AUTOSCALER_IMAGES:
        missing.append("the Cluster Autoscaler image")
    return missing


def addon_version(minor: str, addon: str) -> str:
    """The add-on build pinned for a control plane of ``minor`` (settings refuse a minor without one)."""
    try:
        return EKS_ADDON_VERSIONS[minor][addon]
    except KeyError:
        raise ValueError(f"no {addon} build is pinned for Kubernetes {minor} (EKS_ADDON_VERSIONS)") from None


_NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    # The vpc-cni add-on is created with the cluster, before an IRSA role could trust its OIDC
    # provider, so the CNI permissions stay on the node role.
    "AmazonEKS_CNI_Policy",
    "AmazonSSMManagedInstanceCore",
)


@dataclass(frozen=True, kw_only=True)
class NodeGroupSpec:
    """Shape of one managed node group."""

    instance_types: tuple[str, ...]
    """Instance types, first preferred."""
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gb: int = 50
    """Encrypted gp3 root volume size."""
    capacity_type: str = "ON_DEMAND"
    """``ON_DEMAND`` or ``SPOT``."""


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    """Inputs of :class:`EksCluster`."""

    cluster_name: str
    """Name of the EKS cluster (also used in discovery tags and IAM conditions)."""
    version: str
    """Kubernetes minor of the control plane, e.g. ``"1.34"``; it picks every add-on's build too."""
    node_version: str | None = None
    """Kubernetes minor of the managed node groups when they stay one minor behind the control plane
    for a while (a staged upgrade); ``None``: the control plane's."""
    region: str
    """Region of the provider the component runs under."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    """Nodes and the control plane's ENIs go here."""
    public_subnet_ids: pulumi.Input[list[str]]
    """Internet-facing load balancers go here."""
    main_node_group: NodeGroupSpec
    """General-purpose nodes."""
    redis_node_group: NodeGroupSpec
    """Memory-optimised nodes for Redis, tainted and labelled."""
    endpoint_public_access: bool = False
    """Expose the API endpoint publicly (limited to ``public_access_cidrs``)."""
    public_access_cidrs: tuple[str, ...] = ()
    admin_role_arns: tuple[str, ...] = ()
    view_role_arns: tuple[str, ...] = ()
    """IAM roles granted read-only cluster access (``AmazonEKSViewPolicy``), e.g. CI previews."""
    """IAM roles granted ``AmazonEKSClusterAdminPolicy`` through access entries."""
    log_retention_days: int = 365
    deletion_protection: bool = True
    """EKS deletion protection on the control plane."""
    protect: bool = True
    """Pulumi ``protect`` on the cluster, its keys and its log group."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for resources that pulumi-eks creates itself (provider default tags do not reach them all)."""


NODE_GROUP_UPDATE_TIMEOUT = "4h"
"""How long ``pulumi up`` waits for a node group update (docs/runbooks/upgrades.md)."""


class EksCluster(pulumi.ComponentResource):
    """A hardened EKS cluster with the platform add-ons installed."""

    cluster_name: pulumi.Output[str]
    """Name of the EKS cluster."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (JSON) that authenticates through ``aws eks get-token``. Secret."""
    oidc_provider_arn: pulumi.Output[str]
    """ARN of the IAM OIDC provider, for IRSA trust policies."""
    oidc_issuer: pulumi.Output[str]
    """OIDC issuer without ``https://``, for IRSA trust conditions."""
    node_role_arn: pulumi.Output[str]
    """IAM role of the managed nodes."""
    volume_key_arn: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS attaches to the control plane's network interfaces."""
    """KMS key encrypting persistent volumes of the default StorageClass."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster; later components deploy through it."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        secrets_key = encryption_key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes Secrets in {args.cluster_name}",
            region=args.region,
            opts=stateful,
        )
        logs_key = encryption_key(
            f"{name}-logs",
            description=f"Encrypts the control-plane logs of {args.cluster_name}",
            region=args.region,
            service_principals=["logs"],
            opts=stateful,
        )
        volume_key = encryption_key(
            f"{name}-volumes",
            description=f"Encrypts the persistent volumes of {args.cluster_name}",
            region=args.region,
            opts=stateful,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=logs_key.arn,
            opts=stateful,
        )

        def entry(arn: str, association: str, policy: str) -> eks.AccessEntryArgs:
            return eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={
                    association: eks.AccessPolicyAssociationArgs(
                        policy_arn=f"arn:aws:eks::aws:cluster-access-policy/{policy}",
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )

        access_entries = {
            arn.rsplit("/", 1)[-1]: entry(arn, "cluster-admin", "AmazonEKSClusterAdminPolicy")
            for arn in args.admin_role_arns
        } | {arn.rsplit("/", 1)[-1]: entry(arn, "view", "AmazonEKSViewPolicy") for arn in args.view_role_arns}
        cluster = eks.Cluster(
            name,
            name=args.cluster_name,
            version=args.version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            create_oidc_provider=True,
            skip_default_node_group=True,
            skip_default_security_groups=True,
            deletion_protection=args.deletion_protection,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            vpc_cni_options=eks.VpcCniOptionsArgs(
                enable_network_policy=True, addon_version=addon_version(args.version, "vpc-cni")
            ),
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(
                enabled=True, version=addon_version(args.version, "coredns")
            ),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(
                enabled=True, version=addon_version(args.version, "kube-proxy")
            ),
            tags=dict(args.tags),
            # EKS creates /aws/eks/<name>/cluster on first log write, unencrypted and kept forever,
            # unless ours exists first.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[log_group]),
        )
        # Everything below addresses the cluster by its static name; it must exist first.
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster])

        node_role = service_role(f"{name}-nodes", service="ec2.amazonaws.com", opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in _NODE_POLICIES
        ]
        node_groups = [
            self._node_group(
                f"{name}-main",
                args,
                args.main_node_group,
                node_role,
                attachments,
                after_cluster,
                labels=MAIN_NODE_LABELS,
                taints=(),
            ),
            self._node_group(
                f"{name}-redis",
                args,
                args.redis_node_group,
                node_role,
                attachments,
                after_cluster,
                labels=REDIS_NODE_LABELS,
                taints=(REDIS_NODE_TAINT,),
            ),
        ]
        # Add-on and chart pods need schedulable nodes, or their creation waits until it times out.
        with_nodes = pulumi.ResourceOptions(parent=self, depends_on=node_groups)

        ebs_role = irsa_role(
            f"{name}-ebs-csi",
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            namespace="kube-system",
            service_account="ebs-csi-controller-sa",
            policy_arns=["service-role/AmazonEBSCSIDriverPolicy"],
            inline_policy=_iam_documents.ebs_volume_key_use(volume_key.arn),
            opts=child,
        )
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=args.cluster_name,
            addon_name="aws-ebs-csi-driver",
            addon_version=addon_version(args.version, "aws-ebs-csi-driver"),
            service_account_role_arn=ebs_role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=with_nodes,
        )
        aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=args.cluster_name,
            addon_name="metrics-server",
            addon_version=addon_version(args.version, "metrics-server"),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=with_nodes,
        )

        provider = k8s.Provider(f"{name}-k8s", kubeconfig=cluster.kubeconfig_json, opts=child)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=node_groups)

        k8s.storage.v1.StorageClass(
            f"{name}-{DEFAULT_STORAGE_CLASS}",
            metadata={
                "name": DEFAULT_STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": volume_key.arn,
                "csi.storage.k8s.io/fstype": "xfs",
            },
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",
            # Volumes of this class are provisioned by the EBS CSI driver.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ebs_csi]),
        )

        lbc_role = irsa_role(
            f"{name}-lb-controller",
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            namespace="kube-system",
            service_account="aws-load-balancer-controller",
            inline_policy=_iam_documents.load_balancer_controller(),
            opts=child,
        )
        helm_release(
            f"{name}-lb-controller",
            LOAD_BALANCER_CONTROLLER_CHART,
            namespace="kube-system",
            values={
                "clusterName": args.cluster_name,
                "region": args.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "podDisruptionBudget": {"maxUnavailable": 1},
                # Services of type LoadBalancer stay explicit: no webhook rewrites them.
                "enableServiceMutatorWebhook": False,
                "serviceAccount": {
                    "create": True,
                    "name": "aws-load-balancer-controller",
                    "annotations": {"eks.amazonaws.com/role-arn": lbc_role.arn},
                },
            },
            opts=in_cluster,
        )

        ca_role = irsa_role(
            f"{name}-autoscaler",
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            namespace="kube-system",
            service_account="cluster-autoscaler",
            inline_policy=_iam_documents.cluster_autoscaler(args.cluster_name),
            opts=child,
        )
        helm_release(
            f"{name}-autoscaler",
            CLUSTER_AUTOSCALER_CHART,
            namespace="kube-system",
            values={
                "autoDiscovery": {"clusterName": args.cluster_name},
                "awsRegion": args.region,
                "image": {"tag": CLUSTER_AUTOSCALER_IMAGES[args.version]},
                "extraArgs": {
                    "balance-similar-node-groups": True,
                    "skip-nodes-with-system-pods": False,
                    "expander": "least-waste",
                },
                "rbac": {
                    "serviceAccount": {
                        "create": True,
                        "name": "cluster-autoscaler",
                        "annotations": {"eks.amazonaws.com/role-arn": ca_role.arn},
                    }
                },
            },
            opts=in_cluster,
        )

        self.cluster_name = pulumi.Output.from_input(args.cluster_name)
        self.declared_versions = declared_versions(name, args)
        self.kubeconfig = pulumi.Output.secret(cluster.kubeconfig_json)
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_issuer = cluster.oidc_issuer
        self.node_role_arn = node_role.arn
        self.volume_key_arn = volume_key.arn
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.provider = provider
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
                "node_role_arn": self.node_role_arn,
                "volume_key_arn": self.volume_key_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
            }
        )

    def _node_group(
        self,
        name: str,
        args: EksClusterArgs,
        spec: NodeGroupSpec,
        role: aws.iam.Role,
        attachments: list[aws.iam.RolePolicyAttachment],
        opts: pulumi.ResourceOptions,
        *,
        labels: Mapping[str, str],
        taints: tuple[Mapping[str, str], ...],
    ) -> aws.eks.NodeGroup:
        template = aws.ec2.LaunchTemplate(
            name,
            description=f"Hardened launch template of node group {name}",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=spec.disk_size_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags={"Name": name, **args.tags}),
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags={"Name": name, **args.tags}),
            ],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.NodeGroup(
            name,
            cluster_name=args.cluster_name,
            node_group_name=name,
            node_role_arn=role.arn,
            subnet_ids=args.private_subnet_ids,
            # Without it a group keeps the minor it was created with while the control plane moves on.
            version=args.node_version or args.version,
            ami_type="AL2023_x86_64_STANDARD",
            instance_types=list(spec.instance_types),
            capacity_type=spec.capacity_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=spec.min_size, desired_size=spec.desired_size, max_size=spec.max_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=dict(labels),
            taints=[aws.eks.NodeGroupTaintArgs(**t) for t in taints],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            opts=pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(
                    # The node role needs its policies before a node can join.
                    depends_on=attachments,
                    # The Cluster Autoscaler owns the desired size once the group exists.
                    ignore_changes=["scalingConfig.desiredSize"],
                    # A version update replaces the nodes one at a time, each drain waiting up to 15 min
                    # on PDBs: a full group takes longer than the provider's default 60 minutes.
                    custom_timeouts=pulumi.CustomTimeouts(create="60m", update=NODE_GROUP_UPDATE_TIMEOUT),
                ),
            ),
        )
