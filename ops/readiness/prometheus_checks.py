"""The Prometheus items of the scorecard, read through its HTTP API (``/api/v1/targets``,
``/api/v1/alerts``, ``/api/v1/query``).

* every active scrape target is up;
* no critical alert is firing (a firing warning makes the item warn);
* the SLO burn rate, from the stack's own recording rules: failing while the error budget burns at
  the fast-burn paging rate (14.4 times the sustainable rate over 1 h and 5 min), warning above the
  sustainable rate over 6 h;
* every replica the plan declares is attached in the tier (the local replicas to the primary, the
  DR standby to one of them): a replica dropped leaves no lag series behind, so the lag item alone
  would pass it;
* the replication lag every replica of the primary reports (the DR standby among them) within the
  standby's objective, once DR exists.

A Prometheus that cannot be reached, or does not answer as Prometheus, stops the scorecard (exit 2,
"cannot judge"): monitoring that cannot be read is neither a pass nor a finding about the system.
``--skip prometheus`` scores without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ops.errors import OpsError, describe
from ops.readiness.model import Item, item
from ops.readiness.targets import Redis, Targets

FAST_BURN = 14.4
"""Burn rate at which two per cent of a 30-day error budget goes in one hour (the paging rate)."""
SLOW_BURN = 1.0


class PrometheusError(Exception):
    pass


Fetch = Callable[[str], tuple[int, bytes]]
"""GET of a path with its query string -> (HTTP status, body)."""


class Client:
    """Prometheus' HTTP API at ``url``, directly or through ``fetch`` (the Kubernetes API server's
    service proxy, from a workstation or a CI runner outside the cluster)."""

    def __init__(self, url: str, timeout: float, fetch: Fetch | None = None, shown: str | None = None) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self.fetch = fetch or self._direct
        self.shown = shown or self.url

    def _direct(self, path: str) -> tuple[int, bytes]:
        import requests

        response = requests.get(f"{self.url}{path}", timeout=self.timeout)
        return response.status_code, response.content

    def get(self, path: str, **params: str) -> Any:
        where = f"Prometheus at {self.shown}"
        try:
            status, data = self.fetch(path + (f"?{urlencode(params)}" if params else ""))
        except Exception as exc:  # connection refused, DNS, TLS, timeouts, from requests or the Kubernetes client
            raise PrometheusError(f"{where}: unreachable ({describe(exc)})") from None
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise PrometheusError(f"{where}: {path} answered HTTP {status}, not JSON") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise PrometheusError(f"{where}: {path}: {error or f'HTTP {status}'}")
        return body.get("data")

    def scalar(self, query: str) -> list[tuple[dict[str, str], float]]:
        data = self.get("/api/v1/query", query=query) or {}
        out = []
        for sample in data.get("result") or []:
            try:
                out.append((dict(sample.get("metric") or {}), float(sample["value"][1])))
            except (KeyError, IndexError, TypeError, ValueError):
                continue
        return out


def targets_up(client: Client) -> tuple[str, list[str]]:
    active = (client.get("/api/v1/targets", state="active") or {}).get("activeTargets") or []
    if not active:
        return "fail", ["no active scrape target: Prometheus scrapes nothing"]
    down = [
        f"{(t.get('labels') or {}).get('job', '?')} {t.get('scrapeUrl', '?')}: {t.get('health')} "
        f"({t.get('lastError') or 'no error'})"
        for t in active
        if t.get("health") != "up"
    ]
    return ("fail" if down else "pass"), down or [f"{len(active)} targets up"]


def no_critical_alerts(client: Client) -> tuple[str, list[str]]:
    alerts = (client.get("/api/v1/alerts") or {}).get("alerts") or []
    firing = [a for a in alerts if a.get("state") == "firing"]

    def shown(a: dict[str, Any]) -> str:
        labels = a.get("labels") or {}
        summary = (a.get("annotations") or {}).get("summary", "")
        return f"{labels.get('severity', '?')}: {labels.get('alertname', '?')} ({summary})"

    critical = [shown(a) for a in firing if (a.get("labels") or {}).get("severity") == "critical"]
    warning = [shown(a) for a in firing if (a.get("labels") or {}).get("severity") == "warning"]
    if critical:
        return "fail", critical + warning
    if warning:
        return "warn", warning
    names = ", ".join(sorted({str((a.get("labels") or {}).get("alertname", "?")) for a in firing}))
    return "pass", [f"{len(firing)} alerts firing, none warning or critical" + (f": {names}" if names else "")]


def burn_rate(client: Client, slo: float) -> tuple[str, list[str]]:
    budget = 1 - slo
    rates: dict[str, float | None] = {}
    for window in ("5m", "1h", "6h"):
        values = [v for _, v in client.scalar(f"gateway:request_errors:ratio_rate{window}")]
        rates[window] = max(values) if values else None
    if all(v is None for v in rates.values()):
        return "warn", ["no gateway:request_errors recording: the gateway's requests are not measured"]
    burns = {w: (v / budget if v is not None and not math.isnan(v) else 0.0) for w, v in rates.items()}
    evidence = [f"burn rate {w}: {b:.2f}" for w, b in burns.items()]
    if burns["1h"] > FAST_BURN and burns["5m"] > FAST_BURN:
        return "fail", [f"the error budget burns at the paging rate (over {FAST_BURN} for 1 h and 5 min)", *evidence]
    if burns["6h"] > SLOW_BURN:
        return "warn", [f"the error budget burns faster than sustainable over 6 h (SLO {slo})", *evidence]
    return "pass", evidence


def _in(namespaces: tuple[str, ...]) -> str:
    """A selector for the stack's namespaces: Prometheus scrapes every namespace's monitors, and
    another team's Redis must not count as ours (names are DNS labels: the targets model checks)."""
    return "{" + 'namespace=~"' + "|".join(namespaces) + '"}'


def replicas_attached(client: Client, planned: Redis, namespaces: tuple[str, ...]) -> tuple[str, list[str]]:
    """Every replica the plan declares is attached somewhere in the tier: redis_exporter exports one
    lag series per connected replica from the ``INFO replication`` of whichever instance serves it
    (``slaveN:ip=...,port=...,state=...,offset=...,lag=...``): the primary for the local replicas, a
    local replica for the DR standby (the link load balancer selects replicas)."""
    want = planned.primary_replicas
    lags = client.scalar(f"redis_connected_slave_lag_seconds{_in(namespaces)}")
    seen = {(m.get("slave_ip", "?"), m.get("slave_port", "?")) for m, _ in lags}
    standby = " (the DR standby among them)" if planned.standby_replicas else ""
    shown = ", ".join(f"{ip}:{port}" for ip, port in sorted(seen)) or "none"
    if len(seen) < want:
        return "fail", [
            f"{len(seen)} replicas attached in the tier, the plan declares {want}{standby}: {want - len(seen)} missing",
            f"attached: {shown}",
        ]
    return "pass", [f"{len(seen)} replicas attached in the tier of {want} declared{standby}: {shown}"]


def replication_lag(client: Client, most: int, namespaces: tuple[str, ...]) -> tuple[str, list[str]]:
    lags = client.scalar(f"redis_connected_slave_lag_seconds{_in(namespaces)}")
    if not lags:
        return "fail", ["no replica reports to the primary (redis_connected_slave_lag_seconds is absent)"]
    late = [f"replica {m.get('slave_ip', '?')}:{m.get('slave_port', '?')} lags {v:.0f} s" for m, v in lags if v > most]
    if late:
        return "fail", [*late, f"objective: {most} s"]
    return "pass", [f"{len(lags)} replicas, the most behind by {max(v for _, v in lags):.0f} s (objective {most} s)"]


ITEMS = {
    "replicas-attached": "high-availability",
    "prometheus-targets-up": "monitoring",
    "no-critical-alerts": "monitoring",
    "slo-burn-rate": "performance-capacity",
    "replication-lag": "high-availability",
}
"""The Prometheus items and their categories (the lag item only where a standby replicates, the
replica count where the targets describe the Redis tier)."""


def prometheus_items(
    targets: Targets, url: str, timeout: float, fetch: Fetch | None = None, shown: str | None = None
) -> list[Item]:
    client = Client(url, timeout, fetch, shown)
    checks: list[tuple[str, str, Any]] = [
        ("prometheus-targets-up", "Prometheus scrapes every target", lambda: targets_up(client)),
        ("no-critical-alerts", "No critical alert is firing", lambda: no_critical_alerts(client)),
        (
            "slo-burn-rate",
            f"The availability SLO ({targets.availability_slo}) is not burning its error budget",
            lambda: burn_rate(client, targets.availability_slo),
        ),
    ]
    if targets.dr_lag_max_seconds is not None:
        most = targets.dr_lag_max_seconds
        checks.append(
            (
                "replication-lag",
                "Every Redis replica, the DR standby included, is within the lag objective",
                lambda: replication_lag(client, most, targets.namespaces),
            )
        )
    if targets.redis is not None:
        planned = targets.redis
        checks.append(
            (
                "replicas-attached",
                "Every replica the plan declares is attached, the DR standby included",
                lambda: replicas_attached(client, planned, targets.namespaces),
            )
        )
    items = []
    for check_id, title, run in checks:
        try:
            status, evidence = run()
        except PrometheusError as exc:
            raise OpsError(f"cannot judge: {exc} (or --skip prometheus)", code=2) from None
        items.append(item(check_id, ITEMS[check_id], title, "prometheus", status, evidence))
    return items
