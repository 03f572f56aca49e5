"""A live cluster as ``kubectl get <kinds> -A -o json`` returns it after ``pulumi up`` of the
production plan, with the pinned provider, operator and charts, on a healthy day.

Each part is taken from the component that writes it, at the version we pin (file and tag cited):

* **pulumi-kubernetes v4** (read at v4.32.0; the SDK pins 4.34): under server-side apply, its
  default, the provider sets no ``app.kubernetes.io/managed-by`` label on a new object
  (``provider/pkg/provider/provider.go`` Check: ``if !k.serverSideApplyMode { TrySetManagedByLabel }``),
  so an object carries exactly the labels the program gave it (the program's stack transformation
  adds ``managed-by``). Its field managers are ``pulumi-kubernetes`` (client-side create, operation
  Update) and ``pulumi-kubernetes-<8 hex>`` (apply, operation Apply) (``fieldManagerName``,
  ``await.go``); ``kubectl get -o json`` hides ``managedFields`` since kubectl 1.21, so this dump
  has none (:func:`with_managed_fields` adds them, as ``--show-managed-fields`` or the client would).
* **redis-operator v0.25.0** (chart 0.25.0): ``GetRedisLabels`` (internal/controller/common/labels.go)
  is ``{app, redis_setup_type, role}`` with the custom resource's labels copied on top, onto the
  StatefulSet, its pod template, its claim template, the Services and the PDB; owner references are
  ``{apiVersion, kind, name, uid, controller: true}`` (internal/k8sutils/labels.go
  ``redisReplicationAsOwner``); RedisReplication ``<name>`` makes StatefulSet ``<name>`` and
  Services ``<name>``, ``-headless``, ``-additional``, ``-master``, ``-replica``, ``-metrics``
  (exporter on), PDB ``<name>-replication`` (``pdb.enabled``, internal/k8sutils/poddisruption.go);
  RedisSentinel ``<name>`` makes StatefulSet ``<name>-sentinel``, its Services and PDB
  ``<name>-sentinel``; pods get ``redis-role: master|slave`` patched live (redis/heal.go
  ``UpdateRedisRoleLabel``); the operator sets no security context, service account or token
  setting of its own beyond what the resource passes through.
* **kube-prometheus-stack 88.x** (read at 88.5.3): every object carries ``app.kubernetes.io/managed-by:
  Helm``, ``heritage: Helm``, ``chart``, ``release`` (templates/_helpers.tpl); the default rules are
  on and link ``https://runbooks.prometheus-operator.dev/runbooks/<group>/<alert>`` (values.yaml
  ``defaultRules.runbookUrl``; templates/prometheus/rules-1.14/general.rules.yaml holds Watchdog and
  InfoInhibitor); the Prometheus and Alertmanager StatefulSets are owned by their custom resources.
* **Kubernetes** (API v0.36): every namespace holds a ``default`` ServiceAccount and the
  ``kube-root-ca.crt`` ConfigMap with no owner; the Job controller owns Jobs by CronJob and pods by
  Job; Argo Rollouts owns pods through ReplicaSets labelled ``rollouts-pod-template-hash``;
  ``restartCount`` is a lifetime count with only the last termination kept; the HPA writes
  ``lastScaleTime`` only when it scales.

Tests break one thing at a time in this dump.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from croniter import croniter

from ops.offline.engine import Resource

CREATED = "2026-10-01T08:00:00Z"
CLUSTER_SCOPED = {"Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
RUNBOOKS = "https://runbooks.prometheus-operator.dev/runbooks"
KPS = "kps"
"""The plan's ``fullnameOverride`` for kube-prometheus-stack."""
CHART_LABELS = {
    "app.kubernetes.io/managed-by": "Helm",
    "heritage": "Helm",
    "release": "kube-prometheus-stack",
    "chart": "kube-prometheus-stack-88.6.5",
    "app.kubernetes.io/instance": "kube-prometheus-stack",
    "app.kubernetes.io/part-of": "kube-prometheus-stack",
    "app.kubernetes.io/version": "88.6.5",
}


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


def uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _meta(kind: str, namespace: str | None, name: str, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {
        "name": name,
        "labels": labels,
        "uid": uid(kind, namespace or "", name),
        "resourceVersion": str(int(uid(kind, name)[:6], 16)),
        "creationTimestamp": CREATED,
        **extra,
    }
    if namespace is not None:
        md["namespace"] = namespace
    return md


def owner_ref(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    """An owner reference as controllers write it (controller-runtime's SetControllerReference adds
    blockOwnerDeletion; the redis-operator's own helpers do not)."""
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _ready(ready: bool = True) -> list[dict[str, Any]]:
    flag = "True" if ready else "False"
    return [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": flag},
        {"type": "ContainersReady", "status": flag},
        {"type": "PodScheduled", "status": "True"},
    ]


def pod(
    namespace: str,
    name: str,
    labels: dict[str, str],
    containers: Iterable[str],
    owner: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A running, ready pod (``owner``: the object whose controller made it)."""
    names = list(containers) or ["main"]
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta("Pod", namespace, name, dict(labels)),
        "spec": copy.deepcopy(spec) if spec else {"containers": [{"name": c, "image": f"{c}:1.0"} for c in names]},
        "status": {
            "phase": "Running",
            "conditions": _ready(),
            "containerStatuses": [
                {
                    "name": c,
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "image": f"{c}:1.0",
                    "state": {"running": {"startedAt": CREATED}},
                }
                for c in names
            ],
        },
    }
    obj["spec"].setdefault("serviceAccountName", "default")
    obj["spec"].setdefault("nodeName", "ip-10-0-1-17.eu-west-1.compute.internal")
    if owner is not None:
        obj["metadata"]["ownerReferences"] = [owner_ref(owner, block=True)]
    return obj


def _object(
    api: str, kind: str, namespace: str | None, name: str, labels: dict[str, str], **body: Any
) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": _meta(kind, namespace, name, dict(labels)), **body}


def _statefulset(
    namespace: str,
    name: str,
    replicas: int,
    labels: dict[str, str],
    owner: dict[str, Any] | None,
    template: dict[str, Any],
) -> dict[str, Any]:
    sts = _object(
        "apps/v1",
        "StatefulSet",
        namespace,
        name,
        labels,
        spec={
            "replicas": replicas,
            "serviceName": f"{name}-headless",
            "selector": {"matchLabels": {k: labels[k] for k in ("app", "redis_setup_type", "role") if k in labels}},
            "template": template,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
        status={
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "currentRevision": f"{name}-5d8f7c9b4",
            "updateRevision": f"{name}-5d8f7c9b4",
        },
    )
    if owner is not None:
        sts["metadata"]["ownerReferences"] = [owner_ref(owner)]
        sts["metadata"]["annotations"] = {"redis.opstreelabs.in": "true", "redis.opstreelabs.instance": name}
    return sts


def _with_status(obj: dict[str, Any], hpa_min: dict[str, int], now: datetime.datetime) -> dict[str, Any]:
    kind, spec = obj["kind"], obj.get("spec") or {}
    name = obj["metadata"]["name"]
    if kind == "Namespace":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif kind == "Rollout":
        replicas = hpa_min.get(name, spec.get("replicas", 1))
        spec["replicas"] = replicas  # the HPA sets it
        obj["status"] = {
            "phase": "Healthy",
            "observedGeneration": "1",
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
            "stableRS": "7d9f8c6b5",
            "currentPodHash": "7d9f8c6b5",
            "conditions": [
                {"type": "Available", "status": "True", "reason": "AvailableReason"},
                {"type": "Healthy", "status": "True", "reason": "RolloutHealthy"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        }
    elif kind == "HorizontalPodAutoscaler":
        low = spec.get("minReplicas", 1)
        obj["status"] = {
            "currentReplicas": low,
            "desiredReplicas": low,
            "lastScaleTime": CREATED,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"},
            ],
        }
    elif kind == "PodDisruptionBudget":
        obj["status"] = {
            "observedGeneration": 1,
            "currentHealthy": 3,
            "desiredHealthy": 2,
            "disruptionsAllowed": 1,
            "expectedPods": 3,
        }
    elif kind == "CronJob":
        latest = croniter(spec["schedule"], now).get_prev(datetime.datetime)
        obj["status"] = {"lastScheduleTime": _stamp(latest), "lastSuccessfulTime": _stamp(latest)}
    elif kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes", ["ReadWriteOnce"])}
    elif kind == "Ingress":
        obj["status"] = {
            "loadBalancer": {"ingress": [{"hostname": "k8s-redissys-redisgat-0123456789.eu-west-1.elb.amazonaws.com"}]}
        }
    elif kind == "Service" and spec.get("type", "ClusterIP") == "ClusterIP":
        spec.setdefault("clusterIP", "172.20.40.12")
    return obj


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
        "redis": {
            "replication": "redis",
            "replicas": 3,
            "sentinel": "redis",
            "sentinels": 3,
            "quorum": 2,
            "standby_replicas": 3,
        },
    }


def _system_objects(namespace: str) -> list[dict[str, Any]]:
    """What Kubernetes puts in every namespace (the service-account and root-CA-publisher controllers)."""
    return [
        _object("v1", "ServiceAccount", namespace, "default", {}),
        _object(
            "v1",
            "ConfigMap",
            namespace,
            "kube-root-ca.crt",
            {},
            data={"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIY\n-----END CERTIFICATE-----\n"},
        ),
    ]


def _operator_children(cr: dict[str, Any], sentinel: bool) -> list[dict[str, Any]]:
    """The redis-operator's objects for one RedisReplication or RedisSentinel (see the docstring)."""
    ns, name = cr["metadata"]["namespace"], cr["metadata"]["name"]
    spec = cr["spec"]
    copied = cr["metadata"].get("labels") or {}
    sts_name = f"{name}-sentinel" if sentinel else name
    setup, role = ("sentinel", "sentinel") if sentinel else ("replication", "replication")
    labels = {"app": sts_name, "redis_setup_type": setup, "role": role, **copied}
    size = spec.get("clusterSize", 3)
    k8s = spec.get("kubernetesConfig") or {}
    main = {
        "name": sts_name,
        "image": k8s.get("image"),
        "imagePullPolicy": k8s.get("imagePullPolicy"),
        "resources": k8s.get("resources"),
        "securityContext": spec.get("securityContext"),
        "readinessProbe": {"exec": {"command": ["sh", "-ec", 'RESP="$(redis-cli -h $(hostname) ping)"']}},
        "livenessProbe": {"exec": {"command": ["sh", "-ec", 'RESP="$(redis-cli -h $(hostname) ping)"']}},
    }
    containers = [{k: v for k, v in main.items() if v is not None}]
    exporter = spec.get("redisExporter") or {}
    if exporter.get("enabled") and not sentinel:
        containers.append(
            {
                "name": "redis-exporter",
                "image": exporter.get("image"),
                "resources": exporter.get("resources"),
                "securityContext": exporter.get("securityContext"),
                "ports": [{"name": "redis-exporter", "containerPort": exporter.get("port", 9121)}],
            }
        )
    pod_spec: dict[str, Any] = {
        "containers": containers,
        "securityContext": spec.get("podSecurityContext"),
        "priorityClassName": spec.get("priorityClassName"),
        "serviceAccountName": spec.get("serviceAccountName"),
        "nodeSelector": spec.get("nodeSelector"),
        "affinity": spec.get("affinity"),
        "tolerations": spec.get("tolerations"),
        "topologySpreadConstraints": spec.get("topologySpreadConstraints"),
        "volumes": [{"name": "config", "emptyDir": {}}],
    }
    pod_spec = {k: v for k, v in pod_spec.items() if v is not None}
    template = {"metadata": {"labels": dict(labels), "annotations": {"redis.opstreelabs.in": "true"}}, "spec": pod_spec}
    if not sentinel and spec.get("storage"):
        claim = copy.deepcopy(spec["storage"]["volumeClaimTemplate"])
        claim["metadata"] = {"name": name, "labels": dict(labels)}
    else:
        claim = None
    sts = _statefulset(ns, sts_name, size, labels, cr, template)
    if claim is not None:
        sts["spec"]["volumeClaimTemplates"] = [claim]
    out = [sts]
    for n in range(size):
        pod_labels = {
            **labels,
            "controller-revision-hash": f"{sts_name}-5d8f7c9b4",
            "statefulset.kubernetes.io/pod-name": f"{sts_name}-{n}",
            "apps.kubernetes.io/pod-index": str(n),
        }
        if not sentinel:
            pod_labels["redis-role"] = "master" if n == 0 else "slave"
        out.append(pod(ns, f"{sts_name}-{n}", pod_labels, [c["name"] for c in containers], sts, pod_spec))
        if claim is not None:
            out.append(
                _object(
                    "v1",
                    "PersistentVolumeClaim",
                    ns,
                    f"{name}-{sts_name}-{n}",
                    dict(labels),
                    spec={**claim["spec"], "volumeName": f"pvc-{uid(sts_name, str(n))}"},
                    status={"phase": "Bound", "accessModes": ["ReadWriteOnce"]},
                )
            )
    port = ("sentinel-client", 26379) if sentinel else ("redis-client", 6379)
    services = [f"{sts_name}-headless", sts_name, f"{sts_name}-additional"]
    if not sentinel:
        services += [f"{name}-master", f"{name}-replica"]
    for svc in services:
        selector = {**labels}
        if svc.endswith("-master"):
            selector["redis-role"] = "master"
        elif svc.endswith("-replica"):
            selector["redis-role"] = "slave"
        body = {"selector": selector, "ports": [{"name": port[0], "port": port[1], "protocol": "TCP"}]}
        body["clusterIP"] = "None" if svc.endswith("-headless") else "172.20.51.7"
        body["type"] = "ClusterIP"
        service = _object("v1", "Service", ns, svc, dict(labels), spec=body)
        service["metadata"]["ownerReferences"] = [owner_ref(cr)]
        out.append(service)
    if exporter.get("enabled") and not sentinel:
        metrics = _object(
            "v1",
            "Service",
            ns,
            f"{name}-metrics",
            {"app": name, "redis_setup_type": setup, "role": role, "app.kubernetes.io/component": "metrics"},
            spec={
                "type": "ClusterIP",
                "selector": {"app": name, "redis_setup_type": setup, "role": role},
                "ports": [{"name": "redis-exporter", "port": 9121}],
            },
        )
        metrics["metadata"]["ownerReferences"] = [owner_ref(cr)]
        out.append(metrics)
    pdb = spec.get("pdb") or {}
    if pdb.get("enabled"):
        bound = (
            {"maxUnavailable": pdb["maxUnavailable"]}
            if "maxUnavailable" in pdb
            else {"minAvailable": pdb.get("minAvailable", size // 2 + 1)}
        )
        budget = _object(
            "policy/v1",
            "PodDisruptionBudget",
            ns,
            f"{name}-{setup}",
            {"app": name, "redis_setup_type": setup, "role": role, **copied},
            spec={**bound, "selector": {"matchLabels": {"app": sts_name, "role": role}}},
            status={
                "observedGeneration": 1,
                "currentHealthy": size,
                "desiredHealthy": bound.get("minAvailable", size - bound.get("maxUnavailable", 1)),
                "disruptionsAllowed": size - bound.get("minAvailable", size - bound.get("maxUnavailable", 1)),
                "expectedPods": size,
            },
        )
        budget["metadata"]["ownerReferences"] = [owner_ref(cr)]
        out.append(budget)
    return out


def _rollout_pods(rollout: dict[str, Any]) -> list[dict[str, Any]]:
    ns = rollout["metadata"]["namespace"]
    template = rollout["spec"]["template"]
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "redis-gateway-7d9f8c6b5", "uid": uid("ReplicaSet", ns, "redis-gateway-7d9f8c6b5")},
    }
    labels = {**template["metadata"]["labels"], "rollouts-pod-template-hash": "7d9f8c6b5"}
    names = [c.get("name", "main") for c in template["spec"]["containers"]]
    return [
        pod(ns, f"redis-gateway-7d9f8c6b5-{n:05d}", labels, names, replica_set, template["spec"])
        for n in range(rollout["spec"]["replicas"])
    ]


def _cronjob_runs(cronjob: dict[str, Any], now: datetime.datetime) -> list[dict[str, Any]]:
    """The last run the CronJob keeps: a Job it owns and the pod that Job owns, both succeeded."""
    ns, name = cronjob["metadata"]["namespace"], cronjob["metadata"]["name"]
    started = croniter(cronjob["spec"]["schedule"], now).get_prev(datetime.datetime)
    job_name = f"{name}-{int(started.timestamp()) // 60}"
    template = cronjob["spec"]["jobTemplate"]
    job = _object(
        "batch/v1",
        "Job",
        ns,
        job_name,
        {**(template.get("metadata") or {}).get("labels", {}), "batch.kubernetes.io/job-name": job_name},
        spec=copy.deepcopy(template["spec"]),
        status={"succeeded": 1, "startTime": _stamp(started), "completionTime": _stamp(started)},
    )
    job["metadata"]["ownerReferences"] = [owner_ref(cronjob, block=True)]
    pod_spec = template["spec"]["template"]["spec"]
    run = pod(ns, f"{job_name}-x7k2p", {"batch.kubernetes.io/job-name": job_name}, [], job, pod_spec)
    run["status"] = {
        "phase": "Succeeded",
        "conditions": _ready(False),
        "containerStatuses": [
            {
                "name": c.get("name"),
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": _stamp(started)}},
            }
            for c in pod_spec.get("containers") or []
        ],
    }
    return [job, run]


def _chart_objects(namespace: str) -> list[dict[str, Any]]:
    """kube-prometheus-stack in ``namespace``: its default rules, the operator's StatefulSets, the
    chart's Deployments, and their pods (see the docstring)."""
    out: list[dict[str, Any]] = []
    rules = {
        "general.rules": ["TargetDown", "Watchdog", "InfoInhibitor"],
        "kubernetes-apps": ["KubePodCrashLooping", "KubePodNotReady", "KubeDeploymentReplicasMismatch"],
        "alertmanager.rules": ["AlertmanagerFailedReload", "AlertmanagerMembersInconsistent"],
    }
    for group, alerts in rules.items():
        out.append(
            _object(
                "monitoring.coreos.com/v1",
                "PrometheusRule",
                namespace,
                f"{KPS}-{group}",
                {"app": "kube-prometheus-stack", **CHART_LABELS},
                spec={
                    "groups": [
                        {
                            "name": group,
                            "rules": [
                                {
                                    "alert": a,
                                    "expr": "vector(1)",
                                    "labels": {"severity": "none" if a in ("Watchdog", "InfoInhibitor") else "warning"},
                                    "annotations": {
                                        "description": f"{a}.",
                                        "runbook_url": f"{RUNBOOKS}/{group.split('.')[0]}/{a.lower()}",
                                    },
                                }
                                for a in alerts
                            ],
                        }
                    ]
                },
            )
        )
    for component, kind in (("prometheus", "Prometheus"), ("alertmanager", "Alertmanager")):
        owner = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": kind,
            "metadata": {"name": f"{KPS}-{component}", "uid": uid(kind, namespace, f"{KPS}-{component}")},
        }
        labels = {
            "app.kubernetes.io/name": component,
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "app.kubernetes.io/instance": f"{KPS}-{component}",
            component: f"{KPS}-{component}",
        }
        sts_name = f"{component}-{KPS}-{component}"
        template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": component, "image": component}]}}
        sts = _statefulset(namespace, sts_name, 1, labels, None, template)
        sts["metadata"]["ownerReferences"] = [owner_ref(owner, block=True)]
        out += [sts, pod(namespace, f"{sts_name}-0", labels, [component, "config-reloader"], sts)]
    for name, app, chart in (
        (f"{KPS}-operator", "kube-prometheus-stack-prometheus-operator", "kube-prometheus-stack-88.6.5"),
        ("kube-prometheus-stack-grafana", "grafana", "grafana-10.1.4"),
        ("kube-prometheus-stack-kube-state-metrics", "kube-state-metrics", "kube-state-metrics-6.3.0"),
    ):
        labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": chart}
        deployment = _object(
            "apps/v1",
            "Deployment",
            namespace,
            name,
            labels,
            spec={"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}, "template": {}},
            status={"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
        )
        replica_set = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": f"{name}-6c9d8", "uid": uid("ReplicaSet", namespace, name)},
        }
        service = _object(
            "v1",
            "Service",
            namespace,
            name,
            labels,
            spec={"type": "ClusterIP", "selector": {"app.kubernetes.io/name": app}},
        )
        out += [deployment, service, pod(namespace, f"{name}-6c9d8-q2w3e", labels, [app], replica_set)]
    return out


def _another_team(now: datetime.datetime) -> list[dict[str, Any]]:
    """Another team's namespace on the same cluster, with its own troubles: not the stack's to judge."""
    ns = "payments"
    broken = pod(ns, "ledger-5f6d7-abcde", {"app": "ledger"}, ["ledger"])
    broken["status"]["containerStatuses"][0].update(
        restartCount=42, ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}}
    )
    exposed = _object("v1", "Service", ns, "ledger", {"app": "ledger"}, spec={"type": "LoadBalancer"})
    namespace = _object("v1", "Namespace", None, ns, {"kubernetes.io/metadata.name": ns}, status={"phase": "Active"})
    return [namespace, broken, exposed, *_system_objects(ns)]


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
        extra = {k: v for k, v in md.items() if k not in ("name", "namespace", "labels")}
        obj["metadata"] = {
            **_meta(obj["kind"], md.get("namespace"), md["name"], dict(md.get("labels") or {})),
            **extra,
            "generation": 1,
        }
        items.append(_with_status(obj, hpa_min, now))
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in items}
    namespaces = sorted(o["metadata"]["name"] for o in items if o["kind"] == "Namespace")
    readiness = by_kind.get(("ConfigMap", "redis-gateway-readiness"))
    if readiness is not None:
        readiness["data"] = {"targets.json": json.dumps(targets or default_targets(namespaces))}

    for ns in [*namespaces, "redis-operator", "argo-rollouts"]:
        items += _system_objects(ns)
    items += _rollout_pods(by_kind[("Rollout", "redis-gateway")])
    items += _operator_children(by_kind[("RedisReplication", "redis")], sentinel=False)
    items += _operator_children(by_kind[("RedisSentinel", "redis")], sentinel=True)
    for cronjob in [o for o in items if o["kind"] == "CronJob"]:
        items += _cronjob_runs(cronjob, now)
    items += _chart_objects("monitoring")
    items += _another_team(now)
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def with_managed_fields(dump: dict[str, Any], manager: str = "pulumi-kubernetes-1a2b3c4d") -> dict[str, Any]:
    """``dump`` as ``kubectl get --show-managed-fields`` (or the API client) shows it: the program's
    objects applied by ``manager`` (operation Apply), the controllers' by theirs (operation Update)."""
    out = copy.deepcopy(dump)
    for obj in out["items"]:
        md = obj["metadata"]
        if md.get("ownerReferences"):
            who, op = "kube-controller-manager", "Update"
        elif (md.get("labels") or {}).get("app.kubernetes.io/part-of") == "redis-gateway":
            who, op = manager, "Apply"
        else:
            who, op = "helm", "Update"
        md["managedFields"] = [
            {
                "manager": who,
                "operation": op,
                "apiVersion": obj["apiVersion"],
                "time": CREATED,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {}}},
            }
        ]
    return out


def prometheus_answer(route: str) -> Any:
    """The ``data`` a healthy Prometheus answers on ``route`` (its HTTP API, ``/api/v1/...``): one
    target up, only Watchdog firing, and to every query the lag series of the replicas attached in
    the tier (two local ones on the primary, the DR standby's three pods on a local replica), each at
    0 (redis_exporter at the pinned
    version exports ``redis_connected_slave_lag_seconds{slave_ip,slave_port}`` from the primary)."""
    if route.startswith("/api/v1/targets"):
        return {
            "activeTargets": [{"labels": {"job": "redis"}, "scrapeUrl": "http://10.0.1.5:9121/metrics", "health": "up"}]
        }
    if route.startswith("/api/v1/alerts"):
        return {"alerts": [{"state": "firing", "labels": {"alertname": "Watchdog", "severity": "none"}}]}
    serving = {"10.0.1.5:9121": ("10.1.2.3", "10.1.2.4"), "10.1.2.3:9121": ("10.20.3.7", "10.20.4.8", "10.20.5.9")}
    return {
        "resultType": "vector",
        "result": [
            {
                "metric": {"instance": instance, "namespace": "redis-system", "slave_ip": ip, "slave_port": "6379"},
                "value": [1764000000, "0"],
            }
            for instance, replicas in serving.items()
            for ip in replicas
        ],
    }
