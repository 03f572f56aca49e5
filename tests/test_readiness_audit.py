"""ReadinessAudit: the daily scorecard's CronJob, the targets it reads, and access no wider than its
reads. The targets document the program writes is parsed with the model ``ops readiness`` reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from components.readiness_audit import CONFIGMAP, CRONJOB, ReadinessAudit, ReadinessAuditArgs, role_rules
from ops.readiness.kube import KINDS
from ops.readiness.targets import parse
from tests.conftest import Recording

ARGS = ReadinessAuditArgs(
    stack="production",
    namespace="redis-system",
    namespaces=("redis-system", "monitoring"),
    ops_image=(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
        "@sha256:7edf7809dcfacef9d62cb22a4ed1003510960625b41abf4423d4a2da22bd1a79"
    ),
    schedule="17 6 * * *",
    region="eu-west-1",
    cluster_name="redisgw-production",
    oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    oidc_issuer="oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    prometheus_url="http://kps-prometheus.monitoring.svc.cluster.local:9090",
    prometheus_namespace="monitoring",
    availability_slo=0.999,
    backup_bucket="backups-bucket",
    backup_bucket_arn="arn:aws:s3:::backups-bucket",
    backup_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k1",
    backup_prefix="redis/",
    backup_max_age_seconds=1740,
    replica_bucket="backups-replica",
    replica_bucket_arn="arn:aws:s3:::backups-replica",
    replica_key_arn="arn:aws:kms:eu-central-1:123456789012:key/k2",
    replica_region="eu-central-1",
    replica_max_age_seconds=2640,
    vault_name="backups-vault",
    vault_arn="arn:aws:backup:eu-west-1:123456789012:backup-vault:backups-vault",
    dr_vault_name="backups-dr-vault",
    dr_vault_arn="arn:aws:backup:eu-central-1:123456789012:backup-vault:backups-dr-vault",
    vault_max_age_seconds=18000,
    hostname="api.example.com",
    certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/c1",
    web_acl_arn="arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/gw/1",
    health_check_id="hc-1",
    dr_lag_max_seconds=30,
)


@pytest.fixture(scope="module")
def audit() -> Recording:
    from ops.offline.engine import run_program

    return Recording(
        run_program(lambda: ReadinessAudit("readiness", ARGS), stack="test", config={}, region="eu-west-1")
    )


def _targets(rec: Recording) -> Any:
    cm = rec.one("kubernetes:core/v1:ConfigMap")
    assert cm.inputs["metadata"]["name"] == CONFIGMAP
    return parse(cm.inputs["data"]["targets.json"], "the program's targets")


def test_the_targets_the_program_writes_are_the_ones_the_scorecard_reads(audit: Recording) -> None:
    targets = _targets(audit)
    assert targets.backups.bucket == "backups-bucket" and targets.backups.max_age_seconds == 1740
    assert targets.replica is not None and targets.replica.region == "eu-central-1"
    assert targets.dr_vault is not None and targets.dr_vault.name == "backups-dr-vault"
    assert targets.edge.health_check_ids == ("hc-1",) and targets.dr_lag_max_seconds == 30
    assert targets.namespaces == ("redis-system", "monitoring")


def test_without_dr_the_targets_name_no_replica(run_component: Callable[[Callable[[], Any]], Recording]) -> None:
    single = replace(
        ARGS,
        replica_bucket=None,
        replica_bucket_arn=None,
        replica_key_arn=None,
        replica_region=None,
        replica_max_age_seconds=None,
        dr_vault_name=None,
        dr_vault_arn=None,
        health_check_id=None,
        dr_lag_max_seconds=None,
    )
    targets = _targets(run_component(lambda: ReadinessAudit("readiness", single)))
    assert targets.replica is None and targets.dr_vault is None and targets.dr_lag_max_seconds is None
    assert targets.edge.health_check_ids == ()


def test_its_roles_read_exactly_the_kinds_the_scorecard_lists_and_never_secrets(audit: Recording) -> None:
    roles = audit.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert sorted(r.inputs["metadata"]["namespace"] for r in roles) == ["monitoring", "redis-system"]
    (cluster,) = audit.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    granted = set()
    for role in [*roles, cluster]:
        for rule in role.inputs["rules"]:
            assert rule["verbs"] == ["get", "list"]
            assert "*" not in rule["resources"] and "secrets" not in rule["resources"]
            granted |= {(rule["apiGroups"][0], plural) for plural in rule["resources"]}
    wanted = {(gv.split("/")[0] if "/" in gv else "", plural) for gv, kind, plural, _ in KINDS if kind != "Secret"}
    assert granted == wanted


def test_its_aws_access_is_the_reads_of_the_aws_items(audit: Recording) -> None:
    inline = audit.one("aws:iam/rolePolicy:RolePolicy")
    statements = json.loads(inline.inputs["policy"])["Statement"]
    for s in statements:
        assert s["Effect"] == "Allow"
        assert all(
            ":" in a and "*" not in a and a.split(":")[1].startswith(("Describe", "Get", "List", "Decrypt"))
            for a in s["Action"]
        )
        if s["Resource"] == ["*"]:
            assert set(s["Action"]) == {"elasticloadbalancing:DescribeLoadBalancers", "wafv2:GetWebACLForResource"}
    reads = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert reads["s3:GetObject"] == ["arn:aws:s3:::backups-bucket/redis/*", "arn:aws:s3:::backups-replica/redis/*"]
    assert reads["route53:GetHealthCheckStatus"] == ["arn:aws:route53:::healthcheck/hc-1"]
    assert reads["eks:DescribeCluster"][0].endswith(":cluster/redisgw-production")


def test_the_cronjob_runs_the_scorecard_daily_in_the_cluster_without_retries(audit: Recording) -> None:
    cron = audit.one("kubernetes:batch/v1:CronJob").inputs
    assert cron["metadata"]["name"] == CRONJOB and cron["spec"]["schedule"] == "17 6 * * *"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = job["template"]["spec"]["containers"]
    args = container["args"]
    assert args[:4] == ["readiness", "--stack", "production", "--in-cluster"]
    assert args.count("--namespace") == 2 and "--docs" in args
    assert job["template"]["spec"]["serviceAccountName"] == "redis-readiness"


def test_the_production_stack_audits_its_primary_region_daily(stack_run: Callable[[str], Recording]) -> None:
    production = stack_run("production")
    (cron,) = [r for r in production.of_type("kubernetes:batch/v1:CronJob") if r.inputs["metadata"]["name"] == CRONJOB]
    assert cron.urn in {r.urn for r in production.primary()}
    rules = {
        r.name: [x.get("alert") for g in r.inputs["spec"]["groups"] for x in g["rules"]]
        for r in production.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    }
    assert "RedisReadinessCheckFailed" in rules["monitoring-rules"]
    assert "RedisReadinessCheckFailed" not in rules["dr-monitoring-rules"]  # the DR region runs no audit


def test_the_scorecard_runs_in_the_batch_priority_class(audit: Recording) -> None:
    pod = audit.one("kubernetes:batch/v1:CronJob").inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "redis-gateway-batch"


def test_the_scorecard_may_read_the_priority_classes_it_resolves() -> None:
    _, cluster = role_rules()
    assert any("priorityclasses" in r["resources"] and "scheduling.k8s.io" in r["apiGroups"] for r in cluster)


def test_the_role_reads_the_clusters_node_groups_and_add_ons_only(audit: Recording) -> None:
    with_versions = replace(ARGS, kubernetes={"version": "1.34", "node_version": "1.34"})
    from ops.offline.engine import run_program

    rec = Recording(
        run_program(lambda: ReadinessAudit("readiness", with_versions), stack="test", config={}, region="eu-west-1")
    )
    statements = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    reads = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert [r.split(":", 5)[5] for r in reads["eks:DescribeNodegroup"]] == ["nodegroup/redisgw-production/*"]
    assert [r.split(":", 5)[5] for r in reads["eks:DescribeAddon"]] == ["addon/redisgw-production/*"]
    assert [r.split(":", 5)[5] for r in reads["eks:ListNodegroups"]] == ["cluster/redisgw-production"]
    # without declared versions (ARGS) the role has no reason to read them
    before = json.loads(audit.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    assert not {"eks:DescribeNodegroup", "eks:DescribeAddon", "eks:ListNodegroups"} & {
        a for s in before for a in s["Action"]
    }
