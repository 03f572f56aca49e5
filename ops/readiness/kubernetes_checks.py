"""The Kubernetes items of the scorecard.

**The pack's rules on live objects.** The objects the program declared (labelled
``app.kubernetes.io/part-of=redis-gateway`` by the program and ``app.kubernetes.io/managed-by=pulumi``
by the provider) are handed to the same policy objects ``pulumi preview`` runs, as
``PolicyResource`` values whose properties are the live objects, with the stack's enforcement
config and exemptions. Each policy of :data:`LIVE_POLICIES` is one item: fail on a mandatory
violation, warn on an advisory one. Policies about AWS resources, Helm releases or Pulumi options
have no live Kubernetes object to judge; the AWS items and the runtime items stand in for them.

**Runtime facts** only a running cluster knows, read in the stack's namespaces (every object there,
the ones the charts and the redis-operator create included): workloads ready, PDBs that allow a
disruption, HPAs below their maximum and able to read metrics, no pod restarting in a loop or
pending, CronJobs succeeding on schedule, and Prometheus, Alertmanager and Grafana running.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ops.readiness import pack
from ops.readiness.kube import ref, resource_type
from ops.readiness.model import Item, Status, item

PART_OF = ("app.kubernetes.io/part-of", "redis-gateway")
MANAGED_BY = ("app.kubernetes.io/managed-by", "pulumi")

LIVE_POLICIES: dict[str, str] = {
    # security
    "k8s-container-require-non-root": "security",
    "k8s-container-require-read-only-root-filesystem": "security",
    "k8s-container-disallow-privilege-escalation": "security",
    "k8s-container-require-drop-all-capabilities": "security",
    "k8s-container-disallow-latest-tag": "security",
    "k8s-container-require-allowed-registry": "security",
    "k8s-container-disallow-host-ports": "security",
    "k8s-container-require-seccomp-profile": "security",
    "k8s-container-restrict-security-options": "security",
    "k8s-container-disallow-plaintext-secrets": "security",
    "k8s-pod-disallow-host-namespaces": "security",
    "k8s-pod-restrict-volume-types": "security",
    "k8s-pod-restrict-sysctls-and-apparmor": "security",
    "k8s-namespace-require-default-deny": "security",
    "k8s-network-policy-disallow-allow-all": "security",
    "k8s-namespace-require-pod-security-admission": "security",
    "k8s-rbac-disallow-wildcard-permissions": "security",
    "k8s-rbac-disallow-privilege-escalation": "security",
    "k8s-workload-require-dedicated-service-account": "security",
    "k8s-pod-disallow-unused-service-account-token": "security",
    "k8s-workload-require-declared-secrets": "security",
    "k8s-configmap-disallow-secrets": "security",
    "k8s-service-disallow-external-exposure": "security",
    "k8s-workload-disallow-default-namespace": "security",
    "alb-ingress-require-https": "security",
    "elb-listener-require-modern-tls-policy": "security",
    "elb-load-balancer-require-logs-and-header-hygiene": "security",
    "alb-ingress-require-waf": "security",
    "k8s-ingress-require-alb-class": "security",
    "ec2-volume-require-encryption": "security",
    # resource management
    "k8s-namespace-require-resource-quota": "resources",
    "k8s-namespace-require-limit-range": "resources",
    "k8s-container-require-resources": "resources",
    "k8s-namespace-require-quota-for-rollout": "resources",
    # monitoring
    "k8s-service-require-service-monitor": "monitoring",
    "monitoring-alert-require-slo-burn-detection": "monitoring",
    # backup and recovery
    "k8s-backup-require-cronjob-and-storage": "backup-recovery",
    "k8s-cronjob-require-schedule-that-runs": "backup-recovery",
    "monitoring-alert-require-backup-age-within-rpo": "backup-recovery",
    "redis-require-auth-persistence-and-metrics": "backup-recovery",
    # high availability
    "k8s-workload-require-pdb": "high-availability",
    "k8s-pdb-require-hpa-consistency": "high-availability",
    "k8s-workload-require-hpa": "high-availability",
    "k8s-workload-require-anti-affinity": "high-availability",
    "k8s-container-require-probes": "high-availability",
    # performance and capacity
    "argo-rollout-require-bounded-strategy": "performance-capacity",
    "argo-analysis-require-failable-slo-thresholds": "performance-capacity",
    # documentation
    "monitoring-alert-require-runbook-url": "documentation",
}
"""Policy -> scorecard category: the pack's policies that judge Kubernetes objects alone."""

NOT_LIVE: dict[str, str] = {
    "monitoring-stack-require-prometheus-grafana-alertmanager": (
        "judges the Helm release; live: see monitoring-stack-running"
    ),
    "helm-release-require-pinned-chart": "judges Helm releases, which are not Kubernetes objects",
    "pulumi-stateful-resource-require-protect": "judges Pulumi resource options",
    "eks-node-group-require-stateful-capacity": "judges EKS node groups (AWS)",
    "eks-node-group-require-capacity-for-rollout": "judges EKS node groups (AWS)",
    "redis-pods-require-redis-node-group": "matches the Redis pods to the tainted EKS node group (AWS)",
    "capacity-require-declared-peak": "judges node groups and the plan; live: hpa-below-max, pods-scheduled",
    "k8s-job-require-pinned-ops-image": "matches the jobs' images to the ECR repository the plan declares (AWS)",
}
"""Pack policies that read Kubernetes objects together with something a cluster does not hold."""

NEEDS: dict[str, str] = {"k8s-workload-require-declared-secrets": "Secret"}
"""Live policies that cannot judge without a kind the credentials may be denied (see ``kube.OPTIONAL_KINDS``)."""

LOOP_RESTARTS = 5
"""A container restarted this often, or waiting in CrashLoopBackOff, is in a restart loop."""
PENDING_GRACE = datetime.timedelta(minutes=5)


def labelled(obj: Mapping[str, Any], label: tuple[str, str]) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(label[0]) == label[1]


def declared(objects: Iterable[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The objects the program declared (see the module's docstring)."""
    return [o for o in objects if labelled(o, PART_OF) and labelled(o, MANAGED_BY)]


def live_options() -> Any:
    """The resource options of a live object: nothing Pulumi-side is known of it."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions

    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0.0, 0.0, 0.0), [], None)


def as_policy_resources(objects: Iterable[Mapping[str, Any]], stack: str) -> list[Any]:
    """Live objects as the analyzer hands resources to policies. The URN ends in ``namespace/name``
    and carries the type, so exemptions can name a live object by glob."""
    from pulumi_policy import PolicyResource

    out = []
    for obj in objects:
        md = obj.get("metadata") or {}
        name = f"{md['namespace']}/{md.get('name')}" if md.get("namespace") else str(md.get("name"))
        typ = resource_type(obj)
        urn = f"urn:pulumi:{stack}::live::{typ}::{name}"
        out.append(PolicyResource(typ, obj, urn, name, live_options(), None, None, [], {}))
    return out


def pack_items(
    objects: Sequence[Mapping[str, Any]], stack: str, unreadable: frozenset[str] = frozenset()
) -> list[Item]:
    """One item per live policy; a policy that needs a kind the credentials may not list warns."""
    config = pack.pack_config(stack)
    blind = [p for p in pack.policies() if p.name in LIVE_POLICIES and NEEDS.get(p.name) in unreadable]
    chosen = [p for p in pack.policies() if p.name in LIVE_POLICIES and p not in blind]
    resources = as_policy_resources(declared(objects), stack)
    by_urn = {r.urn: r for r in resources}
    hits = pack.evaluate(resources, config, chosen)
    items = [
        item(
            f"policy:{policy.name}",
            LIVE_POLICIES[policy.name],
            policy.description,
            "kubernetes",
            "warn",
            [f"not judged: these credentials may not list {NEEDS[policy.name]}s (the CronJob's role never reads them)"],
        )
        for policy in blind
    ]
    for policy in chosen:
        level = config[policy.name][0]
        if level == "disabled":
            continue
        mine = [h for h in hits if h.policy == policy.name]
        evidence = []
        for h in mine:
            target = by_urn.get(h.urn or "")
            where = ref(target.props) if target is not None else "stack"
            evidence.append(f"{where}: {h.message.split(' Remediation: ')[0]}")
        status: Status = "pass" if not mine else ("fail" if level == "mandatory" else "warn")
        items.append(
            item(
                f"policy:{policy.name}",
                LIVE_POLICIES[policy.name],
                policy.description,
                "kubernetes",
                status,
                evidence,
            )
        )
    return items


# -- runtime facts -------------------------------------------------------------------------------


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _of(objects: Iterable[Mapping[str, Any]], *kinds: str) -> Sequence[Mapping[str, Any]]:
    return [o for o in objects if o.get("kind") in kinds]


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, Mapping)}


def workloads_ready(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for obj in _of(objects, "Deployment", "StatefulSet"):
        want, status = _int((obj.get("spec") or {}).get("replicas"), 1), obj.get("status") or {}
        ready = _int(status.get("readyReplicas"))
        if ready < want:
            problems.append(f"{ref(obj)}: {ready} of {want} replicas ready")
    for obj in _of(objects, "DaemonSet"):
        status = obj.get("status") or {}
        want, ready = _int(status.get("desiredNumberScheduled")), _int(status.get("numberReady"))
        if ready < want:
            problems.append(f"{ref(obj)}: {ready} of {want} pods ready")
    for obj in _of(objects, "Rollout"):
        status = obj.get("status") or {}
        phase = status.get("phase")
        want, ready = _int((obj.get("spec") or {}).get("replicas"), 1), _int(status.get("availableReplicas"))
        if phase != "Healthy":
            problems.append(f"{ref(obj)}: phase {phase or 'unknown'} ({status.get('message') or 'no message'})")
        elif ready < want:
            problems.append(f"{ref(obj)}: {ready} of {want} replicas available")
    return problems


def pdbs_allow_disruption(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for obj in _of(objects, "PodDisruptionBudget"):
        status = obj.get("status") or {}
        if _int(status.get("disruptionsAllowed")) < 1:
            problems.append(
                f"{ref(obj)}: allows no disruption ({_int(status.get('currentHealthy'))} healthy, "
                f"{_int(status.get('desiredHealthy'))} required): a node drain would block"
            )
    return problems


def hpas_below_max(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for obj in _of(objects, "HorizontalPodAutoscaler"):
        most = _int((obj.get("spec") or {}).get("maxReplicas"))
        current = _int((obj.get("status") or {}).get("currentReplicas"))
        if most and current >= most:
            problems.append(f"{ref(obj)}: pinned at its maximum ({current} of {most}): no headroom left")
    return problems


def hpas_scaling(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for obj in _of(objects, "HorizontalPodAutoscaler"):
        conditions = _conditions(obj)
        for name in ("AbleToScale", "ScalingActive"):
            condition = conditions.get(name)
            if condition is not None and condition.get("status") == "False":
                problems.append(f"{ref(obj)}: {name} is False ({condition.get('reason') or 'no reason'})")
    return problems


def pods_not_restarting(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for pod in _of(objects, "Pod"):
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for c in statuses:
            if not isinstance(c, Mapping):
                continue
            waiting = ((c.get("state") or {}).get("waiting") or {}).get("reason")
            restarts = _int(c.get("restartCount"))
            if waiting == "CrashLoopBackOff" or restarts >= LOOP_RESTARTS:
                last = ((c.get("lastState") or {}).get("terminated") or {}).get("reason")
                problems.append(
                    f"{ref(pod)}: container {c.get('name')} restarted {restarts} times"
                    + (f", waiting in {waiting}" if waiting else "")
                    + (f", last ended {last}" if last else "")
                )
    return problems


def pods_scheduled(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    problems = []
    for pod in _of(objects, "Pod"):
        status = pod.get("status") or {}
        created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
        if status.get("phase") == "Pending" and created is not None and now - created > PENDING_GRACE:
            why = _conditions(pod).get("PodScheduled", {}).get("message") or "not scheduled"
            problems.append(f"{ref(pod)}: pending for {int((now - created).total_seconds() // 60)} min ({why})")
    return problems


def cronjobs_on_schedule(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    """Every CronJob's last success is no older than the run before the latest scheduled one (the
    latest may still be running). A suspended CronJob is the pack's finding
    (``k8s-cronjob-require-schedule-that-runs``); here it fails once its runs are missed."""
    from croniter import croniter

    problems = []
    for obj in _of(objects, "CronJob"):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        schedule = spec.get("schedule")
        try:
            runs = croniter(str(schedule), now)
            latest = runs.get_prev(datetime.datetime)
            before = runs.get_prev(datetime.datetime)
        except Exception:  # croniter raises several types for a schedule it cannot read
            problems.append(f"{ref(obj)}: schedule {schedule!r} cannot be read")
            continue
        created = _time((obj.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and created > before:
            continue  # too young to have missed a run
        success = _time(status.get("lastSuccessfulTime"))
        if success is None:
            problems.append(f"{ref(obj)}: no successful run yet (scheduled {schedule})")
        elif success < before:
            age = int((now - success).total_seconds() // 60)
            problems.append(
                f"{ref(obj)}: last success {age} min ago, before the run due at {before:%Y-%m-%d %H:%M} "
                f"(schedule {schedule}; latest due {latest:%H:%M})"
            )
    return problems


MONITORING_COMPONENTS = ("prometheus", "alertmanager", "grafana")


def monitoring_running(objects: Sequence[Mapping[str, Any]], now: datetime.datetime) -> list[str]:
    ready: set[str] = set()
    for pod in _of(objects, "Pod"):
        name = ((pod.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name")
        if name in MONITORING_COMPONENTS and _conditions(pod).get("Ready", {}).get("status") == "True":
            ready.add(str(name))
    return [f"no ready {c} pod in the stack's namespaces" for c in MONITORING_COMPONENTS if c not in ready]


RuntimeCheck = Callable[[Sequence[Mapping[str, Any]], datetime.datetime], list[str]]
RUNTIME_CHECKS: tuple[tuple[str, str, str, RuntimeCheck], ...] = (
    ("workloads-ready", "high-availability", "Every workload has its replicas ready", workloads_ready),
    ("pdb-allows-disruption", "high-availability", "Every PDB allows at least one disruption", pdbs_allow_disruption),
    ("pods-not-restarting", "resources", "No container is restarting in a loop", pods_not_restarting),
    ("pods-scheduled", "performance-capacity", "No pod is left pending by the scheduler", pods_scheduled),
    ("hpa-below-max", "performance-capacity", "No autoscaler is pinned at its maximum", hpas_below_max),
    ("hpa-scaling-active", "performance-capacity", "Every autoscaler can read its metrics", hpas_scaling),
    ("cronjobs-on-schedule", "backup-recovery", "Every CronJob succeeds on its schedule", cronjobs_on_schedule),
    ("monitoring-stack-running", "monitoring", "Prometheus, Alertmanager and Grafana run", monitoring_running),
)
"""(id, category, title, check): runtime facts over the objects of the stack's namespaces."""


def in_namespaces(objects: Iterable[Mapping[str, Any]], namespaces: Iterable[str]) -> Sequence[Mapping[str, Any]]:
    wanted = set(namespaces)
    return [o for o in objects if (o.get("metadata") or {}).get("namespace") in wanted]


def runtime_items(
    objects: Sequence[Mapping[str, Any]], namespaces: Iterable[str], now: datetime.datetime
) -> list[Item]:
    scoped = in_namespaces(objects, namespaces)
    return [
        item(check_id, category, title, "kubernetes", "fail" if (problems := check(scoped, now)) else "pass", problems)
        for check_id, category, title, check in RUNTIME_CHECKS
    ]


def stack_namespaces(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The namespaces the program declared (where no targets say otherwise)."""
    return sorted(str((o.get("metadata") or {}).get("name")) for o in declared(objects) if o.get("kind") == "Namespace")
