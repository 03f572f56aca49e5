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
