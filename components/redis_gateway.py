"""RedisGateway: the gateway workload, its Redis data tier and its public entry point.

Inside the cluster:

* a namespace with a ResourceQuota sized from the configured maxima, a LimitRange, Pod Security
  ``baseline`` enforced (``restricted`` warned), ALB pod readiness gates, and NetworkPolicies that
  deny everything but: the load balancer to the gateway, the gateway to Redis and Sentinel, Redis
  replication, the operator to Redis, Prometheus scraping, and DNS;
* Redis from the OT-Container-Kit redis-operator (Helm chart and CRDs): a ``RedisReplication`` of
  one primary and N-1 replicas with AOF ``everysec`` on encrypted gp3 volumes, on the tainted
  ``redis`` node group only, one pod per node and spread across zones, exporter on, password from
  ``pulumi-random`` in a Secret; and a ``RedisSentinel`` quorum on the general nodes for failover.
  The operator project's own images (``quay.io/opstree``) are used, pinned; never Bitnami;
* the gateway as an Argo ``Rollout`` (controller from its Helm chart), non-root, read-only root
  filesystem, no capabilities, probes on ``/healthz`` and ``/readyz`` (8080), metrics on 9090,
  spread across zones, with its own ServiceAccount and RBAC, an HPA, a PDB consistent with the
  HPA minimum, a ServiceMonitor, configuration from a ConfigMap and the Redis password from the
  Secret. ``pulumi.com/waitFor`` makes ``pulumi up`` wait for a healthy rollout.

At the edge: an internet-facing ALB (IP targets) through the AWS Load Balancer Controller, TLS from
an ACM certificate validated in Route53, HTTP redirected to HTTPS, a WAFv2 web ACL (rate-based rule
plus AWS managed rules) attached, and a Route53 alias for the API host.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components._shared import encryption_key, helm_release, irsa_role, private_bucket
from components.eks_cluster import MAIN_NODE_LABELS, REDIS_NODE_LABELS, REDIS_NODE_TAINT

REDIS_OPERATOR_CHART = ("redis-operator", "0.25.0", "https://ot-container-kit.github.io/helm-charts")
"""(chart, version, repository). 0.25 serves redis.redis.opstreelabs.in/v1beta2 RedisReplication/RedisSentinel."""
ARGO_ROLLOUTS_CHART = ("argo-rollouts", "2.40.0", "https://argoproj.github.io/argo-helm")
"""(chart, version, repository). Rollouts v1.8: ALB traffic routing, pulumi-visible status.phase."""

GATEWAY = "redis-gateway"
REDIS = "redis"
"""Name of the RedisReplication; the operator labels its pods ``app=redis`` and serves Service ``redis``."""
SENTINEL = "redis-sentinel"
"""Pods of the RedisSentinel ``redis`` carry ``app=redis-sentinel``; its Service is ``redis-sentinel``."""
MASTER_GROUP = "mymaster"
REDIS_AUTH_SECRET = "redis-auth"
"""Secret holding the generated Redis password under key ``password``."""
HTTP_PORT, METRICS_PORT, REDIS_PORT, SENTINEL_PORT, EXPORTER_PORT = 8080, 9090, 6379, 26379, 9121
WAIT_FOR_HEALTHY = "jsonpath={.status.phase}=Healthy"
"""``pulumi.com/waitFor`` on the Rollout: an aborted or degraded rollout fails ``pulumi up``."""


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def spec(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


PROMETHEUS_URL = "http://kps-prometheus.monitoring.svc.cluster.local:9090"
"""Prometheus of the MonitoringStack (``fullnameOverride: kps``), queried by the analysis."""
PREVIEW_SERVICE = f"{GATEWAY}-preview"
CANARY_SERVICE = f"{GATEWAY}-canary"
SMOKE = f"{GATEWAY}-smoke"


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """How a new gateway version reaches users, and when it is rolled back automatically."""

    strategy: str = "blue-green"
    """``blue-green``, ``canary`` or ``rolling`` (the settings default too)."""
    min_success_rate: float = 0.99
    max_latency_p99_seconds: float = 0.25
    interval: str = "1m"
    count: int = 5
    failure_limit: int = 1
    canary_steps: tuple[tuple[int, str], ...] = ((10, "2m"), (25, "2m"), (50, "5m"))
    """(weight percent, pause) per canary step."""
    scale_down_delay_seconds: int = 300
    max_surge: str = "25%"
    max_unavailable: str = "0"
    smoke_image: str
    """Image running ``python -m ops smoke`` in the pre-promotion analysis."""


@dataclass(frozen=True, kw_only=True)
class RedisGatewayArgs:
    """Inputs of :class:`RedisGateway`."""

    namespace: str
    image: str
    """Gateway image, pinned."""
    hostname: str
    """Public API host."""
    hosted_zone_id: str
    """Route53 zone of ``hostname``."""
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int
    resources: Resources
    rate_limit: int
    """WAF: requests per client IP per 5 minutes."""
    log_level: str
    vpc_cidr: str
    """ALB targets are reached from the VPC (IP target mode): the ingress allow rule."""
    storage_class: str
    """StorageClass of the Redis volumes (encrypted gp3)."""
    monitoring_namespace: str
    """Namespace of Prometheus (scrape allow rule)."""
    redis_image: str
    redis_sentinel_image: str
    redis_exporter_image: str
    redis_replicas: int
    redis_sentinels: int
    redis_storage_size: str
    redis_resources: Resources
    redis_maxmemory_percent: int
    environment: str
    """Label and ``ENVIRONMENT`` of the gateway (the stack name)."""
    delivery: Delivery
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    """For the IRSA role of the Argo Rollouts controller (ALB target-group verification)."""
    region: str
    """Region of the edge (service principals of the WAF log key)."""
    edge_log_retention_days: int = 365
    """Retention of the WAF log group and of the ALB access logs (a value CloudWatch accepts)."""
    protect: bool = True
    """Pulumi ``protect`` on the Redis data tier and the access-log bucket."""


def cpu_millis(q: str) -> int:
    """Millicores in a CPU quantity (``250m``, ``1``, ``0.5``)."""
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def mebibytes(q: str) -> int:
    from settings import quantity_bytes

    return -(-quantity_bytes(q) // 2**20)


def rollout_surge(args: RedisGatewayArgs) -> int:
    """Gateway pods a rollout adds on top of ``max_replicas``, at maximum scale.

    Blue-green runs a full preview ReplicaSet beside the active one (and keeps the old one for the
    scale-down delay): 2x. Canary with ALB traffic routing keeps the stable ReplicaSet at 100%
    throughout and, at promotion, scales the canary to 100% before the stable one scales down: 2x
    as well (the largest step is only the peak while steps run). Rolling adds ``maxSurge``.
    """
    if args.delivery.strategy in ("blue-green", "canary"):
        return args.max_replicas
    surge = args.delivery.max_surge
    if surge.endswith("%"):
        return -(-args.max_replicas * int(surge[:-1]) // 100)
    return int(surge)


def quota(args: RedisGatewayArgs) -> dict[str, str]:
    """Hard limits of the namespace: every workload at its maximum scale, the gateway during a
    rollout at that scale (:func:`rollout_surge`), and the backup and drill jobs (2 CPU, 4 GiB)."""
    gw, rd = args.resources, args.redis_resources
    gw_n, rd_n, st_n = args.max_replicas + rollout_surge(args), args.redis_replicas, args.redis_sentinels
    sentinel_cpu, sentinel_mem, exporter_cpu, exporter_mem = 200, 256, 100, 128
    cpu_req = (
        gw_n * cpu_millis(gw.cpu_request) + rd_n * (cpu_millis(rd.cpu_request) + exporter_cpu) + st_n * sentinel_cpu
    )
    cpu_lim = gw_n * cpu_millis(gw.cpu_limit) + rd_n * (cpu_millis(rd.cpu_limit) + exporter_cpu) + st_n * sentinel_cpu
    mem_req = (
        gw_n * mebibytes(gw.memory_request) + rd_n * (mebibytes(rd.memory_request) + exporter_mem) + st_n * sentinel_mem
    )
    mem_lim = (
        gw_n * mebibytes(gw.memory_limit) + rd_n * (mebibytes(rd.memory_limit) + exporter_mem) + st_n * sentinel_mem
    )
    jobs_cpu, jobs_mem = 2000, 4096
    return {
        "requests.cpu": f"{cpu_req + jobs_cpu}m",
        "limits.cpu": f"{cpu_lim + jobs_cpu}m",
        "requests.memory": f"{mem_req + jobs_mem}Mi",
        "limits.memory": f"{mem_lim + jobs_mem}Mi",
        "pods": str(gw_n + rd_n + st_n + 10),
        "persistentvolumeclaims": str(rd_n + 4),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def pdb_min_available(min_replicas: int) -> int:
    """One less than the HPA minimum: a drain can always evict a pod, and never more than one at
    the HPA floor."""
    return max(1, min_replicas - 1)


def _selector(app: str) -> dict[str, Any]:
    return {"matchLabels": {"app": app}}


def _port(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def network_policies(args: RedisGatewayArgs, gateway_labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """NetworkPolicy specs by name: default deny, then only the flows the tier needs."""
    ns_of = lambda name: {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}  # noqa: E731
    gw = {"matchLabels": gateway_labels}
    return {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{**ns_of("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, _port(53)],
                }
            ],
        },
        "gateway-from-load-balancer": {
            "podSelector": gw,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": args.vpc_cidr}}], "ports": [_port(HTTP_PORT)]}],
        },
        "gateway-to-redis": {
            "podSelector": gw,
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": _selector(REDIS)}], "ports": [_port(REDIS_PORT)]},
                {"to": [{"podSelector": _selector(SENTINEL)}], "ports": [_port(SENTINEL_PORT)]},
            ],
        },
        "redis-ingress": {
            "podSelector": _selector(REDIS),
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": gw},
                        {"podSelector": _selector(REDIS)},
                        {"podSelector": _selector(SENTINEL)},
                        ns_of("redis-operator"),
                    ],
                    "ports": [_port(REDIS_PORT)],
                }
            ],
        },
        "sentinel-ingress": {
            "podSelector": _selector(SENTINEL),
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": gw}, {"podSelector": _selector(SENTINEL)}, ns_of("redis-operator")],
                    "ports": [_port(SENTINEL_PORT)],
                }
            ],
        },
        "redis-tier-egress": {
            "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [REDIS, SENTINEL]}]},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": _selector(REDIS)}, {"podSelector": _selector(SENTINEL)}],
                    "ports": [_port(REDIS_PORT), _port(SENTINEL_PORT)],
                }
            ],
        },
        "smoke-test-to-gateway": {
            "podSelector": {"matchLabels": {"app": SMOKE}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": gw}], "ports": [_port(HTTP_PORT), _port(METRICS_PORT)]}],
        },
        "gateway-metrics-from-smoke-test": {
            "podSelector": gw,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": SMOKE}}}], "ports": [_port(METRICS_PORT)]}],
        },
        "allow-prometheus-scrape": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [ns_of(args.monitoring_namespace)], "ports": [_port(METRICS_PORT), _port(EXPORTER_PORT)]}
            ],
        },
    }


def redis_placement(args: RedisGatewayArgs) -> dict[str, Any]:
    """Scheduling of Redis pods: the tainted node group only, one per node, even across zones."""
    taint_effect = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
    return {
        "nodeSelector": dict(REDIS_NODE_LABELS),
        "tolerations": [
            {
                "key": REDIS_NODE_TAINT["key"],
                "operator": "Equal",
                "value": REDIS_NODE_TAINT["value"],
                "effect": taint_effect[REDIS_NODE_TAINT["effect"]],
            }
        ],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": _selector(REDIS), "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": _selector(REDIS),
            }
        ],
    }


def _window(interval: str) -> str:
    """Rate window of a measurement: the interval, but never under a minute (two scrapes)."""
    seconds = int(interval[:-1]) * {"s": 1, "m": 60, "h": 3600}[interval[-1]]
    return interval if seconds >= 60 else "1m"


def analysis_templates(args: RedisGatewayArgs) -> dict[str, dict[str, Any]]:
    """AnalysisTemplate specs by name: the SLO gate on Prometheus, and the smoke-test Job."""
    d = args.delivery
    sel = f'job="{GATEWAY}",namespace="{args.namespace}",rollouts_pod_template_hash="{{{{args.pod-hash}}}}"'
    w = _window(d.interval)
    prometheus = {"prometheus": {"address": PROMETHEUS_URL}}
    measurement = {"interval": d.interval, "count": d.count, "failureLimit": d.failure_limit}
    slo = {
        "args": [{"name": "pod-hash"}],
        "metrics": [
            {
                "name": "success-rate",
                **measurement,
                "successCondition": f"result[0] >= {d.min_success_rate}",
                "provider": {
                    "prometheus": {
                        **prometheus["prometheus"],
                        "query": f'sum(rate(http_requests_total{{{sel},code!~"5.."}}[{w}]))'
                        f" / sum(rate(http_requests_total{{{sel}}}[{w}]))",
                    }
                },
            },
            {
                "name": "latency-p99",
                **measurement,
                "successCondition": f"result[0] <= {d.max_latency_p99_seconds}",
                "provider": {
                    "prometheus": {
                        **prometheus["prometheus"],
                        "query": "histogram_quantile(0.99, sum by (le) "
                        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[{w}])))",
                    }
                },
            },
        ],
    }
    smoke = {
        "args": [{"name": "url"}, {"name": "metrics-url"}],
        "metrics": [
            {
                "name": "smoke-test",
                "failureLimit": 0,
                "provider": {
                    "job": {
                        "spec": {
                            "backoffLimit": 0,
                            "activeDeadlineSeconds": 300,
                            "template": {
                                "metadata": {"labels": {"app": SMOKE}},
                                "spec": {
                                    "restartPolicy": "Never",
                                    "serviceAccountName": SMOKE,
                                    "automountServiceAccountToken": False,
                                    "securityContext": {
                                        "runAsNonRoot": True,
                                        "runAsUser": 10001,
                                        "seccompProfile": {"type": "RuntimeDefault"},
                                    },
                                    "containers": [
                                        {
                                            "name": "smoke",
                                            "image": d.smoke_image,
                                            "args": [
                                                "smoke",
                                                "--url",
                                                "{{args.url}}",
                                                "--metrics-url",
                                                "{{args.metrics-url}}",
                                            ],
                                            "resources": Resources(
                                                cpu_request="50m",
                                                memory_request="64Mi",
                                                cpu_limit="500m",
                                                memory_limit="256Mi",
                                            ).spec(),
                                            "securityContext": {
                                                **_RESTRICTED_CONTAINER,
                                                "readOnlyRootFilesystem": True,
                                            },
                                        }
                                    ],
                                },
                            },
                        }
                    }
                },
            }
        ],
    }
    return {"gateway-slo": slo, "smoke-test": smoke}


def rollout_strategy(args: RedisGatewayArgs) -> dict[str, Any]:
    """The Rollout's ``spec.strategy`` for the configured delivery strategy."""
    d = args.delivery
    slo = {
        "templates": [{"templateName": "gateway-slo"}],
        "args": [{"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }
    if d.strategy == "blue-green":
        preview = f"http://{PREVIEW_SERVICE}.{args.namespace}.svc.cluster.local"
        return {
            "blueGreen": {
                "activeService": GATEWAY,
                "previewService": PREVIEW_SERVICE,
                "autoPromotionEnabled": True,
                "scaleDownDelaySeconds": d.scale_down_delay_seconds,
                "prePromotionAnalysis": {
                    "templates": [{"templateName": "smoke-test"}],
                    "args": [
                        {"name": "url", "value": preview},
                        {"name": "metrics-url", "value": f"{preview}:{METRICS_PORT}/metrics"},
                    ],
                },
                "postPromotionAnalysis": slo,
            }
        }
    if d.strategy == "canary":
        steps: list[dict[str, Any]] = []
        for weight, pause in d.canary_steps:
            steps += [{"setWeight": weight}, {"pause": {"duration": pause}}]
        return {
            "canary": {
                "stableService": GATEWAY,
                "canaryService": CANARY_SERVICE,
                "trafficRouting": {"alb": {"ingress": GATEWAY, "rootService": GATEWAY, "servicePort": 80}},
                "steps": steps,
                "analysis": {**slo, "startingStep": 1},
            }
        }
    return {"canary": {"maxSurge": d.max_surge, "maxUnavailable": d.max_unavailable, "analysis": slo}}


_TARGET_GROUP_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "VerifyTargetGroups",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "Resource": "*",
        }
    ],
}
"""What the Argo Rollouts controller needs to verify ALB target groups (read only)."""

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


class RedisGateway(pulumi.ComponentResource):
    """The gateway, Redis with Sentinel, and the ALB/WAF/TLS/DNS entry point."""

    namespace: pulumi.Output[str]
    """Namespace of the tier."""
    url: pulumi.Output[str]
    """Public HTTPS URL of the API."""
    load_balancer_hostname: pulumi.Output[str]
    """DNS name of the ALB the controller created."""
    web_acl_arn: pulumi.Output[str]
    """WAFv2 web ACL attached to the ALB."""
    redis_password_secret: pulumi.Output[str]
    """Name of the Secret with the Redis password (key ``password``)."""

    def __init__(self, name: str, args: RedisGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:RedisGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns_name = args.namespace
        part_of = {"app.kubernetes.io/part-of": "redis-gateway"}
        gateway_labels = {"app": GATEWAY, "app.kubernetes.io/name": GATEWAY, **part_of}

        def meta(obj_name: str, **labels: str) -> dict[str, Any]:
            return {"name": obj_name, "namespace": ns_name, "labels": {**part_of, **labels}}

        # -- controllers -------------------------------------------------------------------------
        operator_release = helm_release(
            f"{name}-redis-operator",
            REDIS_OPERATOR_CHART,
            namespace="redis-operator",
            create_namespace=True,
            opts=child,
            values={
                "redisOperator": {"watchNamespace": ns_name},
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
            },
        )
        rollouts_role = irsa_role(
            f"{name}-argo-rollouts",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            namespace="argo-rollouts",
            service_account="argo-rollouts",
            inline_policy=_TARGET_GROUP_READ,
            opts=child,
        )
        rollouts_release = helm_release(
            f"{name}-argo-rollouts",
            ARGO_ROLLOUTS_CHART,
            namespace="argo-rollouts",
            create_namespace=True,
            opts=child,
            values={
                "installCRDs": True,
                "controller": {
                    "replicas": 2,
                    "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
                    # Blue-green: before switching, check the ALB target group holds the new pods.
                    "extraArgs": ["--aws-verify-target-group"],
                },
                "serviceAccount": {
                    "name": "argo-rollouts",
                    "annotations": {"eks.amazonaws.com/role-arn": rollouts_role.arn},
                },
                "dashboard": {"enabled": False},
            },
        )

        # -- namespace guard rails ---------------------------------------------------------------
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": ns_name,
                "labels": {
                    **part_of,
                    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        k8s.core.v1.ResourceQuota(
            f"{name}-quota", metadata=meta("redis-gateway-quota"), spec={"hard": quota(args)}, opts=in_ns
        )
        biggest_cpu = max(args.resources.cpu_limit, args.redis_resources.cpu_limit, key=cpu_millis)
        biggest_mem = f"{max(mebibytes(args.resources.memory_limit), mebibytes(args.redis_resources.memory_limit))}Mi"
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("redis-gateway-limits"),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "max": {"cpu": biggest_cpu, "memory": biggest_mem},
                    },
                    {"type": "PersistentVolumeClaim", "max": {"storage": "1Ti"}},
                ]
            },
            opts=in_ns,
        )
        for policy_name, spec in network_policies(args, {"app": GATEWAY}).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol-{policy_name}", metadata=meta(policy_name), spec=spec, opts=in_ns
            )

        # -- Redis -------------------------------------------------------------------------------
        password = random.RandomPassword(f"{name}-redis-password", length=40, special=False, opts=child)
        redis_secret = k8s.core.v1.Secret(
            f"{name}-redis-auth",
            metadata=meta(REDIS_AUTH_SECRET),
            type="Opaque",
            string_data={"password": password.result},
            opts=in_ns,
        )
        redis_config = k8s.core.v1.ConfigMap(
            f"{name}-redis-config",
            metadata=meta("redis-extra-config"),
            data={
                "redis-additional.conf": "\n".join(
                    [
                        "appendonly yes",
                        "appendfsync everysec",
                        "aof-use-rdb-preamble yes",
                        "maxmemory-policy noeviction",
                        "save 900 1 300 100 60 10000",
                        "repl-diskless-sync yes",
                        "min-replicas-to-write 1",
                        "min-replicas-max-lag 10",
                    ]
                )
                + "\n"
            },
            opts=in_ns,
        )
        secret_ref = {"name": REDIS_AUTH_SECRET, "key": "password"}
        # The CRDs come with the operator chart; the password Secret and config are read at start.
        with_operator = pulumi.ResourceOptions(parent=self, depends_on=[operator_release, redis_secret, redis_config])
        pod_security = {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        k8s.apiextensions.CustomResource(
            f"{name}-redis",
            api_version="redis.redis.opstreelabs.in/v1beta2",
            kind="RedisReplication",
            metadata=meta(REDIS),
            spec={
                "clusterSize": args.redis_replicas,
                "kubernetesConfig": {
                    "image": args.redis_image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": args.redis_resources.spec(),
                    "redisSecret": secret_ref,
                },
                "redisConfig": {
                    "additionalRedisConfig": "redis-extra-config",
                    "maxMemoryPercentOfLimit": args.redis_maxmemory_percent,
                },
                "redisExporter": {
                    "enabled": True,
                    "image": args.redis_exporter_image,
                    "port": EXPORTER_PORT,
                    "resources": Resources(
                        cpu_request="100m", memory_request="128Mi", cpu_limit="100m", memory_limit="128Mi"
                    ).spec(),
                    "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True, "runAsNonRoot": True},
                },
                "storage": {
                    "keepAfterDelete": True,
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": args.storage_class,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": args.redis_storage_size}},
                        }
                    },
                },
                "podSecurityContext": pod_security,
                "securityContext": _RESTRICTED_CONTAINER,
                "pdb": {"enabled": True, "minAvailable": args.redis_replicas - 1},
                **redis_placement(args),
            },
            # Deleting the resource deletes the Redis pods and, with them, the data tier.
            opts=pulumi.ResourceOptions.merge(with_operator, pulumi.ResourceOptions(protect=args.protect)),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-sentinel",
            api_version="redis.redis.opstreelabs.in/v1beta2",
            kind="RedisSentinel",
            metadata=meta(REDIS),
            spec={
                "clusterSize": args.redis_sentinels,
                "kubernetesConfig": {
                    "image": args.redis_sentinel_image,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": Resources(
                        cpu_request="100m", memory_request="128Mi", cpu_limit="200m", memory_limit="256Mi"
                    ).spec(),
                    "redisSecret": secret_ref,
                },
                "redisSentinelConfig": {
                    "redisReplicationName": REDIS,
                    "redisReplicationPassword": {"secretKeyRef": secret_ref},
                    "masterGroupName": MASTER_GROUP,
                    "redisPort": str(REDIS_PORT),
                    "quorum": str(args.redis_sentinels // 2 + 1),
                    "downAfterMilliseconds": "5000",
                    "failoverTimeout": "60000",
                    "parallelSyncs": "1",
                },
                "podSecurityContext": pod_security,
                "securityContext": _RESTRICTED_CONTAINER,
                "pdb": {"enabled": True, "minAvailable": args.redis_sentinels // 2 + 1},
                "nodeSelector": dict(MAIN_NODE_LABELS),
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": _selector(SENTINEL),
                    }
                ],
            },
            opts=with_operator,
        )

        # -- gateway -----------------------------------------------------------------------------
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(GATEWAY), automount_service_account_token=False, opts=in_ns
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=meta(GATEWAY),
            data={
                "LISTEN_ADDR": f":{HTTP_PORT}",
                "METRICS_ADDR": f":{METRICS_PORT}",
                "LOG_LEVEL": args.log_level,
                "ENVIRONMENT": args.environment,
                "REDIS_SENTINEL_ADDRS": f"{SENTINEL}.{ns_name}.svc.cluster.local:{SENTINEL_PORT}",
                "REDIS_MASTER_NAME": MASTER_GROUP,
            },
            opts=in_ns,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=meta(GATEWAY),
            rules=[
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [GATEWAY], "verbs": ["get", "watch"]}
            ],
            opts=in_ns,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=meta(GATEWAY),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": GATEWAY},
            subjects=[{"kind": "ServiceAccount", "name": GATEWAY, "namespace": ns_name}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, role, sa]),
        )
        service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta(GATEWAY, **{"app.kubernetes.io/name": GATEWAY}),
            spec={
                "type": "ClusterIP",
                "selector": {"app": GATEWAY},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                ],
            },
            opts=in_ns,
        )
        roles = {"blue-green": {"preview": PREVIEW_SERVICE}, "canary": {"canary": CANARY_SERVICE}}
        extra_services = [
            k8s.core.v1.Service(
                f"{name}-svc-{role}",
                # No app.kubernetes.io/name label: the ServiceMonitor must not scrape a pod twice.
                metadata=meta(svc_name),
                spec={
                    "type": "ClusterIP",
                    "selector": {"app": GATEWAY},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                        {"name": "probe-metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                    ],
                },
                opts=in_ns,
            )
            for role, svc_name in roles.get(args.delivery.strategy, {}).items()
        ]
        k8s.core.v1.ServiceAccount(
            f"{name}-smoke-sa", metadata=meta(SMOKE), automount_service_account_token=False, opts=in_ns
        )
        templates = [
            k8s.apiextensions.CustomResource(
                f"{name}-analysis-{template}",
                api_version="argoproj.io/v1alpha1",
                kind="AnalysisTemplate",
                metadata=meta(template),
                spec=spec,
                # The AnalysisTemplate CRD comes with the Argo Rollouts chart.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[rollouts_release, ns]),
            )
            for template, spec in analysis_templates(args).items()
        ]
        pod_spec = self._gateway_pod(args, gateway_labels)
        rollout = k8s.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version="argoproj.io/v1alpha1",
            kind="Rollout",
            metadata={**meta(GATEWAY), "annotations": {"pulumi.com/waitFor": WAIT_FOR_HEALTHY}},
            spec={
                "replicas": args.min_replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": {"app": GATEWAY}},
                "template": {"metadata": {"labels": gateway_labels}, "spec": pod_spec},
                "strategy": rollout_strategy(args),
            },
            # The Rollout CRD comes with the chart; the pods mount the ConfigMap and Secret; the
            # strategy names the preview or canary Service and the analysis templates.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[rollouts_release, config, redis_secret, sa, *extra_services, *templates],
                # The HPA owns spec.replicas once the Rollout exists.
                ignore_changes=["spec.replicas"],
            ),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta(GATEWAY),
            spec={
                "scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": GATEWAY},
                "minReplicas": args.min_replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": args.target_cpu_utilization},
                        },
                    }
                ],
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                    },
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rollout]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(GATEWAY),
            spec={"minAvailable": pdb_min_available(args.min_replicas), "selector": {"matchLabels": {"app": GATEWAY}}},
            opts=in_ns,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta(GATEWAY),
            spec={
                "selector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}},
                "namespaceSelector": {"matchNames": [ns_name]},
                "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
                # The analysis tells versions apart by this label (rollouts_pod_template_hash).
                "podTargetLabels": ["rollouts-pod-template-hash"],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-redis-podmonitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=meta(REDIS),
            spec={
                "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [REDIS]}]},
                "namespaceSelector": {"matchNames": [ns_name]},
                "podMetricsEndpoints": [{"port": "redis-exporter", "interval": "15s"}],
            },
            opts=in_ns,
        )

        # -- edge: certificate, WAF, ALB, DNS -----------------------------------------------------
        cert = aws.acm.Certificate(f"{name}-cert", domain_name=args.hostname, validation_method="DNS", opts=child)
        option = cert.domain_validation_options[0]
        validation_record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validated = aws.acm.CertificateValidation(
            f"{name}-cert", certificate_arn=cert.arn, validation_record_fqdns=[validation_record.fqdn], opts=child
        )
        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="REGIONAL",
            description=f"Protects {args.hostname}",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name="rate-limit-per-ip",
                    priority=0,
                    action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                            limit=args.rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_rule_visibility("rate-limit-per-ip"),
                ),
                *[
                    aws.wafv2.WebAclRuleArgs(
                        name=group,
                        priority=priority,
                        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                            none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                        ),
                        statement=aws.wafv2.WebAclRuleStatementArgs(
                            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                                name=group, vendor_name="AWS"
                            )
                        ),
                        visibility_config=_rule_visibility(group),
                    )
                    for priority, group in enumerate(
                        ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"], start=1
                    )
                ],
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-waf", sampled_requests_enabled=True
            ),
            opts=child,
        )
        log_bucket = self._edge_logs(name, acl, args)
        annotations = pulumi.Output.all(validated.certificate_arn, acl.arn, log_bucket.bucket).apply(
            lambda v: {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
                "alb.ingress.kubernetes.io/ssl-redirect": "443",
                "alb.ingress.kubernetes.io/certificate-arn": v[0],
                "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "alb.ingress.kubernetes.io/wafv2-acl-arn": v[1],
                "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
                "alb.ingress.kubernetes.io/load-balancer-attributes": ",".join(
                    [
                        "routing.http.drop_invalid_header_fields.enabled=true",
                        "idle_timeout.timeout_seconds=60",
                        "access_logs.s3.enabled=true",
                        f"access_logs.s3.bucket={v[2]}",
                        "access_logs.s3.prefix=alb",
                        f"deletion_protection.enabled={'true' if args.protect else 'false'}",
                    ]
                ),
                "alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
            }
        )
        # Canary: Argo Rollouts writes the weighted forward action that this port name refers to.
        backend_port = "use-annotation" if args.delivery.strategy == "canary" else "http"
        ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={**meta(GATEWAY), "annotations": annotations},
            spec={
                "ingressClassName": "alb",
                "tls": [{"hosts": [args.hostname]}],
                "rules": [
                    {
                        "host": args.hostname,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": GATEWAY, "port": {"name": backend_port}}},
                                }
                            ]
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        lb_hostname = ingress.status.apply(lambda s: s.load_balancer.ingress[0].hostname)
        lb_zone = aws.lb.get_hosted_zone_id_output(
            load_balancer_type="application", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        aws.route53.Record(
            f"{name}-api",
            zone_id=args.hosted_zone_id,
            name=args.hostname,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=lb_hostname, zone_id=lb_zone.id, evaluate_target_health=True)],
            opts=child,
        )

        self.namespace = ns.metadata.name
        self.url = pulumi.Output.from_input(f"https://{args.hostname}")
        self.load_balancer_hostname = lb_hostname
        self.web_acl_arn = acl.arn
        self.redis_password_secret = redis_secret.metadata.name
        self.register_outputs(
            {
                "namespace": self.namespace,
                "url": self.url,
                "load_balancer_hostname": self.load_balancer_hostname,
                "web_acl_arn": self.web_acl_arn,
                "redis_password_secret": self.redis_password_secret,
            }
        )

    def _edge_logs(self, name: str, acl: aws.wafv2.WebAcl, args: RedisGatewayArgs) -> aws.s3.Bucket:
        """WAF request logs to an encrypted log group; ALB access logs to their own bucket.

        The ALB can only write to an SSE-S3 bucket (not SSE-KMS); the bucket is otherwise as private
        as the backup bucket, and its logs expire after ``edge_log_retention_days``.
        """
        child = pulumi.ResourceOptions(parent=self)
        key = encryption_key(
            f"{name}-waf-logs",
            description=f"Encrypts the WAF logs of {args.hostname}",
            region=args.region,
            service_principals=("logs",),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=f"aws-waf-logs-{args.environment}-{name}",  # WAF requires the aws-waf-logs- prefix
            retention_in_days=args.edge_log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name="authorization"
                    )
                )
            ],
            opts=child,
        )
        bucket = private_bucket(
            f"{name}-alb-logs",
            key=None,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            policy_statements=_log_delivery_statements(args.region),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-alb-logs-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="alb/"),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.edge_log_retention_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=1
                    ),
                )
            ],
            opts=child,
        )
        return bucket

    @staticmethod
    def _gateway_pod(args: RedisGatewayArgs, labels: dict[str, str]) -> dict[str, Any]:
        probe = lambda path, period, threshold: {  # noqa: E731
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": threshold,
        }
        return {
            "serviceAccountName": GATEWAY,
            "automountServiceAccountToken": False,
            "nodeSelector": dict(MAIN_NODE_LABELS),
            "terminationGracePeriodSeconds": 45,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "gateway",
                    "image": args.image,
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [
                        {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                    ],
                    "envFrom": [{"configMapRef": {"name": GATEWAY}}],
                    "env": [
                        {
                            "name": "REDIS_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": REDIS_AUTH_SECRET, "key": "password"}},
                        }
                    ],
                    "resources": args.resources.spec(),
                    "startupProbe": probe("/healthz", 2, 30),
                    "livenessProbe": probe("/healthz", 10, 3),
                    "readinessProbe": probe("/readyz", 5, 2),
                    # Let the ALB deregister the pod before it stops accepting connections.
                    "lifecycle": {"preStop": {"sleep": {"seconds": 15}}},
                    "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True, "runAsNonRoot": True},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - private emptyDir
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": GATEWAY}},
                }
            ],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "labelSelector": {"matchLabels": {"app": GATEWAY}},
                                "topologyKey": "kubernetes.io/hostname",
                            },
                        }
                    ]
                }
            },
        }


_ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
}
"""Elastic Load Balancing's log-delivery account in regions opened before August 2022, which do not
accept the service principal alone (AWS documentation, "Enable access logs for your ALB")."""


def _log_delivery_statements(region: str) -> Callable[[pulumi.Output[str]], list[dict[str, Any]]]:
    """Lets Elastic Load Balancing write access logs under ``alb/`` (service principal, plus the
    regional ELB account where the region predates it)."""

    def statements(bucket_arn: pulumi.Output[str]) -> list[dict[str, Any]]:
        principals: dict[str, Any] = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        if region in _ELB_LOG_ACCOUNTS:
            principals["AWS"] = f"arn:aws:iam::{_ELB_LOG_ACCOUNTS[region]}:root"
        return [
            {
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": principals,
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(bucket_arn, "/alb/AWSLogs/*"),
            }
        ]

    return statements


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
