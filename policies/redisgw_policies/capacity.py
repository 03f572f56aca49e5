"""Capacity for a full rollout at maximum scale: the namespace quota and the node groups.

A rollout adds pods before it removes any. At the HPA maximum, blue-green runs a second full
ReplicaSet; canary with traffic routing keeps the stable ReplicaSet at 100% and brings the canary
to 100% at promotion (also 2x); a rolling update adds ``maxSurge``. If the ResourceQuota or the
node groups cannot hold that peak next to Redis, Sentinel and the jobs, the promotion stalls at
the worst moment. These rules compute the peak from the plan and name the number that falls short.

Node capacity is estimated from the instance type (the smallest of a group's types) with a
conservative allowance for the kubelet reservation and the node DaemonSets: 300m CPU and 10% plus
700 MiB of memory per node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._k8s import OPERATOR_KINDS, containers, pod_spec
from redisgw_policies._policy import (
    as_float,
    as_int,
    as_list,
    as_map,
    get,
    k8s_kind,
    maps,
    namespace_of,
    region_of,
    stack_policy,
    strings,
)

Findings = Iterable[tuple[str, str | None]]

_SIZES = {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48}
_GIB_PER_VCPU = {"m": 4, "r": 8, "c": 2, "t": 4}
"""Memory per vCPU by family letter (m general purpose, r memory optimized, c compute optimized)."""


def instance_capacity(instance_type: str) -> tuple[int, int] | None:
    """(allocatable millicores, allocatable MiB) of a node of ``instance_type``, or None if unknown."""
    match = re.fullmatch(r"([mrct])\d+[a-z]*\.(\w+)", instance_type)
    if not match or match.group(2) not in _SIZES:
        return None
    vcpu = _SIZES[match.group(2)]
    memory_mib = vcpu * _GIB_PER_VCPU[match.group(1)] * 1024
    return vcpu * 1000 - 300, int(memory_mib * 0.9) - 700


_BINARY = {
    "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2, "Pi": 1024**3, "Ei": 1024**4,
    "m": 1e-3 / 2**20, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20,
    "P": 1e15 / 2**20, "E": 1e18 / 2**20,
}  # fmt: skip
"""Every suffix of a Kubernetes quantity (``m`` is thousandths: ``268435456000m`` is 256Mi)."""


def cpu_m(value: Any) -> float:
    text = str(value or "0").strip()
    if text.endswith("m"):
        return as_float(text[:-1], 0.0) or 0.0
    return (as_float(text, 0.0) or 0.0) * 1000


def memory_mi(value: Any) -> float:
    text = str(value or "0").strip()
    for suffix in sorted(_BINARY, key=len, reverse=True):
        if text.endswith(suffix):
            return (as_float(text[: -len(suffix)], 0.0) or 0.0) * _BINARY[suffix]
    return (as_float(text, 0.0) or 0.0) / 2**20


@dataclass
class Demand:
    pods: float = 0
    requests_cpu: float = 0
    limits_cpu: float = 0
    requests_memory: float = 0
    limits_memory: float = 0

    def add(self, other: Demand, times: float = 1) -> None:
        for field in ("pods", "requests_cpu", "limits_cpu", "requests_memory", "limits_memory"):
            setattr(self, field, getattr(self, field) + times * getattr(other, field))


def pod_demand(props: Mapping[str, Any]) -> Demand:
    """What one pod of a workload asks for (its long-running containers)."""
    demand = Demand(pods=1)
    for c in containers(props):
        if c.init:
            continue
        res = as_map(c.spec.get("resources"))
        demand.requests_cpu += cpu_m(get(res, "requests.cpu"))
        demand.limits_cpu += cpu_m(get(res, "limits.cpu"))
        demand.requests_memory += memory_mi(get(res, "requests.memory"))
        demand.limits_memory += memory_mi(get(res, "limits.memory"))
    return demand


def _hpa_max(args: StackValidationArgs, w: PolicyResource) -> int | None:
    for h in args.resources:
        if not h.resource_type.startswith("kubernetes:") or k8s_kind(h.resource_type) != "HorizontalPodAutoscaler":
            continue
        ref = as_map(get(h.props, "spec.scaleTargetRef"))
        if ref.get("kind") == k8s_kind(w.resource_type) and ref.get("name") == get(w.props, "metadata.name"):
            return as_int(get(h.props, "spec.maxReplicas"))
    return None


def _surge(strategy: Mapping[str, Any], replicas: int) -> tuple[int, str]:
    """(extra pods during a rollout, what the strategy is called)."""
    if "blueGreen" in strategy:
        return replicas, "a blue-green rollout"
    canary = as_map(strategy.get("canary"))
    if "canary" in strategy and (maps(canary.get("steps")) or canary.get("trafficRouting")):
        return replicas, "a canary rollout"
    surge = str(canary.get("maxSurge", as_map(strategy.get("rollingUpdate")).get("maxSurge", "25%")))
    if surge.endswith("%"):
        return math.ceil(replicas * (as_float(surge[:-1], 25.0) or 0.0) / 100), "a rolling update"
    return as_int(surge, 1) or 0, "a rolling update"


def peak(args: StackValidationArgs, w: PolicyResource) -> tuple[float, str]:
    """(pods of ``w`` at its peak, why)."""
    kind = k8s_kind(w.resource_type)
    if kind in OPERATOR_KINDS:
        return float(as_int(get(w.props, "spec.clusterSize"), 1) or 1), "its clusterSize"
    if kind in ("CronJob", "Job", "Pod"):
        return 1.0, "one run"
    replicas = _hpa_max(args, w) or as_int(get(w.props, "spec.replicas"), 1) or 1
    if kind in ("Rollout", "Deployment"):
        extra, how = _surge(as_map(get(w.props, "spec.strategy")), replicas)
        return float(replicas + extra), f"{how} at {replicas} replicas"
    return float(replicas), f"{replicas} replicas"


def _workloads(args: StackValidationArgs) -> list[PolicyResource]:
    return [r for r in args.resources if r.resource_type.startswith("kubernetes:") and pod_spec(r.props) is not None]


_QUOTA_KEYS = {
    "pods": ("pods", lambda v: as_float(v, 0.0) or 0.0, "{:g}"),
    "requests.cpu": ("requests_cpu", cpu_m, "{:.0f}m"),
    "limits.cpu": ("limits_cpu", cpu_m, "{:.0f}m"),
    "requests.memory": ("requests_memory", memory_mi, "{:.0f}Mi"),
    "limits.memory": ("limits_memory", memory_mi, "{:.0f}Mi"),
}


def quota_selects(quota: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ResourceQuota ``quota`` counts the pods of pod spec ``pod``.

    An unscoped quota (the tier's) counts every pod of its namespace, whatever its PriorityClass. A
    ``scopeSelector`` on ``PriorityClass`` counts only the pods whose class it selects (``In``,
    ``NotIn``, ``Exists``, ``DoesNotExist``; a pod without a class has the empty name). Other scopes
    (``Terminating``, ``BestEffort``, ...) are not modelled: such a quota is read as counting every
    pod, the cautious reading."""
    name = pod.get("priorityClassName")
    name = name if isinstance(name, str) else ""
    for expr in maps(get(quota, "spec.scopeSelector.matchExpressions")):
        if expr.get("scopeName") != "PriorityClass":
            continue
        operator, values = expr.get("operator"), strings(expr.get("values"))
        if (
            (operator == "In" and name not in values)
            or (operator == "NotIn" and name in values)
            or (operator == "Exists" and not name)
            or (operator == "DoesNotExist" and name)
        ):
            return False
    return True


def quota_for_rollout(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Every ResourceQuota holds the peak of the pods it counts (:func:`quota_selects`): every pod of
    its namespace, of any priority class, unless it is scoped to classes."""
    entries: list[tuple[str, Mapping[str, Any], Demand, float]] = []
    why: dict[str, str] = {}
    for w in _workloads(args):
        ns = namespace_of(w.props)
        pods, reason = peak(args, w)
        entries.append((ns, pod_spec(w.props) or {}, pod_demand(w.props), pods))
        if k8s_kind(w.resource_type) in ("Rollout", "Deployment"):
            why[ns] = f"{reason} of {get(w.props, 'metadata.name')}"
    for q in args.resources:
        if not q.resource_type.startswith("kubernetes:") or k8s_kind(q.resource_type) != "ResourceQuota":
            continue
        ns = namespace_of(q.props)
        counted = [(d, n) for in_ns, pod, d, n in entries if in_ns == ns and quota_selects(q.props, pod)]
        if not counted:
            continue
        need = Demand()
        for demand, pods in counted:
            need.add(demand, pods)
        hard = as_map(get(q.props, "spec.hard"))
        for key, (field, parse, shown) in _QUOTA_KEYS.items():
            if key not in hard:
                continue
            wanted = getattr(need, field)
            if parse(hard[key]) + 1e-6 < wanted:
                yield (
                    f"ResourceQuota {get(q.props, 'metadata.name')} allows {key} {hard[key]}, but "
                    f"{why.get(ns, 'the workloads at maximum scale')} with everything else in {ns} needs "
                    f"{shown.format(wanted)}: the rollout would stall.",
                    q.urn,
                )


def _node_groups(args: StackValidationArgs) -> list[PolicyResource]:
    return [g for g in args.resources if g.resource_type == "aws:eks/nodeGroup:NodeGroup"]


def _candidates(w: PolicyResource, groups: list[PolicyResource]) -> frozenset[str]:
    from redisgw_policies.platform import _tolerates  # one definition of taint matching

    pod = pod_spec(w.props) or {}
    selector = as_map(pod.get("nodeSelector"))
    return frozenset(
        g.urn
        for g in groups
        if _tolerates(pod.get("tolerations"), g.props.get("taints"))
        and all(as_map(g.props.get("labels")).get(k) == v for k, v in selector.items())
    )


def _capacity(group: PolicyResource) -> tuple[float, float] | None:
    sizes = [instance_capacity(t) for t in strings(group.props.get("instanceTypes"))]
    known = [s for s in sizes if s is not None]
    nodes = as_int(get(group.props, "scalingConfig.maxSize"), 0) or 0
    if not known:
        return None
    cpu, memory = min(s[0] for s in known), min(s[1] for s in known)
    return nodes * cpu, nodes * memory


def nodes_for_rollout(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    groups = _node_groups(args)
    if not groups:
        return
    demand: dict[frozenset[str], Demand] = {}
    for w in _workloads(args):
        candidates = _candidates(w, groups)
        if candidates:
            pods, _ = peak(args, w)
            demand.setdefault(candidates, Demand()).add(pod_demand(w.props), pods)
    by_urn = {g.urn: g for g in groups}
    for target in demand:
        capacities = [_capacity(by_urn[u]) for u in target]
        if any(c is None for c in capacities):
            continue  # an instance type this table does not know: no estimate, no verdict
        cpu = sum(c[0] for c in capacities if c)
        memory = sum(c[1] for c in capacities if c)
        wanted = Demand()
        for candidates, d in demand.items():
            if candidates <= target:
                wanted.add(d)
        names = ", ".join(sorted(by_urn[u].name for u in target))
        if wanted.requests_cpu > cpu:
            yield (
                f"Node group(s) {names} at maxSize offer about {cpu:.0f}m CPU; the pods that can only run there "
                f"request {wanted.requests_cpu:.0f}m at peak (a full rollout at maximum scale).",
                by_urn[sorted(target)[0]].urn,
            )
        if wanted.requests_memory > memory:
            yield (
                f"Node group(s) {names} at maxSize offer about {memory:.0f}Mi of memory; the pods that can only run "
                f"there request {wanted.requests_memory:.0f}Mi at peak (a full rollout at maximum scale).",
                by_urn[sorted(target)[0]].urn,
            )


CAPACITY_CONFIGMAP = "redis-gateway-capacity"
"""Where the program records the declared demand and the measured baselines (key ``capacity.json``)."""


def _job_container(job: PolicyResource) -> Mapping[str, Any]:
    containers = as_list(get(job.props, "spec.jobTemplate.spec.template.spec.containers"))
    return as_map(containers[0]) if containers else {}


def _ops_command(resource: PolicyResource) -> str | None:
    """The ops command (``backup``, ``drill``, ...) a CronJob runs: its container's first argument."""
    if k8s_kind(resource.resource_type) != "CronJob":
        return None
    job_args = as_list(_job_container(resource).get("args"))
    return str(job_args[0]) if job_args else None


def _job_memory(job: PolicyResource | None) -> float:
    """A CronJob's memory limit in bytes; 0 without the job (nothing to judge), 1 without a limit (too small)."""
    if job is None:
        return 0.0
    limit = get(_job_container(job), "resources.limits.memory")
    parsed = memory_mi(limit) * 2**20 if limit is not None else 0.0
    return parsed if parsed > 0 else 1.0  # no limit, or one that does not parse: judged as too small


def declared_peak(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """The stack's replicas, node groups and Redis memory carry the peak its capacity record declares, in
    each region (the rule sees one region at a time; the DR region's record is judged on the standby's own
    node groups), with the arithmetic and the words of ``ops capacity`` (:mod:`capacity_model`)."""
    import json

    from redisgw_policies.capacity_model import DR, PRIMARY, Demand, Supply, baseline_from, plan

    records = [
        r
        for r in args.resources
        if k8s_kind(r.resource_type) == "ConfigMap" and get(r.props, "metadata.name") == CAPACITY_CONFIGMAP
    ]
    groups = _node_groups(args)
    for record in records:
        try:
            doc = json.loads(str(as_map(record.props.get("data")).get("capacity.json")))
            demand = Demand(**doc["demand"])
            baseline = baseline_from(doc["baseline"], doc["backup"])
            zones = int(doc["zones"])
        except (ValueError, KeyError, TypeError) as exc:
            yield f"ConfigMap {CAPACITY_CONFIGMAP} is not a capacity record ({exc}).", record.urn
            continue
        rollout = next((w for w in _workloads(args) if k8s_kind(w.resource_type) == "Rollout"), None)
        hpa = next(
            (
                h
                for h in args.resources
                if k8s_kind(h.resource_type) == "HorizontalPodAutoscaler"
                and rollout is not None
                and get(h.props, "spec.scaleTargetRef.name") == get(rollout.props, "metadata.name")
            ),
            None,
        )
        redis = next((w for w in args.resources if k8s_kind(w.resource_type) == "RedisReplication"), None)
        backup = next(
            (
                c
                for c in args.resources
                if k8s_kind(c.resource_type) == "CronJob" and get(c.props, "metadata.name") == "redis-backup"
            ),
            None,
        )
        drill = next((c for c in args.resources if _ops_command(c) == "drill"), None)

        if rollout is None or hpa is None or redis is None:
            continue  # nothing to size: the tier's own policies report what is missing
        by_urn = {g.urn: g for g in groups}
        candidates = sorted(_candidates(rollout, groups))
        group = by_urn[candidates[0]] if candidates else None
        sizes = [instance_capacity(t) for t in strings(group.props.get("instanceTypes"))] if group else []
        known = [x for x in sizes if x is not None]
        request = pod_demand(rollout.props)
        limit = get(redis.props, "spec.kubernetesConfig.resources.limits.memory")
        redis_groups = sorted(_candidates(redis, groups))
        redis_sizes = [
            x
            for u in redis_groups
            for x in (instance_capacity(t) for t in strings(by_urn[u].props.get("instanceTypes")))
            if x
        ]
        supply = Supply(
            zones=zones,
            gateway_max=as_int(get(hpa.props, "spec.maxReplicas"), 0) or 0,
            gateway_cpu_request_m=request.requests_cpu,
            gateway_memory_request_mi=request.requests_memory,
            main_nodes_max=as_int(get(group.props, "scalingConfig.maxSize"), 0) or 0 if group else 0,
            main_node_cpu_m=min(x[0] for x in known) if known else 0,
            main_node_memory_mi=min(x[1] for x in known) if known else 0,
            redis_memory_limit_bytes=memory_mi(limit) * 2**20,
            maxmemory_percent=as_float(get(redis.props, "spec.redisConfig.maxMemoryPercentOfLimit"), 100.0) or 100.0,
            backup_deadline_seconds=as_float(get(backup.props, "spec.jobTemplate.spec.activeDeadlineSeconds"), 0.0)
            or math.inf
            if backup
            else math.inf,
            gateway_min=as_int(get(hpa.props, "spec.minReplicas"), 0) or 0,
            redis_node_memory_mi=min((x[1] for x in redis_sizes), default=0),
            drill_memory_limit_bytes=_job_memory(drill),
            backup_memory_limit_bytes=_job_memory(backup),
            region=DR if region_of(record) == "dr" else PRIMARY,
        )
        try:
            result = plan(demand, baseline, supply)
        except ValueError as exc:
            yield f"The capacity record cannot be evaluated: {exc}.", record.urn
            continue
        where = {
            "gateway": hpa.urn,
            "nodes": group.urn if group else hpa.urn,
            "memory": redis.urn,
            "operations": redis.urn,
            "backup": backup.urn if backup else record.urn,
            "restore": record.urn,
            "drill": drill.urn if drill else record.urn,
            "backup-job": backup.urn if backup else record.urn,
        }
        for constraint, message in zip(result.constraints, result.shortfalls, strict=True):
            yield f"The declared peak does not fit: {message}.", where[constraint]


REDIS_CONFIG = "redis-extra-config"
"""ConfigMap of the data tier's ``redis-additional.conf`` (the RedisReplication's ``additionalRedisConfig``)."""
REDIS_CONFIG_KEY = "redis-additional.conf"
_REDIS_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
"""Memory units as Redis reads them in ``redis.conf``, in any case."""
REDIS_DEFAULT_BACKLOG = 1024**2
REDIS_DEFAULT_REPL_TIMEOUT = 60
REDIS_DEFAULT_PING_PERIOD = 10


def redis_bytes(value: str) -> int | None:
    """Bytes in a ``redis.conf`` memory value (``512mb``, ``1gb``, ``1000000``, ``64m``: k=1000, kb=1024,
    m=10^6, mb=2^20, g, gb), or None for anything Redis would refuse (a sign, a fraction, a space, an
    unknown unit, no digits)."""
    match = re.fullmatch(r"(\d{1,18})([a-z]{0,2})", value.strip().lower())
    if not match or match.group(2) not in _REDIS_UNITS:
        return None
    return int(match.group(1)) * _REDIS_UNITS[match.group(2)]


def redis_directives(conf: str) -> dict[str, list[str] | None]:
    """Directive (lower case) -> the arguments of its last occurrence, as Redis reads a config file:
    one directive a line, ``#`` comments, quoted arguments, the last occurrence winning. A line Redis
    could not split (unbalanced quotes) gives None: Redis would refuse to start."""
    import shlex

    found: dict[str, list[str] | None] = {}
    for line in conf.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text)
        except ValueError:
            found[text.split()[0].lower()] = None
            continue
        if words:
            found[words[0].lower()] = words[1:]
    return found


def _single(directives: Mapping[str, list[str] | None], name: str) -> str | None:
    """The one argument of ``name``; "" when it is there but not as one argument; None when absent."""
    if name not in directives:
        return None
    words = directives[name]
    return words[0] if words is not None and len(words) == 1 else ""


def _seconds(value: str | None) -> int | None:
    return int(value) if value is not None and re.fullmatch(r"\d{1,9}", value) and int(value) > 0 else None


@dataclass(frozen=True)
class _RideOut:
    """What the replication configuration of one region is judged against."""

    backlog_bytes: float
    """Smallest acceptable ``repl-backlog-size``."""
    why: str
    rpo_seconds: float


def _ride_out(record: PolicyResource | None, config: Mapping[str, Any]) -> _RideOut | str:
    """From the capacity record (what the capacity policy reads), or the pack's defaults without one;
    a message when the record cannot be read."""
    import json

    from redisgw_policies.capacity_model import REPL_BACKLOG_FLOOR_BYTES, Demand, replication_backlog_need

    floor = as_float(config.get("minBacklogBytes"), None) or float(REPL_BACKLOG_FLOOR_BYTES)
    if record is None:
        rpo = as_float(config.get("defaultRpoSeconds"), None) or 60.0
        return _RideOut(floor, f"the pack's minimum ({floor:.0f} bytes)", rpo)
    try:
        doc = json.loads(str(as_map(record.props.get("data")).get("capacity.json")))
        demand = Demand(**doc["demand"])
        outage = float(doc["replication"]["link_outage_seconds"])
        rpo = float(doc["replication"]["rpo_seconds"])
        need = replication_backlog_need(demand, outage)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"ConfigMap {CAPACITY_CONFIGMAP} does not say what the replication link must ride out ({exc})."
    if not all(math.isfinite(x) and x > 0 for x in (outage, rpo)) or not math.isfinite(need):
        return f"ConfigMap {CAPACITY_CONFIGMAP} declares no usable link outage or RPO."
    if need <= floor:
        return _RideOut(floor, f"the pack's minimum ({floor:.0f} bytes)", rpo)
    why = (
        f"the declared {demand.peak_rps * (1 - demand.read_share):g} writes/s of {demand.value_bytes:g}-byte values "
        f"over a {outage:g} s link outage with {demand.headroom:.0%} headroom ({math.ceil(need)} bytes)"
    )
    return _RideOut(need, why, rpo)


def _judge_replication(conf: str, ride_out: _RideOut, where: str) -> Iterable[str]:
    directives = redis_directives(conf)
    backlog = _single(directives, "repl-backlog-size")
    if backlog is None:
        yield (
            f"{where} sets no repl-backlog-size: Redis keeps {REDIS_DEFAULT_BACKLOG} bytes, so a link break of "
            "seconds forces a full resynchronisation."
        )
    elif (size := redis_bytes(backlog)) is None:
        yield f"{where}: repl-backlog-size is not a size Redis reads (bytes, or k, kb, m, mb, g, gb)."
    elif size < ride_out.backlog_bytes:
        yield (
            f"{where}: repl-backlog-size is {size} bytes, below {ride_out.why}: a link break that long ends in a "
            "full resynchronisation."
        )
    raw_timeout = _single(directives, "repl-timeout")
    timeout = _seconds(raw_timeout)
    if raw_timeout is None:
        yield (
            f"{where} sets no repl-timeout: a dead replication link is noticed only after Redis' default "
            f"{REDIS_DEFAULT_REPL_TIMEOUT} s."
        )
    elif timeout is None:
        yield f"{where}: repl-timeout is not a positive number of seconds."
    elif timeout >= ride_out.rpo_seconds:
        yield (
            f"{where}: repl-timeout is {timeout} s, not below the {ride_out.rpo_seconds:g} s RPO: a dead link is "
            "noticed only after the objective is lost."
        )
    raw_ping = _single(directives, "repl-ping-replica-period")
    ping = REDIS_DEFAULT_PING_PERIOD if raw_ping is None else _seconds(raw_ping)
    if ping is None:
        yield f"{where}: repl-ping-replica-period is not a positive number of seconds."
    elif timeout is not None and ping >= timeout:
        yield (
            f"{where}: repl-timeout ({timeout} s) is not above repl-ping-replica-period ({ping} s): an idle, "
            "healthy link is taken for a dead one."
        )


def sized_backlog(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Every Redis tier's configuration keeps a backlog for the declared write rate over the link outage
    to ride out, and a ``repl-timeout`` below the RPO."""
    from pulumi_policy.proxy import UnknownValueError

    from redisgw_policies._policy import known_items

    def kind(r: PolicyResource) -> str:
        return k8s_kind(r.resource_type) if r.resource_type.startswith("kubernetes:") else ""

    configs = {
        (namespace_of(r.props), get(r.props, "metadata.name")): r
        for r in args.resources
        if kind(r) == "ConfigMap" and isinstance(get(r.props, "metadata.name"), str)
    }
    records = {ns: r for (ns, name), r in configs.items() if name == CAPACITY_CONFIGMAP}
    judged: dict[tuple[str, str], PolicyResource] = {k: r for k, r in configs.items() if k[1] == REDIS_CONFIG}
    for tier in (r for r in args.resources if kind(r) == "RedisReplication"):
        ns, name = namespace_of(tier.props), get(tier.props, "spec.redisConfig.additionalRedisConfig")
        label = f"RedisReplication {ns}/{get(tier.props, 'metadata.name')}"
        if not isinstance(name, str) or not name:
            yield f"{label} reads no additional configuration: Redis' 1 MB backlog and 60 s timeout.", tier.urn
        elif (ns, name) not in configs:
            yield f"{label} reads ConfigMap {name}, which this stack does not declare in {ns}.", tier.urn
        else:
            judged[(ns, name)] = configs[(ns, name)]
    for (ns, name), cm in sorted(judged.items()):
        record = records.get(ns) or next(iter(records.values()), None)
        ride_out = _ride_out(record, config)
        if isinstance(ride_out, str):
            yield ride_out, record.urn if record is not None else cm.urn
            continue
        try:
            values = {key: (value, known) for key, value, known in known_items(cm.props.get("data"))}
        except UnknownValueError:
            continue  # the whole data is computed during a preview: judged once it is known
        conf, known = values.get(REDIS_CONFIG_KEY, ("", True))
        if not known:
            continue  # computed during a preview (the standby's link address): judged once it is known
        where = f"ConfigMap {ns}/{name} ({REDIS_CONFIG_KEY})"
        for message in _judge_replication(conf if isinstance(conf, str) else "", ride_out, where):
            yield message, cm.urn


POLICIES = [
    stack_policy(
        name="k8s-namespace-require-quota-for-rollout",
        description="The ResourceQuota holds every workload at peak, the gateway in a full rollout at its HPA maximum.",
        rule=quota_for_rollout,
        severity=Severity.HIGH,
        remediation="Raise the quota (the RedisGateway component sizes it from replicas.max and the strategy).",
    ),
    stack_policy(
        name="eks-node-group-require-capacity-for-rollout",
        description="Node groups at maxSize can hold the requests of their pods in a full rollout at maximum scale.",
        rule=nodes_for_rollout,
        severity=Severity.HIGH,
        remediation="Raise the node group's maxSize or instance size, or lower redisgw:gateway.replicas.max.",
    ),
    stack_policy(
        name="capacity-require-declared-peak",
        description=(
            "Replicas, node groups, Redis memory, backup times and the backup and drill jobs' memory carry the "
            "stack's declared peak."
        ),
        rule=declared_peak,
        severity=Severity.HIGH,
        remediation="Raise the number named or lower the declared peak (`python -m ops capacity` shows the plan).",
    ),
    stack_policy(
        name="redis-replication-require-sized-backlog",
        description=(
            "Redis keeps a replication backlog for the declared write rate over the link outage to ride out, "
            "and notices a dead link within the RPO."
        ),
        rule=sized_backlog,
        severity=Severity.HIGH,
        remediation=(
            "Write the tiers' replication directives from settings.redis_replication_config (RedisGatewayArgs."
            "redis_replication): repl-backlog-size for the declared writes over redisgw:redis.linkOutageSeconds, "
            "repl-timeout below redisgw:dr.rpoSeconds."
        ),
        config={
            "minBacklogBytes": {
                "type": "integer",
                "minimum": 1,
                "default": 64 * 2**20,
                "description": "Smallest repl-backlog-size accepted, whatever the declared write rate.",
            },
            "defaultRpoSeconds": {
                "type": "integer",
                "minimum": 1,
                "default": 60,
                "description": "RPO repl-timeout must stay below where the plan carries no capacity record.",
            },
        },
    ),
]
