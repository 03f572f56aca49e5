"""A real Prometheus over real exporters, loaded with the stack's own rule groups.

``prometheus-redis-exporter`` (Debian) runs beside each ``redis-server``; any other scrape target
(the gateway's metrics) is passed as a static config. The groups are the ones the program renders,
with their ``for`` durations shortened to seconds so a test does not wait minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ops.runtime.backups import free_port, wait_until
from tests.conftest import Recording, RedisServer


def rule_group(recording: Recording, name: str) -> dict[str, Any]:
    """Group ``name`` of the primary region's PrometheusRule, evaluated every second, ``for`` 2 s."""
    rule = recording.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "monitoring-rules")
    (group,) = [g for g in rule.inputs["spec"]["groups"] if g["name"] == name]
    shortened = [{**r, "for": "2s"} if "alert" in r else r for r in group["rules"]]
    return {"name": name, "interval": "1s", "rules": shortened}


def redis_rules(recording: Recording) -> dict[str, Any]:
    return rule_group(recording, "redis")


def replication_set(redis_server: Callable[..., RedisServer], password: str, replicas: int = 2) -> list[RedisServer]:
    """A real primary and ``replicas`` replicas of it, each link up, as ``[primary, *replicas]``."""
    auth = ("--masterauth", password, "--repl-diskless-sync-delay", "0")
    primary = redis_server(password=password, extra=auth)
    followers = [
        redis_server(password=password, extra=(*auth, "--replicaof", "127.0.0.1", str(primary.port)))
        for _ in range(replicas)
    ]
    for r in followers:
        wait_until(lambda r=r: r.client.info("replication")["master_link_status"] == "up", 30, "replica sync")
    return [primary, *followers]


class Stack:
    def __init__(
        self,
        tmp: Path,
        servers: list[RedisServer],
        groups: list[dict[str, Any]],
        namespace: str,
        password: str | None,
        scrape: tuple[dict[str, Any], ...] = (),
        alertmanager: str | None = None,
    ) -> None:
        """``alertmanager``: ``host:port`` of an Alertmanager Prometheus sends its alerts to."""
        self.procs: list[subprocess.Popen[bytes]] = []
        self.exporters: list[subprocess.Popen[bytes]] = []
        targets = []
        for i, server in enumerate(servers):
            port = free_port()
            exporter = subprocess.Popen(
                [
                    "prometheus-redis-exporter",
                    "-redis.addr",
                    f"redis://127.0.0.1:{server.port}",
                    "-web.listen-address",
                    f"127.0.0.1:{port}",
                    "-connection-timeout",
                    "500ms",  # a stalled Redis reads as redis_up 0 within the 1 s scrape, not as a target down
                ],
                env={**os.environ, **({"REDIS_PASSWORD": password} if password else {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.procs.append(exporter)
            self.exporters.append(exporter)
            targets.append({"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": namespace, "pod": f"redis-{i}"}})
        (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [{"job_name": "redis", "static_configs": targets}, *scrape],
        }
        if alertmanager is not None:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
        expected = len(servers) + sum(len(s["targets"]) for c in scrape for s in c.get("static_configs", []))
        wait_until(lambda: self.targets_up() == expected, 60, "Prometheus to scrape every target")

    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as r:
                return json.loads(r.read())["data"]
        except OSError:
            return None

    def targets_up(self) -> int:
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
