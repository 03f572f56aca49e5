"""``python -m ops capacity --stack <stack>``: the capacity plan of a stack.

Inputs: ``redisgw:capacity.*`` (the peak, the mix, the keys and values, growth, headroom), the stack's
own sizes (zones, gateway replicas and requests, node groups, Redis memory and ``maxmemory``, the
backup job's deadline), and the measured baselines (``docs/capacity/baseline.json`` from
``ops bench``, ``docs/capacity/backup-benchmark.json`` from ``make bench``). The arithmetic is
:mod:`redisgw_policies.capacity_model`, the same the pack's ``capacity-require-declared-peak``
policy runs at preview.

Cost per month comes from ``docs/capacity/prices.json`` (dated, its source named): on-demand node
hours at the desired sizes, the EKS control plane, NAT gateways, the ALB and the Redis volumes, for
each region the stack runs in.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import settings
from ops.errors import OpsError
from ops.offline.engine import ROOT, load_stack_config

if str(ROOT / "policies") not in sys.path:
    sys.path.append(str(ROOT / "policies"))  # the pack is self-contained; its model is read from there

from redisgw_policies.capacity import instance_capacity
from redisgw_policies.capacity_model import Baseline, Demand, Plan, Supply, baseline_from, plan

BACKUP_BENCHMARK = ROOT / "docs" / "capacity" / "backup-benchmark.json"
PRICES = ROOT / "docs" / "capacity" / "prices.json"
HOURS_PER_MONTH = 730


@dataclass
class Report:
    stack: str
    plan: Plan
    demand: Demand
    baseline: Baseline
    supply: Supply
    gateway_measured: bool
    costs: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.plan.ok,
            "plan": self.plan.as_dict(),
            "demand": vars(self.demand),
            "baseline": vars(self.baseline),
            "supply": vars(self.supply),
            "gateway_rps_per_pod_measured": self.gateway_measured,
            "costs": self.costs,
        }


def _json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: no such {what}", code=2
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{path}: not a valid {what} ({exc})", code=2) from None
    if not isinstance(doc, dict):
        raise OpsError(f"{path}: not a valid {what} (a JSON object expected)", code=2)
    return doc


def inputs(cfg: settings.StackSettings, baseline_path: Path | None = None) -> tuple[Demand, Baseline, Supply, bool]:
    """The model's inputs for a validated stack; OpsError (exit 2) names a missing or broken input."""
    from components.backup_vault import BACKUP_DEADLINE, BACKUP_JOB_MEMORY

    cap = cfg.capacity
    if cap is None:
        raise OpsError("the stack declares no redisgw:capacity (peak, mix, keys, values): nothing to plan", code=2)
    path = baseline_path or ROOT / cap.baseline
    document = _json(path, "baseline (run `ops bench redis --save` and `ops bench http --find-max --save`)")
    try:
        baseline = baseline_from(document, _json(BACKUP_BENCHMARK, "backup benchmark (run make bench)"))
    except (ValueError, KeyError, TypeError) as exc:
        raise OpsError(f"{path.name}: {exc}", code=2) from None
    main = cfg.cluster.node_groups.main
    sizes = [c for c in (instance_capacity(t) for t in main.instance_types) if c is not None]
    if not sizes:
        raise OpsError(f"no known instance size among {list(main.instance_types)}: cannot size the nodes", code=2)
    demand = Demand(
        peak_rps=cap.peak_requests_per_second,
        read_share=cap.read_share,
        keys=cap.keys,
        value_bytes=float(cap.value_bytes.mean),
        growth_per_month=cap.growth_per_month,
        headroom=cap.headroom,
        restore_objective_seconds=float(cap.restore_objective_seconds),
    )
    supply = Supply(
        zones=len(cfg.network.availability_zones),
        gateway_max=cfg.gateway.replicas.max,
        gateway_cpu_request_m=settings.cpu_millis(cfg.gateway.resources.cpu_request),
        gateway_memory_request_mi=settings.quantity_bytes(cfg.gateway.resources.memory_request) / 2**20,
        main_nodes_max=main.max_size,
        main_node_cpu_m=min(s[0] for s in sizes),
        main_node_memory_mi=min(s[1] for s in sizes),
        redis_memory_limit_bytes=settings.quantity_bytes(cfg.redis.resources.memory_limit),
        maxmemory_percent=cfg.redis.maxmemory_percent,
        backup_deadline_seconds=BACKUP_DEADLINE,
        gateway_min=cfg.gateway.replicas.min,
        redis_node_memory_mi=min(
            (c[1] for c in (instance_capacity(t) for t in cfg.cluster.node_groups.redis.instance_types) if c),
            default=0,
        ),
        drill_memory_limit_bytes=settings.quantity_bytes(settings.drill_memory(cfg, ROOT)),
        backup_memory_limit_bytes=settings.quantity_bytes(BACKUP_JOB_MEMORY[1]),
    )
    measured = bool((document.get("gateway") or {}).get("measured"))
    return demand, baseline, supply, measured


def costs(cfg: settings.StackSettings) -> dict[str, Any]:
    """Cost per month at the desired sizes, per region, from the dated price table."""
    prices = _json(PRICES, "price table")
    out: dict[str, Any] = {
        "date": prices.get("date"),
        "source": prices.get("source"),
        "currency": prices.get("currency"),
    }
    regions = [(cfg.region, cfg.cluster.node_groups, cfg.network.nat_gateways)]
    if cfg.dr.enabled and cfg.dr.region and cfg.dr.node_groups:
        regions.append((cfg.dr.region, cfg.dr.node_groups, cfg.network.nat_gateways))
    total = 0.0
    for region, groups, nat in regions:
        table = (prices.get("instances") or {}).get(region) or {}
        lines: dict[str, float | None] = {}
        for label, group in (("main nodes", groups.main), ("redis nodes", groups.redis)):
            price = table.get(group.instance_types[0])
            lines[f"{label} ({group.desired_size} x {group.instance_types[0]})"] = (
                round(price * group.desired_size * HOURS_PER_MONTH, 2) if price is not None else None
            )
        nats = len(cfg.network.availability_zones) if nat == "per-az" else 1
        lines["EKS control plane"] = round(prices["eks_cluster_hour"] * HOURS_PER_MONTH, 2)
        lines[f"NAT gateways ({nats})"] = round(prices["nat_gateway_hour"] * nats * HOURS_PER_MONTH, 2)
        lines["ALB"] = round(prices["alb_hour"] * HOURS_PER_MONTH, 2)
        volume_gb = settings.quantity_bytes(cfg.redis.storage_size) / 1e9 * cfg.redis.replicas
        lines[f"Redis volumes ({volume_gb:.0f} GB gp3)"] = round(prices["gp3_gb_month"] * volume_gb, 2)
        known = [v for v in lines.values() if v is not None]
        out[region] = {"lines": lines, "total": round(sum(known), 2), "complete": len(known) == len(lines)}
        total += sum(known)
    out["total"] = round(total, 2)
    return out


def build(stack: str, baseline_path: Path | None = None, config_file: Path | None = None) -> Report:
    config = load_stack_config(stack, config_file)
    try:
        cfg = settings.load_settings(config.values, source=config.path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        raise OpsError("\n".join(exc.problems), code=2) from None
    demand, baseline, supply, measured = inputs(cfg, baseline_path)
    try:
        result = plan(demand, baseline, supply)
    except ValueError as exc:
        raise OpsError(f"{config.path.name}: {exc}", code=2) from None
    return Report(stack, result, demand, baseline, supply, measured, costs(cfg))


def _rows(r: Report) -> list[tuple[str, str, str]]:
    p, d, s = r.plan, r.demand, r.supply
    gib = lambda n: f"{n / 2**30:.2f} GiB"  # noqa: E731
    months = "unlimited" if math.isinf(p.months_of_growth) else f"{p.months_of_growth:.0f}"
    return [
        ("Peak", f"{d.peak_rps:g} req/s, {d.read_share:.0%} reads, headroom {d.headroom:.0%}", ""),
        ("Gateway pods at peak", str(p.gateway_pods_at_peak), f"{r.baseline.gateway_rps_per_pod:g} req/s per pod"),
        ("Gateway pods, one zone lost", str(p.gateway_pods_zone_lost), f"HPA max {s.gateway_max}"),
        ("HPA min / max", f"{s.gateway_min} / {s.gateway_max}", f"max at least {p.gateway_pods_zone_lost}"),
        ("Main nodes for them", str(p.main_nodes_needed), f"group maxSize {s.main_nodes_max}"),
        (
            "Redis dataset",
            gib(p.redis_dataset_bytes),
            f"{d.keys} keys x ({d.value_bytes:g} + {r.baseline.redis_overhead_bytes_per_key:g}) bytes",
        ),
        ("Redis memory with headroom", gib(p.redis_needed_bytes), f"maxmemory {gib(p.redis_maxmemory_bytes)}"),
        (
            "Redis pod memory limit",
            gib(s.redis_memory_limit_bytes),
            f"node allocatable {gib(s.redis_node_memory_mi * 2**20)}" if s.redis_node_memory_mi else "node unknown",
        ),
        ("Months of growth that fit", months, f"{d.growth_per_month:.0%} per month"),
        (
            "Redis operations at peak",
            f"{p.redis_ops_needed:.0f}/s",
            f"measured {r.baseline.redis_ops_per_second:.0f}/s",
        ),
        ("RDB size", f"{p.rdb_mib:.0f} MiB", f"ratio {r.baseline.rdb_ratio:.2f}"),
        ("Backup time", f"{p.backup_seconds:.0f} s", f"job deadline {s.backup_deadline_seconds:.0f} s"),
        ("Restore time", f"{p.restore_seconds:.0f} s", f"objective {d.restore_objective_seconds:.0f} s"),
        (
            "Restore drill pod memory",
            gib(s.drill_memory_limit_bytes),
            f"needs {gib(p.drill_memory_bytes)} to load the dataset with headroom",
        ),
        ("Backup job pod memory", gib(s.backup_memory_limit_bytes), "streams: the process tree stays under 200 MiB"),
        ("Cost per month", f"{r.costs['total']:,.0f} {r.costs['currency']}", f"prices of {r.costs['date']}"),
    ]


def markdown(r: Report) -> str:
    lines = [
        f"# Capacity plan: {r.stack}",
        "",
        f"Generated by `python -m ops capacity --stack {r.stack} --markdown docs/capacity/{r.stack}.md`;",
        "a test fails when it differs from what the code computes. Inputs: `redisgw:capacity` in the stack",
        "file, the measured baselines (`docs/capacity/baseline.json`, `docs/capacity/backup-benchmark.json`)",
        "and `docs/capacity/prices.json`.",
        "",
        "| | value | against |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in _rows(r)),
        "",
        "**Verdict:** "
        + ("the stack carries its declared peak." if r.plan.ok else "the stack cannot carry its declared peak:"),
        *(f"- {s}" for s in r.plan.shortfalls),
    ]
    if not r.gateway_measured:
        lines += [
            "",
            "The gateway's requests per pod is a planning figure, not a measurement: replace it with",
            "`python -m ops bench http --url <pod-url> --find-max --save docs/capacity/baseline.json`.",
        ]
    lines += [
        "",
        f"Cost per month by region ({r.costs['currency']}, prices of {r.costs['date']}, {r.costs['source']}):",
        "",
    ]
    for region, detail in r.costs.items():
        if isinstance(detail, dict) and "lines" in detail:
            lines.append(
                f"- {region}: {detail['total']:,.2f}" + ("" if detail["complete"] else " (some prices unknown)")
            )
            lines += [f"  - {k}: {'unknown' if v is None else f'{v:,.2f}'}" for k, v in detail["lines"].items()]
    return "\n".join(lines) + "\n"


def render(r: Report, console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Capacity plan: {r.stack}")
    for column in ("", "value", "against"):
        table.add_column(column)
    for row in _rows(r):
        table.add_row(*row)
    console.print(table)
    if not r.gateway_measured:
        console.print("note: the gateway's requests per pod is a planning figure, not a measurement", markup=False)
    for s in r.plan.shortfalls:
        console.print(f"SHORT {s}", markup=False)
    console.print("capacity " + ("OK" if r.plan.ok else "INSUFFICIENT"), markup=False)
