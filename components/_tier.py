"""What every part of the gateway tier shares: names, ports, the arguments, and the specs that are pure
functions of them (quota, NetworkPolicies, Redis placement, analysis templates, rollout strategy).

The tier is built from parts that each region composes (see :mod:`components.redis_gateway` and
:mod:`components.dr_region`): the namespace and its guard rails (:mod:`components._tier_namespace`),
the Redis data tier (:mod:`components._redis_tier`), the gateway workload and its delivery
(:mod:`components._gateway_workload`) and the edge (:mod:`components._edge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from components._shared import BATCH_PRIORITY_CLASS, RESTRICTED_CONTAINER
from components.eks_cluster import REDIS_NODE_LABELS, REDIS_NODE_TAINT

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
REDIS_SERVICE_ACCOUNT = "redis-tier"
"""The Redis and Sentinel pods' account: the operator sets none, and the namespace's ``default``
account would mount an API token they never use."""
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
class HealthCheck:
    """Route 53's check of a region's readiness (the PRIMARY failover record's health)."""

    path: str = "/readyz"
    interval_seconds: int = 10
    failure_threshold: int = 3


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
    redis_replication: Mapping[str, str]
    """Replication directives of ``redis.conf`` (name -> value, in order) from
    ``settings.redis_replication_config``: backlog sized by the plan, ``repl-timeout``, ``min-replicas-*``."""
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
    redis_password: pulumi.Input[str] | None = None
    """The Redis password; ``None`` generates one (the primary region). The DR region passes the
    primary's, read from the replicated secret store."""
    redis_upstream: pulumi.Input[str] | None = None
    """DNS name of the primary region's Redis link: this tier is a standby replicating from it."""
    redis_peer_cidr: str | None = None
    """The other region's VPC range (DR on): the Redis port is exposed to it, and only to it."""
    failover: Literal["PRIMARY", "SECONDARY"] | None = None
    """The role of this region's record for ``hostname`` (DR on); ``None``: a plain alias."""
    health_check: HealthCheck | None = None
    """How Route 53 checks the PRIMARY region (default :class:`HealthCheck`)."""
    capacity: Mapping[str, Any] | None = None
    """The capacity record (``settings.capacity_record``): declared demand and measured baselines, kept
    in the ConfigMap ``redis-gateway-capacity`` for the capacity policy."""
    drill_memory: str = "512Mi"
    """Memory of the restore drill's pod (``settings.drill_memory``), which the quota makes room for."""


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
    rollout at that scale (:func:`rollout_surge`), and the backup, drill and readiness jobs (2.5 CPU;
    3.5 GiB besides the drill, whose pod holds the dataset: ``drill_memory``).

    **Priority classes.** The quota has no ``scopeSelector``: it counts every pod of the namespace,
    of the serving class (gateway, Redis, Sentinel), of the batch class (the jobs) and of none,
    so its totals are the sum of all of them. A quota scoped to a class would count only that
    class's pods; Kubernetes requires one only where the API server's ResourceQuota admission
    configuration lists the class under ``limitedResources`` (EKS sets none), so none is declared.
    Preemption never lets a pod past the quota: quota is admission, priority is scheduling, and a
    serving pod over the quota is rejected whatever the jobs' priority (hence the room for the jobs
    here, and ``k8s-namespace-require-quota-for-rollout`` over every pod)."""
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
    jobs_cpu, jobs_mem = 2500, 3584 + mebibytes(args.drill_memory)
    return {
        "requests.cpu": f"{cpu_req + jobs_cpu}m",
        "limits.cpu": f"{cpu_lim + jobs_cpu}m",
        "requests.memory": f"{mem_req + jobs_mem}Mi",
        "limits.memory": f"{mem_lim + jobs_mem}Mi",
        "pods": str(gw_n + rd_n + st_n + 10),
        "persistentvolumeclaims": str(rd_n + 4),
        # The cross-region Redis link (DR on) is the only Service of type LoadBalancer; the ALB is an Ingress.
        "services.loadbalancers": "1" if args.redis_peer_cidr else "0",
        "services.nodeports": "0",
    }


def pdb_min_available(min_replicas: int) -> int:
    """One less than the HPA minimum: a drain can always evict a pod, and never more than one at
    the HPA floor."""
    return max(1, min_replicas - 1)


def sentinel_quorum(sentinels: int) -> int:
    """A majority of the Sentinels: they agree a primary is down while one of them is lost."""
    return sentinels // 2 + 1


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
                                    "priorityClassName": BATCH_PRIORITY_CLASS,
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

_RESTRICTED_CONTAINER = RESTRICTED_CONTAINER


PART_OF = {"app.kubernetes.io/part-of": "redis-gateway"}
GATEWAY_LABELS = {"app": GATEWAY, "app.kubernetes.io/name": GATEWAY, **PART_OF}


def meta(args: RedisGatewayArgs, obj_name: str, **labels: str) -> dict[str, Any]:
    """Metadata of an object of the tier: its name, the tier's namespace and labels."""
    return {"name": obj_name, "namespace": args.namespace, "labels": {**PART_OF, **labels}}
