"""Delivery: each strategy previews clean on production and carries the configured thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from tests.conftest import write_variant

ANALYSIS = {"minSuccessRate": 0.997, "maxLatencyP99Seconds": 0.2, "interval": "2m", "count": 6, "failureLimit": 2}


def preview(tmp_path: Path, changes: list[tuple[str, Any]]) -> tuple[int, dict[str, Any]]:
    variant = write_variant(tmp_path, "production", changes)
    out = tmp_path / "report.json"
    code = main(["preview", "--stack", "production", "--config", str(variant), "--json", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else {}


def objects(report: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["metadata"]["name"]: r["inputs"] for r in report["resources"] if r["type"].endswith(f":{kind}")}


@pytest.mark.parametrize("strategy", ["blue-green", "canary", "rolling"])
def test_each_strategy_previews_clean_with_the_configured_thresholds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: str
) -> None:
    code, report = preview(tmp_path, [("redisgw:delivery.strategy", strategy), ("redisgw:delivery.analysis", ANALYSIS)])
    capsys.readouterr()
    assert code == 0 and report["schema_errors"] == []
    rollout = objects(report, "Rollout")["redis-gateway"]
    assert rollout["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Healthy"
    strategy_spec = rollout["spec"]["strategy"]
    slo = objects(report, "AnalysisTemplate")["gateway-slo"]["spec"]["metrics"]
    by_name = {m["name"]: m for m in slo}
    assert by_name["success-rate"]["successCondition"] == "result[0] >= 0.997"
    assert by_name["latency-p99"]["successCondition"] == "result[0] <= 0.2"
    assert by_name["latency-p99"]["provider"]["prometheus"]["query"].startswith("histogram_quantile(0.99,")
    assert {(m["interval"], m["count"], m["failureLimit"]) for m in slo} == {("2m", 6, 2)}
    services = objects(report, "Service")
    ingress = objects(report, "Ingress")["redis-gateway"]
    port = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"]
    if strategy == "blue-green":
        bg = strategy_spec["blueGreen"]
        assert (bg["activeService"], bg["previewService"]) == ("redis-gateway", "redis-gateway-preview")
        assert bg["scaleDownDelaySeconds"] == 600
        assert bg["prePromotionAnalysis"]["templates"] == [{"templateName": "smoke-test"}]
        assert bg["postPromotionAnalysis"]["templates"] == [{"templateName": "gateway-slo"}]
        assert "redis-gateway-preview" in services and port == "http"
    elif strategy == "canary":
        canary = strategy_spec["canary"]
        assert canary["trafficRouting"]["alb"] == {
            "ingress": "redis-gateway",
            "rootService": "redis-gateway",
            "servicePort": 80,
        }
        weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
        pauses = [s["pause"]["duration"] for s in canary["steps"] if "pause" in s]
        assert (weights, pauses) == ([5, 25, 50], ["5m", "5m", "10m"])
        assert canary["analysis"]["templates"] == [{"templateName": "gateway-slo"}]
        assert "redis-gateway-canary" in services and port == "use-annotation"
    else:
        canary = strategy_spec["canary"]
        assert (canary["maxSurge"], canary["maxUnavailable"]) == ("25%", "0")
        assert "steps" not in canary and canary["analysis"]["templates"] == [{"templateName": "gateway-slo"}]
        assert port == "http"


def test_smoke_test_job_runs_ops_smoke_against_the_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = preview(tmp_path, [("redisgw:delivery.strategy", "blue-green")])
    capsys.readouterr()
    assert code == 0
    (metric,) = objects(report, "AnalysisTemplate")["smoke-test"]["spec"]["metrics"]
    container = metric["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["smoke", "--url", "{{args.url}}"]
    bg = objects(report, "Rollout")["redis-gateway"]["spec"]["strategy"]["blueGreen"]
    url = next(a["value"] for a in bg["prePromotionAnalysis"]["args"] if a["name"] == "url")
    assert url == "http://redis-gateway-preview.redis-system.svc.cluster.local"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("redisgw:delivery.strategy", "big-bang")],
            "redisgw:delivery.strategy: Input should be 'blue-green', 'canary' or 'rolling'",
        ),
        (
            [("redisgw:delivery.analysis.minSuccessRate", 1.5)],
            "redisgw:delivery.analysis.minSuccessRate: Input should be less than or equal to 1",
        ),
        (
            [("redisgw:delivery.analysis.maxLatencyP99Seconds", 0)],
            "redisgw:delivery.analysis.maxLatencyP99Seconds: Input should be greater than 0",
        ),
        (
            [("redisgw:delivery.analysis.failureLimit", 5)],
            "redisgw:delivery.analysis: failureLimit (5) must be below count (5)",
        ),
        (
            [("redisgw:delivery.analysis.interval", "soon")],
            "redisgw:delivery.analysis.interval: interval 'soon' must be a duration",
        ),
        (
            [("redisgw:delivery.canarySteps", [{"weight": 50, "pause": "1m"}, {"weight": 10, "pause": "1m"}])],
            "redisgw:delivery.canarySteps: canarySteps weights must strictly increase",
        ),
        (
            [("redisgw:delivery.maxSurge", "0"), ("redisgw:delivery.maxUnavailable", "0")],
            "redisgw:delivery: maxSurge and maxUnavailable cannot both be zero",
        ),
    ],
    ids=["unknown-strategy", "success-rate", "latency", "failure-limit", "interval", "weights", "no-progress"],
)
def test_bad_delivery_settings_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[str, Any]], expected: str
) -> None:
    code, report = preview(tmp_path, changes)
    err = capsys.readouterr().err
    assert code == 2 and report == {}
    assert err.startswith(f"Pulumi.production.variant.yaml: {expected}"), err


def test_a_stack_whose_nodes_cannot_hold_a_blue_green_rollout_at_max_is_blocked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quota follows replicas.max (the program sizes it), but the node groups are typed by hand."""
    code, report = preview(
        tmp_path, [("redisgw:gateway.replicas.max", 200), ("redisgw:delivery.strategy", "blue-green")]
    )
    capsys.readouterr()
    assert code == 1
    blocked = {v["policy"] for v in report["policies"]["violations"] if v["enforcement"] == "mandatory"}
    assert "eks-node-group-require-capacity-for-rollout" in blocked
