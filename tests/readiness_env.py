"""A live environment as ``kubectl get ... -o json`` shows it, built from the production plan.

Every Kubernetes object the program declares in the primary region is written as the API would serve
it (the provider's ``managed-by`` label, a namespace, a creation time) with the status of a healthy
system: workloads ready, PDBs with a disruption to spare, the HPA at its minimum, CronJobs that
succeeded at their last scheduled time. The charts' and the operator's objects the plan cannot show
(Prometheus, Alertmanager, Grafana, the controllers, the Redis and Sentinel pods) are added the way
those charts name and label them. Tests break one thing at a time in this dump.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterable
from typing import Any

from croniter import croniter

from ops.offline.engine import Resource

CREATED = "2026-10-01T08:00:00Z"
CLUSTER_SCOPED = {"Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding"}


def _ints(value: Any) -> Any:
    """Whole numbers as the API serves them (the mock runtime hands every number over as a float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _stamp(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(ready: bool = True) -> list[dict[str, Any]]:
    flag = "True" if ready else "False"
    return [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": flag},
        {"type": "Ready", "status": flag},
    ]


def pod(
    namespace: str, name: str, labels: dict[str, str], containers: Iterable[str], owner: tuple[str, str] | None = None
) -> dict[str, Any]:
    names = list(containers) or ["main"]
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": c, "image": f"registry.example/{c}:1.0"} for c in names]},
        "status": {
            "phase": "Running",
            "conditions": _ready(),
            "containerStatuses": [
                {"name": c, "ready": True, "restartCount": 0, "state": {"running": {"startedAt": CREATED}}}
                for c in names
            ],
        },
    }
    if owner:
        obj["metadata"]["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return obj


def _workload(kind: str, namespace: str, name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    api = "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": CREATED},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    }


def _with_status(obj: dict[str, Any], hpa_min: dict[str, int], now: datetime.datetime) -> dict[str, Any]:
    kind, spec = obj["kind"], obj.get("spec") or {}
    name = obj["metadata"]["name"]
    if kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    elif kind == "Rollout":
        replicas = hpa_min.get(name, spec.get("replicas", 1))
        spec["replicas"] = replicas  # the HPA sets it
        obj["status"] = {
            "phase": "Healthy",
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
        }
    elif kind == "HorizontalPodAutoscaler":
        low = spec.get("minReplicas", 1)
        obj["status"] = {
            "currentReplicas": low,
            "desiredReplicas": low,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"},
            ],
        }
    elif kind == "PodDisruptionBudget":
        obj["status"] = {"currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3}
    elif kind == "CronJob":
        latest = croniter(spec["schedule"], now).get_prev(datetime.datetime)
        obj["status"] = {"lastScheduleTime": _stamp(latest), "lastSuccessfulTime": _stamp(latest)}
    elif kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Bound"}
    elif kind == "Ingress":
        obj["status"] = {
            "loadBalancer": {"ingress": [{"hostname": "k8s-redissys-redisgat-0123456789.eu-west-1.elb.amazonaws.com"}]}
        }
    return obj


def _pod_containers(obj: dict[str, Any]) -> list[str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c.get("name", "main") for c in spec.get("containers") or []]


def default_targets(namespaces: list[str]) -> dict[str, Any]:
    """A targets document as the cluster's ConfigMap holds it once the stack is up (under mocks its
    ARNs and names are unknown, so the dump carries these)."""
    return {
        "stack": "production",
        "region": "eu-west-1",
        "cluster_name": "redisgw-production",
        "namespaces": namespaces,
        "prometheus_url": "http://kps-prometheus.monitoring.svc.cluster.local:9090",
        "availability_slo": 0.999,
        "backups": {
            "bucket": "backups-bucket-5b3e1f0",
            "prefix": "redis/",
            "region": "eu-west-1",
            "max_age_seconds": 1740,
        },
        "replica": {
            "bucket": "backups-replica-9c2d7a1",
            "prefix": "redis/",
            "region": "eu-central-1",
            "max_age_seconds": 2640,
        },
        "vault": {"name": "backups-vault-1f2e3d4", "region": "eu-west-1", "max_age_seconds": 18000},
        "dr_vault": {"name": "backups-dr-vault-4d3e2f1", "region": "eu-central-1", "max_age_seconds": 18000},
        "edge": {
            "hostname": "api.example.com",
            "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/1eac6708-454f-65f0-42ba-73876975868d",
            "web_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/gateway-waf/0abd4f02",
            "health_check_ids": ["0d3c9b1e-3f0c-4c1b-9f4e-2b7a8c6d5e4f"],
        },
        "dr_lag_max_seconds": 30,
    }


def healthy_dump(
    plan: Iterable[Resource], now: datetime.datetime | None = None, targets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The dump of a healthy primary region whose declared objects are ``plan``'s (see the docstring),
    as it stands at ``now`` (default: the present)."""
    now = now or datetime.datetime.now(datetime.UTC)
    items: list[dict[str, Any]] = []
    declared = [r for r in plan if r.type.startswith("kubernetes:") and "helm.sh" not in r.type]
    hpa_min = {
        r.inputs["spec"]["scaleTargetRef"]["name"]: _ints(r.inputs["spec"].get("minReplicas", 1))
        for r in declared
        if r.type.endswith(":HorizontalPodAutoscaler")
    }
    for r in declared:
        obj = _ints(copy.deepcopy(r.inputs))
        md = obj.setdefault("metadata", {})
        md.setdefault("name", r.name)
        if obj.get("kind") not in CLUSTER_SCOPED:
            md.setdefault("namespace", "default")
        md.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "pulumi"
        md["creationTimestamp"] = CREATED
        md["uid"] = f"uid-{r.name}"
        items.append(_with_status(obj, hpa_min, now))
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in items}
    namespaces = sorted(o["metadata"]["name"] for o in items if o["kind"] == "Namespace")
    readiness = by_kind.get(("ConfigMap", "redis-gateway-readiness"))
    if readiness is not None:
        readiness["data"] = {"targets.json": json.dumps(targets or default_targets(namespaces))}

    # The gateway's pods (the Rollout's), the Redis and Sentinel pods (the operator's StatefulSets).
    rollout = by_kind[("Rollout", "redis-gateway")]
    gateway_ns = rollout["metadata"]["namespace"]
    labels = dict(rollout["spec"]["template"]["metadata"]["labels"])
    for n in range(rollout["spec"]["replicas"]):
        items.append(
            pod(
                gateway_ns,
                f"redis-gateway-7d9f8c6b5-{n:05d}",
                labels,
                _pod_containers(rollout),
                ("ReplicaSet", "redis-gateway-7d9f8c6b5"),
            )
        )
    replication = by_kind[("RedisReplication", "redis")]
    size = replication["spec"].get("clusterSize", 3)
    items.append(_workload("StatefulSet", gateway_ns, "redis", size, {"app": "redis"}))
    for n in range(size):
        items.append(
            pod(gateway_ns, f"redis-{n}", {"app": "redis"}, ["redis", "redis-exporter"], ("StatefulSet", "redis"))
        )
    sentinel = by_kind[("RedisSentinel", "redis")]
    sentinels = sentinel["spec"].get("clusterSize", 3)
    items.append(_workload("StatefulSet", gateway_ns, "redis-sentinel", sentinels, {"app": "redis-sentinel"}))
    for n in range(sentinels):
        items.append(
            pod(
                gateway_ns,
                f"redis-sentinel-{n}",
                {"app": "redis-sentinel"},
                ["sentinel"],
                ("StatefulSet", "redis-sentinel"),
            )
        )

    # kube-prometheus-stack: the operator's StatefulSets and the chart's Deployments.
    monitoring = "monitoring"
    charted = (
        ("StatefulSet", "prometheus-monitoring-kube-prometheus-prometheus", "prometheus"),
        ("StatefulSet", "alertmanager-monitoring-kube-prometheus-alertmanager", "alertmanager"),
        ("Deployment", "monitoring-grafana", "grafana"),
        ("Deployment", "monitoring-kube-state-metrics", "kube-state-metrics"),
        ("Deployment", "monitoring-kube-prometheus-operator", "kube-prometheus-stack-prometheus-operator"),
    )
    for kind, name, app in charted:
        app_labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "Helm"}
        items.append(_workload(kind, monitoring, name, 1, app_labels))
        items.append(pod(monitoring, f"{name}-0", app_labels, [app], (kind, name)))
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
