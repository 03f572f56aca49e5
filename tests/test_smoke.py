"""``ops smoke`` against local HTTP servers: one that behaves, and ways one can misbehave."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ops.cli import main

METRICS = (
    b"# TYPE http_requests_total counter\n"
    b'http_requests_total{code="200"} 5\n'
    b'http_request_duration_seconds_bucket{le="0.1"} 5\n'
)


class Gateway(BaseHTTPRequestHandler):
    """A tiny gateway: health endpoints, metrics and a key API backed by a dict."""

    store: dict[str, bytes]
    faults: set[str]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            return self._send(200, b"ok")
        if self.path == "/readyz":
            return self._send(503 if "not-ready" in self.faults else 200)
        if self.path == "/metrics":
            return self._send(200, b"# nothing" if "no-metrics" in self.faults else METRICS)
        key = self.path.removeprefix("/v1/keys/")
        if key in self.store:
            value = self.store[key][::-1] if "corrupt" in self.faults else self.store[key]
            return self._send(200, value)
        return self._send(404)

    def do_PUT(self) -> None:
        if "no-key-api" in self.faults:
            return self._send(404)
        length = int(self.headers["Content-Length"])
        self.store[self.path.removeprefix("/v1/keys/")] = self.rfile.read(length)
        return self._send(204)

    def do_DELETE(self) -> None:
        if "sticky" not in self.faults:
            self.store.pop(self.path.removeprefix("/v1/keys/"), None)
        return self._send(204)


@pytest.fixture
def gateway() -> Iterator[Any]:
    servers = []

    def start(*faults: str) -> str:
        handler = type("H", (Gateway,), {"store": {}, "faults": set(faults)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        port = server.server_address[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for s in servers:
        s.shutdown()


def smoke(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["smoke", "--url", url, "--metrics-url", url + "/metrics", "--timeout", "2", "--json", "-"])
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c["status"] for c in report["checks"]}


def test_a_healthy_gateway_passes(gateway: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = smoke(gateway(), capsys)
    assert code == 0
    assert checks == {"healthz": "pass", "readyz": "pass", "metrics": "pass", "round-trip": "pass"}


@pytest.mark.parametrize(
    ("fault", "check"),
    [("not-ready", "readyz"), ("no-metrics", "metrics"), ("corrupt", "round-trip"), ("sticky", "round-trip")],
)
def test_a_misbehaving_gateway_fails_the_right_check(
    gateway: Any, capsys: pytest.CaptureFixture[str], fault: str, check: str
) -> None:
    code, checks = smoke(gateway(fault), capsys)
    assert code == 1
    assert checks[check] == "fail"
    assert [name for name, status in checks.items() if status == "fail"] == [check]


def test_without_a_key_api_the_round_trip_is_skipped_not_passed(
    gateway: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = smoke(gateway("no-key-api"), capsys)
    assert code == 0 and checks["round-trip"] == "skip"


def test_an_unreachable_gateway_fails_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import free_port

    code, checks = smoke(f"http://127.0.0.1:{free_port()}", capsys)
    assert code == 1 and set(checks.values()) == {"fail"}


def test_metrics_can_be_skipped_from_outside_the_cluster(gateway: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", "--url", gateway("no-metrics"), "--skip-metrics", "--json", "-"])
    checks = {c["name"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert code == 0 and checks["metrics"] == "skip"
