"""The Redis alerts with real components: ``redis-server`` (a primary and two replicas),
``prometheus-redis-exporter`` beside each (Debian), and a real Prometheus scraping them and evaluating
the production stack's own Redis rules (expressions and thresholds as rendered; the ``for`` durations
shortened to seconds so the test does not wait minutes).

Stopping the primary makes ``RedisNoPrimary`` fire; breaking one replica's link makes
``RedisReplicationBroken`` fire; a healthy set keeps both quiet.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from components.monitoring_stack import alertmanager_config
from ops.runtime.backups import free_port, wait_until
from tests.conftest import Recording, RedisServer
from tests.http_stub import Handler, serving
from tests.prometheus_env import Stack, redis_rules, replication_set

NS = "redis-system"
PASSWORD = "alert-integration-password"


@pytest.fixture
def monitored(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> Iterator[tuple[Stack, list[RedisServer]]]:
    primary, *replicas = replication_set(redis_server, PASSWORD)
    stack = Stack(tmp_path, [primary, *replicas], [redis_rules(stack_run("production"))], NS, PASSWORD)
    try:
        yield stack, [primary, *replicas]
    finally:
        stack.close()


def _settle(stack: Stack, seconds: float = 4.0) -> set[str]:
    time.sleep(seconds)
    return stack.firing()


def test_quiet_when_healthy_then_a_broken_link_and_a_stopped_primary_fire(
    monitored: tuple[Stack, list[RedisServer]],
) -> None:
    """One Prometheus for the three states, in the order a bad day brings them."""
    stack, (primary, replica, _) = monitored
    wait_until(lambda: bool(stack.value(f'redis_connected_slaves{{namespace="{NS}"}} == 2')), 30, "two replicas")
    assert not {"RedisNoPrimary", "RedisReplicationBroken"} & _settle(stack)
    replica.client.execute_command("REPLICAOF", "127.0.0.1", "1")  # its primary is now unreachable
    wait_until(lambda: "RedisReplicationBroken" in stack.firing(), 30, "RedisReplicationBroken to fire")
    assert "RedisNoPrimary" not in stack.firing()
    primary.stop()
    wait_until(lambda: "RedisNoPrimary" in stack.firing(), 30, "RedisNoPrimary to fire")


def test_a_lost_local_replica_fires_while_the_dr_standby_stays_attached(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> None:
    """The standby replicates from a local replica (the link's load balancer selects replicas only),
    so the primary's count is the local tier's: losing a local replica fires even with the standby
    attached and healthy."""
    primary, with_standby, other = replication_set(redis_server, PASSWORD)
    auth = ("--masterauth", PASSWORD, "--replicaof", "127.0.0.1", str(with_standby.port))
    standby = redis_server(password=PASSWORD, extra=auth)
    wait_until(lambda: standby.client.info("replication")["master_link_status"] == "up", 30, "the standby's link")
    stack = Stack(tmp_path, [primary, with_standby, other], [redis_rules(stack_run("production"))], NS, PASSWORD)
    try:
        wait_until(lambda: bool(stack.value('redis_connected_slaves{pod="redis-0"} == 2')), 30, "two local replicas")
        assert "RedisReplicationBroken" not in _settle(stack)
        other.stop()  # a local replica lost; the standby still hangs off redis-1
        wait_until(lambda: "RedisReplicationBroken" in stack.firing(), 30, "RedisReplicationBroken to fire")
        assert standby.client.info("replication")["master_link_status"] == "up"
    finally:
        stack.close()


class _Receivers(Handler):
    """The receivers' side of Alertmanager's webhooks: when each alert first reached which receiver."""

    received: ClassVar[dict[tuple[str, str], float]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        for alert in body.get("alerts", []):
            self.received.setdefault((self.path.strip("/"), alert["labels"]["alertname"]), time.monotonic())
        self.reply(200, b"{}")


@contextlib.contextmanager
def _alertmanager(tmp_path: Path, receivers_url: str) -> Iterator[str]:
    """A real Alertmanager (Debian's prometheus-alertmanager) running the plan's routing tree, every
    receiver turned into a webhook to ``receivers_url/<receiver>``; yields its ``host:port``."""
    config = alertmanager_config("https://hooks.slack.invalid/x", "routing-key", "#alerts", "https://heartbeat.invalid")
    for receiver in config["receivers"]:
        for kind in ("slack_configs", "pagerduty_configs", "webhook_configs"):
            receiver.pop(kind, None)
        receiver["webhook_configs"] = [{"url": f"{receivers_url}/{receiver['name']}", "send_resolved": False}]
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}/-/ready"), 30, "Alertmanager to start")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_the_standby_lag_alert_pages_within_half_the_rpo_of_a_silent_link(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> None:
    """The DR region's rules as rendered (5 s group, 10 s ``for``, thresholds from the 60 s RPO) over a
    real standby whose upstream goes silent (SIGSTOP: no clean close), with the plan's `repl-timeout`
    and ping period: Redis drops the link after 15 s and reports -1. Prometheus sends to a real
    Alertmanager with the plan's routing tree, and the page reaches the PagerDuty receiver within
    30 s of the last contact."""
    values = settings_replication()
    primary = redis_server(password=PASSWORD, extra=("--repl-ping-replica-period", values["repl-ping-replica-period"]))
    auth = ("--masterauth", PASSWORD, "--repl-timeout", values["repl-timeout"], "--replicaof", "127.0.0.1")
    standby = redis_server(password=PASSWORD, extra=(*auth, str(primary.port)))
    wait_until(lambda: standby.client.info("replication")["master_link_status"] == "up", 30, "the standby's link")
    rule = stack_run("production").one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "dr-monitoring-rules")
    (group,) = [g for g in rule.inputs["spec"]["groups"] if g["name"] == "redis"]
    lag = [r for r in group["rules"] if r.get("alert") == "RedisStandbyLagHigh"]
    receivers = type("Receivers", (_Receivers,), {"received": {}})
    with serving(receivers) as url, _alertmanager(tmp_path, url) as alertmanager:
        stack = Stack(tmp_path, [standby], [{**group, "rules": lag}], NS, PASSWORD, alertmanager=alertmanager)
        try:
            wait_until(lambda: bool(stack.value("redis_master_link_up == 1")), 30, "the standby's link scraped")
            time.sleep(6)  # a group evaluation on the healthy link
            assert "RedisStandbyLagHigh" not in stack.firing() and not receivers.received
            last_contact = time.monotonic()
            primary.proc.send_signal(signal.SIGSTOP)
            try:
                wait_until(lambda: ("pagerduty", "RedisStandbyLagHigh") in receivers.received, 60, "the page")
            finally:
                primary.proc.send_signal(signal.SIGCONT)
        finally:
            stack.close()
    took = receivers.received[("pagerduty", "RedisStandbyLagHigh")] - last_contact
    print(f"RedisStandbyLagHigh paged {took:.1f} s after the primary went silent (objective 30 s)")
    assert took <= 30


def settings_replication() -> dict[str, str]:
    import settings
    from tests.conftest import stack_values

    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    return settings.redis_replication_config(cfg)
