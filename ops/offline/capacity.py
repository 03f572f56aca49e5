"""``python -m ops capacity --stack <stack>``: the capacity plan of a stack, in every region it runs in.

Inputs: ``redisgw:capacity.*`` (the peak, the mix, the keys and values, growth, headroom), the stack's
own sizes (zones, gateway replicas and requests, node groups, Redis memory and ``maxmemory``, the
backup job's deadline), and the measured baselines (``docs/capacity/baseline.json`` from
``ops bench``, ``docs/capacity/backup-benchmark.json`` from ``make bench``). The arithmetic and the
words are :mod:`redisgw_policies.capacity_model`, the same the pack's ``capacity-require-declared-peak``
policy runs at preview: the primary region on ``redisgw:cluster.nodeGroups``, and with
``redisgw:dr.enabled`` the DR region on ``redisgw:dr.nodeGroups`` (standby size: the autoscaler grows
it to ``maxSize`` after a failover) with the same Redis sizing and HPA maximum. Each shortfall is
prefixed with its region, as the policy prefixes it.

Verdict and exit code: a shortfall in any region exits 1 (``capacity INSUFFICIENT``); warnings (growth
left under :data:`~redisgw_policies.capacity_model.REVIEW_MONTHS` months, a part without a price) are
printed, make the verdict ``capacity WARNING`` and keep exit 0. No settings key states a cost
objective (``redisgw:capacity`` has no budget), so a cost the table cannot complete never fails the
plan; the warning names the instance type and the node group left out of the total.

Cost per month comes from ``docs/capacity/prices.json`` (published on-demand list prices per region,
dated, source named): every line shows its quantity and unit price, the parts the table does not cost
are listed (:data:`LEFT_OUT`), and the total is the sum of the lines shown.
"""

from __future__ import annotations

import datetime
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import settings
from ops.errors import OpsError
from ops.offline.engine import ROOT, load_stack_config

if str(ROOT / "policies") not in sys.path:
    sys.path.append(str(ROOT / "policies"))  # the pack is self-contained; its model is read from there

from redisgw_policies.capacity import instance_capacity
from redisgw_policies.capacity_model import (
    DR,
    PRIMARY,
    REPL_WRITE_OVERHEAD_BYTES,
    REVIEW_MONTHS,
    Baseline,
    Demand,
    Plan,
    Supply,
    baseline_from,
    combine,
    plan,
)

BACKUP_BENCHMARK = ROOT / "docs" / "capacity" / "backup-benchmark.json"
PRICES = ROOT / "docs" / "capacity" / "prices.json"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GIB = 2**30
"""AWS bills storage and transfer per "GB" of 2^30 bytes."""
PROMETHEUS_REPLICAS = 2
ALERTMANAGER_REPLICAS = 2
ALERTMANAGER_VOLUME_GIB = 5
"""The monitoring chart's volumes (``components/monitoring_stack.py``): two Prometheus replicas of
``monitoring.prometheusStorageSize`` and two Alertmanager replicas of 5 Gi, in each region."""
WAF_RULES = 3
"""Rules of each region's web ACL (``components/_edge.py``): the rate limit and two AWS managed groups."""
HTTP_OVERHEAD_BYTES = 600
"""Bytes an API request and its response carry besides the value (request line, headers both ways):
what the ALB processes, its LCUs counted on processed bytes (keep-alive clients)."""
PRICE_KEYS = (
    "eks_cluster_hour",
    "nat_gateway_hour",
    "alb_hour",
    "alb_lcu_hour",
    "gp3_gb_month",
    "s3_standard_gb_month",
    "s3_standard_ia_gb_month",
    "s3_glacier_ir_gb_month",
    "inter_region_transfer_gb",
    "s3_rtc_gb",
    "waf_web_acl_month",
    "waf_rule_month",
    "waf_million_requests",
)
LEFT_OUT = (
    "EBS snapshots of the Redis volumes (AWS Backup, hourly, kept snapshotRetentionDays, copied to the DR "
    "region): incremental, their size follows the change rate, which the stack does not declare",
    "NAT gateway data processing and data transfer out to the internet (responses): volumes not declared",
    "S3 requests, ALB and WAF access-log storage, CloudWatch (logs, VPC flow logs, metrics, alarms)",
    "KMS keys and requests, Secrets Manager secrets, Route 53 (hosted zone, health check, queries), ECR "
    "storage, the CodeBuild deploy runner; ACM certificates and VPC peering itself are free",
)
"""Priced parts the plan creates that the cost leaves out, shown under the table."""


@dataclass
class CostLine:
    """One priced part: ``quantity`` units at ``unit_price`` (None: no price known) per month."""

    region: str
    part: str
    quantity: float
    unit: str
    unit_price: float | None
    price_key: str
    note: str = ""

    @property
    def monthly(self) -> float | None:
        return None if self.unit_price is None else round(self.quantity * self.unit_price, 2)

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "monthly": self.monthly}


@dataclass
class Costs:
    date: str
    source: str
    currency: str
    lines: list[CostLine]
    usage: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.monthly or 0.0 for line in self.lines), 2)

    def region_total(self, region: str) -> float:
        return round(sum(line.monthly or 0.0 for line in self.lines if line.region == region), 2)

    @property
    def regions(self) -> list[str]:
        return list(dict.fromkeys(line.region for line in self.lines))

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "source": self.source,
            "currency": self.currency,
            "usage": self.usage,
            "lines": [line.as_dict() for line in self.lines],
            "regions": {r: self.region_total(r) for r in self.regions},
            "total": self.total,
            "complete": all(line.unit_price is not None for line in self.lines),
            "warnings": self.warnings,
            "left_out": list(LEFT_OUT),
        }


@dataclass
class Report:
    stack: str
    plan: Plan
    """The verdict over every region (:func:`capacity_model.combine`): what the exit code follows."""
    regions: dict[str, tuple[str, Plan, Supply]]
    """Label (:data:`PRIMARY`, :data:`DR`) -> (AWS region, its plan, its supply)."""
    demand: Demand
    baseline: Baseline
    gateway_measured: bool
    costs: Costs

    @property
    def supply(self) -> Supply:
        return self.regions[PRIMARY][2]

    @property
    def warnings(self) -> list[str]:
        return [*self.plan.warnings, *self.costs.warnings]

    @property
    def verdict(self) -> str:
        return "INSUFFICIENT" if not self.plan.ok else "WARNING" if self.warnings else "OK"

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.plan.ok,
            "verdict": self.verdict.lower(),
            "shortfalls": self.plan.shortfalls,
            "warnings": self.warnings,
            "plan": self.plan.as_dict(),
            "regions": {
                label: {"region": region, "plan": p.as_dict(), "supply": vars(s)}
                for label, (region, p, s) in self.regions.items()
            },
            "demand": vars(self.demand),
            "baseline": vars(self.baseline),
            "supply": vars(self.supply),
            "gateway_rps_per_pod_measured": self.gateway_measured,
            "costs": self.costs.as_dict(),
        }


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(f"{_where(path)}: no such {what}", code=2) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{path}: not a valid {what} ({exc})", code=2) from None
    if not isinstance(doc, dict):
        raise OpsError(f"{path}: not a valid {what} (a JSON object expected)", code=2)
    return doc


def _sizes(instance_types: tuple[str, ...], key: str, source: str) -> list[tuple[int, int]]:
    sizes = [c for c in (instance_capacity(t) for t in instance_types) if c is not None]
    if not sizes:
        raise OpsError(
            f"{source}: {key}: no known instance size among {list(instance_types)}: cannot size the nodes", code=2
        )
    return sizes


def _supply(
    cfg: settings.StackSettings,
    groups: settings.NodeGroupsSettings,
    *,
    zones: int,
    gateway_min: int,
    label: str,
    key: str,
    source: str,
) -> Supply:
    """What one region declares: its node groups (``key``: where they are in the stack file) beside the
    tier's sizes, which both regions share."""
    from components.backup_vault import BACKUP_DEADLINE, BACKUP_JOB_MEMORY

    main = _sizes(groups.main.instance_types, f"{key}.main.instanceTypes", source)
    redis = _sizes(groups.redis.instance_types, f"{key}.redis.instanceTypes", source)
    return Supply(
        zones=zones,
        gateway_max=cfg.gateway.replicas.max,
        gateway_cpu_request_m=settings.cpu_millis(cfg.gateway.resources.cpu_request),
        gateway_memory_request_mi=settings.quantity_bytes(cfg.gateway.resources.memory_request) / 2**20,
        main_nodes_max=groups.main.max_size,
        main_node_cpu_m=min(s[0] for s in main),
        main_node_memory_mi=min(s[1] for s in main),
        redis_memory_limit_bytes=settings.quantity_bytes(cfg.redis.resources.memory_limit),
        maxmemory_percent=cfg.redis.maxmemory_percent,
        backup_deadline_seconds=BACKUP_DEADLINE,
        gateway_min=gateway_min,
        redis_node_memory_mi=min(s[1] for s in redis),
        drill_memory_limit_bytes=settings.quantity_bytes(settings.drill_memory(cfg, ROOT)),
        backup_memory_limit_bytes=settings.quantity_bytes(BACKUP_JOB_MEMORY[1]),
        region=label,
    )


def inputs(
    cfg: settings.StackSettings, baseline_path: Path | None = None, source: str = "the stack file"
) -> tuple[Demand, Baseline, dict[str, tuple[str, Supply]], bool]:
    """The model's inputs for a validated stack, per region; OpsError (exit 2) names a missing or broken input."""
    cap = cfg.capacity
    if cap is None:
        raise OpsError(
            f"{source}: the stack declares no redisgw:capacity (peak, mix, keys, values): nothing to plan", code=2
        )
    path = baseline_path or ROOT / cap.baseline
    document = _json(path, "baseline (run `ops bench redis --save` and `ops bench http --find-max --save`)")
    try:
        baseline = baseline_from(document, _json(BACKUP_BENCHMARK, "backup benchmark (run make bench)"))
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise OpsError(f"{path.name}: {exc}", code=2) from None
    demand = Demand(
        peak_rps=cap.peak_requests_per_second,
        read_share=cap.read_share,
        keys=cap.keys,
        value_bytes=float(cap.value_bytes.mean),
        growth_per_month=cap.growth_per_month,
        headroom=cap.headroom,
        restore_objective_seconds=float(cap.restore_objective_seconds),
    )
    supplies = {
        PRIMARY: (
            cfg.region,
            _supply(
                cfg,
                cfg.cluster.node_groups,
                zones=len(cfg.network.availability_zones),
                gateway_min=cfg.gateway.replicas.min,
                label=PRIMARY,
                key="redisgw:cluster.nodeGroups",
                source=source,
            ),
        )
    }
    if cfg.dr.enabled and cfg.dr.region and cfg.dr.node_groups:
        supplies[DR] = (
            cfg.dr.region,
            _supply(
                cfg,
                cfg.dr.node_groups,
                zones=len(cfg.dr.availability_zones),
                gateway_min=cfg.dr.gateway_min_replicas,
                label=DR,
                key="redisgw:dr.nodeGroups",
                source=source,
            ),
        )
    measured = bool((document.get("gateway") or {}).get("measured"))
    return demand, baseline, supplies, measured


# -- cost --------------------------------------------------------------------------------------------


def backups_per_day(schedule: str) -> float:
    """Runs per day of a (valid) cron schedule, averaged over four weeks."""
    from croniter import croniter

    start = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=28)
    it = croniter(schedule, start - datetime.timedelta(seconds=1))
    runs = 0
    while it.get_next(datetime.datetime) < end:
        runs += 1
    return runs / 28


class _Region:
    """The cost lines of one region, priced from its table; each missing price is a warning naming its key."""

    def __init__(self, doc: dict[str, Any], label: str, region: str, out: Costs) -> None:
        self.label, self.region, self.out = label, region, out
        table = (doc.get("regions") or {}).get(region)
        self.instances: dict[str, Any] = (doc.get("instances") or {}).get(region) or {}
        self.table: dict[str, Any] = table or {}
        if table is None:
            out.warnings.append(
                f"{label} ({region}): no prices for the region in {_where(PRICES)} (regions.{region}): "
                "its parts are left out of the monthly cost"
            )

    def add(self, part: str, quantity: float, unit: str, key: str, note: str = "") -> None:
        price = self.table.get(key)
        if price is None and self.table:
            self.out.warnings.append(
                f"{self.label} ({self.region}): {_where(PRICES)} has no regions.{self.region}.{key}: "
                f"{part} is left out of the monthly cost"
            )
        self.out.lines.append(CostLine(self.region, part, quantity, unit, price, key, note))

    def nodes(self, name: str, group: settings.NodeGroupSettings, key: str) -> None:
        itype = group.instance_types[0]
        price = self.instances.get(itype)
        if price is None:
            self.out.warnings.append(
                f"{self.label} ({self.region}): no price for instance type {itype} in {_where(PRICES)} "
                f"(instances.{self.region}): the {name} node group ({key}, {group.desired_size} nodes) is left "
                "out of the monthly cost"
            )
        hours = group.desired_size * HOURS_PER_MONTH
        self.out.lines.append(
            CostLine(
                self.region,
                f"{name} nodes ({itype})",
                hours,
                "node-hours",
                price,
                f"instances.{self.region}.{itype}",
                f"{group.desired_size} nodes",
            )
        )


def _price_table() -> dict[str, Any]:
    doc = _json(PRICES, "price table")
    for key in ("date", "source", "currency"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise OpsError(f"{_where(PRICES)}: {key} is missing (the table is dated and names its source)", code=2)
    for section in ("instances", "regions"):
        tables = doc.get(section, {})
        if not isinstance(tables, dict):
            raise OpsError(f"{_where(PRICES)}: {section} is not an object (region -> prices)", code=2)
        for region, table in tables.items():
            if not isinstance(table, dict):
                raise OpsError(f"{_where(PRICES)}: {section}.{region} is not an object", code=2)
            for key, value in table.items():
                if not _price(value):
                    raise OpsError(
                        f"{_where(PRICES)}: {section}.{region}.{key} is {value!r}, not a non-negative price", code=2
                    )
    return doc


def _price(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _backup_tiers(b: settings.BackupSettings) -> list[tuple[str, str, int]]:
    """(storage class, price key, days a backup spends in it) under the bucket lifecycle."""
    ia = min(b.infrequent_access_after_days, b.expire_after_days)
    glacier = max(ia, min(b.glacier_after_days, b.expire_after_days))
    tiers = [
        ("Standard", "s3_standard_gb_month", ia),
        ("Standard-IA", "s3_standard_ia_gb_month", glacier - ia),
        ("Glacier IR", "s3_glacier_ir_gb_month", b.expire_after_days - glacier),
    ]
    return [t for t in tiers if t[2] > 0]


def costs(
    cfg: settings.StackSettings, demand: Demand | None = None, rdb_bytes: float = 0.0, doc: dict[str, Any] | None = None
) -> Costs:
    """Cost per month of every priced part the plan creates in each region, at the desired sizes, from the
    dated price table; traffic at the declared peak times the table's ``usage.mean_share_of_peak``."""
    doc = doc if doc is not None else _price_table()
    usage = doc.get("usage") or {}
    raw: Any = usage.get("mean_share_of_peak", 1.0) if isinstance(usage, dict) else None
    if not _price(raw) or not 0 < raw <= 1:
        raise OpsError(f"{_where(PRICES)}: usage.mean_share_of_peak is {raw!r}, not a share in (0, 1]", code=2)
    share = float(raw)
    out = Costs(str(doc["date"]), str(doc["source"]), str(doc["currency"]), [], {"mean_share_of_peak": share})
    mean_rps = demand.peak_rps * share if demand else 0.0
    value = demand.value_bytes if demand else 0.0
    writes = mean_rps * (1 - demand.read_share) if demand else 0.0
    per_day = backups_per_day(cfg.backup.schedule)
    backup_gib = rdb_bytes / GIB
    regions: list[tuple[str, str, settings.NodeGroupsSettings, int, str]] = [
        (PRIMARY, cfg.region, cfg.cluster.node_groups, len(cfg.network.availability_zones), "redisgw:cluster")
    ]
    if cfg.dr.enabled and cfg.dr.region and cfg.dr.node_groups:
        regions.append((DR, cfg.dr.region, cfg.dr.node_groups, len(cfg.dr.availability_zones), "redisgw:dr"))
    for label, region, groups, zones, section in regions:
        r = _Region(doc, label, region, out)
        r.nodes("main", groups.main, f"{section}.nodeGroups.main")
        r.nodes("redis", groups.redis, f"{section}.nodeGroups.redis")
        r.add("EKS control plane", HOURS_PER_MONTH, "hours", "eks_cluster_hour")
        nats = zones if cfg.network.nat_gateways == "per-az" else 1
        r.add(f"NAT gateways ({nats})", nats * HOURS_PER_MONTH, "gateway-hours", "nat_gateway_hour")
        # -- volumes: the Redis PVCs, the node disks, the backup spool, the monitoring chart's --
        redis_gib = settings.quantity_bytes(cfg.redis.storage_size) / GIB * cfg.redis.replicas
        r.add(
            f"Redis volumes ({cfg.redis.replicas} x {cfg.redis.storage_size})", redis_gib, "GB-months", "gp3_gb_month"
        )
        main, redis = groups.main, groups.redis
        r.add(
            "node disks",
            main.disk_size_gb * main.desired_size + redis.disk_size_gb * redis.desired_size,
            "GB-months",
            "gp3_gb_month",
            f"{main.desired_size} x {main.disk_size_gb} + {redis.desired_size} x {redis.disk_size_gb} GB",
        )
        spool = settings.quantity_bytes(cfg.backup.scratch_size) / GIB
        r.add(f"backup spool volume ({cfg.backup.scratch_size})", spool, "GB-months", "gp3_gb_month")
        prometheus = settings.quantity_bytes(cfg.monitoring.prometheus_storage_size) / GIB
        r.add(
            "Prometheus and Alertmanager volumes",
            prometheus * PROMETHEUS_REPLICAS + ALERTMANAGER_VOLUME_GIB * ALERTMANAGER_REPLICAS,
            "GB-months",
            "gp3_gb_month",
            f"{PROMETHEUS_REPLICAS} x {cfg.monitoring.prometheus_storage_size} + "
            f"{ALERTMANAGER_REPLICAS} x {ALERTMANAGER_VOLUME_GIB}Gi",
        )
        # -- backups in S3: every backup kept by the bucket lifecycle until it expires (prune is manual) --
        copies = [("backups", "this region's backup job")]
        if label == DR:
            copies.insert(0, ("replicated backups", "the primary's, replicated"))
        for what, whose in copies:
            for tier, key, days in _backup_tiers(cfg.backup):
                r.add(
                    f"S3 {what}, {tier}",
                    backup_gib * per_day * days,
                    "GB-months",
                    key,
                    f"{whose}: {per_day:g}/day x {days} days x {backup_gib:.2f} GB",
                )
        # -- the edge: the ALB and the WAF (the standby's serve after a failover only) --
        serving = mean_rps if label == PRIMARY else 0.0
        lcus = serving * (value + HTTP_OVERHEAD_BYTES) * 3600 / GIB
        r.add("ALB", HOURS_PER_MONTH, "hours", "alb_hour")
        r.add(
            "ALB LCUs (processed bytes, 1 GB/h each)",
            lcus * HOURS_PER_MONTH,
            "LCU-hours",
            "alb_lcu_hour",
            f"{lcus:.2f} LCU at {serving:g} req/s mean",
        )
        r.add("WAF web ACL", 1, "web ACLs", "waf_web_acl_month")
        r.add("WAF rules", WAF_RULES, "rules", "waf_rule_month")
        r.add(
            "WAF requests",
            serving * SECONDS_PER_MONTH / 1e6,
            "million requests",
            "waf_million_requests",
            f"{serving:g} req/s mean",
        )
        # -- between the regions: charged to the sender, the primary --
        if label == PRIMARY and len(regions) > 1:
            if cfg.dr.replication == "replica":
                # Every pod of the DR tier replicates across the link (each reads the same `replicaof`
                # line), so the stream crosses the regions once per standby pod.
                pods = cfg.redis.replicas
                r.add(
                    "inter-region transfer: Redis replication to the DR standby",
                    pods * writes * (value + REPL_WRITE_OVERHEAD_BYTES) * SECONDS_PER_MONTH / GIB,
                    "GB",
                    "inter_region_transfer_gb",
                    f"{pods} standby pods x {writes:g} writes/s mean x {value + REPL_WRITE_OVERHEAD_BYTES:g} bytes",
                )
            replicated = backup_gib * per_day * DAYS_PER_MONTH
            note = f"{per_day:g}/day x {DAYS_PER_MONTH:g} days x {backup_gib:.2f} GB"
            r.add("inter-region transfer: S3 backup replication", replicated, "GB", "inter_region_transfer_gb", note)
            r.add("S3 Replication Time Control", replicated, "GB", "s3_rtc_gb", note)
    out.warnings = list(dict.fromkeys(out.warnings))
    return out


def build(stack: str, baseline_path: Path | None = None, config_file: Path | None = None) -> Report:
    config = load_stack_config(stack, config_file)
    try:
        cfg = settings.load_settings(config.values, source=config.path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        raise OpsError("\n".join(exc.problems), code=2) from None
    demand, baseline, supplies, measured = inputs(cfg, baseline_path, config.path.name)
    regions: dict[str, tuple[str, Plan, Supply]] = {}
    for label, (region, supply) in supplies.items():
        try:
            regions[label] = (region, plan(demand, baseline, supply), supply)
        except ValueError as exc:
            raise OpsError(f"{config.path.name}: {label} ({region}): {exc}", code=2) from None
    verdict = combine([p for _, p, _ in regions.values()])
    rdb_bytes = regions[PRIMARY][1].rdb_mib * 2**20
    return Report(stack, verdict, regions, demand, baseline, measured, costs(cfg, demand, rdb_bytes))


# -- output ------------------------------------------------------------------------------------------


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _region_rows(r: Report, label: str) -> list[tuple[str, str, str]]:
    region, p, s = r.regions[label]
    d = r.demand
    months = "unlimited" if math.isinf(p.months_of_growth) else f"{p.months_of_growth:.0f}"
    return [
        (f"**{label}** ({region})", "", f"{s.zones} zones"),
        ("Gateway pods, one zone lost", str(p.gateway_pods_zone_lost), f"HPA max {s.gateway_max}"),
        ("HPA min / max", f"{s.gateway_min} / {s.gateway_max}", f"max at least {p.gateway_pods_zone_lost}"),
        ("Main nodes for them", str(p.main_nodes_needed), f"group maxSize {s.main_nodes_max}"),
        ("Redis memory with headroom", _gib(p.redis_needed_bytes), f"maxmemory {_gib(p.redis_maxmemory_bytes)}"),
        (
            "Redis pod memory limit",
            _gib(s.redis_memory_limit_bytes),
            f"node allocatable {_gib(s.redis_node_memory_mi * 2**20)}" if s.redis_node_memory_mi else "node unknown",
        ),
        ("Months of growth that fit", months, f"{d.growth_per_month:.0%} per month; review under {REVIEW_MONTHS}"),
        ("Backup time", f"{p.backup_seconds:.0f} s", f"job deadline {s.backup_deadline_seconds:.0f} s"),
        (
            "Restore drill pod memory",
            _gib(s.drill_memory_limit_bytes),
            f"needs {_gib(p.drill_memory_bytes)} to load the dataset with headroom",
        ),
        ("Backup job pod memory", _gib(s.backup_memory_limit_bytes), "streams: the process tree stays under 200 MiB"),
    ]


def _rows(r: Report) -> list[tuple[str, str, str]]:
    p, d = r.regions[PRIMARY][1], r.demand
    c = r.costs
    return [
        ("Peak", f"{d.peak_rps:g} req/s, {d.read_share:.0%} reads, headroom {d.headroom:.0%}", ""),
        ("Gateway pods at peak", str(p.gateway_pods_at_peak), f"{r.baseline.gateway_rps_per_pod:g} req/s per pod"),
        (
            "Redis dataset",
            _gib(p.redis_dataset_bytes),
            f"{d.keys} keys x ({d.value_bytes:g} + {r.baseline.redis_overhead_bytes_per_key:g}) bytes",
        ),
        (
            "Redis operations at peak",
            f"{p.redis_ops_needed:.0f}/s",
            f"measured {r.baseline.redis_ops_per_second:.0f}/s",
        ),
        ("RDB size", f"{p.rdb_mib:.0f} MiB", f"ratio {r.baseline.rdb_ratio:.2f}"),
        ("Restore time", f"{p.restore_seconds:.0f} s", f"objective {d.restore_objective_seconds:.0f} s"),
        *(row for label in r.regions for row in _region_rows(r, label)),
        (
            "Cost per month",
            f"{c.total:,.0f} {c.currency}",
            f"list prices of {c.date}" + ("" if all(x.unit_price is not None for x in c.lines) else ", incomplete"),
        ),
    ]


def _cost_rows(c: Costs) -> list[tuple[str, str, str, str, str]]:
    def price(x: float | None) -> str:
        return "no price" if x is None else f"{x:g}"

    rows = [
        (
            line.region,
            line.part + (f" ({line.note})" if line.note else ""),
            f"{line.quantity:,.2f} {line.unit}",
            price(line.unit_price),
            "unknown" if line.monthly is None else f"{line.monthly:,.2f}",
        )
        for line in c.lines
    ]
    rows += [(region, "**region total**", "", "", f"{c.region_total(region):,.2f}") for region in c.regions]
    rows += [("", "**total**", "", "", f"{c.total:,.2f}")]
    return rows


def _verdict(r: Report) -> str:
    if not r.plan.ok:
        return "the stack cannot carry its declared peak:"
    if r.warnings:
        return "the stack carries its declared peak, with warnings to act on:"
    return "the stack carries its declared peak."


def markdown(r: Report) -> str:
    c = r.costs
    lines = [
        f"# Capacity plan: {r.stack}",
        "",
        f"Generated by `python -m ops capacity --stack {r.stack} --markdown docs/capacity/{r.stack}.md`;",
        "a test fails when it differs from what the code computes. Inputs: `redisgw:capacity` in the stack",
        "file, the measured baselines (`docs/capacity/baseline.json`, `docs/capacity/backup-benchmark.json`)",
        "and `docs/capacity/prices.json`. Every region the stack runs in is judged (the DR region on",
        "`redisgw:dr.nodeGroups`), with the model the `capacity-require-declared-peak` policy runs.",
        "",
        "| | value | against |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in _rows(r)),
        "",
        "**Verdict:** " + _verdict(r),
        *(f"- SHORT {s}" for s in r.plan.shortfalls),
        *(f"- WARNING {w}" for w in r.warnings),
    ]
    if not r.gateway_measured:
        lines += [
            "",
            "The gateway's requests per pod is a planning figure, not a measurement: replace it with",
            "`python -m ops bench http --url <pod-url> --find-max --save docs/capacity/baseline.json`.",
        ]
    lines += [
        "",
        f"## Cost per month ({c.currency})",
        "",
        f"On-demand list prices as of {c.date} ({c.source}). Traffic at "
        f"{c.usage['mean_share_of_peak']:g} of the declared peak on average (`usage.mean_share_of_peak`); "
        "backups kept by the bucket lifecycle until they expire.",
        "",
        "| region | part | quantity | unit price | per month |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in _cost_rows(c)),
        "",
        "Left out of the total:",
        *(f"- {item}" for item in LEFT_OUT),
    ]
    return "\n".join(lines) + "\n"


def render(r: Report, console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Capacity plan: {r.stack}")
    for column in ("", "value", "against"):
        table.add_column(column)
    for row in _rows(r):
        table.add_row(*(cell.replace("**", "") for cell in row))
    console.print(table)
    costs_table = Table(title=f"Cost per month ({r.costs.currency}, list prices of {r.costs.date})")
    for column in ("region", "part", "quantity", "unit price", "per month"):
        costs_table.add_column(column, justify="right" if column in ("unit price", "per month") else "left")
    for cost_row in _cost_rows(r.costs):
        costs_table.add_row(*(cell.replace("**", "") for cell in cost_row))
    console.print(costs_table)
    console.print("left out of the cost: " + "; ".join(LEFT_OUT), markup=False)
    if not r.gateway_measured:
        console.print("note: the gateway's requests per pod is a planning figure, not a measurement", markup=False)
    for s in r.plan.shortfalls:
        console.print(f"SHORT {s}", markup=False)
    for w in r.warnings:
        console.print(f"WARNING {w}", markup=False)
    console.print(f"capacity {r.verdict}", markup=False)
