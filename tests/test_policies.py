"""Every policy has a compliant and a violating case.

Resource rules are fed small manifests. Stack rules are fed the real production stack (the program
run under mocks, converted to the objects the analyzer hands policies): it must be compliant, and a
copy with one thing broken must violate. The pack's metadata and exemptions are checked here too.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs

from redisgw_policies import DOMAINS, POLICIES, capacity, ci, data, edge, eks, network, platform, workloads
from redisgw_policies._cron import max_gap_minutes
from redisgw_policies._policy import Finding, exemption_state, region_of
from tests.conftest import Recording, stack_values
from tests.policy_harness import as_policy_resources

# -- resource rules ------------------------------------------------------------------------------

COMPLIANT_CLUSTER = {
    "endpointPublicAccess": False,
    "encryptionConfigKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/abc",
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "createOidcProvider": True,
}

GOOD_CONTAINER = {
    "name": "app",
    "image": "ghcr.io/ai-decenter/app:1.2.3",
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    "securityContext": {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    },
}


def deployment(**container_changes: Any) -> dict[str, Any]:
    container = {**GOOD_CONTAINER, **container_changes}
    container = {k: v for k, v in container.items() if v is not None}
    return {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [container]}}}}


def messages(rule: Callable[[Any, Any], Iterable[str]], props: Any, config: dict[str, Any] | None = None) -> list[str]:
    return list(rule(props, config or {}))


RESOURCE_CASES: list[tuple[str, Callable[[Any, Any], Iterable[str]], Any, Any, dict[str, Any]]] = [
    # (policy, rule, compliant props, violating props, config)
    (
        "eks-cluster-disallow-public-endpoint",
        eks.public_endpoint,
        COMPLIANT_CLUSTER,
        {**COMPLIANT_CLUSTER, "endpointPublicAccess": True},
        {},
    ),
    (
        "eks-cluster-require-secrets-encryption",
        eks.secrets_encryption,
        COMPLIANT_CLUSTER,
        {k: v for k, v in COMPLIANT_CLUSTER.items() if k != "encryptionConfigKeyArn"},
        {},
    ),
    (
        "eks-cluster-require-control-plane-logs",
        eks.control_plane_logs,
        COMPLIANT_CLUSTER,
        {**COMPLIANT_CLUSTER, "enabledClusterLogTypes": ["api"]},
        {},
    ),
    (
        "eks-cluster-require-oidc-provider",
        eks.oidc_provider,
        COMPLIANT_CLUSTER,
        {**COMPLIANT_CLUSTER, "createOidcProvider": False},
        {},
    ),
    (
        "ec2-launch-template-require-imdsv2",
        eks.imdsv2,
        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
        {"metadataOptions": {"httpTokens": "optional"}},
        {},
    ),
    (
        "eks-node-group-disallow-ssh",
        eks.node_ssh,
        {"instanceTypes": ["m7i.large"]},
        {"remoteAccess": {"ec2SshKey": "k"}},
        {},
    ),
    ("kms-key-require-rotation", data.key_rotation, {"enableKeyRotation": True}, {"enableKeyRotation": False}, {}),
    (
        "alb-ingress-require-https",
        edge.ingress_https,
        {
            "spec": {"ingressClassName": "alb"},
            "metadata": {
                "annotations": {
                    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                    "alb.ingress.kubernetes.io/ssl-redirect": "443",
                    "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:x",
                }
            },
        },
        {
            "spec": {"ingressClassName": "alb"},
            "metadata": {"annotations": {"alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}]'}},
        },
        {},
    ),
    (
        "alb-ingress-require-waf",
        edge.ingress_waf,
        {
            "spec": {"ingressClassName": "alb"},
            "metadata": {
                "annotations": {
                    "alb.ingress.kubernetes.io/scheme": "internet-facing",
                    "alb.ingress.kubernetes.io/wafv2-acl-arn": "arn:w",
                }
            },
        },
        {
            "spec": {"ingressClassName": "alb"},
            "metadata": {"annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
        },
        {},
    ),
    (
        "k8s-service-disallow-external-exposure",
        edge.service_exposure,
        {"spec": {"type": "ClusterIP"}},
        {"spec": {"type": "NodePort"}},
        {},
    ),
    (
        "k8s-container-require-non-root",
        workloads.per_container(workloads.non_root),
        deployment(),
        deployment(securityContext={**GOOD_CONTAINER["securityContext"], "runAsNonRoot": False}),
        {},
    ),
    (
        "k8s-container-require-read-only-root-filesystem",
        workloads.per_container(workloads.read_only_root),
        deployment(),
        deployment(securityContext={**GOOD_CONTAINER["securityContext"], "readOnlyRootFilesystem": False}),
        {},
    ),
    (
        "k8s-container-disallow-privilege-escalation",
        workloads.per_container(workloads.no_privilege_escalation),
        deployment(),
        deployment(securityContext={**GOOD_CONTAINER["securityContext"], "allowPrivilegeEscalation": True}),
        {},
    ),
    (
        "k8s-container-require-drop-all-capabilities",
        workloads.per_container(workloads.drop_all),
        deployment(),
        deployment(securityContext={**GOOD_CONTAINER["securityContext"], "capabilities": {"add": ["NET_ADMIN"]}}),
        {},
    ),
    (
        "k8s-container-disallow-latest-tag",
        workloads.per_container(workloads.pinned_image),
        deployment(),
        deployment(image="ghcr.io/ai-decenter/app:latest"),
        {},
    ),
    (
        "k8s-container-require-allowed-registry",
        workloads.per_container(workloads.allowed_registry),
        deployment(),
        deployment(image="docker.io/bitnami/redis:7.2"),
        {"allowedRegistries": ["ghcr.io/ai-decenter/"]},
    ),
    (
        "k8s-container-require-probes",
        workloads.per_container(workloads.probes),
        deployment(),
        deployment(livenessProbe=None),
        {},
    ),
    (
        "k8s-container-require-resources",
        workloads.per_container(workloads.resources),
        deployment(),
        deployment(resources={"requests": {"cpu": "1"}}),
        {},
    ),
]


@pytest.mark.parametrize(
    ("rule", "good", "bad", "config"), [c[1:] for c in RESOURCE_CASES], ids=[c[0] for c in RESOURCE_CASES]
)
def test_resource_rule(rule: Any, good: Any, bad: Any, config: dict[str, Any]) -> None:
    assert messages(rule, good, config) == []
    assert messages(rule, bad, config)


def test_public_endpoint_allowed_by_config_only_for_named_cidrs() -> None:
    allowed = {"allowPublicEndpoint": True, "allowedPublicCidrs": ["203.0.113.0/24"]}
    public = {**COMPLIANT_CLUSTER, "endpointPublicAccess": True}
    assert messages(eks.public_endpoint, {**public, "publicAccessCidrs": ["203.0.113.0/24"]}, allowed) == []
    assert messages(eks.public_endpoint, {**public, "publicAccessCidrs": ["198.51.100.0/24"]}, allowed)
    assert messages(eks.public_endpoint, {**public, "publicAccessCidrs": ["0.0.0.0/0"]}, allowed)


def test_rules_read_the_aws_cluster_shape_too() -> None:
    cluster = {
        "vpcConfig": {"endpointPublicAccess": False},
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}}],
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
    }
    assert messages(eks.public_endpoint, cluster) == []
    assert messages(eks.secrets_encryption, cluster) == []


def test_operator_containers_are_checked_from_the_custom_resource() -> None:
    redis = {
        "kind": "RedisReplication",
        "spec": {
            "kubernetesConfig": {"image": "quay.io/opstree/redis:latest", "resources": {}},
            "securityContext": {},
            "redisExporter": {"enabled": True, "image": "quay.io/opstree/redis-exporter:v1.44.0"},
        },
    }
    assert messages(workloads.per_container(workloads.pinned_image), redis)
    assert len(messages(workloads.per_container(workloads.resources), redis)) == 4  # redis and exporter
    assert messages(workloads.per_container(workloads.probes), redis) == []  # the operator probes its pods


def test_cron_jobs_need_no_probes() -> None:
    job = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{**GOOD_CONTAINER, "readinessProbe": None, "livenessProbe": None}]}
                    }
                }
            }
        },
    }
    assert messages(workloads.per_container(workloads.probes), job) == []


# -- stack rules, on the real production stack ---------------------------------------------------


@pytest.fixture(scope="module")
def production(stack_run: Callable[[str], Recording]) -> list[PolicyResource]:
    """The production plan's primary region: a stack rule sees one region at a time (the policy
    wrapper splits the plan; see test_rules_see_one_region_at_a_time)."""
    return [r for r in as_policy_resources(stack_run("production")) if region_of(r) == "primary"]


def test_rules_see_one_region_at_a_time(stack_run: Callable[[str], Recording]) -> None:
    """Both regions declare a namespace redis-system with the same objects: judged together, every
    quota would count the other cluster's pods. Through the policy, each region is judged alone."""
    from tests.policy_harness import evaluate_stack, pack_config

    plan = as_policy_resources(stack_run("production"))
    assert {region_of(r) for r in plan} == {"primary", "dr"}
    assert list(capacity.quota_for_rollout(StackValidationArgs(plan, {}), {}))  # the whole plan: double-counted
    config = pack_config("production")
    quota = [p for p in POLICIES if p.name == "k8s-namespace-require-quota-for-rollout"]
    assert evaluate_stack(plan, config, quota) == []


def find(resources: list[PolicyResource], suffix: str, name: str | None = None) -> PolicyResource:
    return next(r for r in resources if r.resource_type.endswith(suffix) and (name is None or r.name == name))


def without(resources: list[PolicyResource], suffix: str, name: str | None = None) -> list[PolicyResource]:
    gone = find(resources, suffix, name)
    return [r for r in resources if r is not gone]


def mutated(
    resources: list[PolicyResource], suffix: str, change: Callable[[dict[str, Any]], None], name: str | None = None
) -> list[PolicyResource]:
    out = [copy.copy(r) for r in resources]
    target = find(out, suffix, name)
    target.props = copy.deepcopy(target.props)
    change(target.props)
    return out


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = props
        for p in parents:
            node = node[p]
        node[last] = value

    return change


def _one_minor_ahead() -> str:
    minor = int(stack_values("production")["redisgw:cluster"]["version"].split(".")[1])
    return f"1.{minor + 1}"


StackCase = tuple[
    str,
    Callable[..., Iterable[tuple[str, str | None]]],
    Callable[[list[PolicyResource]], list[PolicyResource]],
    dict[str, Any],
]
STACK_CASES: list[StackCase] = [
    (
        "eks-cluster-disallow-version-skew",
        eks.version_skew,
        lambda rs: mutated(rs, ":NodeGroup", _set("version", _one_minor_ahead()), "primary-main"),
        {},
    ),
    (
        "k8s-workload-require-priority-class",
        workloads.priority_classes,
        lambda rs: mutated(rs, ":Rollout", lambda p: p["spec"]["template"]["spec"].pop("priorityClassName")),
        {},
    ),
    ("ec2-vpc-require-flow-logs", network.flow_logs, lambda rs: without(rs, ":FlowLog"), {}),
    (
        "ec2-vpc-require-nat-per-az",
        network.nat_per_zone,
        lambda rs: without(rs, ":NatGateway", "primary-nat-eu-west-1b"),
        {},
    ),
    (
        "s3-bucket-require-versioning",
        data.versioning,
        lambda rs: without(rs, ":BucketVersioning", "backups-bucket"),
        {},
    ),
    (
        "s3-bucket-require-kms-encryption",
        data.kms_encryption,
        lambda rs: mutated(
            rs,
            ":BucketServerSideEncryptionConfiguration",
            _set("rules", [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]),
            "backups-bucket",
        ),
        {},
    ),
    (
        "s3-bucket-require-public-access-block",
        data.public_access_block,
        lambda rs: mutated(rs, ":BucketPublicAccessBlock", _set("restrictPublicBuckets", False), "backups-replica"),
        {},
    ),
    ("s3-bucket-require-tls-only-policy", data.tls_only, lambda rs: without(rs, ":BucketPolicy", "backups-bucket"), {}),
    (
        "backup-vault-require-lock",
        data.vault_lock,
        lambda rs: without(rs, ":VaultLockConfiguration", "backups-vault-lock"),
        {"minRetentionDays": 7},
    ),
    (
        "k8s-namespace-require-default-deny",
        platform.default_deny,
        lambda rs: mutated(
            rs,
            ":NetworkPolicy",
            _set("spec.podSelector", {"matchLabels": {"app": "redis-gateway"}}),
            "gateway-netpol-default-deny",
        ),
        {},
    ),
    ("k8s-namespace-require-resource-quota", platform.resource_quota, lambda rs: without(rs, ":ResourceQuota"), {}),
    ("k8s-namespace-require-limit-range", platform.limit_range, lambda rs: without(rs, ":LimitRange"), {}),
    ("k8s-workload-require-pdb", platform.pdb, lambda rs: without(rs, ":PodDisruptionBudget"), {}),
    (
        "k8s-pdb-require-hpa-consistency",
        platform.pdb_matches_hpa,
        lambda rs: mutated(rs, ":PodDisruptionBudget", _set("spec.minAvailable", 3)),
        {},
    ),
    (
        "k8s-workload-require-hpa",
        platform.hpa,
        lambda rs: mutated(rs, ":HorizontalPodAutoscaler", _set("spec.minReplicas", 2)),
        {"minReplicas": 3},
    ),
    (
        "k8s-workload-require-anti-affinity",
        platform.anti_affinity,
        lambda rs: mutated(
            rs, ":RedisReplication", lambda p: (p["spec"].pop("affinity"), p["spec"].pop("topologySpreadConstraints"))
        ),
        {},
    ),
    ("k8s-service-require-service-monitor", platform.service_monitor, lambda rs: without(rs, ":ServiceMonitor"), {}),
    (
        "k8s-workload-require-dedicated-service-account",
        platform.service_account,
        lambda rs: without(rs, ":ServiceAccount", "gateway-sa"),
        {},
    ),
    (
        "k8s-rbac-disallow-wildcard-permissions",
        platform.rbac,
        lambda rs: mutated(
            rs,
            "rbac.authorization.k8s.io/v1:Role",
            _set("rules", [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]),
        ),
        {},
    ),
    (
        "k8s-workload-require-declared-secrets",
        platform.declared_secrets,
        lambda rs: without(rs, ":Secret", "gateway-redis-auth"),
        {},
    ),
    (
        "monitoring-stack-require-prometheus-grafana-alertmanager",
        platform.monitoring,
        lambda rs: mutated(rs, ":Release", _set("values.grafana.enabled", False), "monitoring-kube-prometheus-stack"),
        {},
    ),
    (
        "monitoring-alert-require-runbook-url",
        platform.runbook_urls,
        lambda rs: mutated(
            rs, ":PrometheusRule", lambda p: p["spec"]["groups"][1]["rules"][0]["annotations"].pop("runbook_url")
        ),
        {},
    ),
    (
        "redis-pods-require-redis-node-group",
        platform.redis_node_group,
        lambda rs: mutated(rs, ":RedisReplication", _set("spec.tolerations", [])),
        {},
    ),
    (
        "k8s-backup-require-cronjob-and-storage",
        platform.backups,
        lambda rs: mutated(rs, ":CronJob", _set("spec.schedule", "0 3 * * *"), "backups-redis-backup"),
        {},
    ),
    (
        "k8s-job-require-pinned-ops-image",
        ci.pinned_ops_image,
        lambda rs: mutated(
            rs,
            ":CronJob",
            lambda p: p["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].update(
                image="ghcr.io/ai-decenter/redis-gateway-ops:0.1.0"
            ),
            "backups-redis-backup",
        ),
        {},
    ),
    (
        "ecr-repository-require-hardening",
        ci.ecr_repository,
        lambda rs: mutated(rs, ":Repository", _set("imageTagMutability", "MUTABLE"), "backups-ops-image"),
        {},
    ),
    (
        "redis-replication-require-sized-backlog",
        capacity.sized_backlog,
        lambda rs: mutated(
            rs, ":ConfigMap", _set("data", {"redis-additional.conf": "appendonly yes\n"}), "gateway-redis-config"
        ),
        {},
    ),
]


@pytest.mark.parametrize(("rule", "breaker", "config"), [c[1:] for c in STACK_CASES], ids=[c[0] for c in STACK_CASES])
def test_stack_rule_on_production(
    production: list[PolicyResource], rule: Any, breaker: Any, config: dict[str, Any]
) -> None:
    assert list(rule(StackValidationArgs(production, config), config)) == []
    findings = list(rule(StackValidationArgs(breaker(production), config), config))
    assert findings and all(isinstance(m, str) and m for m, _ in findings)


def test_backup_storage_must_be_declared(production: list[PolicyResource]) -> None:
    broken = without(production, ":PersistentVolumeClaim")
    ((message, _),) = platform.backups(StackValidationArgs(broken, {}), {})
    assert "backup-storage" in message


@pytest.mark.parametrize(
    ("schedule", "minutes"),
    [
        ("*/15 * * * *", 15),
        ("0,30 * * * *", 30),
        ("5 * * * *", 60),
        ("@hourly", 60),
        ("0 3 * * *", 1440),
        ("*/15 * 1 * *", 43215),  # the day-of-month field leaves a month between bursts
        ("*/15 * * * 1-5", 2895),  # weekdays only: the weekend is a gap
        ("0 0 31 2 *", math.inf),  # never fires
    ],
)
def test_cron_gap_honours_every_field(schedule: str, minutes: float) -> None:
    assert max_gap_minutes(schedule) == minutes


@pytest.mark.parametrize("schedule", ["", "nonsense", "61 * * * *", "* * * * * *", "*/15 * * *"])
def test_cron_gap_of_an_invalid_schedule_is_none(schedule: str) -> None:
    assert max_gap_minutes(schedule) is None


# -- replication sized by the plan ----------------------------------------------------------------

PRODUCTION_DIRECTIVES = {
    "min-replicas-to-write": "1",
    "min-replicas-max-lag": "10",
    "repl-backlog-size": "135266304",
    "repl-timeout": "15",
    "repl-ping-replica-period": "2",
}
PRODUCTION_RECORD = {
    "demand": {
        "peak_rps": 3000,
        "read_share": 0.8,
        "keys": 5_000_000,
        "value_bytes": 512.0,
        "growth_per_month": 0.05,
        "headroom": 0.3,
        "restore_objective_seconds": 3600.0,
    },
    "replication": {"link_outage_seconds": 300, "rpo_seconds": 60},
}


def _k8s(kind: str, name: str, props: dict[str, Any]) -> PolicyResource:
    api = "redis.redis.opstreelabs.in/v1beta2" if kind == "RedisReplication" else "core/v1"
    typ = f"kubernetes:{api}:{kind}"
    body = {"kind": kind, "metadata": {"name": name, "namespace": "redis-system"}, **props}
    return PolicyResource(
        typ,
        body,
        f"urn:pulumi:production::redisgw::{typ}::{name}",
        name,
        PolicyResourceOptions(False, [], None, [], None, [], None),
        None,
        None,
        [],
        {},
    )


def tier(conf: Any, record: Any = PRODUCTION_RECORD) -> list[PolicyResource]:
    """A Redis tier reading ``redis-extra-config`` (``conf``), beside a capacity record (None: none)."""
    plan = [
        _k8s("RedisReplication", "redis", {"spec": {"redisConfig": {"additionalRedisConfig": "redis-extra-config"}}}),
        _k8s("ConfigMap", "redis-extra-config", {"data": {"redis-additional.conf": conf}}),
    ]
    if record is not None:
        text = record if isinstance(record, str) else json.dumps(record)
        plan.append(_k8s("ConfigMap", "redis-gateway-capacity", {"data": {"capacity.json": text}}))
    return plan


def conf_of(directives: dict[str, str], *extra: str) -> str:
    return "\n".join(["appendonly yes", *(f"{k} {v}" for k, v in directives.items()), *extra]) + "\n"


def backlog_findings(plan: list[PolicyResource], config: dict[str, Any] | None = None) -> list[str]:
    return [m for m, _ in capacity.sized_backlog(StackValidationArgs(plan, config or {}), config or {})]


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512mb", 512 * 2**20),
        ("512MB", 512 * 2**20),
        ("1gb", 2**30),
        ("1g", 10**9),
        ("64m", 64 * 10**6),
        ("100k", 100_000),
        ("100kb", 102_400),
        ("135266304", 135_266_304),
        ("1048576b", 2**20),
        (" 2gb ", 2 * 2**30),
        ("-512mb", None),
        ("1.5gb", None),
        ("512 mb", None),
        ("mb", None),
        ("512tb", None),
        ("0x10", None),
        ("", None),
        ("9" * 40, None),
    ],
)
def test_redis_sizes_are_read_as_redis_reads_them(value: str, size: int | None) -> None:
    assert capacity.redis_bytes(value) == size


def test_the_plans_production_directives_pass() -> None:
    assert backlog_findings(tier(conf_of(PRODUCTION_DIRECTIVES))) == []


@pytest.mark.parametrize(
    ("change", "extra", "expected"),
    [
        ({"repl-backlog-size": "1mb"}, (), "repl-backlog-size is 1048576 bytes, below the declared 600 writes/s"),
        ({"repl-backlog-size": "128mb"}, (), "below the declared 600 writes/s"),  # the need is 128.5 MiB
        ({}, ("repl-backlog-size 1mb",), "repl-backlog-size is 1048576 bytes"),  # the last occurrence wins
        ({"repl-backlog-size": "lots"}, (), "repl-backlog-size is not a size Redis reads"),
        ({"repl-backlog-size": "-200mb"}, (), "repl-backlog-size is not a size Redis reads"),
        ({"repl-backlog-size": '"512mb'}, (), "repl-backlog-size is not a size Redis reads"),  # unbalanced quote
        ({"repl-backlog-size": "512mb 1gb"}, (), "repl-backlog-size is not a size Redis reads"),
        ({"repl-timeout": "60"}, (), "repl-timeout is 60 s, not below the 60 s RPO"),
        ({"repl-timeout": "0"}, (), "repl-timeout is not a positive number of seconds"),
        ({"repl-timeout": "-5"}, (), "repl-timeout is not a positive number of seconds"),
        ({"repl-timeout": "15s"}, (), "repl-timeout is not a positive number of seconds"),
        ({"repl-ping-replica-period": "15"}, (), "repl-timeout (15 s) is not above repl-ping-replica-period (15 s)"),
        ({"repl-ping-replica-period": "often"}, (), "repl-ping-replica-period is not a positive number"),
    ],
)
def test_a_tier_configuration_that_cannot_ride_out_the_outage_is_blocked(
    change: dict[str, str], extra: tuple[str, ...], expected: str
) -> None:
    found = backlog_findings(tier(conf_of({**PRODUCTION_DIRECTIVES, **change}, *extra)))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("dropped", "expected"),
    [
        ("repl-backlog-size", "sets no repl-backlog-size: Redis keeps 1048576 bytes"),
        ("repl-timeout", "sets no repl-timeout: a dead replication link is noticed only after Redis' default 60 s"),
    ],
)
def test_a_missing_directive_is_blocked(dropped: str, expected: str) -> None:
    directives = {k: v for k, v in PRODUCTION_DIRECTIVES.items() if k != dropped}
    (found,) = backlog_findings(tier(conf_of(directives)))
    assert expected in found


@pytest.mark.parametrize(
    "conf", [None, 42, ["repl-backlog-size 1gb"], {"repl-backlog-size": "1gb"}, "", '\x00\n"\n#', "# only\n"]
)
def test_a_hostile_configuration_is_a_violation_never_a_crash(conf: Any) -> None:
    found = backlog_findings(tier(conf))
    assert any("no repl-backlog-size" in m for m in found) and any("no repl-timeout" in m for m in found)


@pytest.mark.parametrize(
    "record",
    [
        "not json",
        "[]",
        {"demand": PRODUCTION_RECORD["demand"]},  # no ride-out
        {**PRODUCTION_RECORD, "replication": {"link_outage_seconds": "300", "rpo_seconds": None}},
        {**PRODUCTION_RECORD, "replication": {"link_outage_seconds": -300, "rpo_seconds": 60}},
        {**PRODUCTION_RECORD, "replication": {"link_outage_seconds": float("inf"), "rpo_seconds": 60}},
        {"demand": {"peak_rps": "lots"}, "replication": PRODUCTION_RECORD["replication"]},
    ],
)
def test_an_unreadable_capacity_record_is_a_violation_never_a_crash(record: Any) -> None:
    (found,) = backlog_findings(tier(conf_of(PRODUCTION_DIRECTIVES), record))
    assert "ConfigMap redis-gateway-capacity" in found


def test_without_a_capacity_record_the_floor_and_the_default_rpo_apply() -> None:
    floor = {**PRODUCTION_DIRECTIVES, "repl-backlog-size": "64mb"}
    assert backlog_findings(tier(conf_of(floor), None)) == []
    (found,) = backlog_findings(tier(conf_of({**floor, "repl-backlog-size": "63mb"}), None))
    assert "below the pack's minimum (67108864 bytes)" in found
    assert backlog_findings(tier(conf_of(floor), None), {"defaultRpoSeconds": 10}) != []


def test_the_needed_backlog_follows_the_declared_write_rate() -> None:
    busier = json.loads(json.dumps(PRODUCTION_RECORD))
    busier["demand"]["peak_rps"] = 6000  # twice the writes: 257 MiB
    (found,) = backlog_findings(tier(conf_of(PRODUCTION_DIRECTIVES), busier))
    assert "below the declared 1200 writes/s of 512-byte values over a 300 s link outage" in found
    ok = {**PRODUCTION_DIRECTIVES, "repl-backlog-size": "258mb"}
    assert backlog_findings(tier(conf_of(ok), busier)) == []


def test_a_tier_without_its_configuration_is_blocked() -> None:
    plan = tier(conf_of(PRODUCTION_DIRECTIVES))
    (found,) = backlog_findings([r for r in plan if r.name != "redis-extra-config"])
    assert found.startswith("RedisReplication redis-system/redis reads ConfigMap redis-extra-config, which")
    plan[0].props["spec"] = {}
    found = backlog_findings(plan)
    assert found == [
        "RedisReplication redis-system/redis reads no additional configuration: Redis' 1 MB backlog and 60 s timeout."
    ]


@given(
    peak=st.floats(min_value=1, max_value=200_000),
    read_share=st.floats(min_value=0, max_value=1),
    mean=st.integers(min_value=1, max_value=64 * 1024),
    headroom=st.floats(min_value=0, max_value=3),
    outage=st.integers(min_value=30, max_value=3600),
    rpo=st.integers(min_value=7, max_value=86_400),
)
@hyp_settings(max_examples=200, deadline=None)
def test_what_settings_plans_the_policy_accepts(
    peak: float, read_share: float, mean: int, headroom: float, outage: int, rpo: int
) -> None:
    """One arithmetic in two places (the pack cannot import settings): whatever a stack declares, the
    directives settings writes pass the policy, judged against the record settings writes."""
    import settings
    from ops.offline.engine import ROOT
    from tests.conftest import stack_values

    values = stack_values("production")
    values["redisgw:capacity"].update(
        peakRequestsPerSecond=peak,
        readShare=read_share,
        valueBytes={"mean": mean, "max": max(mean, 16384)},
        headroom=headroom,
    )
    values["redisgw:redis"]["linkOutageSeconds"] = outage
    values["redisgw:dr"]["rpoSeconds"] = rpo
    try:
        cfg = settings.load_settings(values, source="Pulumi.production.yaml")
    except settings.SettingsError as exc:
        assert [p.split(": ")[1] for p in exc.problems] == ["redisgw:redis.linkOutageSeconds"]
        return
    record = settings.capacity_record(cfg, ROOT)
    assert backlog_findings(tier(conf_of(settings.redis_replication_config(cfg)), record)) == []


# -- pack metadata and exemptions ----------------------------------------------------------------


def test_every_policy_is_tested_here_or_in_the_mutation_harness() -> None:
    from tests.test_policy_mutations import CASES

    covered = {c[0] for c in RESOURCE_CASES} | {c[0] for c in STACK_CASES} | {c[2] for c in CASES}
    assert covered == {p.name for p in POLICIES}


def test_every_policy_has_metadata_and_a_kebab_case_name() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) == sum(len(v) for v in DOMAINS.values())
    for p in POLICIES:
        assert p.name == p.name.lower() and " " not in p.name and p.name.count("-") >= 2
        assert p.description.endswith(".")
        assert p.severity is not None and p.remediation_steps
        assert "exemptions" in p.config_schema.properties


def test_exemption_names_a_container_or_field_and_expires() -> None:
    urn = "urn:pulumi:production::redisgw::redisgw:index:RedisGateway$kubernetes:x::gateway-redis"
    config = {
        "exemptions": [
            {
                "resource": "gateway-redis",
                "container": "redis",
                "reason": "written by the operator at start",
                "expires": "2027-06-30",
            }
        ]
    }
    finding = Finding("RedisReplication container redis: the root filesystem is writable.", container="redis")
    assert exemption_state(config, urn, finding, today=datetime.date(2027, 1, 1)) == "exempt"
    assert exemption_state(config, urn, finding, today=datetime.date(2027, 7, 1)) == "expired 2027-06-30"
    assert exemption_state(config, urn.replace("gateway-redis", "gateway-sentinel"), finding) is None
    # Another container of the same resource, or a finding about the whole resource, is still reported.
    other = Finding("RedisReplication container redis-exporter: ...", container="redis-exporter")
    assert exemption_state(config, urn, other, today=datetime.date(2027, 1, 1)) is None
    assert exemption_state(config, urn, "a finding without a container", today=datetime.date(2027, 1, 1)) is None
    # An exemption that names neither a container nor a field waives nothing.
    broad = {"exemptions": [{"resource": "*redis*", "reason": "r" * 15}]}
    assert exemption_state(broad, urn, finding) is None


@pytest.mark.parametrize(
    ("data", "findings"),
    [
        ({"targets.json": "UNKNOWN"}, []),
        ({"targets.json": "UNKNOWN", "ADMIN_PASSWORD": "hunter2-hunter2"}, ["ADMIN_PASSWORD"]),
        ({"API_TOKEN": "UNKNOWN"}, ["API_TOKEN"]),
        ({"url": "UNKNOWN", "dsn": "redis://user:s3cret@redis:6379/0"}, ["dsn"]),
    ],
)
def test_a_configmap_value_unknown_during_preview_does_not_hide_the_others(
    data: dict[str, str], findings: list[str]
) -> None:
    """During a real preview an ARN or a generated name is unknown; the rule judges the entries
    beside it (and an unknown value by its key) instead of giving up on every ConfigMap."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    props = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "redis-system"},
        "data": {k: UNKNOWN_STRING_VALUE if v == "UNKNOWN" else v for k, v in data.items()},
    }
    cm = PolicyResource(
        "kubernetes:core/v1:ConfigMap",
        unknown_checking_proxy(props),
        "urn:pulumi:s::p::kubernetes:core/v1:ConfigMap::cm",
        "cm",
        PolicyResourceOptions(False, [], None, [], None, [], None),
        None,
        None,
        [],
        {},
    )
    found = list(platform.configmap_secrets(StackValidationArgs([cm], {}), {}))
    assert [m.split("key ")[1].split(";")[0] for m, _ in found] == findings


# -- the ops image: the stack's own repository, by digest ------------------------------------------

OPS_REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
DIGEST = "sha256:" + "ab" * 32


def _ops_images(resources: list[PolicyResource]) -> dict[str, str]:
    return {f"{r.name}/{c}": str(image) for r, _, c, image in ci.batch_images(StackValidationArgs(resources, {}))}


def _with_image(resources: list[PolicyResource], name: str, image: str) -> list[PolicyResource]:
    def change(props: dict[str, Any]) -> None:
        if "jobTemplate" in props["spec"]:
            props["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = image
        else:  # the smoke-test AnalysisTemplate
            metric = next(m for m in props["spec"]["metrics"] if "job" in m["provider"])
            metric["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]["image"] = image

    kind = ":AnalysisTemplate" if name.endswith("smoke-test") else ":CronJob"
    return mutated(resources, kind, change, name)


def _pinned(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    return list(ci.pinned_ops_image(StackValidationArgs(resources, {}), {}))


def test_every_batch_job_of_the_plan_runs_the_pinned_ops_image(production: list[PolicyResource]) -> None:
    images = _ops_images(production)
    # The backup and drill CronJobs, the readiness CronJob and the rollout's smoke-test Job.
    assert {"backups-redis-backup/ops", "backups-redis-restore-drill/ops", "readiness-cronjob/ops"} <= set(images)
    assert any(key.endswith("/smoke") for key in images)
    for image in images.values():
        assert image.startswith(OPS_REPOSITORY + "@sha256:")
    assert _pinned(production) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/ai-decenter/redis-gateway-ops@" + DIGEST, "from ghcr.io, not from the stack's own ECR repository"),
        ("redis-gateway-ops:0.1.0", "from Docker Hub, not from the stack's own ECR repository"),
        (f"{OPS_REPOSITORY}:0.1.0", "without a digest"),
        (f"{OPS_REPOSITORY}", "without a digest"),
        # Another account's repository of the same name, and the same account in another region.
        ("210987654321.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops@" + DIGEST, "not from the stack's own"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/redisgw-production/ops@" + DIGEST, "not from the stack's own"),
        # The staging stack's repository is not production's.
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-staging/ops@" + DIGEST, "not from the stack's own"),
        (f"{OPS_REPOSITORY}@sha256:abc", "not from the stack's own"),
        # Look-alikes: another host that ends like ECR, a path that embeds it, a digest in capitals.
        (OPS_REPOSITORY.replace(".com/", ".com.evil.example/") + "@" + DIGEST, "not from the stack's own"),
        ("evil.example/" + OPS_REPOSITORY + "@" + DIGEST, "from evil.example, not from the stack's own"),
        (f"{OPS_REPOSITORY}@{DIGEST.upper()}", "not from the stack's own"),
        (f"{OPS_REPOSITORY}/../ops@{DIGEST}", "not from the stack's own"),
        ("", "names no image"),
    ],
)
@pytest.mark.parametrize("job", ["backups-redis-backup", "readiness-cronjob", "gateway-analysis-smoke-test"])
def test_an_ops_job_from_another_registry_or_by_tag_only_is_blocked(
    production: list[PolicyResource], job: str, image: str, expected: str
) -> None:
    findings = _pinned(_with_image(production, job, image))
    assert findings, image
    assert all(urn == find(production, "", job).urn for _, urn in findings)
    assert any(expected in message for message, _ in findings), findings


def test_a_known_repository_url_decides_over_the_key(production: list[PolicyResource]) -> None:
    url = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
    plan = mutated(production, ":Repository", _set("repositoryUrl", url), "backups-ops-image")
    assert len(_pinned(plan)) == len(_ops_images(plan))  # the plan's images are in 123456789012
    assert _pinned(_with_image(plan, "backups-redis-backup", f"{url}@{DIGEST}")) == _pinned(
        without(plan, ":CronJob", "backups-redis-backup")
    )


def test_a_tag_beside_the_digest_is_a_label(production: list[PolicyResource]) -> None:
    assert _pinned(_with_image(production, "backups-redis-backup", f"{OPS_REPOSITORY}:v1.4.0@{DIGEST}")) == []


def test_without_its_own_repository_no_ops_job_passes(production: list[PolicyResource]) -> None:
    findings = _pinned(without(production, ":Repository", "backups-ops-image"))
    assert len(findings) == len(_ops_images(production))
    assert all("(none declared)" in message for message, _ in findings)


def test_while_the_repository_url_is_unknown_its_name_decides(production: list[PolicyResource]) -> None:
    """A first preview knows the repository's name (an input), not its URL (an output)."""

    def unknown(props: dict[str, Any]) -> None:
        props.pop("repositoryUrl", None)
        props["encryptionConfigurations"] = [{"encryptionType": "KMS"}]  # the key's ARN: not yet known

    plan = mutated(production, ":Repository", unknown, "backups-ops-image")
    assert _pinned(plan) == []
    # The name decides alone: the same name in another account cannot be told apart yet.
    assert (
        _pinned(_with_image(plan, "readiness-cronjob", OPS_REPOSITORY.replace("123456789012", "2" * 12) + "@" + DIGEST))
        == []
    )
    other = _with_image(
        plan, "backups-redis-backup", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/other/ops@" + DIGEST
    )
    assert _pinned(other)


def test_the_dr_regions_jobs_are_judged_against_the_primarys_repository(stack_run: Callable[[str], Recording]) -> None:
    """The standby's backup jobs pull the primary's image: the policy judges the whole stack at once."""
    from tests.policy_harness import evaluate_stack, pack_config

    plan = as_policy_resources(stack_run("production"))
    dr_jobs = [r for r in plan if region_of(r) == "dr" and r.resource_type.endswith(":CronJob")]
    assert dr_jobs
    policy = [p for p in POLICIES if p.name == "k8s-job-require-pinned-ops-image"]
    assert evaluate_stack(plan, pack_config("production"), policy) == []
    broken = _with_image(plan, dr_jobs[0].name, "ghcr.io/ai-decenter/redis-gateway-ops:0.1.0")
    hits = evaluate_stack(broken, pack_config("production"), policy)
    assert [h.urn for h in hits] == [dr_jobs[0].urn]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set("imageScanningConfiguration", {"scanOnPush": False}), "does not scan images on push"),
        (_set("encryptionConfigurations", [{"encryptionType": "AES256"}]), "customer-managed KMS key"),
        (_set("imageTagMutability", "MUTABLE"), "mutable tags"),
        (_set("name", "renamed/ops"), "no lifecycle policy"),
    ],
)
def test_a_weakened_ecr_repository_is_reported(
    production: list[PolicyResource], change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    args = StackValidationArgs(mutated(production, ":Repository", change, "backups-ops-image"), {})
    findings = list(ci.ecr_repository(args, {}))
    assert [m for m, _ in findings if expected in m], findings


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}, "grants access to everyone"),
        ({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:role/x"]}, "Action": "ecr:*"}, "push"),
        ({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}, "Action": "ecr:Put*"}, "push"),
    ],
)
def test_a_repository_policy_that_grants_push_or_everyone_is_reported(
    production: list[PolicyResource], statement: dict[str, Any], expected: str
) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    plan = mutated(production, ":RepositoryPolicy", _set("policy", document), "backups-ops-image-pull")
    findings = list(ci.ecr_repository(StackValidationArgs(plan, {}), {}))
    assert [m for m, _ in findings if expected in m], findings


# -- scheduling priority -------------------------------------------------------------------------


def _priority_plan(
    serving: str | None = "serving", job: str | None = "batch", classes: dict[str, Any] | None = None
) -> list[PolicyResource]:
    """A Deployment of the tier's namespace and a CronJob, naming the classes ``serving`` and ``job``,
    beside the PriorityClasses ``classes`` (name -> value, or a dict of fields)."""

    def pod(name: str | None) -> dict[str, Any]:
        return {"containers": [{"name": "app"}], **({"priorityClassName": name} if name else {})}

    labels = {"app.kubernetes.io/part-of": "redis-gateway"}
    plan = [
        _k8s("Namespace", "redis-system", {"metadata": {"name": "redis-system", "labels": labels}}),
        _k8s("Deployment", "web", {"spec": {"template": {"spec": pod(serving)}}}),
        _k8s("CronJob", "job", {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod(job)}}}}}),
    ]
    for name, value in (classes or {"serving": 1_000_000, "batch": 0}).items():
        fields = value if isinstance(value, dict) else {"value": value}
        plan.append(_k8s("PriorityClass", name, {"metadata": {"name": name}, **fields}))
    return plan


def _priority_findings(plan: list[PolicyResource]) -> list[str]:
    return [m for m, _ in workloads.priority_classes(StackValidationArgs(plan, {}), {})]


def test_a_serving_class_above_default_and_a_batch_class_below_it_pass() -> None:
    assert _priority_findings(_priority_plan()) == []


def test_a_job_without_a_class_runs_at_the_default_and_passes() -> None:
    assert _priority_findings(_priority_plan(job=None)) == []


def test_a_serving_workload_in_a_system_class_resolves_without_a_declaration() -> None:
    assert _priority_findings(_priority_plan(serving="system-cluster-critical", classes={"batch": 0})) == []


def test_a_serving_workload_without_a_class_is_blocked() -> None:
    (finding,) = _priority_findings(_priority_plan(serving=None))
    assert "names no priorityClassName" in finding and finding.field == "priorityClassName"  # type: ignore[attr-defined]


def test_a_class_the_cluster_does_not_declare_is_blocked() -> None:
    (finding,) = _priority_findings(_priority_plan(serving="gold"))
    assert "does not declare" in finding


def test_a_serving_class_at_or_below_the_global_default_is_blocked() -> None:
    plan = _priority_plan(job=None, classes={"serving": 100, "batch": {"value": 100, "globalDefault": True}})
    (finding,) = _priority_findings(plan)
    assert "not above the default pods' 100" in finding


def test_a_job_at_or_above_the_serving_class_is_blocked() -> None:
    (finding,) = _priority_findings(_priority_plan(job="serving"))
    assert "not below the serving tier's 1000000" in finding


def test_a_deployment_outside_the_tier_is_not_judged() -> None:
    plan = _priority_plan(serving=None)
    plan[1].props["metadata"]["namespace"] = "monitoring"
    assert _priority_findings(plan) == []


def test_priority_classes_are_resolved_per_region(stack_run: Callable[[str], Recording]) -> None:
    """Each cluster declares its own classes: without the DR region's, its pods are blocked, even
    though the primary region declares classes of the same names."""
    from tests.policy_harness import evaluate_stack, pack_config

    plan = as_policy_resources(stack_run("production"))
    dr_classes = [r for r in plan if r.resource_type.endswith(":PriorityClass") and region_of(r) == "dr"]
    assert len(dr_classes) == 2
    policy = [p for p in POLICIES if p.name == "k8s-workload-require-priority-class"]
    assert evaluate_stack(plan, pack_config("production"), policy) == []
    hits = evaluate_stack([r for r in plan if r not in dr_classes], pack_config("production"), policy)
    assert hits and all("dr-" in (h.urn or "").rsplit("::", 1)[-1] for h in hits)


@pytest.mark.parametrize(
    ("expression", "pod_class", "counted"),
    [
        (None, "redis-gateway-batch", True),
        ({"operator": "In", "values": ["redis-gateway-serving"]}, "redis-gateway-serving", True),
        ({"operator": "In", "values": ["redis-gateway-serving"]}, "redis-gateway-batch", False),
        ({"operator": "In", "values": ["redis-gateway-serving"]}, None, False),
        ({"operator": "NotIn", "values": ["redis-gateway-batch"]}, None, True),
        ({"operator": "NotIn", "values": ["redis-gateway-batch"]}, "redis-gateway-batch", False),
        ({"operator": "Exists"}, None, False),
        ({"operator": "DoesNotExist"}, None, True),
    ],
)
def test_a_quota_scoped_to_priority_classes_counts_only_their_pods(
    expression: dict[str, Any] | None, pod_class: str | None, counted: bool
) -> None:
    spec: dict[str, Any] = {"hard": {"pods": "10"}}
    if expression is not None:
        spec["scopeSelector"] = {"matchExpressions": [{"scopeName": "PriorityClass", **expression}]}
    pod = {"priorityClassName": pod_class} if pod_class else {}
    assert capacity.quota_selects({"spec": spec}, pod) is counted
