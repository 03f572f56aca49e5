"""``make bench-http``: how faithful ``ops bench http`` is, on this machine.

Against the gateway stand-in (``bench.gateway_stub``, asyncio, in its own process):

* **arrival rate**: requested against sent requests/s (the slope of the send times,
  ``bench_http.SendClock``) and how late sends left, at rates up to 3,000/s (the target: within
  5% up to at least 2,000/s on 2 cores);
* **latency**: with 50 ms injected on every request, the reported p99 against the injected delay
  plus the p99 measured without injection in the same run (the target: within 10%).

Writes ``docs/capacity/http-generator-benchmark.json``; the README's table is that file
(``tests/test_benchmark_figures.py`` checks it, and that the run met its targets).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ops.runtime import bench_http
from ops.runtime.backups import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "capacity" / "http-generator-benchmark.json"
RATES = (500, 1000, 2000, 3000)
INJECTED_MS = 50.0


@contextmanager
def stub(*args: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.gateway_stub", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def run(seconds: float = 5.0) -> dict[str, Any]:
    rows = []
    with stub() as url:
        for rate in RATES:
            r = bench_http.run(url, rate, seconds, warmup=1.0)
            rows.append(
                {
                    "rate": rate,
                    "sent_per_s": r.achieved_rate,
                    "ratio": round(r.achieved_rate / rate, 4),
                    "p99_ms": r.latency_ms["p99"],
                    "send_lag_p99_ms": r.send_lag_ms["p99"],
                    "errors": r.errors,
                }
            )
        base = bench_http.run(url, 500, seconds, warmup=1.0).latency_ms["p99"]
    with stub("--delay-ms", str(INJECTED_MS)) as url:
        delayed = bench_http.run(url, 500, seconds, warmup=1.0).latency_ms
    expected = INJECTED_MS + base
    return {
        "machine": f"{os.cpu_count()} cores",
        "rates": rows,
        "latency": {
            "injected_ms": INJECTED_MS,
            "baseline_p99_ms": base,
            "p50_ms": delayed["p50"],
            "p99_ms": delayed["p99"],
            "p99_error": round(abs(delayed["p99"] - expected) / expected, 4),
        },
    }


def markdown_table(doc: dict[str, Any]) -> str:
    lines = [
        "| requested req/s | sent req/s | ratio | sends late, p99 | p99 (no injected delay) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['rate']} | {r['sent_per_s']:.0f} | {r['ratio']:.3f} | {r['send_lag_p99_ms']:.2f} ms "
        f"| {r['p99_ms']:.2f} ms |"
        for r in doc["rates"]
    ]
    lat = doc["latency"]
    lines.append(
        f"\nWith {lat['injected_ms']:g} ms injected at 500 req/s: p50 {lat['p50_ms']:.2f} ms, "
        f"p99 {lat['p99_ms']:.2f} ms against {lat['injected_ms'] + lat['baseline_p99_ms']:.2f} ms expected "
        f"({lat['p99_error']:.1%} off)."
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    doc = run()
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown_table(doc), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
