"""``python -m ops smoke``: post-deployment validation of a gateway endpoint.

Checks, in order, each with its own verdict:

1. ``GET /healthz`` answers 200 (the process is alive);
2. ``GET /readyz`` answers 200 (it can reach Redis);
3. the metrics endpoint (``--metrics-url``, default: same host, port 9090, ``/metrics``) answers 200
   with Prometheus text that has the request counter and latency histogram the SLO alerts read;
4. a write-read-delete round trip through the key API (``PUT``/``GET``/``DELETE``
   ``/v1/keys/<key>``) with a random key and value: the value read must be the value written, and
   the key must be gone afterwards. A gateway that does not expose the key API (404 or 405 on the
   ``PUT``) gets this check reported as skipped, not passed.

Every request has a timeout; the command exits 0 only when no check failed. The same command runs
as the smoke-test Job of the blue-green pre-promotion analysis.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse, urlunparse

REQUIRED_METRICS = ("http_requests_total", "http_request_duration_seconds_bucket")


@dataclass
class Check:
    name: str
    status: str  # "pass" | "fail" | "skip"
    detail: str
    seconds: float


@dataclass
class SmokeReport:
    url: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def _request(method: str, url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - URL from the operator
    if body is not None:
        request.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")


def _metrics_url(url: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(netloc=f"{parsed.hostname}:9090", path="/metrics"))


def run(url: str, metrics_url: str | None = None, timeout: float = 5.0, *, check_metrics: bool = True) -> SmokeReport:
    base = url.rstrip("/")
    report = SmokeReport(url=base)

    def check(name: str, fn: Any) -> None:
        start = time.monotonic()
        try:
            status, detail = fn()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            status, detail = "fail", f"request failed: {getattr(exc, 'reason', exc)}"
        report.checks.append(Check(name, status, detail, round(time.monotonic() - start, 3)))

    def probe(path: str) -> Any:
        def fn() -> tuple[str, str]:
            code, _ = _request("GET", base + path, timeout)
            return ("pass", "200") if code == 200 else ("fail", f"answered {code}, expected 200")

        return fn

    def metrics() -> tuple[str, str]:
        if not check_metrics:
            return "skip", "not checked (--skip-metrics)"
        target = metrics_url or _metrics_url(base)
        code, body = _request("GET", target, timeout)
        if code != 200:
            return "fail", f"{target} answered {code}"
        missing = [m for m in REQUIRED_METRICS if m.encode() not in body]
        return ("fail", f"{target} lacks {missing}") if missing else ("pass", f"{target}: {len(body)} bytes")

    def round_trip() -> tuple[str, str]:
        key = f"smoke-{secrets.token_hex(8)}"
        value = secrets.token_bytes(32)
        item = f"{base}/v1/keys/{key}"
        code, _ = _request("PUT", item, timeout, value)
        if code in (404, 405):
            return "skip", f"the gateway does not expose the key API (PUT answered {code})"
        if code not in (200, 201, 204):
            return "fail", f"PUT answered {code}"
        code, body = _request("GET", item, timeout)
        if code != 200 or body != value:
            _request("DELETE", item, timeout)
            return "fail", f"GET answered {code} with {'another value' if code == 200 else 'no value'}"
        code, _ = _request("DELETE", item, timeout)
        if code not in (200, 202, 204):
            return "fail", f"DELETE answered {code}"
        code, _ = _request("GET", item, timeout)
        if code != 404:
            return "fail", f"the key is still readable after DELETE (GET answered {code})"
        return "pass", "write, read and delete agree"

    check("healthz", probe("/healthz"))
    check("readyz", probe("/readyz"))
    check("metrics", metrics)
    check("round-trip", round_trip)
    return report
