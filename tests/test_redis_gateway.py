"""RedisGateway component: Redis placement and durability, the gateway workload, guard rails, edge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.eks_cluster import REDIS_NODE_LABELS, REDIS_NODE_TAINT
from components.redis_gateway import (
    ARGO_ROLLOUTS_CHART,
    REDIS_OPERATOR_CHART,
    WAIT_FOR_HEALTHY,
    Delivery,
    RedisGateway,
    RedisGatewayArgs,
    Resources,
    cpu_millis,
    mebibytes,
    pdb_min_available,
    quota,
    rollout_surge,
)
from ops.offline.engine import run_program
from tests.conftest import Recording

RESOURCES = Resources(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="2Gi")


def _args(**overrides: Any) -> RedisGatewayArgs:
    values: dict[str, Any] = dict(
        namespace="redis-system",
        image="ghcr.io/example/redis-http-gateway:1.2.3",
        hostname="api.example.com",
        hosted_zone_id="Z123EXAMPLE",
        min_replicas=3,
        max_replicas=12,
        target_cpu_utilization=65,
        resources=RESOURCES,
        rate_limit=1000,
        log_level="info",
        vpc_cidr="10.20.0.0/16",
        storage_class="gp3-encrypted",
        monitoring_namespace="monitoring",
        redis_image="quay.io/opstree/redis:v7.0.15",
        redis_sentinel_image="quay.io/opstree/redis-sentinel:v7.0.15",
        redis_exporter_image="quay.io/opstree/redis-exporter:v1.44.0",
        redis_replicas=3,
        redis_sentinels=3,
        redis_storage_size="20Gi",
        redis_resources=Resources(cpu_request="1", memory_request="8Gi", cpu_limit="2", memory_limit="8Gi"),
        redis_maxmemory_percent=70,
        redis_replication={"repl-backlog-size": "67108864", "repl-timeout": "15"},
        environment="test",
        delivery=Delivery(smoke_image="ghcr.io/example/ops:1.0.0"),
        oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        oidc_issuer="oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        region="eu-west-1",
    )
    values.update(overrides)
    return RedisGatewayArgs(**values)


@pytest.fixture(scope="module")
def rec() -> Recording:
    return Recording(run_program(lambda: RedisGateway("gw", _args()), stack="test", config={}, region="eu-west-1"))


def _cr(rec: Recording, kind: str) -> dict[str, Any]:
    (found,) = [r for r in rec if r.type.endswith(f":{kind}")]
    return found.inputs


def test_redis_runs_only_on_the_tainted_redis_nodes(rec: Recording) -> None:
    spec = _cr(rec, "RedisReplication")["spec"]
    assert spec["nodeSelector"] == dict(REDIS_NODE_LABELS)
    (toleration,) = spec["tolerations"]
    assert (toleration["key"], toleration["value"]) == (REDIS_NODE_TAINT["key"], REDIS_NODE_TAINT["value"])
    assert toleration["effect"] == "NoSchedule" and toleration["operator"] == "Equal"


def test_redis_is_one_per_node_and_spread_across_zones(rec: Recording) -> None:
    spec = _cr(rec, "RedisReplication")["spec"]
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone" and spread["whenUnsatisfiable"] == "DoNotSchedule"


def test_redis_replication_is_durable_and_authenticated(rec: Recording) -> None:
    spec = _cr(rec, "RedisReplication")["spec"]
    assert spec["clusterSize"] == 3
    assert spec["kubernetesConfig"]["redisSecret"] == {"name": "redis-auth", "key": "password"}
    assert spec["redisExporter"]["enabled"] is True
    claim = spec["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted" and claim["resources"]["requests"]["storage"] == "20Gi"
    assert spec["storage"]["keepAfterDelete"] is True
    assert spec["redisConfig"]["maxMemoryPercentOfLimit"] == 70
    conf = rec.one("kubernetes:core/v1:ConfigMap", "gw-redis-config").inputs["data"]["redis-additional.conf"]
    assert "appendonly yes" in conf.splitlines() and "appendfsync everysec" in conf.splitlines()
    assert spec["redisConfig"]["additionalRedisConfig"] == "redis-extra-config"


def test_redis_config_carries_the_replication_directives_it_is_given(rec: Recording) -> None:
    conf = rec.one("kubernetes:core/v1:ConfigMap", "gw-redis-config").inputs["data"]["redis-additional.conf"]
    lines = conf.splitlines()
    assert lines[-2:] == ["repl-backlog-size 67108864", "repl-timeout 15"]
    # Nothing of its own: the directives come from the plan (settings), not from the component.
    assert [line for line in lines if line.startswith(("repl-backlog", "repl-timeout", "min-replicas"))] == lines[-2:]
    assert not [line for line in lines if line.startswith("replicaof")]  # a primary tier


def test_redis_password_is_generated_and_secret(rec: Recording) -> None:
    secret = rec.one("kubernetes:core/v1:Secret", "gw-redis-auth")
    assert secret.inputs["stringData"] == {"password": "[secret]"}
    password = rec.by_urn(secret.property_dependencies["stringData"][0])
    assert password.type == "random:index/randomPassword:RandomPassword"
    assert password.inputs["length"] >= 32


def test_sentinel_quorum_watches_the_replication(rec: Recording) -> None:
    spec = _cr(rec, "RedisSentinel")["spec"]
    assert spec["clusterSize"] == 3
    cfg = spec["redisSentinelConfig"]
    assert cfg["redisReplicationName"] == "redis" and cfg["quorum"] == "2"
    assert cfg["redisReplicationPassword"]["secretKeyRef"]["name"] == "redis-auth"


@pytest.mark.parametrize("kind", ["RedisReplication", "RedisSentinel"])
def test_official_pinned_images_never_bitnami(rec: Recording, kind: str) -> None:
    spec = _cr(rec, kind)["spec"]
    images = [spec["kubernetesConfig"]["image"], spec.get("redisExporter", {}).get("image", "quay.io/opstree/x:v1")]
    for image in images:
        assert image.startswith("quay.io/opstree/") and "bitnami" not in image and not image.endswith(":latest")


def _containers(rec: Recording) -> Iterator[tuple[str, dict[str, Any]]]:
    rollout = _cr(rec, "Rollout")
    for c in rollout["spec"]["template"]["spec"]["containers"]:
        yield "gateway", c
    for kind in ("RedisReplication", "RedisSentinel"):
        spec = _cr(rec, kind)["spec"]
        yield kind, {**spec["kubernetesConfig"], "securityContext": spec["securityContext"]}
    yield "exporter", _cr(rec, "RedisReplication")["spec"]["redisExporter"]


def test_every_container_has_requests_limits_and_a_security_context(rec: Recording) -> None:
    for owner, c in _containers(rec):
        assert set(c["resources"]) == {"requests", "limits"}, owner
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(
            c["resources"]["limits"]
        )
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, owner
        assert sc["capabilities"]["drop"] == ["ALL"], owner


def test_gateway_container_is_locked_down_and_probed(rec: Recording) -> None:
    pod = _cr(rec, "Rollout")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080, "metrics": 9090}
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "redis-gateway"
    assert c["envFrom"] == [{"configMapRef": {"name": "redis-gateway"}}]
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "password"}
    assert [s["topologyKey"] for s in pod["topologySpreadConstraints"]] == ["topology.kubernetes.io/zone"]


def test_rollout_waits_for_health_and_hpa_targets_it(rec: Recording) -> None:
    rollout = _cr(rec, "Rollout")
    assert rollout["metadata"]["annotations"]["pulumi.com/waitFor"] == WAIT_FOR_HEALTHY
    hpa = rec.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "redis-gateway"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 65


@pytest.mark.parametrize("minimum", [2, 3, 5, 10])
def test_pdb_never_blocks_all_disruptions_nor_exceeds_the_hpa_minimum(minimum: int) -> None:
    rec = Recording(
        run_program(
            lambda: RedisGateway("gw", _args(min_replicas=minimum)), stack="test", config={}, region="eu-west-1"
        )
    )
    pdb = rec.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    hpa = rec.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert 1 <= pdb["minAvailable"] < hpa["minReplicas"]
    assert pdb_min_available(minimum) == minimum - 1


def test_default_deny_with_only_the_needed_allows(rec: Recording) -> None:
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in rec.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    deny = policies["default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    alb = policies["gateway-from-load-balancer"]["ingress"][0]
    assert alb["from"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}] and alb["ports"] == [
        {"protocol": "TCP", "port": 8080}
    ]
    to_redis = policies["gateway-to-redis"]["egress"]
    assert {e["ports"][0]["port"] for e in to_redis} == {6379, 26379}
    dns = policies["allow-dns"]["egress"][0]["ports"]
    assert {"protocol": "UDP", "port": 53} in dns
    scrape = policies["allow-prometheus-scrape"]["ingress"][0]
    assert scrape["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "gateway-from-load-balancer",
        "gateway-to-redis",
        "redis-ingress",
        "sentinel-ingress",
        "redis-tier-egress",
        "allow-prometheus-scrape",
        "smoke-test-to-gateway",
        "gateway-metrics-from-smoke-test",
    }


@pytest.mark.parametrize(
    ("strategy", "max_surge", "surge"),
    [
        ("blue-green", "25%", 12),
        ("canary", "25%", 12),
        ("rolling", "25%", 3),
        ("rolling", "50%", 6),
        ("rolling", "2", 2),
    ],
)
def test_quota_holds_a_full_rollout_of_each_strategy_at_maximum_scale(
    strategy: str, max_surge: str, surge: int
) -> None:
    args = _args(delivery=Delivery(smoke_image="ghcr.io/example/ops:1.0.0", strategy=strategy, max_surge=max_surge))
    assert args.max_replicas == 12 and rollout_surge(args) == surge
    hard = quota(args)
    gateway = args.max_replicas + surge
    assert int(hard["pods"]) >= gateway + args.redis_replicas + args.redis_sentinels
    assert int(hard["limits.cpu"].removesuffix("m")) >= gateway * cpu_millis("1") + 3 * cpu_millis("2")
    assert int(hard["requests.memory"].removesuffix("Mi")) >= gateway * mebibytes("512Mi") + 3 * mebibytes("8Gi")


def test_quota_fits_the_workloads_at_maximum_scale() -> None:
    args = _args()
    hard = quota(args)
    gw_pods = args.max_replicas * 2  # blue-green: a full second ReplicaSet
    need_cpu = gw_pods * cpu_millis("1") + 3 * cpu_millis("2")
    need_mem = gw_pods * mebibytes("2Gi") + 3 * mebibytes("8Gi")
    assert int(hard["limits.cpu"].removesuffix("m")) >= need_cpu
    assert int(hard["limits.memory"].removesuffix("Mi")) >= need_mem
    assert int(hard["pods"]) >= gw_pods + 6
    assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"


def test_namespace_injects_readiness_gates_and_enforces_pod_security(rec: Recording) -> None:
    labels = rec.one("kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert rec.one("kubernetes:core/v1:LimitRange").inputs["spec"]["limits"][0]["max"]["memory"] == "8192Mi"


def test_ingress_is_alb_https_with_redirect_waf_and_ip_targets(rec: Recording) -> None:
    ingress = rec.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    a = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert a["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert json.loads(a["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert a["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert a["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:eu-west-1:")
    assert a["alb.ingress.kubernetes.io/wafv2-acl-arn"].startswith("arn:aws:wafv2:eu-west-1:")
    assert a["alb.ingress.kubernetes.io/ssl-policy"].startswith("ELBSecurityPolicy-TLS13")


def test_waf_rate_limits_per_ip_and_applies_managed_rules(rec: Recording) -> None:
    acl = rec.one("aws:wafv2/webAcl:WebAcl").inputs
    assert acl["scope"] == "REGIONAL"
    rules = {r["name"]: r for r in acl["rules"]}
    rate = rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]
    assert (rate["limit"], rate["aggregateKeyType"]) == (1000, "IP")
    assert "block" in rules["rate-limit-per-ip"]["action"]
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)


def test_certificate_is_dns_validated_and_api_host_aliases_the_alb(rec: Recording) -> None:
    cert = rec.one("aws:acm/certificate:Certificate").inputs
    assert (cert["domainName"], cert["validationMethod"]) == ("api.example.com", "DNS")
    validation = rec.one("aws:route53/record:Record", "gw-cert-validation").inputs
    assert validation["zoneId"] == "Z123EXAMPLE" and validation["type"] == "CNAME"
    alias = rec.one("aws:route53/record:Record", "gw-api").inputs
    assert (alias["name"], alias["type"]) == ("api.example.com", "A")
    assert alias["aliases"][0]["name"].endswith(".eu-west-1.elb.amazonaws.com")
    assert alias["aliases"][0]["evaluateTargetHealth"] is True


def test_controllers_come_from_pinned_charts(rec: Recording) -> None:
    releases = {r.inputs["chart"]: r.inputs for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    for chart, version, repo in (REDIS_OPERATOR_CHART, ARGO_ROLLOUTS_CHART):
        assert releases[chart]["version"] == version and releases[chart]["repositoryOpts"]["repo"] == repo


def test_service_monitor_scrapes_the_metrics_port(rec: Recording) -> None:
    sm = _cr(rec, "ServiceMonitor")["spec"]
    assert sm["endpoints"][0]["port"] == "metrics"
    svc = rec.one("kubernetes:core/v1:Service", "gw-svc").inputs["spec"]
    assert {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"} in svc["ports"]
    assert svc["type"] == "ClusterIP"


def test_waf_requests_are_logged_encrypted_with_the_authorization_header_redacted(rec: Recording) -> None:
    logging = rec.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration").inputs
    group = rec.one("aws:cloudwatch/logGroup:LogGroup", "gw-waf-logs")
    acl = rec.one("aws:wafv2/webAcl:WebAcl")
    assert group.inputs["name"].startswith("aws-waf-logs-")  # WAF refuses any other log group name
    assert group.inputs["retentionInDays"] == 365 and group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert logging["logDestinationConfigs"] == [f"arn:aws:logs:eu-west-1:123456789012:log-group:{group.inputs['name']}"]
    assert (
        acl.urn
        in rec.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration").property_dependencies[
            "resourceArn"
        ]
    )
    assert logging["redactedFields"] == [{"singleHeader": {"name": "authorization"}}]


def test_alb_access_logs_go_to_a_private_bucket_the_log_service_may_write(rec: Recording) -> None:
    annotations = _cr(rec, "Ingress")["metadata"]["annotations"]
    attributes = dict(
        a.split("=", 1) for a in annotations["alb.ingress.kubernetes.io/load-balancer-attributes"].split(",")
    )
    bucket = rec.one("aws:s3/bucket:Bucket", "gw-alb-logs")
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == bucket.inputs.get("bucket", attributes["access_logs.s3.bucket"])
    assert attributes["deletion_protection.enabled"] == "true"  # protect is on by default
    sse = rec.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "gw-alb-logs"
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = json.loads(rec.one("aws:s3/bucketPolicy:BucketPolicy", "gw-alb-logs").inputs["policy"])
    deny, allow = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com",
        "AWS": "arn:aws:iam::156460612806:root",  # eu-west-1 predates the service principal
    }
    assert allow["Action"] == "s3:PutObject" and allow["Resource"].endswith("/alb/AWSLogs/*")
    lifecycle = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "gw-alb-logs-lifecycle")
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 365}


def test_the_tier_declares_a_serving_and_a_batch_priority_class(rec: Recording) -> None:
    classes = {
        r.inputs["metadata"]["name"]: r.inputs for r in rec.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
    }
    serving, batch = classes["redis-gateway-serving"], classes["redis-gateway-batch"]
    assert 0 < serving["value"] < 2_000_000_000 and serving["preemptionPolicy"] == "PreemptLowerPriority"
    assert -10 <= batch["value"] <= 0 and batch["preemptionPolicy"] == "Never"
    assert serving["globalDefault"] is False and batch["globalDefault"] is False


def test_the_namespace_and_so_every_pod_of_the_tier_waits_for_the_priority_classes(rec: Recording) -> None:
    ns = rec.one("kubernetes:core/v1:Namespace")
    classes = {r.urn for r in rec.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")}
    assert classes and classes <= set(ns.dependencies)


def test_gateway_redis_and_sentinel_run_in_the_serving_class_and_the_smoke_test_in_the_batch_class(
    rec: Recording,
) -> None:
    rollout = _cr(rec, "Rollout")["spec"]["template"]["spec"]
    assert rollout["priorityClassName"] == "redis-gateway-serving"
    for kind in ("RedisReplication", "RedisSentinel"):
        assert _cr(rec, kind)["spec"]["priorityClassName"] == "redis-gateway-serving"
    smoke = rec.one("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "gw-analysis-smoke-test").inputs
    job = smoke["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]
    assert job["priorityClassName"] == "redis-gateway-batch"
