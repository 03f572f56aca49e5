"""The Redis alerts with real components: ``redis-server`` (a primary and two replicas),
``prometheus-redis-exporter`` beside each (Debian), and a real Prometheus scraping them and evaluating
the production stack's own Redis rules (expressions and thresholds as rendered; the ``for`` durations
shortened to seconds so the test does not wait minutes).

Stopping the primary makes ``RedisNoPrimary`` fire; breaking one replica's link makes
``RedisReplicationBroken`` fire; a healthy set keeps both quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.runtime.backups import free_port, wait_until
from tests.conftest import Recording, RedisServer

NS = "redis-system"
PASSWORD = "alert-integration-password"


def _rules(recording: Recording) -> dict[str, Any]:
    rule = recording.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "monitoring-rules")
    (group,) = [g for g in rule.inputs["spec"]["groups"] if g["name"] == "redis"]
    shortened = [{**r, "for": "2s"} for r in group["rules"]]
    return {"groups": [{"name": "redis", "interval": "1s", "rules": shortened}]}


class Stack:
    def __init__(self, tmp: Path, servers: list[RedisServer], recording: Recording) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        targets = []
        for i, server in enumerate(servers):
            port = free_port()
            self.procs.append(
                subprocess.Popen(
                    [
                        "prometheus-redis-exporter",
                        "-redis.addr",
                        f"redis://127.0.0.1:{server.port}",
                        "-web.listen-address",
                        f"127.0.0.1:{port}",
                    ],
                    env={**os.environ, "REDIS_PASSWORD": PASSWORD},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            targets.append({"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NS, "pod": f"redis-{i}"}})
        (tmp / "rules.yaml").write_text(yaml.safe_dump(_rules(recording)))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [{"job_name": "redis", "static_configs": targets}],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.procs.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until(lambda: self._targets_up() == len(servers), 60, "Prometheus to scrape every exporter")

    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return json.loads(r.read())["data"]
        except OSError:
            return None

    def _targets_up(self) -> int:
        data = self._get("/api/v1/targets")
        return sum(1 for t in (data or {}).get("activeTargets", []) if t["health"] == "up")

    def firing(self) -> set[str]:
        data = self._get("/api/v1/alerts") or {}
        return {a["labels"]["alertname"] for a in data.get("alerts", []) if a["state"] == "firing"}

    def value(self, query: str) -> list[Any]:
        return list((self._get(f"/api/v1/query?query={urllib.request.quote(query)}") or {}).get("result", []))

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=30)


@pytest.fixture
def monitored(
    redis_server: Callable[..., RedisServer], stack_run: Callable[[str], Recording], tmp_path: Path
) -> Iterator[tuple[Stack, list[RedisServer]]]:
    auth = ("--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0")
    primary = redis_server(password=PASSWORD, extra=auth)
    replicas = [
        redis_server(password=PASSWORD, extra=(*auth, "--replicaof", "127.0.0.1", str(primary.port))) for _ in range(2)
    ]
    for r in replicas:
        wait_until(lambda r=r: r.client.info("replication")["master_link_status"] == "up", 30, "replica sync")
    stack = Stack(tmp_path, [primary, *replicas], stack_run("production"))
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
