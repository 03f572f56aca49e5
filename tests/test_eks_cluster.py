"""EksCluster component: every hardened setting, asserted on the inputs it registers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.eks_cluster import (
    CLUSTER_AUTOSCALER_CHART,
    CONTROL_PLANE_LOG_TYPES,
    EKS_ADDON_VERSIONS,
    LOAD_BALANCER_CONTROLLER_CHART,
    EksCluster,
    EksClusterArgs,
    NodeGroupSpec,
    declared_versions,
)
from tests.conftest import Recording

ADMIN = "arn:aws:iam::123456789012:role/platform-admin"


def _base_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        cluster_name="demo",
        version="1.34",
        region="eu-west-1",
        vpc_id="vpc-123",
        private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
        public_subnet_ids=["subnet-x", "subnet-y", "subnet-z"],
        main_node_group=NodeGroupSpec(instance_types=("m7i.large",), min_size=2, desired_size=2, max_size=5),
        redis_node_group=NodeGroupSpec(
            instance_types=("r7i.large", "r6i.large"), min_size=3, desired_size=3, max_size=6, disk_size_gb=80
        ),
        admin_role_arns=(ADMIN,),
        log_retention_days=180,
    )
    args.update(overrides)
    return args


def _cluster(**overrides: Any) -> Callable[[], None]:
    def declare() -> None:
        EksCluster("eks", EksClusterArgs(**_base_args(**overrides)))

    return declare


@pytest.fixture(scope="module")
def rec() -> Recording:
    from ops.offline.engine import run_program

    return Recording(run_program(_cluster(), stack="test", config={}, region="eu-west-1"))


def test_control_plane_is_hardened(rec: Recording) -> None:
    c = rec.one("eks:index:Cluster").inputs
    assert c["name"] == "demo" and c["version"] == "1.34"
    assert c["endpointPrivateAccess"] is True
    assert c["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in c
    assert c["authenticationMode"] == "API"
    assert c["createOidcProvider"] is True
    assert c["skipDefaultNodeGroup"] is True
    assert c["deletionProtection"] is True
    assert set(c["enabledClusterLogTypes"]) == set(CONTROL_PLANE_LOG_TYPES)
    assert c["vpcCniOptions"]["enableNetworkPolicy"] is True
    assert c["upgradePolicy"]["supportType"] == "STANDARD"


def test_secrets_are_encrypted_with_a_rotating_key(rec: Recording) -> None:
    cluster = rec.one("eks:index:Cluster")
    key = rec.by_urn(cluster.property_dependencies["encryptionConfigKeyArn"][0])
    assert key.name == "eks-secrets"
    assert key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["encryptionConfigKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")


def test_control_plane_log_group_exists_first_encrypted_with_retention(rec: Recording) -> None:
    group = rec.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == "/aws/eks/demo/cluster"
    assert group.inputs["retentionInDays"] == 180
    assert rec.by_urn(group.property_dependencies["kmsKeyId"][0]).name == "eks-logs"
    assert group.urn in rec.one("eks:index:Cluster").dependencies


def test_admins_get_access_entries_not_aws_auth(rec: Recording) -> None:
    entries = rec.one("eks:index:Cluster").inputs["accessEntries"]
    entry = entries["platform-admin"]
    assert entry["principalArn"] == ADMIN
    policy = entry["accessPolicies"]["cluster-admin"]
    assert policy["policyArn"].endswith("AmazonEKSClusterAdminPolicy")
    assert policy["accessScope"]["type"] == "cluster"


def test_public_endpoint_is_limited_to_configured_cidrs(
    run_component: Callable[[Callable[[], Any]], Recording],
) -> None:
    public = run_component(_cluster(endpoint_public_access=True, public_access_cidrs=("198.51.100.0/24",)))
    c = public.one("eks:index:Cluster").inputs
    assert c["endpointPublicAccess"] is True
    assert c["publicAccessCidrs"] == ["198.51.100.0/24"]


def test_redis_node_group_is_tainted_labelled_and_memory_optimised(rec: Recording) -> None:
    ng = rec.one("aws:eks/nodeGroup:NodeGroup", "eks-redis").inputs
    assert ng["taints"] == [{"key": "redis-workload", "value": "true", "effect": "NO_SCHEDULE"}]
    assert ng["labels"] == {"role": "redis"}
    assert ng["instanceTypes"] == ["r7i.large", "r6i.large"]
    assert ng["scalingConfig"] == {"minSize": 3, "desiredSize": 3, "maxSize": 6}


def test_main_node_group_is_untainted(rec: Recording) -> None:
    ng = rec.one("aws:eks/nodeGroup:NodeGroup", "eks-main").inputs
    assert ng.get("taints", []) == []
    assert ng["labels"] == {"role": "general"}


@pytest.mark.parametrize("group", ["eks-main", "eks-redis"])
def test_nodes_are_private_without_ssh_and_require_imdsv2(rec: Recording, group: str) -> None:
    ng = rec.one("aws:eks/nodeGroup:NodeGroup", group)
    assert ng.inputs["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert "remoteAccess" not in ng.inputs
    template = rec.by_urn(ng.property_dependencies["launchTemplate"][0])
    meta = template.inputs["metadataOptions"]
    assert meta["httpTokens"] == "required"
    assert meta["httpPutResponseHopLimit"] == 1
    assert "keyName" not in template.inputs
    (disk,) = template.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    attachments = {a.urn for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "nodes" in a.name}
    assert len(attachments) == 4 and attachments <= set(ng.dependencies)


def test_node_role_uses_ssm_not_ssh(rec: Recording) -> None:
    policies = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert "AmazonSSMManagedInstanceCore" in policies
    assert "AmazonEKSWorkerNodePolicy" in policies


def _trust_subject(rec: Recording, role_name: str) -> str:
    role = rec.one("aws:iam/role:Role", role_name)
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].startswith("arn:aws:iam::123456789012:oidc-provider/oidc.eks.")
    cond = statement["Condition"]["StringEquals"]
    (aud,) = [v for k, v in cond.items() if k.endswith(":aud")]
    assert aud == "sts.amazonaws.com"
    (sub,) = [v for k, v in cond.items() if k.endswith(":sub")]
    return str(sub)


def test_ebs_csi_add_on_runs_with_its_own_irsa_role(rec: Recording) -> None:
    addon = rec.one("aws:eks/addon:Addon", "eks-ebs-csi")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    assert rec.by_urn(addon.property_dependencies["serviceAccountRoleArn"][0]).name == "eks-ebs-csi"
    assert _trust_subject(rec, "eks-ebs-csi") == "system:serviceaccount:kube-system:ebs-csi-controller-sa"


def test_metrics_server_add_on(rec: Recording) -> None:
    assert rec.one("aws:eks/addon:Addon", "eks-metrics-server").inputs["addonName"] == "metrics-server"


def test_default_storage_class_is_encrypted_gp3_with_the_volume_key(rec: Recording) -> None:
    sc = rec.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"]["type"] == "gp3"
    assert sc.inputs["parameters"]["encrypted"] == "true"
    assert rec.by_urn(sc.property_dependencies["parameters"][0]).name == "eks-volumes"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc.inputs["reclaimPolicy"] == "Retain"


def test_load_balancer_controller_release_is_pinned_with_irsa(rec: Recording) -> None:
    release = rec.one("kubernetes:helm.sh/v3:Release", "eks-lb-controller").inputs
    chart, version, repo = LOAD_BALANCER_CONTROLLER_CHART
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (chart, version, repo)
    assert release["values"]["clusterName"] == "demo"
    assert release["values"]["vpcId"] == "vpc-123"
    role = rec.one("aws:iam/role:Role", "eks-lb-controller")
    assert release["values"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::123456789012:role/eks-lb-controller-"
    )
    assert role.urn in rec.one("kubernetes:helm.sh/v3:Release", "eks-lb-controller").property_dependencies["values"]
    assert _trust_subject(rec, "eks-lb-controller") == "system:serviceaccount:kube-system:aws-load-balancer-controller"


def test_cluster_autoscaler_matches_the_control_plane_and_only_resizes_own_groups(rec: Recording) -> None:
    release = rec.one("kubernetes:helm.sh/v3:Release", "eks-autoscaler").inputs
    assert (release["chart"], release["version"]) == CLUSTER_AUTOSCALER_CHART[:2]
    assert release["values"]["image"]["tag"].startswith("v1.34.")
    assert release["values"]["autoDiscovery"]["clusterName"] == "demo"
    assert _trust_subject(rec, "eks-autoscaler") == "system:serviceaccount:kube-system:cluster-autoscaler"
    inline = rec.one("aws:iam/rolePolicy:RolePolicy", "eks-autoscaler-inline")
    statements = json.loads(inline.inputs["policy"])["Statement"]
    writes = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert writes == [
        s
        for s in writes
        if s["Condition"]["StringEquals"] == {"aws:ResourceTag/k8s.io/cluster-autoscaler/demo": "owned"}
    ]
    assert len(writes) == 1


def _versions(rec: Recording) -> tuple[str, dict[str, str], dict[str, str]]:
    """(control plane, node group -> version, add-on -> build) as the component registered them."""
    c = rec.one("eks:index:Cluster").inputs
    addons = {
        "coredns": c["corednsAddonOptions"]["version"],
        "kube-proxy": c["kubeProxyAddonOptions"]["version"],
        "vpc-cni": c["vpcCniOptions"]["addonVersion"],
    } | {a.inputs["addonName"]: a.inputs["addonVersion"] for a in rec.of_type("aws:eks/addon:Addon")}
    groups = {g.name: g.inputs["version"] for g in rec.of_type("aws:eks/nodeGroup:NodeGroup")}
    return c["version"], groups, addons


def test_node_groups_and_add_ons_follow_the_control_plane(rec: Recording) -> None:
    assert _versions(rec) == ("1.34", {"eks-main": "1.34", "eks-redis": "1.34"}, dict(EKS_ADDON_VERSIONS["1.34"]))


def test_node_version_holds_the_node_groups_only(run_component: Callable[[Callable[[], Any]], Recording]) -> None:
    staged = run_component(_cluster(version="1.35", node_version="1.34"))
    assert _versions(staged) == ("1.35", {"eks-main": "1.34", "eks-redis": "1.34"}, dict(EKS_ADDON_VERSIONS["1.35"]))


def test_the_declared_versions_are_what_the_component_creates(
    run_component: Callable[[Callable[[], Any]], Recording],
) -> None:
    """What the readiness scorecard compares with EKS (``declared_versions``, in the targets) names the
    node groups as EKS knows them and the builds the component installs, staged or not."""
    for overrides in ({}, {"version": "1.35", "node_version": "1.34"}):
        created = run_component(_cluster(**overrides))
        version, groups, addons = _versions(created)
        declared = declared_versions("eks", EksClusterArgs(**_base_args(**overrides)))
        names = sorted(g.inputs["nodeGroupName"] for g in created.of_type("aws:eks/nodeGroup:NodeGroup"))
        assert (declared["version"], sorted(declared["node_groups"]), declared["addons"]) == (version, names, addons)
        assert set(groups.values()) == {declared["node_version"]}


def test_stateful_resources_are_protected(rec: Recording) -> None:
    assert rec.one("eks:index:Cluster").protect
    assert rec.one("aws:cloudwatch/logGroup:LogGroup").protect
    assert all(k.protect for k in rec.of_type("aws:kms/key:Key"))


def test_kubeconfig_output_is_secret(run_component: Callable[[Callable[[], Any]], Recording]) -> None:
    seen: dict[str, bool] = {}

    def declare() -> Any:
        cluster = EksCluster("eks", EksClusterArgs(**_base_args()))

        async def check() -> None:
            seen["secret"] = await cluster.kubeconfig.is_secret()

        return check()

    run_component(declare)
    assert seen == {"secret": True}
