"""The capacity model: can a stack carry its declared peak, and for how long?

One implementation with two entry points: ``python -m ops capacity`` (the plan, as tables, from the
stack file and the measured baselines) and the pack's ``capacity-require-declared-peak`` policy (the
same arithmetic at preview, on what the program declares). Pure Python: the pack installs alone.

Formulas (every input named in :class:`Demand`, :class:`Baseline` and :class:`Supply`):

* gateway pods at peak: ``ceil(peak * (1 + headroom) / rps_per_pod)``; with one zone lost (pods
  spread evenly), ``ceil(pods * zones / (zones - 1))``, which ``gateway.replicas.max`` must allow;
* main nodes for those pods: the larger of their CPU and memory requests over one node's
  allocatable, within the group's ``maxSize``;
* Redis memory: ``keys * (value_bytes + overhead_per_key)``, times ``1 + headroom``, within
  ``maxmemory`` (the limit times ``maxmemoryPercent``; the rest of the limit is the fork's
  copy-on-write and the replication reserve), and the pod's limit within one Redis node's
  allocatable memory; months of growth that still fit:
  ``floor(log(maxmemory / dataset) / log(1 + growth))``;
* Redis throughput: the peak with headroom within the measured operations per second;
* backup: the dataset times the measured seconds per MiB, within the backup job's deadline; restore
  likewise within the restore objective;
* jobs: the restore drill loads the dataset into a scratch Redis in its own pod, so its memory limit
  holds ``needed * DRILL_LOAD_FACTOR + DRILL_SCRATCH_SERVER_BYTES + JOB_PROCESS_BYTES``
  (:func:`drill_memory_need`, the drill's own pre-load check in ``ops/runtime/pod_limits.py``) and
  fits one main node; the backup job streams, so its limit holds ``JOB_PROCESS_BYTES``;
* growth left: fewer than :data:`REVIEW_MONTHS` months of growth that fit is a warning (the plan
  still carries the peak, but the capacity review acts on it now);
* regions: each region the stack runs in is judged on its own :class:`Supply` (the DR region at its
  standby node groups, with the same Redis sizing and the same HPA maximum), and its shortfalls are
  prefixed with the region's label (:attr:`Supply.region`), so ``ops capacity`` and the policy name
  the same shortfall in the same words;
* replication backlog (:func:`replication_backlog_need`): the replication stream's rate,
  ``peak * (1 - read_share) * (value_bytes + REPL_WRITE_OVERHEAD_BYTES)``, times the link outage to
  ride out, times ``1 + headroom``: what a replica needs to resume with a partial resync.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MIB = 1 << 20
REVIEW_MONTHS = 6
"""Months of growth left under which the capacity review acts (``docs/runbooks/capacity-review.md``,
row "Months of growth that fit"; a test holds the runbook's figure equal): below it the plan warns."""
PRIMARY = "primary region"
DR = "DR region"
"""Labels of the two regions in shortfalls and warnings (:attr:`Supply.region`)."""
REPL_WRITE_OVERHEAD_BYTES = 64
"""Bytes one write adds to the replication stream besides its value: the key and the RESP framing
(``settings.REPL_WRITE_OVERHEAD_BYTES``, which a test holds equal)."""
REPL_BACKLOG_FLOOR_BYTES = 64 * MIB
"""The smallest replication backlog the program sets (``settings.REPL_BACKLOG_FLOOR_BYTES``)."""
JOB_PROCESS_BYTES = 200 * MIB
DRILL_SCRATCH_SERVER_BYTES = 64 * MIB
DRILL_LOAD_FACTOR = 1.15
"""``ops/runtime/pod_limits.py``'s figures (a test holds them equal): the ops process tree's bounded
peak, an empty scratch ``redis-server``, and the scratch server's memory over the source's."""


def drill_memory_need(dataset_bytes: float) -> float:
    """Memory a restore drill's pod needs to load a dataset of ``dataset_bytes``."""
    return math.ceil(dataset_bytes * DRILL_LOAD_FACTOR) + DRILL_SCRATCH_SERVER_BYTES + JOB_PROCESS_BYTES


@dataclass(frozen=True)
class Demand:
    """What the service must carry (``redisgw:capacity.*``)."""

    peak_rps: float
    read_share: float
    keys: int
    value_bytes: float
    """Mean value size."""
    growth_per_month: float
    headroom: float
    restore_objective_seconds: float = 3600.0


@dataclass(frozen=True)
class Baseline:
    """What was measured (``docs/capacity/baseline.json``)."""

    gateway_rps_per_pod: float
    redis_ops_per_second: float
    redis_overhead_bytes_per_key: float
    backup_seconds_per_mib: float
    restore_seconds_per_mib: float
    rdb_ratio: float


@dataclass(frozen=True)
class Supply:
    """What the stack declares."""

    zones: int
    gateway_max: int
    gateway_cpu_request_m: float
    gateway_memory_request_mi: float
    main_nodes_max: int
    main_node_cpu_m: float
    main_node_memory_mi: float
    redis_memory_limit_bytes: float
    maxmemory_percent: float
    backup_deadline_seconds: float
    gateway_min: int = 0
    redis_node_memory_mi: float = 0.0
    """Allocatable memory of the smallest Redis node (0: unknown, not checked)."""
    drill_memory_limit_bytes: float = 0.0
    """Memory limit of the restore drill's pod (0: no drill, not checked)."""
    backup_memory_limit_bytes: float = 0.0
    """Memory limit of the backup job's pod (0: no backup job, not checked)."""
    region: str = ""
    """Which region this supply is (:data:`PRIMARY`, :data:`DR`); prefixes every shortfall and warning."""


@dataclass
class Plan:
    """The computed plan; ``shortfalls`` names each number that falls short."""

    gateway_pods_at_peak: int
    gateway_pods_zone_lost: int
    main_nodes_needed: int
    redis_dataset_bytes: float
    redis_needed_bytes: float
    redis_maxmemory_bytes: float
    months_of_growth: float
    redis_ops_needed: float
    rdb_mib: float
    backup_seconds: float
    restore_seconds: float
    drill_memory_bytes: float = 0.0
    """What the restore drill's pod needs to load the dataset with its headroom."""
    shortfalls: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    """For each shortfall, what falls short: ``gateway``, ``nodes``, ``memory``, ``operations``,
    ``backup``, ``restore``, ``drill``, ``backup-job`` (or ``cost``, added by ``ops capacity``)."""
    warnings: list[str] = field(default_factory=list)
    """What does not fall short yet but needs acting on (growth left under :data:`REVIEW_MONTHS`)."""
    region: str = ""

    def _label(self, message: str) -> str:
        return f"{self.region}: {message}" if self.region else message

    def short(self, constraint: str, message: str) -> None:
        self.constraints.append(constraint)
        self.shortfalls.append(self._label(message))

    def warn(self, message: str) -> None:
        self.warnings.append(self._label(message))

    @property
    def ok(self) -> bool:
        return not self.shortfalls

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def plan(d: Demand, b: Baseline, s: Supply) -> Plan:
    """Compute the plan; raises ValueError on inputs the formulas cannot use (named)."""
    for name, value in (
        ("gateway rps per pod", b.gateway_rps_per_pod),
        ("Redis operations per second", b.redis_ops_per_second),
        ("zones", s.zones),
    ):
        if not value or value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if s.zones < 2:
        raise ValueError(f"zones must be at least 2 to survive the loss of one, got {s.zones}")
    pods = max(1, math.ceil(d.peak_rps * (1 + d.headroom) / b.gateway_rps_per_pod))
    pods_zone_lost = math.ceil(pods * s.zones / (s.zones - 1))
    by_cpu = pods_zone_lost * s.gateway_cpu_request_m / s.main_node_cpu_m if s.main_node_cpu_m > 0 else math.inf
    by_memory = (
        pods_zone_lost * s.gateway_memory_request_mi / s.main_node_memory_mi if s.main_node_memory_mi > 0 else math.inf
    )
    nodes = math.ceil(max(by_cpu, by_memory)) if math.isfinite(max(by_cpu, by_memory)) else 10**9
    dataset = d.keys * (d.value_bytes + b.redis_overhead_bytes_per_key)
    needed = dataset * (1 + d.headroom)
    maxmemory = s.redis_memory_limit_bytes * s.maxmemory_percent / 100
    if dataset <= 0:
        months = math.inf
    elif needed > maxmemory:
        months = 0.0
    elif d.growth_per_month <= 0:
        months = math.inf
    else:
        months = float(math.floor(math.log(maxmemory / needed) / math.log(1 + d.growth_per_month)))
    ops = d.peak_rps * (1 + d.headroom)
    dataset_mib = dataset / MIB
    out = Plan(
        gateway_pods_at_peak=pods,
        gateway_pods_zone_lost=pods_zone_lost,
        main_nodes_needed=nodes,
        redis_dataset_bytes=dataset,
        redis_needed_bytes=needed,
        redis_maxmemory_bytes=maxmemory,
        months_of_growth=months,
        redis_ops_needed=ops,
        rdb_mib=dataset_mib * b.rdb_ratio,
        backup_seconds=dataset_mib * b.backup_seconds_per_mib,
        restore_seconds=dataset_mib * b.restore_seconds_per_mib,
        drill_memory_bytes=drill_memory_need(needed),
        region=s.region,
    )
    if pods_zone_lost > s.gateway_max:
        out.short(
            "gateway",
            f"gateway.replicas.max ({s.gateway_max}) is below the {pods_zone_lost} gateway pods the peak of "
            f"{d.peak_rps:g} req/s needs with {d.headroom:.0%} headroom and one of {s.zones} zones lost "
            f"({b.gateway_rps_per_pod:g} req/s per pod)",
        )
    if nodes > s.main_nodes_max:
        out.short(
            "nodes",
            f"the main node group's maxSize ({s.main_nodes_max}) is below the {nodes} nodes those "
            f"{pods_zone_lost} gateway pods request",
        )
    if needed > maxmemory:
        out.short(
            "memory",
            f"Redis maxmemory ({_gib(maxmemory)}) is below the {_gib(needed)} that {d.keys} keys of "
            f"{d.value_bytes:g} bytes need with {d.headroom:.0%} headroom",
        )
    elif months < REVIEW_MONTHS:
        out.warn(
            f"{months:.1f} months of growth left at {d.growth_per_month:.0%} per month, under the "
            f"{REVIEW_MONTHS} months the capacity review acts on: plan a larger Redis memory limit and node"
        )
    if s.redis_node_memory_mi and s.redis_memory_limit_bytes > s.redis_node_memory_mi * MIB:
        out.short(
            "memory",
            f"a Redis pod's memory limit ({_gib(s.redis_memory_limit_bytes)}) does not fit the Redis node's "
            f"{_gib(s.redis_node_memory_mi * MIB)} allocatable",
        )
    if ops > b.redis_ops_per_second:
        out.short(
            "operations", f"Redis serves {b.redis_ops_per_second:.0f} operations/s (measured); the peak needs {ops:.0f}"
        )
    if out.backup_seconds > s.backup_deadline_seconds:
        out.short(
            "backup",
            f"a backup of {dataset_mib:.0f} MiB takes about {out.backup_seconds:.0f} s, beyond the backup "
            f"job's {s.backup_deadline_seconds:.0f} s deadline",
        )
    if out.restore_seconds > d.restore_objective_seconds:
        out.short(
            "restore",
            f"a restore of {dataset_mib:.0f} MiB takes about {out.restore_seconds:.0f} s, beyond the "
            f"{d.restore_objective_seconds:.0f} s restore objective",
        )
    if s.drill_memory_limit_bytes and s.drill_memory_limit_bytes < out.drill_memory_bytes:
        out.short(
            "drill",
            f"the restore drill's memory limit ({_gib(s.drill_memory_limit_bytes)}) is below the "
            f"{_gib(out.drill_memory_bytes)} its pod needs to load {_gib(needed)} of dataset (with headroom) beside "
            "the job: it would be refused every week (settings.drill_memory sizes it)",
        )
    node_bytes = s.main_node_memory_mi * MIB
    if s.drill_memory_limit_bytes and node_bytes and s.drill_memory_limit_bytes > node_bytes:
        out.short(
            "drill",
            f"the restore drill's pod ({_gib(s.drill_memory_limit_bytes)}) does not fit a main node's "
            f"{_gib(node_bytes)} allocatable",
        )
    if s.backup_memory_limit_bytes and s.backup_memory_limit_bytes < JOB_PROCESS_BYTES:
        out.short(
            "backup-job",
            f"the backup job's memory limit ({s.backup_memory_limit_bytes / MIB:.0f} MiB) is below the "
            f"{JOB_PROCESS_BYTES / MIB:.0f} MiB its process tree peaks at",
        )
    return out


def combine(plans: list[Plan]) -> Plan:
    """One verdict over the regions: the first plan's figures with every region's shortfalls and warnings."""
    if not plans:
        raise ValueError("no region to plan")
    return replace(
        plans[0],
        region="",
        shortfalls=[m for p in plans for m in p.shortfalls],
        constraints=[c for p in plans for c in p.constraints],
        warnings=[m for p in plans for m in p.warnings],
    )


def baseline_from(document: dict[str, Any], backup: dict[str, Any] | None) -> Baseline:
    """The model's :class:`Baseline` from ``docs/capacity/baseline.json`` (``ops bench ... --save``) and
    the backup benchmark (``make bench``: ``docs/capacity/backup-benchmark.json``); ValueError names
    what is missing."""

    def need(path: str) -> float:
        node: Any = document
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"the baseline has no {path}")
            node = node[part]
        if not isinstance(node, (int, float)) or isinstance(node, bool) or node < 0:
            raise ValueError(f"the baseline's {path} is not a non-negative number")
        return float(node)

    rows = (backup or {}).get("rows") or []
    row = max(rows, key=lambda r: r.get("dataset_mib", 0)) if rows else None
    if row is None:
        raise ValueError("the backup benchmark has no rows (run make bench)")
    size = float(row["dataset_mib"])
    return Baseline(
        gateway_rps_per_pod=need("gateway.rps_per_pod"),
        redis_ops_per_second=need("redis.mixed_ops"),
        redis_overhead_bytes_per_key=need("redis.overhead_bytes_per_key"),
        backup_seconds_per_mib=float(row["backup_ours_s"]) / size,
        restore_seconds_per_mib=float(row["restore_ours_s"]) / size,
        rdb_ratio=float(row["rdb_mib"]) / size,
    )


def replication_backlog_need(d: Demand, link_outage_seconds: float) -> float:
    """Bytes of replication stream the declared write rate produces, with headroom, while a link is down
    for ``link_outage_seconds``: the backlog a primary (or a replica serving the standby) must keep
    for the replica to resume with a partial resynchronisation instead of a full one."""
    writes_per_second = d.peak_rps * (1 - d.read_share)
    stream_bytes_per_second = writes_per_second * (d.value_bytes + REPL_WRITE_OVERHEAD_BYTES)
    return stream_bytes_per_second * link_outage_seconds * (1 + d.headroom)
