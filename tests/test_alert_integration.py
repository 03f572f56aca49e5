"""The Redis alerts with real components: ``redis-server`` (a primary and two replicas),
``prometheus-redis-exporter`` beside each (Debian), and a real Prometheus scraping them and evaluating
the production stack's own Redis rules (expressions and thresholds as rendered; the ``for`` durations
shortened to seconds so the test does not wait minutes).

Stopping the primary makes ``RedisNoPrimary`` fire; breaking one replica's link makes
``RedisReplicationBroken`` fire; a healthy set keeps both quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.runtime.backups import wait_until
from tests.conftest import Recording, RedisServer
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


def test_the_standby_lag_alert_pages_within_half_the_rpo_of_a_silent_link(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> None:
    """The DR region's rules as rendered (5 s group, 10 s ``for``, thresholds from the 60 s RPO) over a
    real standby whose upstream goes silent (SIGSTOP: no clean close), with the plan's `repl-timeout`
    and ping period: Redis drops the link after 15 s and reports -1, and the page still comes within
    30 s of the last contact."""
    import signal

    values = settings_replication()
    primary = redis_server(password=PASSWORD, extra=("--repl-ping-replica-period", values["repl-ping-replica-period"]))
    auth = ("--masterauth", PASSWORD, "--repl-timeout", values["repl-timeout"], "--replicaof", "127.0.0.1")
    standby = redis_server(password=PASSWORD, extra=(*auth, str(primary.port)))
    wait_until(lambda: standby.client.info("replication")["master_link_status"] == "up", 30, "the standby's link")
    rule = stack_run("production").one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "dr-monitoring-rules")
    (group,) = [g for g in rule.inputs["spec"]["groups"] if g["name"] == "redis"]
    lag = [r for r in group["rules"] if r.get("alert") == "RedisStandbyLagHigh"]
    stack = Stack(tmp_path, [standby], [{**group, "rules": lag}], NS, PASSWORD)
    try:
        time.sleep(12)
        assert "RedisStandbyLagHigh" not in stack.firing()
        silent = time.monotonic()
        primary.proc.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: "RedisStandbyLagHigh" in stack.firing(), 45, "RedisStandbyLagHigh to fire")
            took = time.monotonic() - silent
        finally:
            primary.proc.send_signal(signal.SIGCONT)
        print(f"RedisStandbyLagHigh fired {took:.1f} s after the primary went silent (objective 30 s)")
        assert took <= 30
    finally:
        stack.close()


def settings_replication() -> dict[str, str]:
    import settings
    from tests.conftest import stack_values

    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    return settings.redis_replication_config(cfg)
