"""Whole stacks: the real program runs for each stack file and declares what the stack promises."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ops.offline.engine import ROOT
from tests.conftest import STACKS, Recording

StackRun = Callable[[str], Recording]


@pytest.mark.parametrize(("stack", "nats"), [("production", 3), ("staging", 1)])
def test_network_shape(stack_run: StackRun, stack: str, nats: int) -> None:
    rec = stack_run(stack).primary()
    types = Counter(r.type for r in rec)
    assert types["aws:ec2/vpc:Vpc"] == 1
    assert types["aws:ec2/subnet:Subnet"] == 6
    assert types["aws:ec2/natGateway:NatGateway"] == nats
    assert types["aws:ec2/flowLog:FlowLog"] == 1


def test_production_cluster_is_private_encrypted_logged_with_oidc(stack_run: StackRun) -> None:
    c = stack_run("production").primary().one("eks:index:Cluster").inputs
    assert c["name"] == "redisgw-production"
    assert (c["endpointPrivateAccess"], c["endpointPublicAccess"]) == (True, False)
    assert c["encryptionConfigKeyArn"].startswith("arn:aws:kms:")
    assert {"api", "audit", "authenticator"} <= set(c["enabledClusterLogTypes"])
    assert c["createOidcProvider"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_endpoints_are_private_and_ci_runs_inside_the_vpc(stack_run: StackRun, stack: str) -> None:
    """Both endpoints are private; CI reaches them from CodeBuild runners in the VPC, through the
    cluster security group, as the deploy role (cluster admin) or the preview role (view only)."""
    rec = stack_run(stack).primary()
    cluster = rec.one("eks:index:Cluster").inputs
    assert cluster["endpointPublicAccess"] is False and "publicAccessCidrs" not in cluster
    entries = cluster["accessEntries"]
    assert entries[f"github-actions-deploy-{stack}"]["accessPolicies"]["cluster-admin"]["policyArn"].endswith(
        "AmazonEKSClusterAdminPolicy"
    )
    view = entries[f"github-actions-preview-{stack}"]["accessPolicies"]["view"]
    assert view["policyArn"].endswith("AmazonEKSViewPolicy")
    projects = {p.inputs["name"]: p.inputs for p in rec.of_type("aws:codebuild/project:Project")}
    assert set(projects) == {f"redisgw-{stack}-deploy", f"redisgw-{stack}-preview"}
    for project in projects.values():
        assert project["vpcConfig"]["subnets"] and not project["environment"]["privilegedMode"]
    assert projects[f"redisgw-{stack}-deploy"]["serviceRole"].endswith(f"/github-actions-deploy-{stack}")
    assert projects[f"redisgw-{stack}-preview"]["serviceRole"].endswith(f"/github-actions-preview-{stack}")
    hooks = {
        h.inputs["projectName"]: h.inputs["filterGroups"][0]["filters"]
        for h in rec.of_type("aws:codebuild/webhook:Webhook")
    }
    deploy = {f["type"]: f["pattern"] for f in hooks[f"redisgw-{stack}-deploy"]}
    assert deploy["EVENT"] == "WORKFLOW_JOB_QUEUED" and deploy["WORKFLOW_NAME"] == "^deploy$"
    assert deploy["HEAD_REF"] == ("^refs/tags/v.*" if stack == "production" else "^refs/heads/main$")
    rule = rec.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ci-to-cluster-api").inputs
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (443, 443, "tcp")
    assert rule["referencedSecurityGroupId"] and "cidrIpv4" not in rule
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert (
        f"runs-on: codebuild-redisgw-{stack}-deploy-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}" in workflow
    )


@pytest.mark.parametrize("stack", STACKS)
def test_two_managed_node_groups_and_only_redis_tainted(stack_run: StackRun, stack: str) -> None:
    groups = {g.name: g.inputs for g in stack_run(stack).primary().of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"primary-main", "primary-redis"}
    assert groups["primary-redis"]["taints"][0]["key"] == "redis-workload"
    assert not groups["primary-main"].get("taints")


def test_node_sizes_come_from_the_stack_file(stack_run: StackRun) -> None:
    prod = stack_run("production").one("aws:eks/nodeGroup:NodeGroup", "primary-main").inputs
    stag = stack_run("staging").one("aws:eks/nodeGroup:NodeGroup", "primary-main").inputs
    assert prod["instanceTypes"][0] == "m7i.xlarge" and prod["scalingConfig"]["maxSize"] == 12
    assert stag["instanceTypes"][0] == "m7i.large" and stag["scalingConfig"]["maxSize"] == 6


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_but_the_providers_lives_in_a_component(stack_run: StackRun, stack: str) -> None:
    rec = stack_run(stack)
    components = {r.urn for r in rec if r.type.startswith("redisgw:index:")}
    kinds = {"Vpc", "EksCluster", "DeployRunner", "MonitoringStack", "RedisGateway", "BackupVault", "ReadinessAudit"}
    if stack == "production":  # the DR region: its own Vpc, EksCluster and MonitoringStack, and its scope
        kinds |= {"DrRegion", "DrStandby"}
    assert {r.type.removeprefix("redisgw:index:") for r in rec if r.urn in components} == kinds
    for r in rec:
        if r.type.startswith("redisgw:index:") or r.type == "pulumi:providers:aws":
            continue
        ancestor = r
        while ancestor.parent and ancestor.urn not in components:
            ancestor = rec.by_urn(ancestor.parent)
        assert ancestor.urn in components, r.urn


@pytest.mark.parametrize("stack", STACKS)
def test_aws_resources_use_the_explicit_provider_with_default_tags(stack_run: StackRun, stack: str) -> None:
    rec = stack_run(stack)
    provider = rec.one("pulumi:providers:aws", "primary")
    assert provider.inputs["region"] == "eu-west-1"
    # Provider inputs travel JSON-encoded, as the engine hands them to the provider plugin.
    assert json.loads(provider.inputs["defaultTags"])["tags"]["environment"] == stack
    providers = {p.urn for p in rec.of_type("pulumi:providers:aws")}
    assert len(providers) == (2 if stack == "production" else 1)  # the DR region has its own provider
    for r in rec:
        if r.custom and r.type.startswith("aws:"):
            assert (r.provider or "").rsplit("::", 1)[0] in providers, r.urn


@pytest.mark.parametrize(
    ("stack", "buckets", "replications", "vault_locks", "object_locks"),
    [("production", 3, 1, 2, 2), ("staging", 2, 0, 0, 0)],
)
def test_backups_replicate_and_lock_only_where_configured(
    stack_run: StackRun, stack: str, buckets: int, replications: int, vault_locks: int, object_locks: int
) -> None:
    """Backup bucket (+ its DR replica where DR is on) and the ALB access-log bucket; the backup
    bucket and its replica are both locked (S3 replicates retention only into a locked bucket)."""
    types = Counter(r.type for r in stack_run(stack).primary())
    assert types["aws:s3/bucket:Bucket"] == buckets
    assert types["aws:s3/bucketReplicationConfig:BucketReplicationConfig"] == replications
    assert types["aws:backup/vaultLockConfiguration:VaultLockConfiguration"] == vault_locks
    assert types["aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"] == object_locks


def test_protection_follows_config(stack_run: StackRun) -> None:
    assert all(c.protect for c in stack_run("production").of_type("eks:index:Cluster"))
    assert not stack_run("staging").one("eks:index:Cluster").protect


APP_TIER = {
    "kubernetes:core/v1:Namespace": 2,
    "kubernetes:core/v1:ResourceQuota": 1,
    "kubernetes:core/v1:LimitRange": 1,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 14,  # the readiness job's egress among them
    "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate": 2,
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication": 1,
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel": 1,
    "kubernetes:argoproj.io/v1alpha1:Rollout": 1,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
    "kubernetes:policy/v1:PodDisruptionBudget": 1,
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": 1,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": 1,
    "kubernetes:networking.k8s.io/v1:Ingress": 1,
    "kubernetes:rbac.authorization.k8s.io/v1:Role": 3,  # the gateway's; the readiness job's in its two namespaces
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": 1,
    "kubernetes:core/v1:ServiceAccount": 5,  # gateway, smoke test, backups, readiness, the Redis tier
    "kubernetes:batch/v1:CronJob": 3,  # backup, restore drill, readiness
    "kubernetes:core/v1:PersistentVolumeClaim": 1,
    "aws:backup/plan:Plan": 1,
    "aws:wafv2/webAcl:WebAcl": 1,
    "aws:acm/certificate:Certificate": 1,
    "aws:route53/record:Record": 2,
    "kubernetes:helm.sh/v3:Release": 5,
}


DR_LINK = {
    # The Redis link to the DR range (NetworkPolicies in and out) and the regional name, its
    # certificate validation record, beside the failover record.
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 2,
    "aws:route53/record:Record": 2,
}


@pytest.mark.parametrize("stack", STACKS)
def test_application_tier_is_complete(stack_run: StackRun, stack: str) -> None:
    types = Counter(r.type for r in stack_run(stack).primary())
    expected = {t: n + (DR_LINK.get(t, 0) if stack == "production" else 0) for t, n in APP_TIER.items()}
    assert {t: types[t] for t in APP_TIER} == expected


@pytest.mark.parametrize(("stack", "minimum", "host"), [("production", 3, "api."), ("staging", 2, "api.staging.")])
def test_application_sizes_come_from_the_stack_file(stack_run: StackRun, stack: str, minimum: int, host: str) -> None:
    rec = stack_run(stack).primary()
    hpa = rec.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["minReplicas"] == minimum
    assert rec.one("aws:acm/certificate:Certificate").inputs["domainName"].startswith(host)


@pytest.mark.parametrize("stack", STACKS)
def test_one_ops_repository_per_stack_and_every_job_runs_its_image_by_digest(stack_run: StackRun, stack: str) -> None:
    """The stack's own repository, in its primary region only (the DR region pulls from it), with
    pull granted to the primary's nodes; every job of the stack, the DR region's included, runs the
    image the stack file pins, which lives in that repository."""
    import settings
    from ops.offline.engine import load_stack_config

    rec = stack_run(stack)
    (repository,) = rec.of_type("aws:ecr/repository:Repository")
    assert repository.inputs["name"] == f"redisgw-{stack}/ops"
    assert repository.protect is (stack == "production")
    assert not rec.dr().of_type("aws:ecr/repository:Repository")
    policy = rec.one("aws:ecr/repositoryPolicy:RepositoryPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    (node_role,) = statement["Principal"]["AWS"]
    assert node_role.startswith("arn:aws:iam::123456789012:role/primary-nodes")
    assert [rec.by_urn(u).name for u in policy.property_dependencies["policy"]] == ["primary-nodes"]
    pinned = load_stack_config(stack).values["redisgw:backup"]["opsImage"]
    match = settings.OPS_IMAGE_RE.fullmatch(pinned)
    assert match is not None and match["repository"] == repository.inputs["name"]
    images = [
        c["image"]
        for job in rec.of_type("kubernetes:batch/v1:CronJob")
        for c in job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    ]
    assert len(images) == (5 if stack == "production" else 3) and set(images) == {pinned}  # DR: backup, drill


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_kubernetes_object_carries_the_programs_labels(stack_run: StackRun, stack: str) -> None:
    """Server-side apply writes no managed-by label of its own (pulumi-kubernetes v4, Check: only
    ``if !serverSideApplyMode``): the program's stack transformation puts both labels in every
    object's desired state, in both regions, and leaves the charts' releases alone."""

    def labels(r: Any) -> dict[str, Any]:
        return dict((r.inputs.get("metadata") or {}).get("labels") or {})

    objects = [r for r in stack_run(stack) if r.type.startswith("kubernetes:") and "helm.sh" not in r.type]
    operator = [r for r in objects if r.type.startswith("kubernetes:redis.redis.opstreelabs.in/")]
    rest = [r for r in objects if r not in operator]
    assert len(rest) > 50 and operator
    wanted = {"app.kubernetes.io/part-of": "redis-gateway", "app.kubernetes.io/managed-by": "pulumi"}
    assert [r.name for r in rest if {k: labels(r).get(k) for k in wanted} != wanted] == []
    # The operator copies its resources' labels into its Services' selectors (redis-operator v0.25.0,
    # services.go): a label added there would empty redis-sentinel's endpoints until the pods roll.
    assert all(labels(r) == {"app.kubernetes.io/part-of": "redis-gateway"} for r in operator)
    charts = [r for r in stack_run(stack) if "helm.sh" in r.type]
    assert charts and all("metadata" not in r.inputs for r in charts)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_redis_pods_run_as_their_own_account_without_a_token(stack_run: StackRun, stack: str) -> None:
    """The redis-operator (v0.25.0) sets no service account of its own and passes ``serviceAccountName``
    through: without it the Redis and Sentinel pods would run as ``default`` with an API token."""
    recording = stack_run(stack)
    accounts = {
        r.inputs["metadata"]["name"]: r.inputs
        for r in recording
        if r.type == "kubernetes:core/v1:ServiceAccount" and not r.name.startswith("dr-")
    }
    assert accounts["redis-tier"].get("automountServiceAccountToken") is False
    tier = [r for r in recording if r.type.startswith("kubernetes:redis.redis.opstreelabs.in/")]
    assert {r.inputs["kind"] for r in tier} == {"RedisReplication", "RedisSentinel"}
    assert all(r.inputs["spec"]["serviceAccountName"] == "redis-tier" for r in tier)
