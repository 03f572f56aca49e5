"""The Kubernetes items of the scorecard.

**The pack's rules on live objects.** Objects are sorted by who made them (:mod:`ops.readiness.ownership`:
owner references first, then the program's ``part-of`` label, charts, Kubernetes' own). What the
program declared, and whatever else stands in the stack's namespaces without an owner (added by
hand), is handed to the same policy objects ``pulumi preview`` runs, as ``PolicyResource`` values
whose properties are the live objects, with the stack's enforcement config and exemptions. Each
policy of :data:`LIVE_POLICIES` is one item: fail on a mandatory violation, warn on an advisory one;
a pass names what was judged. Objects a controller made (the redis-operator's StatefulSets, pods,
Services and PDBs, Argo's and the Job controller's pods) are not judged by those rules: the item
``controllers-match-their-resources`` judges them against the resource that owns them. Policies
about AWS resources, Helm releases or Pulumi options have no live Kubernetes object to judge; the
AWS items and the runtime items stand in for them.

**Runtime facts** only a running cluster knows, read in the stack's namespaces (every object there,
the ones the charts and the redis-operator create included): workloads ready, PDBs that allow a
disruption, HPAs below their maximum and able to read metrics, no pod restarting in a loop or
pending, CronJobs succeeding on schedule, Prometheus, Alertmanager and Grafana running, and the
Redis tier as the plan declares it. Windows and graces (documented on their constants):

* a restart loop is a container waiting in ``CrashLoopBackOff``, or one restarted at least
  :data:`LOOP_RESTARTS` times whose latest termination is within :data:`RESTART_WINDOW` or that
  restarts :data:`LOOP_RESTARTS_PER_DAY` times a day over its pod's life (the API keeps a lifetime
  count and the last termination only: old restarts do not count forever, steady ones do);
* an autoscaler at its maximum, or a workload short of ready replicas right after its autoscaler
  scaled it, passes for :data:`SCALE_GRACE` after the scale (a burst or a scale-up in progress);
  unready pods older than the grace fail it whatever the autoscaler did since.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops.readiness import ownership, pack
from ops.readiness.kube import KINDS, ref, resource_type
from ops.readiness.model import Item, Status, item
from ops.readiness.targets import Targets

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
    # high availability: the Redis tier's custom resources
    "redis-replication-require-two-replicas": "high-availability",
    "redis-sentinel-require-surviving-quorum": "high-availability",
    "redis-replication-require-sized-backlog": "backup-recovery",
    "k8s-workload-require-priority-class": "resources",
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
"""A container restarted this often, its latest termination within :data:`RESTART_WINDOW`, or waiting
in CrashLoopBackOff, is in a restart loop."""
LOOP_RESTARTS_PER_DAY = 5
"""...or restarted that often per day on average over the pod's life: a container killed every
couple of hours runs long enough between kills to leave both the back-off and the window."""
RESTART_WINDOW = datetime.timedelta(hours=1)
"""Restarts older than this do not make a loop: a container that restarted a few times weeks ago
and has run since is healthy."""
SCALE_GRACE = datetime.timedelta(minutes=15)
"""After an autoscaler scales, this long passes before its maximum, or the workload's replicas not
yet ready, count against it: a two-minute burst or a scale-up still starting pods is normal."""
PENDING_GRACE = datetime.timedelta(minutes=5)


def declared(objects: Iterable[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The objects the program declared (see :mod:`ops.readiness.ownership`)."""
    return ownership.of_origin(objects, "declared")


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


def _judged_summary(policy: Any, resources: Sequence[Any], foreign: set[str]) -> str:
    """What a passing policy looked at: the objects of the kinds it judges (all, for a stack rule)."""
    handles = getattr(policy, "handles", None)
    outside = sum(r.urn in foreign for r in resources)
    if handles is None:
        return f"no violation among the {len(resources)} objects judged" + (
            f" ({outside} of them not in the plan)" if outside else ""
        )
    mine = [r for r in resources if handles(r.resource_type)]
    if not mine:
        return "no object of the kinds it judges"
    kinds: dict[str, int] = {}
    for r in mine:
        kinds[str(r.props.get("kind"))] = kinds.get(str(r.props.get("kind")), 0) + 1
    shown = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    outside = sum(r.urn in foreign for r in mine)
    return f"no violation in {len(mine)} objects ({shown})" + (
        f", {outside} of them not in the plan" if outside else ""
    )


def pack_items(
    objects: Sequence[Mapping[str, Any]],
    stack: str,
    namespaces: Iterable[str],
    unreadable: frozenset[str] = frozenset(),
) -> list[Item]:
    """One item per live policy over :func:`ownership.judged` (what the program declared and what
    stands unowned in its namespaces); a policy that needs a kind the credentials may not list warns."""
    config = pack.pack_config(stack)
    blind = [p for p in pack.policies() if p.name in LIVE_POLICIES and NEEDS.get(p.name) in unreadable]
    chosen = [p for p in pack.policies() if p.name in LIVE_POLICIES and p not in blind]
    scope = list(namespaces)
    resources = as_policy_resources(ownership.judged(objects, scope), stack)
    outside = {id(o) for o in ownership.of_origin(objects, "foreign")}
    foreign = {r.urn for r in resources if id(r.props) in outside}
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
            if h.urn in foreign:
                where += " (not in the plan)"
            evidence.append(f"{where}: {h.message.split(' Remediation: ')[0]}")
        status: Status = "pass" if not mine else ("fail" if level == "mandatory" else "warn")
        items.append(
            item(
                f"policy:{policy.name}",
                LIVE_POLICIES[policy.name],
                policy.description,
                "kubernetes",
                status,
                evidence or [_judged_summary(policy, resources, foreign)],
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


@dataclass(frozen=True)
class Facts:
    """What a runtime check reads: the objects of the stack's namespaces, every object read (owners
    may be cluster-scoped), the time, and the plan's targets where the cluster has them."""

    scoped: Sequence[Mapping[str, Any]]
    objects: Sequence[Mapping[str, Any]]
    now: datetime.datetime
    targets: Targets | None = None


Found = tuple[list[str] | None, list[str]]
"""(problems, evidence for a pass): a check with no problem says what it saw; ``None`` for problems
means it cannot judge (a warning, with the reason as evidence)."""


def _scaled_recently(obj: Mapping[str, Any], facts: Facts) -> Mapping[str, Any] | None:
    """The autoscaler of ``obj`` if it scaled within :data:`SCALE_GRACE` (``status.lastScaleTime``)."""
    name, kind = (obj.get("metadata") or {}).get("name"), obj.get("kind")
    for hpa in _of(facts.scoped, "HorizontalPodAutoscaler"):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("name") != name or target.get("kind") != kind:
            continue
        if ownership.namespace(hpa) != ownership.namespace(obj):
            continue
        scaled = _time((hpa.get("status") or {}).get("lastScaleTime"))
        if scaled is not None and facts.now - scaled <= SCALE_GRACE:
            return hpa
    return None


def _old_unready_pods(obj: Mapping[str, Any], facts: Facts) -> list[str]:
    """The workload's pods (its selector's labels, its namespace) that are not ready and were made
    before :data:`SCALE_GRACE`: a scale-up's grace covers the pods it starts, not older ones that
    stay unready while the autoscaler keeps adding more."""
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not isinstance(selector, Mapping) or not selector:
        return []
    out = []
    for pod in _of(facts.scoped, "Pod"):
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if ownership.namespace(pod) != ownership.namespace(obj) or any(labels.get(k) != v for k, v in selector.items()):
            continue
        if _conditions(pod).get("Ready", {}).get("status") == "True" or (pod.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            continue
        created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
        if created is None or facts.now - created > SCALE_GRACE:
            out.append(ref(pod))
    return out


def _minutes(delta: datetime.timedelta) -> str:
    return f"{max(0, int(delta.total_seconds() // 60))} min"


def workloads_ready(facts: Facts) -> Found:
    problems, notes, seen = [], [], 0
    for obj in _of(facts.scoped, "Deployment", "StatefulSet", "DaemonSet", "Rollout"):
        seen += 1
        status, kind = obj.get("status") or {}, obj.get("kind")
        if kind == "DaemonSet":
            want, ready = _int(status.get("desiredNumberScheduled")), _int(status.get("numberReady"))
        elif kind == "Rollout":
            want, ready = _int((obj.get("spec") or {}).get("replicas"), 1), _int(status.get("availableReplicas"))
        else:
            want, ready = _int((obj.get("spec") or {}).get("replicas"), 1), _int(status.get("readyReplicas"))
        phase = status.get("phase") if kind == "Rollout" else None
        if kind == "Rollout" and phase not in ("Healthy", "Progressing"):
            problems.append(f"{ref(obj)}: phase {phase or 'unknown'} ({status.get('message') or 'no message'})")
            continue
        if ready >= want and phase != "Progressing":
            continue
        hpa = _scaled_recently(obj, facts)
        stale = _old_unready_pods(obj, facts) if hpa is not None else []
        if stale:
            problems.append(
                f"{ref(obj)}: {ready} of {want} ready; {len(stale)} unready pods older than the "
                f"{_minutes(SCALE_GRACE)} scale grace (e.g. {stale[0]})"
            )
        elif hpa is not None:
            since = _minutes(facts.now - (_time((hpa.get("status") or {}).get("lastScaleTime")) or facts.now))
            notes.append(
                f"{ref(obj)}: {ready} of {want} ready, scaled {since} ago by {ref(hpa)} (grace {_minutes(SCALE_GRACE)})"
            )
        elif phase == "Progressing":
            problems.append(
                f"{ref(obj)}: phase Progressing ({status.get('message') or 'no message'}), {ready} of {want} available"
            )
        else:
            problems.append(f"{ref(obj)}: {ready} of {want} replicas ready")
    return problems, [*notes, f"{seen} workloads with every replica ready" if not notes else f"{seen} workloads"]


def pdbs_allow_disruption(facts: Facts) -> Found:
    problems, pdbs = [], _of(facts.scoped, "PodDisruptionBudget")
    for obj in pdbs:
        status = obj.get("status") or {}
        if _int(status.get("disruptionsAllowed")) < 1:
            problems.append(
                f"{ref(obj)}: allows no disruption ({_int(status.get('currentHealthy'))} healthy, "
                f"{_int(status.get('desiredHealthy'))} required): a node drain would block"
            )
    return problems, [f"{len(pdbs)} PDBs each allow a disruption"]


def hpas_below_max(facts: Facts) -> Found:
    problems, notes, hpas = [], [], _of(facts.scoped, "HorizontalPodAutoscaler")
    for obj in hpas:
        most = _int((obj.get("spec") or {}).get("maxReplicas"))
        status = obj.get("status") or {}
        current = _int(status.get("currentReplicas"))
        if not most or current < most:
            continue
        scaled = _time(status.get("lastScaleTime"))
        if scaled is not None and facts.now - scaled <= SCALE_GRACE:
            notes.append(
                f"{ref(obj)}: at its maximum ({current}) for {_minutes(facts.now - scaled)}, within the "
                f"{_minutes(SCALE_GRACE)} grace for a burst"
            )
            continue
        held = f" since {_minutes(facts.now - scaled)} ago" if scaled is not None else ""
        problems.append(f"{ref(obj)}: pinned at its maximum ({current} of {most}){held}: no headroom left")
    return problems, [
        *notes,
        f"{len(hpas)} autoscalers below their maximum" if not notes else f"{len(hpas)} autoscalers",
    ]


def hpas_scaling(facts: Facts) -> Found:
    problems, hpas = [], _of(facts.scoped, "HorizontalPodAutoscaler")
    for obj in hpas:
        conditions = _conditions(obj)
        for name in ("AbleToScale", "ScalingActive"):
            condition = conditions.get(name)
            if condition is not None and condition.get("status") == "False":
                problems.append(f"{ref(obj)}: {name} is False ({condition.get('reason') or 'no reason'})")
    return problems, [f"{len(hpas)} autoscalers able to scale and reading their metrics"]


def pods_not_restarting(facts: Facts) -> Found:
    problems, old, pods = [], [], _of(facts.scoped, "Pod")
    for pod in pods:
        statuses = [
            *((pod.get("status") or {}).get("initContainerStatuses") or []),
            *((pod.get("status") or {}).get("containerStatuses") or []),
        ]
        for c in statuses:
            if not isinstance(c, Mapping):
                continue
            waiting = ((c.get("state") or {}).get("waiting") or {}).get("reason")
            restarts = _int(c.get("restartCount"))
            terminated = (c.get("lastState") or {}).get("terminated") or {}
            finished = _time(terminated.get("finishedAt"))
            recent = finished is None or facts.now - finished <= RESTART_WINDOW
            started = _time((pod.get("status") or {}).get("startTime")) or _time(
                (pod.get("metadata") or {}).get("creationTimestamp")
            )
            days = max((facts.now - started).total_seconds() / 86400, 1 / 24) if started else None
            steady = days is not None and restarts / days >= LOOP_RESTARTS_PER_DAY
            if waiting == "CrashLoopBackOff" or (restarts >= LOOP_RESTARTS and (recent or steady)):
                last = terminated.get("reason")
                problems.append(
                    f"{ref(pod)}: container {c.get('name')} restarted {restarts} times"
                    + (f", waiting in {waiting}" if waiting else "")
                    + (f", last ended {last}" if last else "")
                    + (f" {_minutes(facts.now - finished)} ago" if finished else "")
                )
            elif restarts >= LOOP_RESTARTS and finished is not None:
                old.append(
                    f"{ref(pod)}: container {c.get('name')} restarted {restarts} times, the latest "
                    f"{_minutes(facts.now - finished)} ago (outside the {_minutes(RESTART_WINDOW)} window)"
                )
    return problems, [*old, f"{len(pods)} pods, none restarting in the last {_minutes(RESTART_WINDOW)}"]


def pods_scheduled(facts: Facts) -> Found:
    problems, pods = [], _of(facts.scoped, "Pod")
    for pod in pods:
        status = pod.get("status") or {}
        created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
        if status.get("phase") == "Pending" and created is not None and facts.now - created > PENDING_GRACE:
            why = _conditions(pod).get("PodScheduled", {}).get("message") or "not scheduled"
            problems.append(f"{ref(pod)}: pending for {_minutes(facts.now - created)} ({why})")
    return problems, [f"{len(pods)} pods, none pending longer than {_minutes(PENDING_GRACE)}"]


def cronjobs_on_schedule(facts: Facts) -> Found:
    """Every CronJob's last success is no older than the run before the latest scheduled one (the
    latest may still be running). A suspended CronJob is the pack's finding
    (``k8s-cronjob-require-schedule-that-runs``); here it fails once its runs are missed."""
    from croniter import croniter

    problems, notes = [], []
    now = facts.now
    for obj in _of(facts.scoped, "CronJob"):
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
            notes.append(f"{ref(obj)}: created {_minutes(now - created)} ago, no run due yet")
            continue  # too young to have missed a run
        success = _time(status.get("lastSuccessfulTime"))
        if success is None:
            problems.append(f"{ref(obj)}: no successful run yet (scheduled {schedule})")
        elif success < before:
            problems.append(
                f"{ref(obj)}: last success {_minutes(now - success)} ago, before the run due at "
                f"{before:%Y-%m-%d %H:%M} (schedule {schedule}; latest due {latest:%H:%M})"
            )
        else:
            notes.append(f"{ref(obj)}: last success {_minutes(now - success)} ago (schedule {schedule})")
    return problems, notes or ["no CronJob in the stack's namespaces"]


MONITORING_COMPONENTS = ("prometheus", "alertmanager", "grafana")


def monitoring_running(facts: Facts) -> Found:
    ready: dict[str, str] = {}
    for pod in _of(facts.scoped, "Pod"):
        name = ((pod.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name")
        if name in MONITORING_COMPONENTS and _conditions(pod).get("Ready", {}).get("status") == "True":
            ready.setdefault(str(name), ref(pod))
    missing = [f"no ready {c} pod in the stack's namespaces" for c in MONITORING_COMPONENTS if c not in ready]
    return missing, [f"{c}: {ready[c]} ready" for c in MONITORING_COMPONENTS if c in ready]


OPERATOR_KINDS = ("RedisReplication", "RedisSentinel")
"""Custom resources whose StatefulSets the redis-operator sizes from ``spec.clusterSize``."""


def controllers_match(facts: Facts) -> Found:
    """Objects made by a controller (owner references) against the object that owns them: the owner
    still exists where the scorecard reads its kind, the redis-operator's StatefulSets run the
    ``clusterSize`` of their custom resource, and no Service a controller made is exposed outside
    the cluster (NodePort, LoadBalancer)."""
    read = {kind for _, kind, _, _ in KINDS}
    problems, counted = [], 0
    for child in ownership.of_origin(facts.scoped, "child"):
        refs = ownership.owners(child)
        if not refs:  # a StatefulSet's claim: its StatefulSet is there, by its name
            counted += 1
            continue
        owner_ref, owner = refs[0], ownership.owner_of(child, facts.objects)
        if owner is None:
            if owner_ref.get("kind") in read:
                problems.append(f"{ref(child)}: its owner {owner_ref.get('kind')} {owner_ref.get('name')} is gone")
            continue
        counted += 1
        exposure = ((child.get("spec") or {}).get("type") or "ClusterIP") if child.get("kind") == "Service" else None
        if exposure in ("LoadBalancer", "NodePort"):
            # The operator makes Services from its resource's fields (kubernetesConfig.service.serviceType):
            # what it exposes is judged like what the program would.
            problems.append(f"{ref(child)}: type {exposure}, made by {ref(owner)}: exposed outside the cluster")
        if owner.get("kind") in OPERATOR_KINDS and child.get("kind") == "StatefulSet":
            want = _int((owner.get("spec") or {}).get("clusterSize"), 3)
            have = _int((child.get("spec") or {}).get("replicas"), 1)
            if have != want:
                problems.append(f"{ref(child)}: runs {have} pods, its {ref(owner)} declares clusterSize {want}")
    return problems, [f"{counted} objects made by controllers, each with its owner and sized as it declares"]


def redis_as_planned(facts: Facts) -> Found:
    """The Redis tier's custom resources as the plan declared them (the targets' ``redis``): the
    replication group's size, the Sentinels' count and quorum. A Sentinel scaled down with its PDB
    relaxed, or a quorum edited by hand, reads healthy everywhere else."""
    planned = facts.targets.redis if facts.targets is not None else None
    if planned is None:
        return None, ["not judged: no targets (ConfigMap or --targets) say what the plan declares for Redis"]
    found = {(o.get("kind"), (o.get("metadata") or {}).get("name")): o for o in _of(facts.scoped, *OPERATOR_KINDS)}
    problems, notes = [], []
    replication = found.get(("RedisReplication", planned.replication))
    if replication is None:
        problems.append(f"RedisReplication {planned.replication}: not found")
    else:
        size = _int((replication.get("spec") or {}).get("clusterSize"), 3)
        if size != planned.replicas:
            problems.append(f"{ref(replication)}: clusterSize {size}, the plan declares {planned.replicas}")
        else:
            notes.append(f"{ref(replication)}: {size} pods as planned")
    if planned.sentinel is not None:
        sentinel = found.get(("RedisSentinel", planned.sentinel))
        if sentinel is None:
            problems.append(f"RedisSentinel {planned.sentinel}: not found")
        else:
            spec = sentinel.get("spec") or {}
            size = _int(spec.get("clusterSize"), 3)
            quorum = str((spec.get("redisSentinelConfig") or {}).get("quorum", "2"))
            if size != planned.sentinels:
                problems.append(f"{ref(sentinel)}: {size} Sentinels, the plan declares {planned.sentinels}")
            if quorum != str(planned.quorum):
                problems.append(f"{ref(sentinel)}: quorum {quorum}, the plan declares {planned.quorum}")
            if size == planned.sentinels and quorum == str(planned.quorum):
                notes.append(f"{ref(sentinel)}: {size} Sentinels, quorum {quorum}, as planned")
    return problems, notes


RuntimeCheck = Callable[[Facts], Found]
RUNTIME_CHECKS: tuple[tuple[str, str, str, RuntimeCheck], ...] = (
    ("workloads-ready", "high-availability", "Every workload has its replicas ready", workloads_ready),
    ("pdb-allows-disruption", "high-availability", "Every PDB allows at least one disruption", pdbs_allow_disruption),
    (
        "controllers-match-their-resources",
        "high-availability",
        "What controllers made matches the resource that owns it",
        controllers_match,
    ),
    (
        "redis-as-planned",
        "high-availability",
        "The Redis tier runs the size and quorum the plan declares",
        redis_as_planned,
    ),
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
    objects: Sequence[Mapping[str, Any]],
    namespaces: Iterable[str],
    now: datetime.datetime,
    targets: Targets | None = None,
) -> list[Item]:
    facts = Facts(in_namespaces(objects, namespaces), objects, now, targets)
    items = []
    for check_id, category, title, check in RUNTIME_CHECKS:
        problems, notes = check(facts)
        status: Status = "warn" if problems is None else "fail" if problems else "pass"
        items.append(item(check_id, category, title, "kubernetes", status, problems or notes))
    return items


def stack_namespaces(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The namespaces the program declared (where no targets say otherwise)."""
    return sorted(str((o.get("metadata") or {}).get("name")) for o in declared(objects) if o.get("kind") == "Namespace")
