"""DrRegion and the DR half of the stack: what production declares in the DR region, what staging does
not, the cross-region link, the failover records, the alarms and the standby's alerts, and the waiver
of the warm-standby policy."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

import settings
from components._redis_tier import BASE_CONFIG, DR_SENTINEL_CONFIGMAP, LINK_SERVICE
from components.monitoring_stack import (
    DR_RUNBOOK_ANCHORS,
    standby_lag_threshold_seconds,
    standby_silence_threshold_seconds,
)
from ops.offline.engine import ROOT, load_stack_config
from tests.conftest import Recording, stack_values
from tests.policy_harness import as_policy_resources, evaluate_stack, pack_config


@pytest.fixture(scope="module")
def production(stack_run: Callable[[str], Recording]) -> Recording:
    return stack_run("production")


@pytest.fixture(scope="module")
def dr(production: Recording) -> Recording:
    return production.dr()


def _values() -> dict[str, Any]:
    return dict(load_stack_config("production").values)["redisgw:dr"]


def test_production_builds_the_standby_from_the_primary_building_blocks(dr: Recording) -> None:
    types = {r.type for r in dr}
    for building_block in (
        "redisgw:index:Vpc",
        "redisgw:index:EksCluster",
        "redisgw:index:MonitoringStack",
        "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication",
        "argoproj.io/v1alpha1:Rollout",
        "aws:wafv2/webAcl:WebAcl",
        "aws:acm/certificate:Certificate",
        "kubernetes:batch/v1:CronJob",
    ):
        assert any(t.endswith(building_block) for t in types), building_block
    assert len(dr) > 100


def test_staging_declares_nothing_of_dr(stack_run: Callable[[str], Recording]) -> None:
    staging = stack_run("staging")
    assert staging.dr() == []
    assert not staging.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert not staging.of_type("aws:route53/healthCheck:HealthCheck")
    assert all("failoverRoutingPolicies" not in r.inputs for r in staging.of_type("aws:route53/record:Record"))


def test_dr_vpc_and_cluster_follow_settings(production: Recording, dr: Recording) -> None:
    values = _values()
    (vpc,) = dr.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == values["vpcCidr"]
    primary_vpc = production.one("aws:ec2/vpc:Vpc", "primary")
    assert not ipaddress.ip_network(vpc.inputs["cidrBlock"]).overlaps(
        ipaddress.ip_network(primary_vpc.inputs["cidrBlock"])
    )
    (cluster,) = dr.of_type("eks:index:Cluster")
    # The primary's minor, or the one the standby keeps while it trails during an upgrade.
    cfg = settings.load_settings(dict(load_stack_config("production").values), source="Pulumi.production.yaml")
    assert cluster.inputs["version"] == settings.cluster_versions(cfg, dr=True)[0]
    groups = {g.name: g.inputs for g in dr.of_type("aws:eks/nodeGroup:NodeGroup")}
    redis_group = next(g for n, g in groups.items() if "redis" in n)
    assert redis_group["scalingConfig"]["maxSize"] == values["nodeGroups"]["redis"]["maxSize"]
    (hpa,) = [h for h in dr.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")]
    assert hpa.inputs["spec"]["minReplicas"] == values["gatewayMinReplicas"]


def test_peering_routes_both_ways_and_opens_only_the_redis_port(production: Recording) -> None:
    peering = production.one("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert peering.inputs["peerRegion"] == _values()["region"] and peering.inputs.get("autoAccept") is False
    accepter = production.one("aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter")
    assert accepter.inputs["autoAccept"] is True
    routes = [r for r in production.of_type("aws:ec2/route:Route") if r.inputs.get("vpcPeeringConnectionId")]
    destinations = sorted(r.inputs["destinationCidrBlock"] for r in routes)
    assert destinations == sorted(["10.30.0.0/16"] * 3 + ["10.20.0.0/16"] * 3)
    rules = [r.inputs for r in production.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    cross = [r for r in rules if r.get("cidrIpv4") in ("10.20.0.0/16", "10.30.0.0/16")]
    assert {(r["fromPort"], r["toPort"]) for r in cross} == {(6379, 6379), (443, 443)}
    assert [r["cidrIpv4"] for r in cross if r["fromPort"] == 443] == ["10.20.0.0/16"]  # the DR API, from the runner


def test_redis_link_is_internal_and_limited_to_the_peer_range(production: Recording, dr: Recording) -> None:
    links = [
        s for s in production.of_type("kubernetes:core/v1:Service") if s.inputs["metadata"]["name"] == LINK_SERVICE
    ]
    assert len(links) == 2  # each region exposes its Redis to the other (failback replicates the other way)
    for svc in links:
        notes = svc.inputs["metadata"]["annotations"]
        assert notes["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
        assert (
            "preserve_client_ip.enabled=true"
            in notes["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"]
        )
        assert svc.inputs["spec"]["allocateLoadBalancerNodePorts"] is False
        peer = svc.inputs["spec"]["loadBalancerSourceRanges"]
        assert peer == (["10.30.0.0/16"] if svc not in dr else ["10.20.0.0/16"])
    quotas = [q.inputs["spec"]["hard"] for q in production.of_type("kubernetes:core/v1:ResourceQuota")]
    assert {q["services.loadbalancers"] for q in quotas} == {"1"} and {q["services.nodeports"] for q in quotas} == {"0"}
    for netpol in [
        n for n in production.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if "peer-region" in n.name
    ]:
        spec = netpol.inputs["spec"]
        (rule,) = spec.get("ingress") or spec.get("egress")
        peers = rule.get("from") or rule.get("to")
        assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
        assert [p["ipBlock"]["cidr"] for p in peers] in (["10.20.0.0/16"], ["10.30.0.0/16"])


def test_standby_replicates_runs_no_sentinel_and_keeps_its_manifest(production: Recording, dr: Recording) -> None:
    (config,) = [
        c for c in dr.of_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"] == "redis-extra-config"
    ]
    conf = config.inputs["data"]["redis-additional.conf"]
    # The primary's internal NLB (the mock names it after the Service, in the primary's region).
    assert re.search(r"^replicaof k8s-redis-sy-redis-li-[0-9a-f]+\.elb\.eu-west-1\.amazonaws\.com 6379$", conf, re.M)
    assert not [r for r in dr if r.type.endswith(":RedisSentinel")]
    (kept,) = [
        c for c in dr.of_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"] == DR_SENTINEL_CONFIGMAP
    ]
    manifest = json.loads(kept.inputs["data"]["sentinel.json"])
    primary_sentinel = production.one("kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel")
    assert manifest["kind"] == "RedisSentinel" and manifest["spec"] == primary_sentinel.inputs["spec"]
    primary_conf = next(
        c for c in production.of_type("kubernetes:core/v1:ConfigMap") if c.name == "gateway-redis-config"
    ).inputs["data"]["redis-additional.conf"]
    assert "replicaof" not in primary_conf


def test_both_regions_carry_the_plans_replication_directives(production: Recording) -> None:
    """The primary's backlog lets the standby resume after a link break; the standby's serves the old
    primary after a failover: one set of directives, from settings, in both tiers' configuration."""
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    plan = [f"{k} {v}" for k, v in settings.redis_replication_config(cfg).items()]
    assert "repl-backlog-size 135266304" in plan and "repl-timeout 15" in plan
    confs = {
        c.name: c.inputs["data"]["redis-additional.conf"].splitlines()
        for c in production.of_type("kubernetes:core/v1:ConfigMap")
        if c.inputs["metadata"]["name"] == "redis-extra-config"
    }
    assert set(confs) == {"gateway-redis-config", "dr-gateway-redis-config"}
    assert confs["gateway-redis-config"] == [*BASE_CONFIG, *plan]
    *standby, replicaof = confs["dr-gateway-redis-config"]
    assert standby == [*BASE_CONFIG, *plan] and replicaof.startswith("replicaof ")


def test_password_reaches_dr_through_a_replicated_store(production: Recording, dr: Recording) -> None:
    secret = production.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["replicas"][0]["region"] == _values()["region"]
    assert secret.inputs["kmsKeyId"] and secret.inputs["replicas"][0]["kmsKeyId"]
    (auth,) = [s for s in dr.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["name"] == "redis-auth"]
    assert auth.inputs["stringData"]["password"] == "[secret]"  # a secret Output, never in clear


def test_failover_records_and_health_check(production: Recording, dr: Recording) -> None:
    host = dict(load_stack_config("production").values)["redisgw:gateway"]["hostname"]
    check = production.one("aws:route53/healthCheck:HealthCheck")
    health = _values()["healthCheck"]
    assert check.inputs["type"] == "HTTPS" and check.inputs["resourcePath"] == health["path"]
    assert check.inputs["requestInterval"] == health["intervalSeconds"]
    assert check.inputs["failureThreshold"] == health["failureThreshold"]
    assert check.inputs["fqdn"] == f"eu-west-1.{host}"
    api = [r for r in production.of_type("aws:route53/record:Record") if r.inputs["name"] == host]
    roles = {r.inputs["failoverRoutingPolicies"][0]["type"]: r for r in api}
    assert set(roles) == {"PRIMARY", "SECONDARY"} and len(api) == 2
    assert roles["PRIMARY"].inputs["healthCheckId"]
    assert check.urn in roles["PRIMARY"].property_dependencies["healthCheckId"]
    assert "healthCheckId" not in roles["SECONDARY"].inputs
    assert roles["SECONDARY"] in dr and roles["PRIMARY"] not in dr
    certs = {c.name: c.inputs for c in production.of_type("aws:acm/certificate:Certificate")}
    assert certs["dr-gateway-cert"]["subjectAlternativeNames"] == [f"eu-central-1.{host}"]


def test_replication_alarms_link_the_dr_runbook(production: Recording) -> None:
    alarms = {a.name: a.inputs for a in production.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["backups-replication-failed"]["metricName"] == "OperationsFailedReplication"
    assert alarms["backups-replication-late"]["threshold"] == 900
    for a in alarms.values():
        assert a["alarmActions"] and "disaster-recovery.md#backup-replication-failing" in a["alarmDescription"]
    runbook = (ROOT / "docs" / "runbooks" / "disaster-recovery.md").read_text()
    assert "## Backup replication failing" in runbook


def test_standby_alerts_replace_the_serving_ones(dr: Recording) -> None:
    (rule,) = dr.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    names = {r.get("alert") for g in rule.inputs["spec"]["groups"] for r in g["rules"]}
    assert set(DR_RUNBOOK_ANCHORS) <= names
    assert not {"RedisNoPrimary", "RedisReplicationBroken", "RedisFailoverOccurred"} & names
    lag = next(r for g in rule.inputs["spec"]["groups"] for r in g["rules"] if r.get("alert") == "RedisStandbyLagHigh")
    rpo = _values()["rpoSeconds"]
    silence = standby_silence_threshold_seconds(rpo)
    assert lag["expr"].startswith(
        f'min(redis_master_last_io_seconds_ago{{namespace="redis-system"}} >= 0) > {silence} or'
    )
    assert "redis_master_link_up" in lag["expr"] and lag["for"] == "10s"
    # The page comes within the objective: silence + for + one 5 s scrape + one 5 s evaluation.
    assert silence + 10 + 5 + 5 <= standby_lag_threshold_seconds(rpo)
    assert standby_lag_threshold_seconds(60) == 30 and standby_lag_threshold_seconds(10) == 15


def test_standby_backs_up_into_the_dr_bucket(production: Recording, dr: Recording) -> None:
    (backup,) = [c for c in dr.of_type("kubernetes:batch/v1:CronJob") if c.inputs["metadata"]["name"] == "redis-backup"]
    cmd = backup.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert cmd[cmd.index("--bucket") + 1].startswith("backups-replica-")
    assert cmd[cmd.index("--region") + 1] == _values()["region"]
    assert "--redis-url" in cmd and "--sentinel" not in cmd


# -- the warm-standby waiver -------------------------------------------------------------------------


def _without_dr(production: Recording) -> list[Any]:
    plan = as_policy_resources(production)
    return [r for r in plan if r.resource_type != "redisgw:index:DrRegion"]


@pytest.mark.parametrize(
    ("waiver", "blocked"),
    [
        (None, True),
        ({"reason": "too short"}, True),
        (
            {"reason": "Single-region by decision of the service owner until the Q3 review.", "expires": "2020-01-01"},
            True,
        ),
        ({"reason": "Single-region by decision of the service owner until the Q3 review."}, False),
        (
            {"reason": "Single-region by decision of the service owner until the Q3 review.", "expires": "2999-01-01"},
            False,
        ),
    ],
)
def test_warm_standby_waiver_needs_a_reason_in_force(production: Recording, waiver: Any, blocked: bool) -> None:
    config = pack_config("production")
    level, props = config["dr-require-warm-standby"]
    config["dr-require-warm-standby"] = (level, {**props, **({"waiver": waiver} if waiver else {})})
    hits = [h for h in evaluate_stack(_without_dr(production), config) if h.policy == "dr-require-warm-standby"]
    assert bool(hits) is blocked, hits


def test_staging_waiver_is_the_only_dr_exception() -> None:
    staging = json.loads((ROOT / "policies" / "config" / "staging.json").read_text())
    production = json.loads((ROOT / "policies" / "config" / "production.json").read_text())
    assert "waiver" in staging["dr-require-warm-standby"]
    assert "waiver" not in json.dumps(production)


def test_the_dr_cluster_declares_its_own_priority_classes_and_its_pods_name_them(dr: Recording) -> None:
    classes = {r.inputs["metadata"]["name"] for r in dr.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")}
    assert classes == {"redis-gateway-serving", "redis-gateway-batch"}
    (rollout,) = dr.of_type("kubernetes:argoproj.io/v1alpha1:Rollout")
    assert rollout.inputs["spec"]["template"]["spec"]["priorityClassName"] == "redis-gateway-serving"
    (redis,) = [r for r in dr if r.type.endswith(":RedisReplication")]
    assert redis.inputs["spec"]["priorityClassName"] == "redis-gateway-serving"
    (kept,) = [
        c for c in dr.of_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"] == DR_SENTINEL_CONFIGMAP
    ]
    assert json.loads(kept.inputs["data"]["sentinel.json"])["spec"]["priorityClassName"] == "redis-gateway-serving"
    jobs = dr.of_type("kubernetes:batch/v1:CronJob")
    assert jobs and {
        j.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["priorityClassName"] for j in jobs
    } == {"redis-gateway-batch"}
