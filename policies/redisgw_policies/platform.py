"""The production-readiness checklist for the Kubernetes tier, checked across the whole stack.

Each rule looks at the objects together, as the checklist does: a namespace that runs workloads
has a default-deny NetworkPolicy, a ResourceQuota and a LimitRange; a workload has a PDB that agrees
with its HPA, spreads its pods, uses its own ServiceAccount and only Secrets the stack declares;
metrics are scraped, Prometheus/Grafana/Alertmanager are deployed, every alert has a runbook,
Redis lands on its dedicated node group, and backups run often enough onto declared storage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._cron import max_gap_minutes
from redisgw_policies._k8s import OPERATOR_KINDS, POD_PATHS, containers, pod_spec
from redisgw_policies._policy import (
    SECRET_NAME,
    Finding,
    as_float,
    as_int,
    as_list,
    as_map,
    get,
    k8s_kind,
    known_items,
    labels_match,
    maps,
    namespace_of,
    stack_policy,
    strings,
    truthy,
)

Findings = Iterable[tuple[str, str | None]]
SERVING_KINDS = {"Deployment", "StatefulSet", "Rollout"}
_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def _k8s(args: StackValidationArgs, *kinds: str) -> Iterator[PolicyResource]:
    return (
        r for r in args.resources if r.resource_type.startswith("kubernetes:") and k8s_kind(r.resource_type) in kinds
    )


def _name(r: PolicyResource) -> str:
    name = get(r.props, "metadata.name")
    return name if isinstance(name, str) and name else r.name


def _workloads(args: StackValidationArgs) -> Iterator[PolicyResource]:
    return _k8s(args, *POD_PATHS, *OPERATOR_KINDS)


def _template_labels(r: PolicyResource) -> Mapping[str, str]:
    path = (
        "spec.jobTemplate.spec.template.metadata.labels"
        if k8s_kind(r.resource_type) == "CronJob"
        else "spec.template.metadata.labels"
    )
    return as_map(get(r.props, path))


def _namespaces_with_workloads(args: StackValidationArgs) -> dict[str, str | None]:
    """Namespace -> URN of its Namespace resource (None if not declared here)."""
    declared = {_name(n): n.urn for n in _k8s(args, "Namespace")}
    return {namespace_of(w.props): declared.get(namespace_of(w.props)) for w in _workloads(args)}


def default_deny(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    denied = set()
    for p in _k8s(args, "NetworkPolicy"):
        spec = as_map(p.props.get("spec"))
        selector = as_map(spec.get("podSelector"))
        if (
            not selector.get("matchLabels")
            and not selector.get("matchExpressions")
            and {"Ingress", "Egress"} <= set(strings(spec.get("policyTypes")))
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            denied.add(namespace_of(p.props))
    for ns, urn in _namespaces_with_workloads(args).items():
        if ns not in denied:
            yield f"Namespace {ns} runs workloads without a default-deny NetworkPolicy (ingress and egress).", urn


def open_network_policy(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """An allow rule that admits every peer, or the whole internet, undoes the default deny."""
    for p in _k8s(args, "NetworkPolicy"):
        spec = as_map(p.props.get("spec"))
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in as_list(spec.get(direction)):
                rule = as_map(rule)
                peers = maps(rule.get(peers_key))
                if not peers and not rule.get("ports"):
                    yield f"NetworkPolicy {_name(p)} allows all {direction} traffic (an empty rule).", p.urn
                for peer in peers:
                    if as_map(peer.get("ipBlock")).get("cidr") in ("0.0.0.0/0", "::/0") and direction == "ingress":
                        yield f"NetworkPolicy {_name(p)} admits ingress from the whole internet.", p.urn
                    if (
                        "namespaceSelector" in peer
                        and not as_map(peer.get("namespaceSelector"))
                        and not peer.get("podSelector")
                    ):
                        yield (
                            f"NetworkPolicy {_name(p)} allows {direction} to or from every pod of every namespace.",
                            p.urn,
                        )


def resource_quota(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    quotas: dict[str, set[str]] = {}
    for q in _k8s(args, "ResourceQuota"):
        quotas.setdefault(namespace_of(q.props), set()).update(str(k) for k in as_map(get(q.props, "spec.hard")))
    needed = {"limits.cpu", "limits.memory", "pods"}
    for ns, urn in _namespaces_with_workloads(args).items():
        missing = needed - quotas.get(ns, set())
        if missing:
            yield f"Namespace {ns} has no ResourceQuota on {sorted(missing)}.", urn


def limit_range(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    ranged = set()
    for lr in _k8s(args, "LimitRange"):
        if any(item.get("type") == "Container" and item.get("default") for item in maps(get(lr.props, "spec.limits"))):
            ranged.add(namespace_of(lr.props))
    for ns, urn in _namespaces_with_workloads(args).items():
        if ns not in ranged:
            yield f"Namespace {ns} has no LimitRange with container defaults.", urn


def pod_security_admission(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Pod Security Admission enforces at least the baseline profile where workloads run."""
    labels = {_name(n): as_map(get(n.props, "metadata.labels")) for n in _k8s(args, "Namespace")}
    for ns, urn in _namespaces_with_workloads(args).items():
        level = labels.get(ns, {}).get("pod-security.kubernetes.io/enforce")
        if level not in ("baseline", "restricted"):
            yield f"Namespace {ns} does not enforce a Pod Security Standard (pod-security.kubernetes.io/enforce).", urn


def default_namespace(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _workloads(args):
        if namespace_of(w.props) in ("default", "kube-system", "kube-public"):
            kind = k8s_kind(w.resource_type)
            yield f"{kind} {_name(w)} runs in the {namespace_of(w.props)} namespace.", w.urn


def _pdbs_for(args: StackValidationArgs, workload: PolicyResource) -> list[PolicyResource]:
    labels = _template_labels(workload)
    return [
        p
        for p in _k8s(args, "PodDisruptionBudget")
        if namespace_of(p.props) == namespace_of(workload.props)
        and labels_match(get(p.props, "spec.selector.matchLabels"), labels)
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
        ref = as_map(get(h.props, "spec.scaleTargetRef"))
        if (
            ref.get("kind") == k8s_kind(workload.resource_type)
            and ref.get("name") == _name(workload)
            and namespace_of(h.props) == namespace_of(workload.props)
        ):
            return h
    return None


def hpa(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    minimum = as_int(config.get("minReplicas"), 2) or 2
    for w in _k8s(args, "Deployment", "Rollout"):
        h = _hpa_for(args, w)
        if h is None:
            yield f"{k8s_kind(w.resource_type)} {_name(w)} has no HorizontalPodAutoscaler.", w.urn
            continue
        lo = as_int(get(h.props, "spec.minReplicas"), 1) or 1
        hi = as_int(get(h.props, "spec.maxReplicas"), 0) or 0
        if lo < minimum:
            yield f"HPA of {_name(w)} allows {lo} replica(s); at least {minimum} are required.", h.urn
        if hi <= lo:
            yield f"HPA of {_name(w)} cannot scale: maxReplicas {hi} <= minReplicas {lo}.", h.urn


def _scaled(value: Any, replicas: int, round_up: bool) -> int | None:
    text = str(value).strip()
    if text.endswith("%"):
        percent = as_float(text[:-1])
        if percent is None:
            return None
        exact = replicas * percent / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return as_int(value)


def _min_available(spec: Mapping[str, Any], replicas: int) -> int:
    if spec.get("maxUnavailable") is not None:
        unavailable = _scaled(spec["maxUnavailable"], replicas, round_up=True)
        return replicas - (unavailable if unavailable is not None else 0)
    kept = _scaled(spec.get("minAvailable", 0), replicas, round_up=True)
    return replicas if kept is None else kept


def pdb_matches_hpa(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _k8s(args, "Deployment", "Rollout", "StatefulSet"):
        h = _hpa_for(args, w)
        if h is None:
            continue
        floor = as_int(get(h.props, "spec.minReplicas"), 1) or 1
        for p in _pdbs_for(args, w):
            keep = _min_available(as_map(p.props.get("spec")), floor)
            if keep >= floor:
                yield (
                    f"PDB {_name(p)} keeps {keep} of {_name(w)}'s {floor} minimum replicas: no pod can be evicted.",
                    p.urn,
                )


def anti_affinity(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for w in _workloads(args):
        kind = k8s_kind(w.resource_type)
        if kind not in SERVING_KINDS | {"RedisReplication", "RedisSentinel"}:
            continue
        pod = pod_spec(w.props) or {}
        spread = {as_map(c).get("topologyKey") for c in as_list(pod.get("topologySpreadConstraints"))}
        anti = get(pod, "affinity.podAntiAffinity")
        if not anti and not spread & {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}:
            yield f"{kind} {_name(w)} neither spreads nor anti-affines its pods across nodes or zones.", w.urn


def service_monitor(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    monitors = list(_k8s(args, "ServiceMonitor"))
    for svc in _k8s(args, "Service"):
        ports = {p.get("name") for p in maps(get(svc.props, "spec.ports"))}
        if not ports & {"metrics", "http-metrics"}:
            continue
        ns, labels = namespace_of(svc.props), as_map(get(svc.props, "metadata.labels"))
        if not any(
            ns in (strings(get(m.props, "spec.namespaceSelector.matchNames")) or [namespace_of(m.props)])
            and labels_match(get(m.props, "spec.selector.matchLabels"), labels)
            for m in monitors
        ):
            yield f"Service {_name(svc)} exposes metrics but no ServiceMonitor scrapes it.", svc.urn


def _account(w: PolicyResource) -> str:
    account = (pod_spec(w.props) or {}).get("serviceAccountName")
    return account if isinstance(account, str) and account else "default"


def service_account(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    declared = {(namespace_of(sa.props), _name(sa)) for sa in _k8s(args, "ServiceAccount")}
    for w in _k8s(args, *POD_PATHS):
        account = _account(w)
        if account == "default":
            yield f"{k8s_kind(w.resource_type)} {_name(w)} runs as the namespace's default ServiceAccount.", w.urn
        elif (namespace_of(w.props), account) not in declared:
            yield (
                f"{k8s_kind(w.resource_type)} {_name(w)} uses ServiceAccount {account}, not declared in the stack.",
                w.urn,
            )


def _bound_accounts(args: StackValidationArgs) -> set[tuple[str, str]]:
    """(namespace, name) of every ServiceAccount some RoleBinding or ClusterRoleBinding grants to."""
    bound = set()
    for binding in _k8s(args, "RoleBinding", "ClusterRoleBinding"):
        for subject in maps(binding.props.get("subjects")):
            if subject.get("kind") == "ServiceAccount":
                ns = subject.get("namespace") or namespace_of(binding.props)
                bound.add((str(ns), str(subject.get("name"))))
    return bound


def unused_token(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """A pod whose ServiceAccount holds no Kubernetes permission has no use for an API token."""
    bound = _bound_accounts(args)
    accounts = {(namespace_of(sa.props), _name(sa)): sa for sa in _k8s(args, "ServiceAccount")}
    for w in _k8s(args, *POD_PATHS):
        pod = pod_spec(w.props) or {}
        key = (namespace_of(w.props), _account(w))
        if key in bound:
            continue
        sa = accounts.get(key)
        automount = pod.get("automountServiceAccountToken")
        if automount is None and sa is not None:
            automount = sa.props.get("automountServiceAccountToken")
        if automount is not False:
            yield (
                Finding(
                    f"{k8s_kind(w.resource_type)} {_name(w)} mounts an API token for ServiceAccount {key[1]}, "
                    "which no Role grants anything.",
                    field="automountServiceAccountToken",
                ),
                w.urn,
            )


def rbac(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for role in _k8s(args, "Role", "ClusterRole"):
        for rule in maps(role.props.get("rules")):
            for field in ("verbs", "resources", "apiGroups"):
                if "*" in strings(rule.get(field)):
                    yield f"{k8s_kind(role.resource_type)} {_name(role)} grants '*' {field}.", role.urn
    for binding in _k8s(args, "ClusterRoleBinding", "RoleBinding"):
        subjects = maps(binding.props.get("subjects"))
        if get(binding.props, "roleRef.name") == "cluster-admin" and subjects:
            yield f"{k8s_kind(binding.resource_type)} {_name(binding)} grants cluster-admin.", binding.urn


_ESCALATING_VERBS = {"escalate", "bind", "impersonate"}
_WORKLOADS = {"pods", "deployments", "daemonsets", "statefulsets", "jobs", "cronjobs"}
_REMOTE_ACCESS = {"pods/exec", "pods/attach", "nodes/proxy", "serviceaccounts/token"}
_ANONYMOUS = {"system:anonymous", "system:unauthenticated", "system:authenticated"}


def rbac_escalation(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for role in _k8s(args, "Role", "ClusterRole"):
        kind = k8s_kind(role.resource_type)
        for rule in maps(role.props.get("rules")):
            verbs, res = set(strings(rule.get("verbs"))), set(strings(rule.get("resources")))
            if verbs & _ESCALATING_VERBS:
                yield f"{kind} {_name(role)} grants {sorted(verbs & _ESCALATING_VERBS)}.", role.urn
            if "secrets" in res and verbs & {"get", "list", "watch", "*"} and not strings(rule.get("resourceNames")):
                yield f"{kind} {_name(role)} reads every Secret of its scope.", role.urn
            if res & _REMOTE_ACCESS and verbs & {"create", "get", "*"}:
                yield f"{kind} {_name(role)} grants {sorted(res & _REMOTE_ACCESS)}.", role.urn
            if kind == "ClusterRole" and res & _WORKLOADS and verbs & {"create", "*"}:
                yield f"{kind} {_name(role)} can create workloads in every namespace.", role.urn
    for binding in _k8s(args, "ClusterRoleBinding", "RoleBinding"):
        names = {str(s.get("name")) for s in maps(binding.props.get("subjects"))}
        if names & _ANONYMOUS:
            yield (
                f"{k8s_kind(binding.resource_type)} {_name(binding)} grants to {sorted(names & _ANONYMOUS)}.",
                binding.urn,
            )


def _secret_refs(w: PolicyResource) -> Iterator[str]:
    kind = k8s_kind(w.resource_type)
    if kind in OPERATOR_KINDS:
        spec = as_map(w.props.get("spec"))
        for path in (
            "kubernetesConfig.redisSecret.name",
            "redisSentinelConfig.redisReplicationPassword.secretKeyRef.name",
        ):
            if isinstance(get(spec, path), str):
                yield str(get(spec, path))
        return
    pod = pod_spec(w.props) or {}
    for c in containers(w.props):
        for env in maps(c.spec.get("env")):
            if isinstance(get(env, "valueFrom.secretKeyRef.name"), str):
                yield str(get(env, "valueFrom.secretKeyRef.name"))
        for source in maps(c.spec.get("envFrom")):
            if isinstance(get(source, "secretRef.name"), str):
                yield str(get(source, "secretRef.name"))
    for volume in maps(pod.get("volumes")):
        if isinstance(get(volume, "secret.secretName"), str):
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
        and r.props.get("chart") in ("kube-prometheus-stack", "prometheus-community/kube-prometheus-stack")
    ]
    if not releases:
        yield "No kube-prometheus-stack release: Prometheus, Alertmanager and Grafana are not deployed.", None
        return
    values = as_map(releases[0].props.get("values"))
    for part in ("prometheus", "alertmanager", "grafana"):
        if get(values, f"{part}.enabled") is False:
            yield f"kube-prometheus-stack is deployed with {part} disabled.", releases[0].urn
    if not (get(values, "alertmanager.alertmanagerSpec.configSecret") or get(values, "alertmanager.config")):
        yield "Alertmanager has no receivers configured: alerts reach nobody.", releases[0].urn
    minimum = as_int(config.get("minRetentionDays"), 0) or 0
    retention = get(values, "prometheus.prometheusSpec.retention")
    seconds = _duration_seconds(retention)
    days = None if seconds is None else seconds / 86400
    if minimum and (days is None or days < minimum):
        yield f"Prometheus keeps metrics for {retention}; at least {minimum} days are required.", releases[0].urn


def runbook_urls(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for rule_set in _k8s(args, "PrometheusRule"):
        for group in maps(get(rule_set.props, "spec.groups")):
            for rule in maps(group.get("rules")):
                if "alert" in rule and not str(get(rule, "annotations.runbook_url", "")).startswith("https://"):
                    yield f"Alert {rule['alert']} in {_name(rule_set)} has no https runbook_url.", rule_set.urn


def _node_groups(args: StackValidationArgs) -> list[PolicyResource]:
    return [g for g in args.resources if g.resource_type == "aws:eks/nodeGroup:NodeGroup"]


def _tolerates(tolerations: Any, taints: Any) -> bool:
    return all(
        any(
            t.get("key") == taint.get("key")
            and t.get("effect") == _TAINT_EFFECTS.get(str(taint.get("effect")), taint.get("effect"))
            and (t.get("operator") == "Exists" or t.get("value") == taint.get("value"))
            for t in maps(tolerations)
        )
        for taint in maps(taints)
    )


def _placement(args: StackValidationArgs, w: PolicyResource) -> list[PolicyResource]:
    """The node groups a workload's pods can land on (by node selector and tolerations)."""
    pod = pod_spec(w.props) or {}
    selector = as_map(pod.get("nodeSelector"))
    return [
        g
        for g in _node_groups(args)
        if _tolerates(pod.get("tolerations"), g.props.get("taints"))
        and (not selector or labels_match(selector, g.props.get("labels")))
    ]


def redis_node_group(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    for redis in _k8s(args, "RedisReplication"):
        spec = as_map(redis.props.get("spec"))
        fits = [g for g in _placement(args, redis) if maps(g.props.get("taints")) and as_map(spec.get("nodeSelector"))]
        if not fits:
            yield (
                f"RedisReplication {_name(redis)} does not both select and tolerate a dedicated, tainted node group.",
                redis.urn,
            )


_STATEFUL = {"StatefulSet", *OPERATOR_KINDS}


def stateful_nodes(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Stateful pods run on on-demand capacity, with a node for each replica that must not share one."""
    for w in _k8s(args, *_STATEFUL):
        groups = _placement(args, w) if as_map((pod_spec(w.props) or {}).get("nodeSelector")) else []
        for g in groups:
            if str(g.props.get("capacityType") or "ON_DEMAND") != "ON_DEMAND":
                yield (
                    f"{k8s_kind(w.resource_type)} {_name(w)} can land on node group {g.name}, which is Spot capacity.",
                    g.urn,
                )
        replicas = as_int(get(w.props, "spec.clusterSize"), None) or as_int(get(w.props, "spec.replicas"), 1) or 1
        required = maps(
            get(pod_spec(w.props) or {}, "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")
        )
        if groups and any(term.get("topologyKey") == "kubernetes.io/hostname" for term in required):
            nodes = sum(as_int(get(g.props, "scalingConfig.minSize"), 0) or 0 for g in groups)
            if nodes < replicas:
                yield (
                    f"{k8s_kind(w.resource_type)} {_name(w)} needs {replicas} separate nodes but its node groups "
                    f"guarantee {nodes} (scalingConfig.minSize).",
                    w.urn,
                )


def backups(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    name = config.get("cronJobName", "redis-backup")
    claim = config.get("storageClaim", "backup-storage")
    limit = as_int(config.get("maxIntervalMinutes"), 60) or 60
    jobs = [j for j in _k8s(args, "CronJob") if _name(j) == name]
    if not jobs:
        yield f"No backup CronJob {name}.", None
        return
    for job in jobs:
        spec = as_map(job.props.get("spec"))
        gap = max_gap_minutes(str(spec.get("schedule", "")))
        if gap is None:
            yield f"CronJob {name} has a schedule the CronJob controller cannot parse.", job.urn
        elif gap > limit:
            yield f"CronJob {name} can leave {gap:g} minutes between runs; at most {limit} are allowed.", job.urn
        if spec.get("concurrencyPolicy") != "Forbid":
            yield f"CronJob {name} may run two backups at once (concurrencyPolicy is not Forbid).", job.urn
        claims = {
            get(v, "persistentVolumeClaim.claimName") for v in maps(get(spec, "jobTemplate.spec.template.spec.volumes"))
        }
        declared = {(namespace_of(p.props), _name(p)) for p in _k8s(args, "PersistentVolumeClaim")}
        if claim not in claims or (namespace_of(job.props), claim) not in declared:
            yield f"CronJob {name} does not mount the declared backup storage claim {claim}.", job.urn


def cron_jobs(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Every CronJob runs: not suspended, a valid schedule that fires, a deadline so a hung run ends."""
    for job in _k8s(args, "CronJob"):
        spec = as_map(job.props.get("spec"))
        if spec.get("suspend") is not None and spec.get("suspend") is not False:
            yield f"CronJob {_name(job)} is suspended: it never runs.", job.urn
        gap = max_gap_minutes(str(spec.get("schedule", "")))
        if gap is None or gap == math.inf:
            yield f"CronJob {_name(job)} has a schedule that is invalid or never fires.", job.urn
        if not as_int(get(spec, "jobTemplate.spec.activeDeadlineSeconds"), 0):
            yield f"CronJob {_name(job)} has no activeDeadlineSeconds: a hung run blocks every later one.", job.urn


def _threshold(condition: Any) -> tuple[str, float] | None:
    match = re.fullmatch(r"\s*result(?:\[0\])?\s*(>=|>|<=|<)\s*([0-9.eE+-]+)\s*", str(condition or ""))
    if not match:
        return None
    value = as_float(match.group(2))
    return None if value is None else (match.group(1), value)


def analysis(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Rollout analysis can fail, and its thresholds are at least as strict as the SLO."""
    min_success = as_float(config.get("minSuccessRate"), 0.99) or 0.99
    max_latency = as_float(config.get("maxLatencySeconds"), 0.5) or 0.5
    for template in _k8s(args, "AnalysisTemplate", "ClusterAnalysisTemplate"):
        metrics = maps(get(template.props, "spec.metrics"))
        if not metrics:
            yield f"AnalysisTemplate {_name(template)} has no metric: it always passes.", template.urn
        for metric in metrics:
            label = f"AnalysisTemplate {_name(template)} metric {metric.get('name')}"
            if truthy(metric.get("dryRun")) or get(template.props, "spec.dryRun"):
                yield f"{label} runs as a dry run: its result is ignored.", template.urn
            count = as_int(metric.get("count"), None)
            limit = as_int(metric.get("failureLimit"), 0)
            if limit is not None and (limit < 0 or (count is not None and limit >= count)):
                yield f"{label} tolerates {limit} failures of {count} measurements: it cannot fail.", template.urn
            if "prometheus" not in as_map(metric.get("provider")):
                continue
            success, failure = metric.get("successCondition"), metric.get("failureCondition")
            if not success and not failure:
                yield f"{label} has no success or failure condition: it cannot fail.", template.urn
                continue
            bound = _threshold(success)
            if bound is None:
                if str(success).strip().lower() in ("true", "1", "len(result) >= 0"):
                    yield f"{label} succeeds unconditionally.", template.urn
                continue
            op, value = bound
            if op in (">=", ">") and value < min_success:
                yield f"{label} accepts a success rate of {value:g}, below the SLO's {min_success:g}.", template.urn
            if op in ("<=", "<") and value > max_latency:
                yield f"{label} accepts a latency of {value:g}s, above the SLO's {max_latency:g}s.", template.urn


def rollout_bounds(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Argo Rollouts: every strategy is analysed, bounded, and reported back to pulumi up."""
    templates = {(namespace_of(t.props), _name(t)) for t in _k8s(args, "AnalysisTemplate")}
    for r in _k8s(args, "Rollout"):
        strategy = as_map(get(r.props, "spec.strategy"))
        name = f"Rollout {_name(r)}"
        if not get(r.props, "metadata.annotations.pulumi.com/waitFor") and not as_map(
            get(r.props, "metadata.annotations")
        ).get("pulumi.com/waitFor"):
            yield f"{name} has no pulumi.com/waitFor annotation: pulumi up cannot see an aborted rollout.", r.urn
        refs: list[Any] = []
        if "blueGreen" in strategy:
            bg = as_map(strategy.get("blueGreen"))
            pre, post = as_map(bg.get("prePromotionAnalysis")), as_map(bg.get("postPromotionAnalysis"))
            if not maps(pre.get("templates")):
                yield f"{name} promotes blue-green without pre-promotion analysis.", r.urn
            if not maps(post.get("templates")):
                yield f"{name} has no post-promotion analysis: a bad release stays live.", r.urn
            refs += maps(pre.get("templates")) + maps(post.get("templates"))
            delay = as_int(bg.get("scaleDownDelaySeconds"), 30)
            if delay is not None and delay < 30:
                yield (
                    f"{name} scales the old version down after {delay}s: an abort has nothing warm to return to.",
                    r.urn,
                )
        elif "canary" in strategy:
            canary = as_map(strategy.get("canary"))
            steps = maps(canary.get("steps"))
            analysed = maps(get(canary, "analysis.templates")) + [
                t for s in steps for t in maps(get(s, "analysis.templates"))
            ]
            if steps:
                weights = [as_int(s.get("setWeight"), -1) for s in steps if "setWeight" in s]
                valid = [w for w in weights if w is not None and 0 <= w <= 100]
                if len(valid) != len(weights) or valid != sorted(valid):
                    yield f"{name} canary weights {weights} are not increasing steps within 0..100.", r.urn
                if not any("pause" in s for s in steps):
                    yield f"{name} canary never pauses to measure a step.", r.urn
            else:  # no steps: a rolling update, bounded by maxUnavailable
                unavailable = str(canary.get("maxUnavailable", "25%")).strip()
                share = as_float(unavailable[:-1]) if unavailable.endswith("%") else None
                if unavailable.endswith("%") and (share is None or share > 50):
                    yield f"{name} may take {unavailable} of its pods down at once (maxUnavailable).", r.urn
            if not analysed:
                yield f"{name} shifts traffic to a new version without analysis.", r.urn
            refs += analysed
        else:
            yield f"{name} has no blueGreen or canary strategy.", r.urn
        for ref in refs:
            key = (namespace_of(r.props), str(ref.get("templateName")))
            if not ref.get("clusterScope") and key not in templates:
                yield f"{name} refers to AnalysisTemplate {key[1]}, which the stack does not declare.", r.urn


def protect(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Stateful resources carry Pulumi's protect option, so a stray destroy or replace cannot drop them."""
    types = set(strings(config.get("types"))) or STATEFUL_TYPES
    for r in args.resources:
        if r.resource_type in types and not getattr(r.opts, "protect", False):
            yield f"{r.resource_type.rsplit(':', 1)[-1]} {r.name} is not protected (protect option).", r.urn


STATEFUL_TYPES = {
    "eks:index:Cluster",
    "aws:eks/cluster:Cluster",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:backup/vault:Vault",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication",
    "kubernetes:core/v1:PersistentVolumeClaim",
}


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
        config={"minRetentionDays": {"type": "integer", "minimum": 0, "default": 0}},
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
    stack_policy(
        name="k8s-network-policy-disallow-allow-all",
        description="No NetworkPolicy rule admits every peer, every namespace or the whole internet.",
        rule=open_network_policy,
        severity=Severity.HIGH,
        remediation="Name the peers (podSelector, namespaceSelector with labels, or private ipBlocks) and ports.",
    ),
    stack_policy(
        name="k8s-namespace-require-pod-security-admission",
        description="Namespaces that run workloads enforce the baseline or restricted Pod Security Standard.",
        rule=pod_security_admission,
        severity=Severity.HIGH,
        remediation="Label the namespace pod-security.kubernetes.io/enforce: baseline (or restricted).",
    ),
    stack_policy(
        name="k8s-workload-disallow-default-namespace",
        description="No workload runs in the default, kube-system or kube-public namespace.",
        rule=default_namespace,
        severity=Severity.MEDIUM,
        remediation="Deploy workloads into their own namespace with its policies, quota and limits.",
    ),
    stack_policy(
        name="k8s-pod-disallow-unused-service-account-token",
        description="Pods whose ServiceAccount has no Kubernetes permission do not mount an API token.",
        rule=unused_token,
        severity=Severity.MEDIUM,
        remediation="Set automountServiceAccountToken: false on the pod or its ServiceAccount (IRSA is separate).",
    ),
    stack_policy(
        name="k8s-rbac-disallow-privilege-escalation",
        description="No Role grants escalate, bind, impersonate, exec or all Secrets; nothing goes to anonymous users.",
        rule=rbac_escalation,
        severity=Severity.HIGH,
        remediation="Grant named resources (resourceNames for Secrets) and never escalate/bind/impersonate.",
    ),
    stack_policy(
        name="eks-node-group-require-stateful-capacity",
        description="Stateful pods run on on-demand nodes, with at least one node per replica that must not share one.",
        rule=stateful_nodes,
        severity=Severity.HIGH,
        remediation="Use capacityType ON_DEMAND and a minSize of at least the replica count for the Redis node group.",
    ),
    stack_policy(
        name="k8s-cronjob-require-schedule-that-runs",
        description="CronJobs are not suspended, fire on a valid schedule and have a deadline.",
        rule=cron_jobs,
        severity=Severity.HIGH,
        remediation="Unset suspend, fix the schedule and set jobTemplate.spec.activeDeadlineSeconds.",
    ),
    stack_policy(
        name="argo-analysis-require-failable-slo-thresholds",
        description="Rollout analysis can fail, and its thresholds are at least as strict as the SLO.",
        rule=analysis,
        severity=Severity.HIGH,
        remediation="Give every metric a success condition at the SLO, a failureLimit below its count, no dryRun.",
        config={
            "minSuccessRate": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.99},
            "maxLatencySeconds": {"type": "number", "exclusiveMinimum": 0, "default": 0.5},
        },
    ),
    stack_policy(
        name="argo-rollout-require-bounded-strategy",
        description="Rollouts are analysed, step up gradually and fail pulumi up when aborted.",
        rule=rollout_bounds,
        severity=Severity.HIGH,
        remediation="Use the RedisGateway delivery settings: analysis templates, rising weights, pulumi.com/waitFor.",
    ),
    stack_policy(
        name="pulumi-stateful-resource-require-protect",
        description="Clusters, buckets, keys, vaults, volumes and Redis carry Pulumi's protect option.",
        rule=protect,
        severity=Severity.HIGH,
        remediation="Set redisgw:protectStatefulResources: true.",
        config={"types": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
]


_SECRET_VALUE = re.compile(
    r"(\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|hooks\.slack\.com/(services|workflows)/"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@)"
)


def configmap_secrets(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """ConfigMaps are readable by anyone who may read the namespace's configuration: no secrets there."""
    for cm in _k8s(args, "ConfigMap"):
        entries = [*known_items(cm.props.get("data")), *known_items(cm.props.get("binaryData"))]
        for key, value, known in entries:
            text = value if isinstance(value, str) else ""
            # A value not known yet is judged by its key alone (and again, known, at `pulumi up`).
            if (SECRET_NAME.search(key) and (text or not known)) or _SECRET_VALUE.search(text):
                yield (
                    Finding(f"ConfigMap {_name(cm)} holds a secret in key {key}; use a Secret.", field=f"data.{key}"),
                    cm.urn,
                )


def redis_data(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Redis requires a password, keeps its data on a persistent, retained volume, and exports metrics."""
    retained = {_name(sc) for sc in _k8s(args, "StorageClass") if sc.props.get("reclaimPolicy") == "Retain"}
    for redis in _k8s(args, "RedisReplication", "Redis", "RedisCluster"):
        spec = as_map(redis.props.get("spec"))
        label = f"{k8s_kind(redis.resource_type)} {_name(redis)}"
        secret = as_map(get(spec, "kubernetesConfig.redisSecret"))
        if not secret.get("name") or not secret.get("key"):
            yield (
                f"{label} has no password (kubernetesConfig.redisSecret): anyone on the network can read it.",
                redis.urn,
            )
        claim = as_map(get(spec, "storage.volumeClaimTemplate.spec"))
        if not claim:
            yield f"{label} keeps its data in the pod (no storage.volumeClaimTemplate): a restart loses it.", redis.urn
        elif get(spec, "storage.keepAfterDelete") is not True and claim.get("storageClassName") not in retained:
            yield (
                f"{label}'s volumes are deleted with it (storage.keepAfterDelete, or a Retain StorageClass).",
                redis.urn,
            )
        if not truthy(get(spec, "redisExporter.enabled")):
            yield f"{label} exports no metrics (redisExporter.enabled): its alerts cannot fire.", redis.urn


def helm_pinned(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Charts come from a named https repository at an exact version, so a plan means one thing."""
    for release in args.resources:
        if release.resource_type not in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
            continue
        version = release.props.get("version")
        if not isinstance(version, str) or not re.fullmatch(r"v?\d+\.\d+\.\d+([-+][\w.]+)?", version):
            yield f"Helm release {release.name} does not pin its chart to an exact version ({version!r}).", release.urn
        repo = str(get(release.props, "repositoryOpts.repo") or get(release.props, "repo") or "")
        chart = str(release.props.get("chart") or "")
        if not (repo.startswith("https://") or chart.startswith("oci://")):
            yield f"Helm release {release.name} does not name an https or OCI chart repository.", release.urn


POLICIES += [
    stack_policy(
        name="k8s-configmap-disallow-secrets",
        description="No ConfigMap holds a password, token, key or credential-bearing URL.",
        rule=configmap_secrets,
        severity=Severity.HIGH,
        remediation="Move the value to a Secret (from pulumi-random or secret config) and reference it.",
    ),
    stack_policy(
        name="redis-require-auth-persistence-and-metrics",
        description="Redis requires a password, keeps data on retained persistent volumes and exports metrics.",
        rule=redis_data,
        severity=Severity.HIGH,
        remediation="Set kubernetesConfig.redisSecret, storage (keepAfterDelete) and redisExporter.enabled.",
    ),
    stack_policy(
        name="helm-release-require-pinned-chart",
        description="Helm releases pin an exact chart version from an https or OCI repository.",
        rule=helm_pinned,
        severity=Severity.MEDIUM,
        remediation="Set version to an exact chart version (the *_CHART constants) and repositoryOpts.repo to https.",
    ),
]


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _duration_seconds(text: Any) -> float | None:
    """Seconds in a Prometheus duration (``30s``, ``5m``, ``1.5h``, ``30d``, ``1w``), None if not one."""
    value = str(text).strip() if text is not None else ""
    if len(value) < 2 or value[-1] not in _DURATION_UNITS:
        return None
    number = as_float(value[:-1])
    return None if number is None or number < 0 else number * _DURATION_UNITS[value[-1]]


def backup_age_alert(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The backup-age alert can see a missed backup in time: it fires once the newest backup is older
    than the schedule's gap plus a run's deadline, not an hour later, and never between healthy runs."""
    name = config.get("cronJobName", "redis-backup")
    grace = as_int(config.get("graceSeconds"), 300) or 0
    jobs = [j for j in _k8s(args, "CronJob") if _name(j) == name]
    if not jobs:
        return  # k8s-backup-require-cronjob-and-storage reports the missing job
    spec = as_map(jobs[0].props.get("spec"))
    gap = max_gap_minutes(str(spec.get("schedule", "")))
    if gap is None or gap == math.inf:
        return  # k8s-cronjob-require-schedule-that-runs reports it
    deadline = as_int(get(spec, "jobTemplate.spec.activeDeadlineSeconds"), 0) or 0
    window = gap * 60 + deadline
    alerts = [
        (rule, rule_set)
        for rule_set in _k8s(args, "PrometheusRule")
        for group in maps(get(rule_set.props, "spec.groups"))
        for rule in maps(group.get("rules"))
        if "alert" in rule and "last_successful_time" in str(rule.get("expr")) and name in str(rule.get("expr"))
    ]
    if not alerts:
        yield f"No alert watches the age of the last successful {name} run: a stopped backup pages nobody.", jobs[0].urn
        return
    for rule, rule_set in alerts:
        match = re.search(r">\s*([0-9.]+)\s*$", str(rule.get("expr")))
        threshold = as_float(match.group(1)) if match else None
        wait = _duration_seconds(rule.get("for")) or 0
        label = f"Alert {rule['alert']}"
        if threshold is None:
            yield f"{label} has no age threshold in seconds (expr ... > N).", rule_set.urn
        elif threshold < gap * 60:
            yield f"{label} fires after {threshold:g}s, inside the {gap * 60:g}s between healthy backups.", rule_set.urn
        elif threshold + wait > window + grace:
            yield (
                f"{label} waits {threshold + wait:g}s; a missed backup must page within {window + grace:g}s "
                f"(schedule gap {gap * 60:g}s + deadline {deadline}s + {grace}s).",
                rule_set.urn,
            )


POLICIES.append(
    stack_policy(
        name="monitoring-alert-require-backup-age-within-rpo",
        description="A backup-age alert pages within the backup schedule's gap plus a run's deadline.",
        rule=backup_age_alert,
        severity=Severity.HIGH,
        remediation="Derive the alert's threshold from the schedule (MonitoringStack backup_max_age_seconds).",
        config={
            "cronJobName": {"type": "string", "default": "redis-backup"},
            "graceSeconds": {"type": "integer", "minimum": 0, "default": 300},
        },
    )
)


_BURN = re.compile(r"ratio_rate(\d+(?:\.\d+)?[smhd])\s*>\s*\(?\s*([0-9.]+)\s*\*\s*([0-9.eE-]+)\s*\)?")
"""``<record>ratio_rate1h > (14.4 * 0.001)``: the window, the burn factor and the error budget."""


def burn_rate_alerts(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The SLO alerts catch a breach while most of the error budget is left: a page (critical) on a
    fast burn, a ticket (warning) on a slow one, each consuming at most the configured share of the
    budget before it fires (burn factor x long window / budget period), with both windows of a
    multi-window alert at the same factor, and the budget the same everywhere (one SLO)."""
    period = (_duration_seconds(config.get("budgetPeriod", "30d")) or 30 * 86400) / 3600
    limits = {
        "critical": (as_float(config.get("maxBudgetBeforePage"), 0.02) or 0.02, 300.0),
        "warning": (as_float(config.get("maxBudgetBeforeTicket"), 0.05) or 0.05, 1800.0),
    }
    for rule_set in _k8s(args, "PrometheusRule"):
        burns = []
        for group in maps(get(rule_set.props, "spec.groups")):
            for rule in maps(group.get("rules")):
                expr = str(rule.get("expr", ""))
                if "alert" not in rule or "request_errors" not in expr:
                    continue
                terms = _BURN.findall(expr)
                label = f"Alert {rule.get('alert')}"
                if not terms:
                    yield f"{label} reads the error ratio in a form this check cannot verify.", rule_set.urn
                    continue
                windows = [(_duration_seconds(w) or 0) / 3600 for w, _, _ in terms]
                factors = {float(f) for _, f, _ in terms}
                budgets = {float(b) for _, _, b in terms}
                severity = str(as_map(rule.get("labels")).get("severity", ""))
                burns.append(
                    (label, severity, max(windows), factors, budgets, _duration_seconds(rule.get("for", "0s")))
                )
        if not any(
            "request_errors" in str(r.get("expr", ""))
            for g in maps(get(rule_set.props, "spec.groups"))
            for r in maps(g.get("rules"))
        ):
            continue
        budgets_seen = {b for *_, budgets, _ in burns for b in budgets}
        if len(budgets_seen) > 1:
            yield (
                f"The burn-rate alerts use different error budgets {sorted(budgets_seen)}: one SLO, one budget.",
                rule_set.urn,
            )
        for severity, (share, max_for) in limits.items():
            found = [b for b in burns if b[1] == severity]
            if not found:
                kind = "page (critical)" if severity == "critical" else "ticket (warning)"
                yield f"No {kind} burn-rate alert: a breach of the availability SLO would go unnoticed.", rule_set.urn
                continue
            for label, _, window, factors, _, wait in found:
                if len(factors) > 1:
                    yield f"{label} compares its windows with different burn factors {sorted(factors)}.", rule_set.urn
                consumed = max(factors) * window / period
                if consumed > share + 1e-9:
                    yield (
                        f"{label} fires after {consumed:.1%} of the error budget is gone "
                        f"(factor {max(factors):g} over {window:g}h of a {period:g}h budget); at most {share:.0%}.",
                        rule_set.urn,
                    )
                if wait is not None and wait > max_for:
                    yield f"{label} waits {wait:g}s before firing; at most {max_for:g}s.", rule_set.urn


POLICIES.append(
    stack_policy(
        name="monitoring-alert-require-slo-burn-detection",
        description="Burn-rate alerts page and ticket before the configured share of the error budget is gone.",
        rule=burn_rate_alerts,
        severity=Severity.HIGH,
        remediation="Keep the MonitoringStack's multi-window burn-rate alerts (14.4x over 1h paging, 6x over 6h).",
        config={
            "budgetPeriod": {"type": "string", "default": "30d"},
            "maxBudgetBeforePage": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.02},
            "maxBudgetBeforeTicket": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.05},
        },
    )
)
