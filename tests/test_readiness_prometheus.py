"""``ops readiness``'s Prometheus items against a real Prometheus: it scrapes
``prometheus-redis-exporter`` beside a real Redis primary and two replicas, and a gateway's metrics
endpoint, and evaluates the production stack's own Redis alerts and SLO recording rules.

One Prometheus goes through the states of a bad day, each breaking exactly one item: healthy; a
replica stalled (lag past the objective); the DR standby gone (the primary drops it and its lag
series with it: only the replica count notices); a replica's link broken (a critical alert firing);
an exporter gone (a target down); the gateway failing half its requests (the error budget burning).
"""

from __future__ import annotations

import datetime
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from ops.readiness.prometheus_checks import Client, no_critical_alerts, prometheus_items, targets_up
from ops.readiness.targets import Targets
from ops.runtime.backups import free_port, wait_until
from tests.conftest import Recording, RedisServer
from tests.http_stub import Handler, serving
from tests.prometheus_env import Stack, replication_set, rule_group
from tests.readiness_env import healthy_dump

NS = "redis-system"
PASSWORD = "readiness-prometheus-password"
LAG_OBJECTIVE = 2
TARGETS = {
    "stack": "production",
    "region": "eu-west-1",
    "cluster_name": "redisgw-production",
    "namespaces": [NS, "monitoring"],
    "prometheus_url": "http://kps-prometheus.monitoring.svc.cluster.local:9090",
    "availability_slo": 0.999,
    "backups": {"bucket": "backups", "region": "eu-west-1", "max_age_seconds": 1800},
    "vault": {"name": "v", "region": "eu-west-1", "max_age_seconds": 7200},
    "edge": {"hostname": "h", "certificate_arn": "c", "web_acl_arn": "w"},
    "dr_lag_max_seconds": LAG_OBJECTIVE,
    # Two local replicas and a standby in the other region, as the production plan declares them.
    "redis": {"replication": "redis", "replicas": 3, "sentinel": "redis", "standby_replicas": 1},
}
PROMETHEUS_ITEMS = {
    "prometheus-targets-up",
    "no-critical-alerts",
    "slo-burn-rate",
    "replication-lag",
    "replicas-attached",
}


class _Gateway(Handler):
    """The gateway's metrics: 100 requests a second, ``error_share`` of them answered 5xx."""

    started = time.monotonic()
    error_share = 0.0
    errors = 0.0
    last = time.monotonic()

    def do_GET(self) -> None:
        cls = type(self)
        now = time.monotonic()
        cls.errors += (now - cls.last) * 100 * cls.error_share
        cls.last = now
        total = (now - cls.started) * 100
        body = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{code="200"}} {total - cls.errors:.0f}\n'
            f'http_requests_total{{code="503"}} {cls.errors:.0f}\n'
        ).encode()
        self.reply(200, body, "text/plain; version=0.0.4")


@pytest.fixture
def monitored(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> Iterator[tuple[Stack, list[RedisServer], type[_Gateway]]]:
    servers = replication_set(redis_server, PASSWORD, replicas=3)  # the last stands for the DR standby
    gateway = type("Gateway", (_Gateway,), {"started": time.monotonic(), "last": time.monotonic(), "errors": 0.0})
    recording = stack_run("production")
    with serving(gateway) as url:
        scrape = {
            "job_name": "redis-gateway",
            "static_configs": [{"targets": [url.removeprefix("http://")], "labels": {"namespace": NS}}],
        }
        groups = [rule_group(recording, "redis"), rule_group(recording, "redis-gateway.recording")]
        # The standby is scraped by the DR region's Prometheus, not this one: no exporter for it here.
        stack = Stack(tmp_path, servers[:3], groups, NS, PASSWORD, (scrape,))
        try:
            yield stack, servers, gateway
        finally:
            stack.close()


def _judge(stack: Stack, tmp_path: Path, plan: Recording) -> tuple[int, dict[str, dict[str, Any]]]:
    dump, targets, report = tmp_path / "cluster.json", tmp_path / "targets.json", tmp_path / "report.json"
    if not dump.exists():
        dump.write_text(json.dumps(healthy_dump(plan, datetime.datetime.now(datetime.UTC))))
    targets.write_text(json.dumps(TARGETS))
    argv = ["readiness", "--stack", "production", "--from-file", str(dump), "--targets", str(targets)]
    code = main([*argv, "--skip", "aws", "--prometheus-url", stack.url, "--timeout", "5", "--json", str(report)])
    items = {i["id"]: i for i in json.loads(report.read_text())["items"] if i["source"] == "prometheus"}
    return code, items


def _failing(items: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(i for i, item in items.items() if item["status"] == "fail")


def _until_failing(stack: Stack, tmp_path: Path, plan: Recording, expected: list[str], what: str) -> dict[str, Any]:
    """Poll the Prometheus items (every half second: rules and scrapes run every second) until the
    failing ones are ``expected``, then judge the whole scorecard once through the CLI."""
    targets = Targets.model_validate({**TARGETS, "prometheus_url": stack.url})
    deadline = time.monotonic() + 45
    while True:
        items = {i.id: i for i in prometheus_items(targets, stack.url, 5)}
        if sorted(i for i, x in items.items() if x.status == "fail") == expected:
            break
        if time.monotonic() > deadline:
            shown = {i: (x.status, x.evidence[:2]) for i, x in items.items() if x.status != "pass"}
            pytest.fail(f"{what}: {shown}, expected failing {expected}")
        time.sleep(0.5)
    code, judged = _judge(stack, tmp_path, plan)
    assert _failing(judged) == expected, what
    return {"code": code, "items": judged}


def test_each_bad_state_fails_exactly_its_prometheus_item(
    monitored: tuple[Stack, list[RedisServer], type[_Gateway]], tmp_path: Path, stack_run: Callable[[str], Recording]
) -> None:
    stack, (primary, replica, other, standby), gateway = monitored
    plan = stack_run("production").primary()
    wait_until(lambda: bool(stack.value("gateway:request_errors:ratio_rate5m >= 0")), 30, "the SLO recording rules")

    healthy = _until_failing(stack, tmp_path, plan, [], "a healthy set")
    assert set(healthy["items"]) == PROMETHEUS_ITEMS and healthy["code"] == 0
    assert all(item["evidence"] for item in healthy["items"].values()), "a pass carries what it saw"
    assert "3 replicas" in healthy["items"]["replication-lag"]["evidence"][0]
    assert "3 replicas attached in the tier of 3 declared" in healthy["items"]["replicas-attached"]["evidence"][0]

    # The standby goes away: the primary drops it, and redis_exporter stops exporting its lag series.
    standby.stop()
    gone = _until_failing(stack, tmp_path, plan, ["replicas-attached"], "the DR standby dropped")
    assert (
        "2 replicas attached in the tier, the plan declares 3 (the DR standby among them)"
        in (gone["items"]["replicas-attached"]["evidence"][0])
    )
    assert gone["items"]["replication-lag"]["status"] == "pass"  # what the lag item alone would have said

    other.proc.send_signal(signal.SIGSTOP)  # a stalled replica stops acknowledging the stream
    try:
        # Its exporter reads the frozen Redis as down (no link series): the replicas' side counts one
        # healthy local replica, so RedisReplicationBroken fires too once its `for` has passed.
        stalled = _until_failing(
            stack,
            tmp_path,
            plan,
            ["no-critical-alerts", "replicas-attached", "replication-lag"],
            "the stalled replica's lag",
        )
        assert f"objective: {LAG_OBJECTIVE} s" in stalled["items"]["replication-lag"]["evidence"]
        assert "critical: RedisReplicationBroken" in stalled["items"]["no-critical-alerts"]["evidence"][0]
    finally:
        other.proc.send_signal(signal.SIGCONT)
    _until_failing(stack, tmp_path, plan, ["replicas-attached"], "the replica caught up")

    replica.client.execute_command("REPLICAOF", "127.0.0.1", "1")  # its primary is now unreachable
    broken = _until_failing(
        stack, tmp_path, plan, ["no-critical-alerts", "replicas-attached"], "RedisReplicationBroken"
    )
    assert "critical: RedisReplicationBroken" in broken["items"]["no-critical-alerts"]["evidence"][0]
    replica.client.execute_command("REPLICAOF", "127.0.0.1", str(primary.port))
    _until_failing(stack, tmp_path, plan, ["replicas-attached"], "the link restored")

    stack.exporters[2].terminate()
    down = _until_failing(
        stack, tmp_path, plan, ["prometheus-targets-up", "replicas-attached"], "the exporter's target down"
    )
    assert "redis http://127.0.0.1:" in down["items"]["prometheus-targets-up"]["evidence"][0]
    assert down["code"] == 1

    gateway.error_share = 0.5
    burning = _until_failing(
        stack,
        tmp_path,
        plan,
        ["prometheus-targets-up", "replicas-attached", "slo-burn-rate"],
        "the error budget burning",
    )
    assert "paging rate" in burning["items"]["slo-burn-rate"]["evidence"][0]


def test_an_unreachable_prometheus_cannot_be_judged(
    stack_run: Callable[[str], Recording], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Monitoring that cannot be read is not a finding about the system: exit 2, one line, no report."""

    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(FileNotFoundError):
        _judge(Nowhere, tmp_path, stack_run("production").primary())  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "cannot judge: Prometheus at http://127.0.0.1:" in err and "unreachable" in err
    assert "--skip prometheus" in err and "Traceback" not in err
    code = main(
        [
            "readiness",
            "--stack",
            "production",
            "--from-file",
            str(tmp_path / "cluster.json"),
            "--targets",
            str(tmp_path / "targets.json"),
            "--skip",
            "aws",
            "--prometheus-url",
            Nowhere.url,
            "--timeout",
            "2",
        ]
    )
    assert code == 2


def test_an_endpoint_that_is_not_prometheus_fails_with_the_reason() -> None:
    from ops.readiness.prometheus_checks import PrometheusError

    with serving(_Gateway) as url:
        client = Client(url, 5)
        with pytest.raises(PrometheusError, match="not JSON"):
            targets_up(client)
        with pytest.raises(PrometheusError, match="not JSON"):
            no_critical_alerts(client)
