"""The production-readiness checklist for the Kubernetes tier, checked across the whole stack.

Each rule looks at the objects together, as the checklist does: a namespace that runs workloads
has a default-deny NetworkPolicy, a ResourceQuota and a LimitRange; a workload has a PDB that agrees
with its HPA, spreads its pods, uses its own ServiceAccount and only Secrets the stack declares;
metrics are scraped, Prometheus/Grafana/Alertmanager are deployed, every alert has a runbook,
Redis lands on its dedicated node group, and backups run often enough onto declared storage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._k8s import OPERATOR_KINDS, POD_PATHS, containers, pod_spec
from redisgw_policies._policy import get, k8s_kind, labels_match, namespace_of, stack_policy

Findings = Iterable[tuple[str, str | None]]
SERVING_KINDS = {"Deployment", "StatefulSet", "Rollout"}
_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def _k8s(args: StackValidationArgs, *kinds: str) -> Iterator[PolicyResource]:
    return (
        r for r in args.resources if r.resource_type.startswith("kubernetes:") and k8s_kind(r.resource_type) in kinds
    )


def _name(r: PolicyResource) -> str:
    return str(get(r.props, "metadata.name", r.name))


def _workloads(args: StackValidationArgs) -> Iterator[PolicyResource]:
    return _k8s(args, *POD_PATHS, *OPERATOR_KINDS)


def _template_labels(r: PolicyResource) -> Mapping[str, str]:
    path = (
        "spec.jobTemplate.spec.template.metadata.labels"
        if k8s_kind(r.resource_type) == "CronJob"
        else "spec.template.metadata.labels"
    )
    return get(r.props, path, {}) or {}


def _namespaces_with_workloads(args: StackValidationArgs) -> dict[str, str | None]:
    """Namespace -> URN of its Namespace resource (None if not declared here)."""
    declared = {_name(n): n.urn for n in _k8s(args, "Namespace")}
    return {namespace_of(w.props): declared.get(namespace_of(w.props)) for w in _workloads(args)}


def default_deny(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    denied = set()
    for p in _k8s(args, "NetworkPolicy"):
        spec = p.props.get("spec") or {}
        if (
            not (spec.get("podSelector") or {}).get("matchLabels")
            and not (spec.get("podSelector") or {}).get("matchExpressions")
            and (
                {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
                and not spec.get("ingress")
                and not spec.get("egress")
            )
        ):
            denied.add(namespace_of(p.props))
    for ns, urn in _namespaces_with_workloads(args).items():
        if ns not in denied:
            yield f"Namespace {ns} runs workloads without a default-deny NetworkPolicy (ingress and egress).", urn


def resource_quota(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    quotas = {}
    for q in _k8s(args, "ResourceQuota"):
        quotas[namespace_of(q.props)] = set((get(q.props, "spec.hard", {}) or {}).keys())
    needed = {"limits.cpu", "limits.memory", "pods"}
    for ns, urn in _namespaces_with_workloads(args).items():
        missing = needed - quotas.get(ns, set())
        if missing:
            yield f"Namespace {ns} has no ResourceQuota on {sorted(missing)}.", urn


def limit_range(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    ranged = set()
    for lr in _k8s(args, "LimitRange"):
        if any(
            item.get("type") == "Container" and item.get("default") for item in get(lr.props, "spec.limits", []) or []
        ):
            ranged.add(namespace_of(lr.props))
    for ns, urn in _namespaces_with_workloads(args).items():
        if ns not in ranged:
            yield f"Namespace {ns} has no LimitRange with container defaults.", urn


def _pdbs_for(args: StackValidationArgs, workload: PolicyResource) -> list[PolicyResource]:
    labels = _template_labels(workload)
    return [
        p
        for p in _k8s(args, "PodDisruptionBudget")
        if namespace_of(p.props) == namespace_of(workload.props)
        and labels_match(get(p.props, "spec.selector.matchLabels", {}) or {}, labels)
    ]


def pdb(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _workloads(args):
        kind = k8s_kind(w.resource_type)
        if kind in OPERATOR_KINDS:
            if get(w.props, "spec.pdb.enabled") is not True:
                yield f"{kind} {_name(w)} has no PodDisruptionBudget (spec.pdb.enabled).", w.urn
        elif kind in SERVING_KINDS and not _pdbs_for(args, w):
            yield f"{kind} {_name(w)} has no PodDisruptionBudget selecting its pods.", w.urn


def _hpa_for(args: StackValidationArgs, workload: PolicyResource) -> PolicyResource | None:
    for h in _k8s(args, "HorizontalPodAutoscaler"):
        ref = get(h.props, "spec.scaleTargetRef", {}) or {}
        if (
            ref.get("kind") == k8s_kind(workload.resource_type)
            and ref.get("name") == _name(workload)
            and namespace_of(h.props) == namespace_of(workload.props)
        ):
            return h
    return None


def hpa(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    minimum = int(config.get("minReplicas", 2))
    for w in _k8s(args, "Deployment", "Rollout"):
        h = _hpa_for(args, w)
        if h is None:
            yield f"{k8s_kind(w.resource_type)} {_name(w)} has no HorizontalPodAutoscaler.", w.urn
            continue
        lo, hi = int(get(h.props, "spec.minReplicas", 1)), int(get(h.props, "spec.maxReplicas", 0))
        if lo < minimum:
            yield f"HPA of {_name(w)} allows {lo} replica(s); at least {minimum} are required.", h.urn
        if hi <= lo:
            yield f"HPA of {_name(w)} cannot scale: maxReplicas {hi} <= minReplicas {lo}.", h.urn


def _min_available(spec: Mapping[str, Any], replicas: int) -> int:
    if "maxUnavailable" in spec:
        value = spec["maxUnavailable"]
        unavailable = (
            math.floor(replicas * int(str(value).rstrip("%")) / 100) if str(value).endswith("%") else int(value)
        )
        return replicas - unavailable
    value = spec.get("minAvailable", 0)
    return math.ceil(replicas * int(str(value).rstrip("%")) / 100) if str(value).endswith("%") else int(value)


def pdb_matches_hpa(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _k8s(args, "Deployment", "Rollout", "StatefulSet"):
        h = _hpa_for(args, w)
        if h is None:
            continue
        floor = int(get(h.props, "spec.minReplicas", 1))
        for p in _pdbs_for(args, w):
            keep = _min_available(p.props.get("spec") or {}, floor)
            if keep >= floor:
                yield (
                    f"PDB {_name(p)} keeps {keep} of {_name(w)}'s {floor} minimum replicas: no pod can be evicted.",
                    p.urn,
                )


def anti_affinity(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _workloads(args):
        kind = k8s_kind(w.resource_type)
        if kind not in SERVING_KINDS | {"RedisReplication"}:
            continue
        pod = w.props.get("spec") if kind in OPERATOR_KINDS else pod_spec(w.props)
        pod = pod or {}
        spread = {c.get("topologyKey") for c in pod.get("topologySpreadConstraints") or []}
        anti = get(pod, "affinity.podAntiAffinity")
        if not anti and not spread & {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}:
            yield f"{kind} {_name(w)} neither spreads nor anti-affines its pods across nodes or zones.", w.urn


def service_monitor(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    monitors = list(_k8s(args, "ServiceMonitor"))
    for svc in _k8s(args, "Service"):
        ports = {p.get("name") for p in get(svc.props, "spec.ports", []) or []}
        if not ports & {"metrics", "http-metrics"}:
            continue
        ns, labels = namespace_of(svc.props), get(svc.props, "metadata.labels", {}) or {}
        if not any(
            ns in (get(m.props, "spec.namespaceSelector.matchNames") or [namespace_of(m.props)])
            and labels_match(get(m.props, "spec.selector.matchLabels", {}) or {}, labels)
            for m in monitors
        ):
            yield f"Service {_name(svc)} exposes metrics but no ServiceMonitor scrapes it.", svc.urn


def service_account(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    declared = {(namespace_of(sa.props), _name(sa)) for sa in _k8s(args, "ServiceAccount")}
    for w in _k8s(args, *POD_PATHS):
        pod = pod_spec(w.props) or {}
        account = pod.get("serviceAccountName") or "default"
        if account == "default":
            yield f"{k8s_kind(w.resource_type)} {_name(w)} runs as the namespace's default ServiceAccount.", w.urn
        elif (namespace_of(w.props), account) not in declared:
            yield (
                f"{k8s_kind(w.resource_type)} {_name(w)} uses ServiceAccount {account}, not declared in the stack.",
                w.urn,
            )


def rbac(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for role in _k8s(args, "Role", "ClusterRole"):
        for rule in role.props.get("rules") or []:
            for field in ("verbs", "resources", "apiGroups"):
                if "*" in (rule.get(field) or []):
                    yield f"{k8s_kind(role.resource_type)} {_name(role)} grants '*' {field}.", role.urn
    for binding in _k8s(args, "ClusterRoleBinding"):
        subjects = binding.props.get("subjects") or []
        if get(binding.props, "roleRef.name") == "cluster-admin" and any(
            s.get("kind") == "ServiceAccount" for s in subjects
        ):
            yield f"ClusterRoleBinding {_name(binding)} makes a ServiceAccount cluster-admin.", binding.urn


def _secret_refs(w: PolicyResource) -> Iterator[str]:
    kind = k8s_kind(w.resource_type)
    if kind in OPERATOR_KINDS:
        spec = w.props.get("spec") or {}
        for path in (
            "kubernetesConfig.redisSecret.name",
            "redisSentinelConfig.redisReplicationPassword.secretKeyRef.name",
        ):
            if get(spec, path):
                yield str(get(spec, path))
        return
    pod = pod_spec(w.props) or {}
    for c in containers(w.props):
        for env in c.spec.get("env") or []:
            if get(env, "valueFrom.secretKeyRef.name"):
                yield str(get(env, "valueFrom.secretKeyRef.name"))
        for source in c.spec.get("envFrom") or []:
            if get(source, "secretRef.name"):
                yield str(get(source, "secretRef.name"))
    for volume in pod.get("volumes") or []:
        if get(volume, "secret.secretName"):
            yield str(get(volume, "secret.secretName"))


def declared_secrets(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    declared = {(namespace_of(s.props), _name(s)) for s in _k8s(args, "Secret")}
    for w in _workloads(args):
        for secret in sorted(set(_secret_refs(w))):
            if (namespace_of(w.props), secret) not in declared:
                yield (
                    f"{k8s_kind(w.resource_type)} {_name(w)} reads Secret {secret}, which the stack does not create.",
                    w.urn,
                )


def monitoring(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    releases = [
        r
        for r in args.resources
        if r.resource_type in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
        and r.props.get("chart") == "kube-prometheus-stack"
    ]
    if not releases:
        yield "No kube-prometheus-stack release: Prometheus, Alertmanager and Grafana are not deployed.", None
        return
    values = releases[0].props.get("values") or {}
    for part in ("prometheus", "alertmanager", "grafana"):
        if get(values, f"{part}.enabled") is False:
            yield f"kube-prometheus-stack is deployed with {part} disabled.", releases[0].urn
    if not (get(values, "alertmanager.alertmanagerSpec.configSecret") or get(values, "alertmanager.config")):
        yield "Alertmanager has no receivers configured: alerts reach nobody.", releases[0].urn


def runbook_urls(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for rule_set in _k8s(args, "PrometheusRule"):
        for group in get(rule_set.props, "spec.groups", []) or []:
            for rule in group.get("rules") or []:
                if "alert" in rule and not str(get(rule, "annotations.runbook_url", "")).startswith("https://"):
                    yield f"Alert {rule['alert']} in {_name(rule_set)} has no https runbook_url.", rule_set.urn


def redis_node_group(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    groups = [g for g in args.resources if g.resource_type == "aws:eks/nodeGroup:NodeGroup" and g.props.get("taints")]
    for redis in _k8s(args, "RedisReplication"):
        spec = redis.props.get("spec") or {}
        selector = spec.get("nodeSelector") or {}
        tolerations = spec.get("tolerations") or []
        fits = False
        for g in groups:
            labels = g.props.get("labels") or {}
            tolerated = all(
                any(
                    t.get("key") == taint.get("key")
                    and t.get("effect") == _TAINT_EFFECTS.get(str(taint.get("effect")), taint.get("effect"))
                    and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
                    for t in tolerations
                )
                for taint in g.props.get("taints") or []
            )
            if tolerated and labels_match(selector, labels):
                fits = True
        if not fits:
            yield (
                f"RedisReplication {_name(redis)} does not both select and tolerate a dedicated, tainted node group.",
                redis.urn,
            )


def _interval_minutes(schedule: str) -> int:
    minute, hour, *_ = (schedule.split() + ["*"] * 5)[:5]
    if minute.startswith("*/") and hour == "*":
        return int(minute[2:])
    if minute == "*" and hour == "*":
        return 1
    if "," in minute and hour == "*":
        marks = sorted(int(m) for m in minute.split(","))
        return max(b - a for a, b in zip(marks, [*marks[1:], marks[0] + 60], strict=True))
    if hour == "*":
        return 60
    return 1440


def backups(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    name = config.get("cronJobName", "redis-backup")
    claim = config.get("storageClaim", "backup-storage")
    limit = int(config.get("maxIntervalMinutes", 60))
    jobs = [j for j in _k8s(args, "CronJob") if _name(j) == name]
    if not jobs:
        yield f"No backup CronJob {name}.", None
        return
    job = jobs[0]
    spec = job.props.get("spec") or {}
    if _interval_minutes(str(spec.get("schedule", ""))) > limit:
        yield f"CronJob {name} runs less often than every {limit} minutes.", job.urn
    if spec.get("concurrencyPolicy") != "Forbid":
        yield f"CronJob {name} may run two backups at once (concurrencyPolicy is not Forbid).", job.urn
    volumes = get(spec, "jobTemplate.spec.template.spec.volumes", []) or []
    claims = {get(v, "persistentVolumeClaim.claimName") for v in volumes}
    declared = {(namespace_of(p.props), _name(p)) for p in _k8s(args, "PersistentVolumeClaim")}
    if claim not in claims or (namespace_of(job.props), claim) not in declared:
        yield f"CronJob {name} does not mount the declared backup storage claim {claim}.", job.urn


POLICIES = [
    stack_policy(
        name="k8s-namespace-require-default-deny",
        description="Every namespace that runs workloads has a default-deny NetworkPolicy for ingress and egress.",
        rule=default_deny,
        severity=Severity.HIGH,
        remediation="Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress], then explicit allows.",
    ),
    stack_policy(
        name="k8s-namespace-require-resource-quota",
        description="Every namespace that runs workloads has a ResourceQuota on CPU, memory and pods.",
        rule=resource_quota,
        severity=Severity.MEDIUM,
        remediation="Add a ResourceQuota with limits.cpu, limits.memory and pods.",
    ),
    stack_policy(
        name="k8s-namespace-require-limit-range",
        description="Every namespace that runs workloads has a LimitRange with container defaults.",
        rule=limit_range,
        severity=Severity.MEDIUM,
        remediation="Add a LimitRange with a Container item carrying default and defaultRequest.",
    ),
    stack_policy(
        name="k8s-workload-require-pdb",
        description="Every serving workload has a PodDisruptionBudget.",
        rule=pdb,
        severity=Severity.MEDIUM,
        remediation="Add a PodDisruptionBudget selecting the pods (or spec.pdb for redis-operator resources).",
    ),
    stack_policy(
        name="k8s-pdb-require-hpa-consistency",
        description="A PodDisruptionBudget never keeps as many pods as the HPA minimum, so drains always progress.",
        rule=pdb_matches_hpa,
        severity=Severity.HIGH,
        remediation="Set the PDB's minAvailable below the HPA's minReplicas (the gateway uses min - 1).",
    ),
    stack_policy(
        name="k8s-workload-require-hpa",
        description="Every stateless serving workload has an HPA with at least the configured minimum replicas.",
        rule=hpa,
        severity=Severity.HIGH,
        remediation="Add a HorizontalPodAutoscaler targeting the workload; raise redisgw:gateway.replicas.min.",
        config={"minReplicas": {"type": "integer", "minimum": 1, "default": 2}},
    ),
    stack_policy(
        name="k8s-workload-require-anti-affinity",
        description="Serving workloads and Redis spread their pods across nodes or zones.",
        rule=anti_affinity,
        severity=Severity.MEDIUM,
        remediation="Add podAntiAffinity or topologySpreadConstraints on kubernetes.io/hostname or the zone.",
    ),
    stack_policy(
        name="k8s-service-require-service-monitor",
        description="Every Service exposing a metrics port is scraped by a ServiceMonitor.",
        rule=service_monitor,
        severity=Severity.MEDIUM,
        remediation="Add a ServiceMonitor selecting the Service's labels on its metrics port.",
    ),
    stack_policy(
        name="k8s-workload-require-dedicated-service-account",
        description="Workloads run under their own declared ServiceAccount, never the namespace default.",
        rule=service_account,
        severity=Severity.MEDIUM,
        remediation="Create a ServiceAccount per workload and set serviceAccountName.",
    ),
    stack_policy(
        name="k8s-rbac-disallow-wildcard-permissions",
        description="Roles grant named verbs on named resources; no ServiceAccount is cluster-admin.",
        rule=rbac,
        severity=Severity.HIGH,
        remediation="List the verbs, resources and API groups a Role needs; bind narrower roles.",
    ),
    stack_policy(
        name="k8s-workload-require-declared-secrets",
        description="Every Secret a workload reads is created by the stack (secrets are configured).",
        rule=declared_secrets,
        severity=Severity.HIGH,
        remediation="Declare the Secret (from pulumi-random or secret config) in the workload's namespace.",
    ),
    stack_policy(
        name="monitoring-stack-require-prometheus-grafana-alertmanager",
        description="Prometheus, Grafana and Alertmanager are deployed and Alertmanager has receivers.",
        rule=monitoring,
        severity=Severity.HIGH,
        remediation="Deploy the MonitoringStack component (kube-prometheus-stack with an Alertmanager config Secret).",
    ),
    stack_policy(
        name="monitoring-alert-require-runbook-url",
        description="Every alert links to its runbook (annotation runbook_url).",
        rule=runbook_urls,
        severity=Severity.MEDIUM,
        remediation="Add annotations.runbook_url pointing into docs/runbooks/.",
    ),
    stack_policy(
        name="redis-pods-require-redis-node-group",
        description="Redis selects and tolerates the dedicated, tainted Redis node group.",
        rule=redis_node_group,
        severity=Severity.HIGH,
        remediation="Give RedisReplication the redis node group's labels as nodeSelector and tolerate its taint.",
    ),
    stack_policy(
        name="k8s-backup-require-cronjob-and-storage",
        description="A backup CronJob runs at least hourly, never overlaps, and mounts declared backup storage.",
        rule=backups,
        severity=Severity.HIGH,
        remediation="Deploy the BackupVault component (redis-backup every 15 minutes on the backup-storage claim).",
        config={
            "cronJobName": {"type": "string", "default": "redis-backup"},
            "storageClaim": {"type": "string", "default": "backup-storage"},
            "maxIntervalMinutes": {"type": "integer", "minimum": 1, "default": 60},
        },
    ),
]
