"""``python -m ops bench``: ``http`` (the gateway), ``redis`` (its data tier) and ``compare`` (two
baselines). Results print as a table, go to ``--json``, and with ``--save FILE`` into a baseline
(``docs/capacity/baseline.json``), which ``ops capacity`` and the capacity policy read.

A baseline records the noise it was measured with (the spread of ``--repeat`` runs, at least 5%);
``compare`` flags a figure that got worse by more than the larger noise of the two files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import OpsError
from ops.runtime import args as argtypes
from ops.runtime.backup_cli import redis_url
from ops.runtime.report import add_json_flag, write_json

if TYPE_CHECKING:
    from rich.console import Console

MIN_NOISE = 0.05
COMPARED = {
    # figure -> True when higher is better
    "gateway.rps_per_pod": True,
    "redis.mixed_ops": True,
    "redis.set_ops": True,
    "redis.get_ops": True,
    "redis.bytes_per_key": False,
}


def _sizes(value: str) -> Any:
    from ops.runtime.bench_http import ValueSizes

    try:
        return ValueSizes.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(commands: Any) -> None:
    top = commands.add_parser(
        "bench",
        help="performance baselines: the gateway at a fixed arrival rate, Redis with redis-benchmark, comparisons",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="bench_command", required=True, metavar="TARGET")

    def mix(p: argparse.ArgumentParser) -> None:
        p.add_argument("--read-share", type=argtypes.share, default=0.8, help="share of reads (default: 0.8)")
        p.add_argument("--keys", type=argtypes.positive_count, default=100_000, help="key space (default: 100000)")
        p.add_argument("--value-bytes", type=_sizes, default="512", help="value size: 512 or a uniform range 128-4096")

    def save(p: argparse.ArgumentParser) -> None:
        p.add_argument("--save", type=argtypes.new_file, metavar="FILE", help="merge the result into this baseline")
        p.add_argument(
            "--repeat", type=argtypes.positive_count, default=1, help="runs whose spread is the recorded noise"
        )
        add_json_flag(p)

    h = sub.add_parser(
        "http",
        help="load the gateway at a fixed arrival rate (open model), report throughput and latency percentiles",
        description="Open-model load: requests are due at a fixed rate whatever the server does; latency counts "
        "from when a request was due. Exit 0 when the run met the SLO (p99 and error rate), 1 otherwise.",
    )
    h.add_argument("--url", required=True, type=argtypes.http_url, help="base URL of the gateway")
    h.add_argument("--rate", type=argtypes.rate, default=100.0, help="requests per second (default: 100)")
    h.add_argument("--duration", type=argtypes.positive_seconds, default=10.0, help="measured seconds (default: 10)")
    h.add_argument("--requests", type=argtypes.positive_count, help="measured requests instead of a duration")
    h.add_argument(
        "--warmup", type=argtypes.positive_seconds, default=1.0, help="unmeasured seconds first (default: 1)"
    )
    h.add_argument("--timeout", type=argtypes.positive_seconds, default=5.0, help="seconds per request (default: 5)")
    h.add_argument("--p99-ms", type=argtypes.positive_seconds, default=250.0, help="SLO: p99 in ms (default: 250)")
    h.add_argument(
        "--max-error-rate", type=argtypes.share, default=0.001, help="SLO: share of errors allowed (default: 0.001)"
    )
    h.add_argument(
        "--find-max",
        action="store_true",
        help="step the rate up by 1.5x from --rate until p99 or errors breach the SLO; report the last that held",
    )
    mix(h)
    save(h)

    r = sub.add_parser(
        "redis",
        help="redis-benchmark SET/GET over the mix, and the memory one key costs",
        description="Runs redis-benchmark (a one-time ACL user limited to bench:* keys) and loads a sample to "
        "measure bytes per key. Leaves no bench: key behind. Credentials: REDIS_PASSWORD.",
    )
    r.add_argument("--redis-url", required=True, type=redis_url, help="redis://host:port (not production)")
    r.add_argument(
        "--requests", type=argtypes.positive_count, default=100_000, help="requests per command (default: 100000)"
    )
    mix(r)
    save(r)

    c = sub.add_parser(
        "compare",
        help="compare two baselines; exit 1 when a figure regressed beyond the measured noise",
        description="Flags every figure that got worse by more than the larger noise of the two baselines "
        "(5% at least).",
    )
    c.add_argument("old", type=argtypes.existing_file, help="the reference baseline")
    c.add_argument("new", type=argtypes.existing_file, help="the baseline to judge")
    add_json_flag(c)


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{path}: not a baseline (JSON expected: {exc})", code=2) from None
    if not isinstance(doc, dict):
        raise OpsError(f"{path}: not a baseline (a JSON object expected)", code=2)
    return doc


def _figure(doc: dict[str, Any], path: str) -> float | None:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    noise = max(MIN_NOISE, float(old.get("noise", 0) or 0), float(new.get("noise", 0) or 0))
    rows = []
    for path, higher in COMPARED.items():
        a, b = _figure(old, path), _figure(new, path)
        if a is None or b is None or a == 0:
            continue
        change = (b - a) / a
        worse = -change if higher else change
        rows.append({"figure": path, "old": a, "new": b, "change": round(change, 4), "regressed": worse > noise})
    return {"noise": noise, "figures": rows, "regressed": [r["figure"] for r in rows if r["regressed"]]}


def _save(path: Path, section: str, values: dict[str, Any], noise: float) -> None:
    doc = _load(path) if path.exists() else {}
    doc[section] = values
    doc["noise"] = round(max(float(doc.get("noise", 0) or 0), noise), 4)
    doc["measured_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["machine"] = f"{os.cpu_count()} cores"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def _spread(values: list[float]) -> float:
    return (
        (max(values) - min(values)) / statistics.median(values)
        if len(values) > 1 and statistics.median(values)
        else 0.0
    )


def run(args: argparse.Namespace, console: Console) -> int:
    say = lambda line: console.print(line, markup=False)  # noqa: E731
    if args.bench_command == "compare":
        result = compare(_load(args.old), _load(args.new))
        write_json(args.json, result)
        for row in result["figures"]:
            flag = "REGRESSED" if row["regressed"] else "ok"
            say(f"{row['figure']:<22} {row['old']:>12g} -> {row['new']:>12g} ({row['change']:+.1%}) {flag}")
        say(
            f"noise {result['noise']:.1%}: "
            + (", ".join(result["regressed"]) + " regressed" if result["regressed"] else "no regression")
        )
        return 1 if result["regressed"] else 0
    if args.bench_command == "redis":
        from ops.runtime import bench_redis

        runs = [
            bench_redis.run(
                args.redis_url,
                requests=args.requests,
                keys=args.keys,
                value_bytes=int(args.value_bytes.mean),
                read_share=args.read_share,
            )
            for _ in range(args.repeat)
        ]
        best = max(runs, key=lambda r: r.mixed_ops)
        noise = _spread([r.mixed_ops for r in runs])
        doc = {**best.as_dict(), "read_share": args.read_share, "noise": round(noise, 4)}
        write_json(args.json, doc)
        say(
            f"SET {best.set_ops:.0f}/s  GET {best.get_ops:.0f}/s  "
            f"mix {best.mixed_ops:.0f}/s (reads {args.read_share:.0%})"
        )
        for cmd, lat in best.latency_ms.items():
            say(f"{cmd.upper():<4} p50 {lat['p50']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms  max {lat['max']} ms")
        say(
            f"{best.bytes_per_key:.0f} bytes per key for {best.value_bytes}-byte values "
            f"({best.overhead_bytes_per_key:.0f} of overhead); MEMORY USAGE {best.memory_usage_sample:.0f}"
        )
        if args.save:
            _save(args.save, "redis", doc, noise)
        return 0
    from ops.runtime import bench_http

    mix = bench_http.Mix(read_share=args.read_share, keys=args.keys, values=args.value_bytes)
    if args.find_max:
        found = bench_http.find_max(
            args.url,
            args.rate,
            args.duration,
            p99_slo_ms=args.p99_ms,
            max_error_rate=args.max_error_rate,
            mix=mix,
            say=say,
        )
        doc = {"max_sustainable_rate": found.max_sustainable_rate, "steps": found.steps}
        write_json(args.json, doc)
        if found.max_sustainable_rate is None:
            say(f"not even {args.rate:g} req/s met the SLO (p99 {args.p99_ms:g} ms, errors {args.max_error_rate:.2%})")
            return 1
        say(f"maximum sustainable rate: {found.max_sustainable_rate:.0f} req/s")
        if args.save:
            gateway = {"rps_per_pod": found.max_sustainable_rate, "measured": True, "source": args.url}
            _save(args.save, "gateway", gateway, 0.0)
        return 0
    interactive = sys.stderr.isatty() and args.json != "-"
    results = []
    for _ in range(args.repeat):
        with _Progress(interactive) as progress:
            results.append(
                bench_http.run(
                    args.url,
                    args.rate,
                    args.duration,
                    mix=mix,
                    warmup=args.warmup,
                    requests=args.requests,
                    timeout=args.timeout,
                    progress=progress,
                )
            )
    r = results[-1]
    noise = _spread([x.latency_ms["p99"] for x in results])
    doc = {**r.as_dict(), "noise": round(noise, 4)}
    write_json(args.json, doc)
    say(
        f"requested {r.rate:g} req/s, sent {r.achieved_rate:g} req/s, {r.throughput:g} responses/s, "
        f"errors {r.error_rate:.3%}" + (f", sends late by p99 {r.send_lag_ms['p99']} ms" if r.send_lag_ms else "")
    )
    say("latency " + "  ".join(f"{k} {v} ms" for k, v in r.latency_ms.items()) + f"  max {r.max_latency_ms} ms")
    if args.save:
        _save(args.save, "http", doc, noise)
    met = r.latency_ms["p99"] <= args.p99_ms and r.error_rate <= args.max_error_rate
    say("SLO met" if met else f"SLO missed (p99 {args.p99_ms:g} ms, errors {args.max_error_rate:.2%})")
    return 0 if met else 1


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda done, total: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        self.task = self.bar.add_task("requests", total=None)
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()
