"""The capacity model by hand-computed cases (no headroom, a zone lost, growth that overflows, each
constraint short), ``ops capacity`` on the real stacks and their committed plans, and the same
verdict from the capacity policy at preview."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from ops.offline import capacity
from ops.offline.engine import ROOT
from redisgw_policies.capacity_model import Baseline, Demand, Supply, baseline_from, plan
from tests.conftest import write_variant

BASE = Baseline(
    gateway_rps_per_pod=500,
    redis_ops_per_second=100_000,
    redis_overhead_bytes_per_key=50,
    backup_seconds_per_mib=0.01,
    restore_seconds_per_mib=0.004,
    rdb_ratio=0.5,
)
SUPPLY = Supply(
    zones=3,
    gateway_max=20,
    gateway_cpu_request_m=250,
    gateway_memory_request_mi=512,
    main_nodes_max=6,
    main_node_cpu_m=1700,
    main_node_memory_mi=6000,
    redis_memory_limit_bytes=2**30,
    maxmemory_percent=70,
    backup_deadline_seconds=840,
)


def demand(**changes: Any) -> Demand:
    values: dict[str, Any] = dict(
        peak_rps=1000, read_share=0.8, keys=1_000_000, value_bytes=100, growth_per_month=0.1, headroom=0.0
    )
    return Demand(**{**values, **changes})


def test_no_headroom_and_a_zone_lost() -> None:
    p = plan(demand(), BASE, SUPPLY)
    assert p.gateway_pods_at_peak == 2  # 1000 / 500
    assert p.gateway_pods_zone_lost == 3  # 2 pods over 3 zones: one zone lost leaves 2 of 3
    assert p.main_nodes_needed == 1  # 3 x 250m = 750m of 1700m
    assert p.ok


def test_headroom_and_two_zones() -> None:
    p = plan(demand(headroom=0.3), BASE, Supply(**{**vars(SUPPLY), "zones": 2}))
    assert p.gateway_pods_at_peak == 3  # ceil(1300 / 500)
    assert p.gateway_pods_zone_lost == 6  # two zones: everything must fit in one
    assert p.redis_ops_needed == pytest.approx(1300)


def test_memory_and_months_of_growth() -> None:
    p = plan(demand(headroom=0.5), BASE, SUPPLY)
    assert p.redis_dataset_bytes == 150_000_000  # 1e6 x (100 + 50)
    assert p.redis_needed_bytes == 225_000_000
    assert p.redis_maxmemory_bytes == pytest.approx(2**30 * 0.7)
    # log(751619276.8 / 225e6) / log(1.1) = 12.65...
    assert p.months_of_growth == 12


def test_growth_that_overflows_is_short_and_names_maxmemory() -> None:
    p = plan(demand(keys=6_000_000, headroom=0.0), BASE, SUPPLY)  # 900 MB > 751 MB
    assert p.months_of_growth == 0 and p.constraints == ["memory"]
    assert "Redis maxmemory (0.7 GiB) is below the 0.8 GiB that 6000000 keys" in p.shortfalls[0]


def test_no_growth_fits_forever() -> None:
    assert math.isinf(plan(demand(growth_per_month=0.0), BASE, SUPPLY).months_of_growth)


@pytest.mark.parametrize(
    ("change", "supply", "constraint", "number"),
    [
        ({"peak_rps": 10_000}, {}, "gateway", "gateway.replicas.max (20) is below the 30 gateway pods"),
        (
            {"peak_rps": 6_000},
            {"main_nodes_max": 1, "gateway_max": 100},
            "nodes",
            "maxSize (1) is below the 3 nodes those 18 gateway pods",
        ),
        (
            {"peak_rps": 200_000},
            {"gateway_max": 10_000, "main_nodes_max": 10_000},
            "operations",
            "the peak needs 200000",
        ),
        (
            {"keys": 500_000, "value_bytes": 1_000},
            {"backup_deadline_seconds": 5},
            "backup",
            "beyond the backup job's 5 s",
        ),
        ({"restore_objective_seconds": 0.1}, {}, "restore", "beyond the 0 s restore objective"),
    ],
)
def test_each_constraint_short_is_named(
    change: dict[str, Any], supply: dict[str, Any], constraint: str, number: str
) -> None:
    p = plan(demand(**change), BASE, Supply(**{**vars(SUPPLY), **supply}))
    assert constraint in p.constraints and not p.ok
    assert any(number in s for s in p.shortfalls), p.shortfalls


@pytest.mark.parametrize(
    ("baseline", "supply", "message"),
    [
        ({"gateway_rps_per_pod": 0}, {}, "gateway rps per pod must be positive"),
        ({}, {"zones": 1}, "zones must be at least 2"),
    ],
)
def test_inputs_the_formulas_cannot_use(baseline: dict[str, Any], supply: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(demand(), Baseline(**{**vars(BASE), **baseline}), Supply(**{**vars(SUPPLY), **supply}))


def test_baseline_files_feed_the_model() -> None:
    b = baseline_from(
        {"gateway": {"rps_per_pod": 400}, "redis": {"mixed_ops": 90_000, "overhead_bytes_per_key": 200}},
        {"rows": [{"dataset_mib": 1000, "backup_ours_s": 10, "restore_ours_s": 4, "rdb_mib": 450}]},
    )
    assert (b.gateway_rps_per_pod, b.backup_seconds_per_mib, b.restore_seconds_per_mib, b.rdb_ratio) == (
        400,
        0.01,
        0.004,
        0.45,
    )
    with pytest.raises(ValueError, match=r"the baseline has no redis\.mixed_ops"):
        baseline_from({"gateway": {"rps_per_pod": 1}}, {"rows": [{"dataset_mib": 1}]})


# -- the stacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_committed_plan_is_what_the_code_computes(stack: str) -> None:
    report = capacity.build(stack)
    assert report.plan.ok
    assert (ROOT / "docs" / "capacity" / f"{stack}.md").read_text() == capacity.markdown(report)


def test_production_plan_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert main(["capacity", "--stack", "production", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["ok"] and doc["plan"]["gateway_pods_zone_lost"] <= doc["supply"]["gateway_max"]
    assert "capacity OK" in capsys.readouterr().out


def test_a_peak_the_stack_cannot_carry_exits_1_and_preview_blocks_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:capacity.peakRequestsPerSecond", 10_000)])
    assert main(["capacity", "--stack", "production", "--config", str(variant)]) == 1
    out = capsys.readouterr().out
    assert "SHORT primary region: gateway.replicas.max (20) is below the 39 gateway pods" in out
    assert "SHORT DR region: gateway.replicas.max (20) is below the 39 gateway pods" in out
    # The preview half: test_dr_redis_nodes_too_small_fail_ops_capacity_and_the_policy_alike previews
    # a variant with this peak too (one preview for both: each takes seconds of the suite's budget).


@pytest.mark.parametrize(
    ("writes", "argv", "message"),
    [
        ({"b.json": "{not json"}, ["--baseline", "{tmp}/b.json"], "b.json: not a valid baseline"),
        (
            {"b.json": '{"gateway": {"rps_per_pod": 500}}'},
            ["--baseline", "{tmp}/b.json"],
            "the baseline has no redis.mixed_ops",
        ),
        (
            {"b.json": '{"gateway": {"rps_per_pod": "500"}, "redis": {"mixed_ops": 1, "overhead_bytes_per_key": 1}}'},
            ["--baseline", "{tmp}/b.json"],
            "the baseline's gateway.rps_per_pod is not a non-negative number",
        ),
        (
            {"b.json": '{"gateway": {"rps_per_pod": 0}, "redis": {"mixed_ops": 1, "overhead_bytes_per_key": 1}}'},
            ["--baseline", "{tmp}/b.json"],
            "gateway rps per pod must be positive, got 0.0",
        ),
        ({"b.json": "[1, 2]"}, ["--baseline", "{tmp}/b.json"], "(a JSON object expected)"),
    ],
)
def test_broken_baselines_are_one_line_exit_2(
    writes: dict[str, str], argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in writes.items():
        (tmp_path / name).write_text(text)
    code = main(["capacity", "--stack", "production", *(a.replace("{tmp}", str(tmp_path)) for a in argv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_a_stack_without_capacity_inputs_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:capacity", ...)])
    assert main(["capacity", "--stack", "production", "--config", str(variant)]) == 2
    assert "declares no redisgw:capacity" in capsys.readouterr().err


def test_a_redis_limit_larger_than_its_node_is_short() -> None:
    p = plan(demand(), BASE, Supply(**{**vars(SUPPLY), "redis_node_memory_mi": 512.0}))  # 1 GiB limit, 0.5 GiB node
    assert p.constraints == ["memory"] and "does not fit the Redis node's 0.5 GiB allocatable" in p.shortfalls[0]


# -- the jobs' memory ----------------------------------------------------------------------------


def test_the_drill_sizing_is_one_figure_for_the_plan_the_pack_and_the_drill() -> None:
    """The pack is self-contained: its copy of the drill's figures must equal the drill's own."""
    from ops.runtime import pod_limits
    from redisgw_policies import capacity_model

    assert capacity_model.JOB_PROCESS_BYTES == pod_limits.JOB_PROCESS_BYTES
    assert capacity_model.DRILL_SCRATCH_SERVER_BYTES == pod_limits.SCRATCH_SERVER_BYTES
    assert capacity_model.DRILL_LOAD_FACTOR == pod_limits.LOAD_FACTOR
    for dataset in (0, 1, 10**9, 4.7e9):
        assert capacity_model.drill_memory_need(dataset) == pod_limits.drill_memory_need(dataset)


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_stacks_drill_pods_hold_their_declared_dataset(stack: str) -> None:
    """settings.drill_memory gives the CronJob what the model says the drill needs, rounded up to 256 MiB."""
    report = capacity.build(stack)
    limit = report.supply.drill_memory_limit_bytes
    assert report.plan.drill_memory_bytes <= limit < report.plan.drill_memory_bytes + 256 * 2**20
    assert limit % (256 * 2**20) == 0


@pytest.mark.parametrize(
    ("supply", "number"),
    [
        ({"drill_memory_limit_bytes": 300 * 2**20}, "the restore drill's memory limit (0.3 GiB) is below"),
        ({"drill_memory_limit_bytes": 64 * 2**30}, "does not fit a main node's"),
        ({"backup_memory_limit_bytes": 128 * 2**20}, "the backup job's memory limit (128 MiB) is below the 200 MiB"),
    ],
)
def test_jobs_that_cannot_hold_their_data_are_short(supply: dict[str, Any], number: str) -> None:
    p = plan(demand(), BASE, Supply(**{**vars(SUPPLY), **supply}))
    assert not p.ok and any(number in s for s in p.shortfalls), p.shortfalls
    fits = plan(demand(), BASE, Supply(**{**vars(SUPPLY), "drill_memory_limit_bytes": p.drill_memory_bytes}))
    assert "drill" not in fits.constraints


def test_the_readme_states_the_drill_memory_the_code_gives() -> None:
    import settings
    from ops.offline.engine import load_stack_config

    readme = " ".join((ROOT / "README.md").read_text().split())
    for stack, unit in (("production", "GiB"), ("staging", "MiB")):
        loaded = load_stack_config(stack)
        cfg = settings.load_settings(loaded.values, source=loaded.path.name, secret_keys=loaded.secret_keys)
        size = settings.quantity_bytes(settings.drill_memory(cfg, ROOT))
        figure = f"{size / 2**30:.1f} GiB" if unit == "GiB" else f"{size / 2**20:.0f} MiB"
        assert f"{figure} in {stack}" in readme, figure


# -- both regions, one check ---------------------------------------------------------------------

SMALL_DR_REDIS = [("redisgw:dr.nodeGroups.redis.instanceTypes", ["r7i.large", "r6i.large"])]
"""16 GiB nodes (13.7 GiB allocatable) for the 20 GiB Redis pods the standby runs like the primary."""


def test_the_shortfalls_are_labelled_by_region() -> None:
    from redisgw_policies.capacity_model import DR, combine

    primary = plan(demand(), BASE, SUPPLY)
    dr = plan(demand(), BASE, Supply(**{**vars(SUPPLY), "redis_node_memory_mi": 512.0, "region": DR}))
    assert primary.ok and dr.shortfalls == [
        "DR region: a Redis pod's memory limit (1.0 GiB) does not fit the Redis node's 0.5 GiB allocatable"
    ]
    both = combine([primary, dr])
    assert not both.ok and both.shortfalls == dr.shortfalls and both.constraints == ["memory"]


def test_dr_redis_nodes_too_small_fail_ops_capacity_and_the_policy_alike(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    variant = write_variant(tmp_path, "production", SMALL_DR_REDIS)
    shortfall = "DR region: a Redis pod's memory limit (20.0 GiB) does not fit the Redis node's 13.7 GiB allocatable"
    assert main(["capacity", "--stack", "production", "--config", str(variant)]) == 1
    out = capsys.readouterr().out
    assert f"SHORT {shortfall}" in out and "capacity INSUFFICIENT" in out
    assert "SHORT primary region" not in out  # the primary's own nodes hold its pods
    report = capacity.build("production", config_file=variant)
    assert report.plan.shortfalls == [shortfall] and report.regions["primary region"][1].ok
    # One preview of the small DR nodes with a peak the stack cannot carry either: the policy blocks both.
    both_dir = tmp_path / "both"
    both_dir.mkdir()
    both = write_variant(both_dir, "production", [*SMALL_DR_REDIS, ("redisgw:capacity.peakRequestsPerSecond", 10_000)])
    preview = tmp_path / "preview.json"
    assert main(["preview", "--stack", "production", "--config", str(both), "--json", str(preview)]) == 1
    blocked = [
        v
        for v in json.loads(preview.read_text())["policies"]["violations"]
        if v["policy"] == "capacity-require-declared-peak"
    ]
    assert {v["enforcement"] for v in blocked} == {"mandatory"}
    assert any("is below the 39 gateway pods" in v["message"] for v in blocked)
    # the same shortfall in the same words, from the same model, on the standby's RedisReplication
    small = [v for v in blocked if shortfall in v["message"]]
    assert [v["message"].split("\n")[-1].split(" Remediation:")[0] for v in small] == [
        f"The declared peak does not fit: {shortfall}."
    ]
    assert "DrStandby" in small[0]["urn"] and small[0]["urn"].endswith("::dr-gateway-redis")


def test_a_healthy_production_passes_ops_capacity_and_the_policy(stack_run: Any) -> None:
    from tests.policy_harness import as_policy_resources, evaluate

    report = capacity.build("production")
    assert report.plan.ok and set(report.regions) == {"primary region", "DR region"}
    assert report.regions["DR region"][0] == "eu-central-1"
    hits = evaluate(as_policy_resources(stack_run("production")), "production")
    assert [h.message for h in hits if h.policy == "capacity-require-declared-peak"] == []


def test_an_unknown_dr_instance_size_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:dr.nodeGroups.main.instanceTypes", ["x9.large"])])
    assert main(["capacity", "--stack", "production", "--config", str(variant)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "Pulumi.production.variant.yaml: redisgw:dr.nodeGroups.main.instanceTypes: no known instance size among "
        "['x9.large']: cannot size the nodes"
    ]


# -- growth left under the review threshold ------------------------------------------------------


def test_growth_under_the_review_threshold_warns_and_is_not_short() -> None:
    from redisgw_policies.capacity_model import REVIEW_MONTHS

    short_of_review = plan(demand(keys=2_400_000, headroom=0.5), BASE, SUPPLY)
    assert short_of_review.months_of_growth == 3 < REVIEW_MONTHS
    assert short_of_review.ok and short_of_review.warnings == [
        "3.0 months of growth left at 10% per month, under the 6 months the capacity review acts on: plan a larger "
        "Redis memory limit and node"
    ]
    year = plan(demand(headroom=0.5), BASE, SUPPLY)
    assert year.months_of_growth == 12 and year.warnings == []
    full = plan(demand(keys=6_000_000), BASE, SUPPLY)
    assert full.warnings == [] and full.constraints == ["memory"]  # out of memory: a shortfall, not a warning


@pytest.mark.parametrize(("growth", "months", "verdict"), [(0.39, 3, "WARNING"), (0.0975, 12, "OK")])
def test_ops_capacity_warns_under_the_review_threshold(
    growth: float, months: int, verdict: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:capacity.growthPerMonth", growth)])
    out_json = tmp_path / "plan.json"
    assert main(["capacity", "--stack", "production", "--config", str(variant), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert doc["plan"]["months_of_growth"] == months
    assert f"capacity {verdict}" in out and doc["verdict"] == verdict.lower()
    warned = [w for w in doc["warnings"] if "months of growth left" in w]
    if verdict == "OK":
        assert warned == [] and "WARNING" not in out
    else:
        assert warned == [f"{region}: {months:.1f} months of growth left at 39% per month, under the 6 months the "
                          "capacity review acts on: plan a larger Redis memory limit and node"
                          for region in ("primary region", "DR region")]  # fmt: skip
        assert f"WARNING primary region: {months:.1f} months of growth left" in out
        md = capacity.markdown(capacity.build("production", config_file=variant))
        assert "with warnings to act on" in md and f"- WARNING DR region: {months:.1f} months" in md


def test_the_runbook_acts_at_the_review_threshold_of_the_code() -> None:
    from redisgw_policies.capacity_model import REVIEW_MONTHS

    runbook = (ROOT / "docs" / "runbooks" / "capacity-review.md").read_text()
    row = next(line for line in runbook.splitlines() if line.startswith("| Months of growth that fit"))
    figures = [int(n) for n in re.findall(r"under (\d+)", row)]
    assert figures == [REVIEW_MONTHS], row
    assert "REVIEW_MONTHS" in runbook  # the text names the constant it cites


# -- cost ----------------------------------------------------------------------------------------

PARTS = (
    "main nodes",
    "redis nodes",
    "EKS control plane",
    "NAT gateways (3)",
    "Redis volumes (3 x 50Gi)",
    "node disks",
    "backup spool volume",
    "Prometheus and Alertmanager volumes",
    "S3 backups, Standard",
    "S3 backups, Standard-IA",
    "S3 backups, Glacier IR",
    "ALB",
    "ALB LCUs",
    "WAF web ACL",
    "WAF rules",
    "WAF requests",
)


def test_the_cost_covers_every_priced_part_and_adds_up() -> None:
    c = capacity.build("production").costs
    by_region: dict[str, list[str]] = {}
    for line in c.lines:
        by_region.setdefault(line.region, []).append(line.part)
        assert line.unit_price is not None and line.quantity >= 0
        assert line.monthly == round(line.quantity * line.unit_price, 2)
    for region in ("eu-west-1", "eu-central-1"):
        for part in PARTS:
            assert any(p.startswith(part) for p in by_region[region]), (region, part)
    assert {p for p in by_region["eu-central-1"] if p.startswith("S3 replicated backups")} == {
        "S3 replicated backups, Standard",
        "S3 replicated backups, Standard-IA",
        "S3 replicated backups, Glacier IR",
    }
    between = [p for p in by_region["eu-west-1"] if "inter-region" in p or "Replication Time" in p]
    assert between == [
        "inter-region transfer: Redis replication to the DR standby",
        "inter-region transfer: S3 backup replication",
        "S3 Replication Time Control",
    ]
    assert c.total == pytest.approx(sum(line.monthly or 0 for line in c.lines), abs=0.01)
    assert c.total == pytest.approx(sum(c.region_total(r) for r in c.regions), abs=0.01)
    assert c.as_dict()["complete"] and c.warnings == []


def test_the_cost_arithmetic_by_hand() -> None:
    c = capacity.build("production").costs
    line = {(x.region, x.part): x for x in c.lines}
    assert line[("eu-west-1", "main nodes (m7i.xlarge)")].monthly == round(3 * 730 * 0.2232, 2)
    assert line[("eu-central-1", "NAT gateways (3)")].monthly == round(3 * 730 * 0.052, 2)
    assert line[("eu-west-1", "Redis volumes (3 x 50Gi)")].quantity == 150
    assert line[("eu-central-1", "node disks")].quantity == 2 * 80 + 3 * 80
    waf = line[("eu-west-1", "WAF requests")]
    assert waf.quantity == pytest.approx(3000 * 0.3 * 730 * 3600 / 1e6) and waf.unit_price == 0.60
    assert line[("eu-central-1", "WAF requests")].quantity == 0  # the standby serves after a failover only
    # every backup of the day (every 15 minutes) kept 30 days in Standard
    assert line[("eu-west-1", "S3 backups, Standard")].quantity == pytest.approx(96 * 30 * 1552.2 * 2**20 / 2**30, 0.01)


def test_the_plans_show_quantity_and_unit_price_on_every_cost_line() -> None:
    report = capacity.build("production")
    md = capacity.markdown(report)
    for line in report.costs.lines:
        row = next(r for r in md.splitlines() if r.startswith(f"| {line.region} | {line.part}"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == f"{line.quantity:,.2f} {line.unit}" and cells[3] == f"{line.unit_price:g}", row
    assert "Left out of the total:" in md and "EBS snapshots" in md
    assert f"| **total** |  |  | {report.costs.total:,.2f} |" in md
    assert "list prices as of 2026-11-01" in md.replace("On-demand list prices", "list prices")


def test_an_unpriced_instance_type_is_a_visible_warning_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No settings key states a cost objective: an incomplete cost warns and keeps exit 0."""
    variant = write_variant(tmp_path, "production", [("redisgw:dr.nodeGroups.redis.instanceTypes", ["r5.xlarge"])])
    out_json = tmp_path / "plan.json"
    assert main(["capacity", "--stack", "production", "--config", str(variant), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    warning = (
        "DR region (eu-central-1): no price for instance type r5.xlarge in docs/capacity/prices.json "
        "(instances.eu-central-1): the redis node group (redisgw:dr.nodeGroups.redis, 3 nodes) is left out of "
        "the monthly cost"
    )
    assert f"WARNING {warning}" in " ".join(out.split()) and "capacity WARNING" in out
    doc = json.loads(out_json.read_text())
    assert doc["ok"] and doc["verdict"] == "warning" and warning in doc["warnings"]
    assert warning in doc["costs"]["warnings"] and not doc["costs"]["complete"]
    unpriced = [x for x in doc["costs"]["lines"] if x["unit_price"] is None]
    assert [(x["region"], x["part"], x["monthly"]) for x in unpriced] == [
        ("eu-central-1", "redis nodes (r5.xlarge)", None)
    ]
    assert doc["costs"]["total"] == pytest.approx(sum(x["monthly"] or 0 for x in doc["costs"]["lines"]), abs=0.01)
    md = capacity.markdown(capacity.build("production", config_file=variant))
    assert f"- WARNING {warning}" in md and "| eu-central-1 | redis nodes (r5.xlarge) (3 nodes) |" in md
    assert "| no price | unknown |" in md and "list prices of 2026-11-01, incomplete" in md


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["regions"]["eu-west-1"].update(alb_hour="cheap"), "regions.eu-west-1.alb_hour is 'cheap'"),
        (
            lambda d: d["instances"]["eu-central-1"].update({"r7i.xlarge": -1}),
            "instances.eu-central-1.r7i.xlarge is -1",
        ),
        (lambda d: d.pop("date"), "date is missing (the table is dated and names its source)"),
        (lambda d: d["usage"].update(mean_share_of_peak=2), "usage.mean_share_of_peak is 2, not a share in (0, 1]"),
        (lambda d: d.update(regions=[1]), "regions is not an object"),
    ],
)
def test_a_broken_price_table_is_one_line_exit_2(
    change: Any, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(capacity.PRICES.read_text())
    change(doc)
    broken = tmp_path / "prices.json"
    broken.write_text(json.dumps(doc))
    monkeypatch.setattr(capacity, "PRICES", broken)
    assert main(["capacity", "--stack", "production"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(str(broken)) and message in err[0], err


def test_a_missing_price_key_warns_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(capacity.PRICES.read_text())
    del doc["regions"]["eu-central-1"]["waf_million_requests"]
    partial = tmp_path / "prices.json"
    partial.write_text(json.dumps(doc))
    monkeypatch.setattr(capacity, "PRICES", partial)
    report = capacity.build("production")
    assert report.plan.ok and report.verdict == "WARNING"
    assert [w for w in report.warnings if "waf_million_requests" in w] == [
        f"DR region (eu-central-1): {partial} has no regions.eu-central-1.waf_million_requests: WAF requests is "
        "left out of the monthly cost"
    ]
