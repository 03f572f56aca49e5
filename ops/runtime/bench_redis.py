"""``python -m ops bench redis``: the Redis side of the mix, and the memory one key costs.

Throughput and latency come from ``redis-benchmark`` (Debian ``redis-tools``): ``SET`` and ``GET`` of
``bench:<n>`` keys over the configured key space with values of the configured mean size, each run
reporting requests/s and latency percentiles; the mix's rate is their weighted harmonic mean.
``redis-benchmark`` takes its password on the command line only, so it gets a one-time ACL user
allowed ``GET``/``SET``/``PING`` on ``bench:*`` keys and nothing else, removed afterwards: the real
password never appears in a process list.

Memory per key: a sample of keys with values of the mean size is loaded, and ``INFO memory``'s
``used_memory`` before and after gives the bytes per key; ``MEMORY USAGE`` of a sample confirms it.
The overhead (bytes per key beyond the value) is what the capacity model multiplies. Every ``bench:``
key is removed at the end, also on failure.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

import redis

from ops.errors import OpsError, describe
from ops.runtime.backups import redis_client, redis_info
from ops.runtime.replication import Endpoint

PREFIX = "bench:"


@dataclass
class RedisResult:
    set_ops: float
    get_ops: float
    mixed_ops: float
    latency_ms: dict[str, dict[str, float]]
    bytes_per_key: float
    overhead_bytes_per_key: float
    memory_usage_sample: float
    value_bytes: int
    keys_sampled: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cleanup(c: redis.Redis) -> None:
    batch: list[Any] = []
    for key in c.scan_iter(match=f"{PREFIX}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            c.unlink(*batch)
            batch.clear()
    if batch:
        c.unlink(*batch)


def _benchmark(endpoint: Endpoint, user: str, password: str, args: list[str], requests: int) -> dict[str, float]:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        raise OpsError("redis-benchmark is not on PATH (Debian: apt-get install redis-tools)", code=2)
    cmd = [binary, "-h", endpoint.host, "-p", str(endpoint.port), "--user", user, "-a", password]
    cmd += ["-n", str(requests), "-c", "50", "--csv", "--precision", "3", *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, check=False, env={**os.environ, "LC_ALL": "C"}
    )
    rows = [r for r in csv.reader(io.StringIO(proc.stdout)) if r and r[0] != "test"]
    if proc.returncode != 0 or not rows:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise OpsError(f"redis-benchmark failed against {endpoint.address}: {detail[0].replace(password, '***')}")
    head = ["test", "rps", "avg", "min", "p50", "p95", "p99", "max"]
    row = dict(zip(head, rows[-1], strict=False))
    return {k: float(v) for k, v in row.items() if k != "test"}


def run(
    endpoint: Endpoint, *, requests: int, keys: int, value_bytes: int, read_share: float, sample: int = 20_000
) -> RedisResult:
    """Measure throughput and memory per key on ``endpoint``; leaves no ``bench:`` key behind."""
    if requests <= 0 or keys <= 0 or value_bytes <= 0 or not 0 <= read_share <= 1:
        raise OpsError("--requests, --keys and --value-bytes must be positive, --read-share within 0..1", code=2)
    c = redis_client(endpoint, 30.0)
    try:
        c.ping()
    except redis.RedisError as exc:
        raise OpsError(f"cannot reach Redis at {endpoint.address}: {describe(exc)}") from None
    user, password = f"ops-bench-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    try:
        c.acl_setuser(
            user,
            enabled=True,
            passwords=[f"+{password}"],
            keys=[f"{PREFIX}*"],
            commands=["+get", "+set", "+ping", "+config|get"],
        )
    except redis.RedisError as exc:
        raise OpsError(
            f"cannot create the benchmark's one-time ACL user on {endpoint.address}: {describe(exc)}"
        ) from None
    try:
        value = "x" * value_bytes
        set_row = _benchmark(
            endpoint, user, password, ["-r", str(keys), "SET", f"{PREFIX}__rand_int__", value], requests
        )
        get_row = _benchmark(endpoint, user, password, ["-r", str(keys), "GET", f"{PREFIX}__rand_int__"], requests)
        _cleanup(c)
        before = int(redis_info(c, "memory")["used_memory"])
        pipe = c.pipeline(transaction=False)
        payload = os.urandom(value_bytes)
        for i in range(sample):
            pipe.set(f"{PREFIX}mem:{i}", payload)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        after = int(redis_info(c, "memory")["used_memory"])
        usage: list[int] = [
            int(c.memory_usage(f"{PREFIX}mem:{i}") or 0)  # type: ignore[arg-type]
            for i in range(0, sample, max(1, sample // 100))
        ]
    except redis.RedisError as exc:
        raise OpsError(f"the benchmark failed on {endpoint.address}: {describe(exc)}") from None
    finally:
        try:
            _cleanup(c)
            c.acl_deluser(user)
        finally:
            c.close()
    per_key = (after - before) / sample
    mixed = 1 / (read_share / get_row["rps"] + (1 - read_share) / set_row["rps"])
    # The harmonic mean lies between the two rates; rounding must not carry it past either.
    low, high = sorted((get_row["rps"], set_row["rps"]))
    mixed = min(max(round(mixed, 1), low), high)
    return RedisResult(
        set_ops=set_row["rps"],
        get_ops=get_row["rps"],
        mixed_ops=mixed,
        latency_ms={
            "set": {k: set_row[k] for k in ("p50", "p95", "p99", "max")},
            "get": {k: get_row[k] for k in ("p50", "p95", "p99", "max")},
        },
        bytes_per_key=round(per_key, 1),
        overhead_bytes_per_key=round(per_key - value_bytes, 1),
        memory_usage_sample=round(sum(usage) / len(usage), 1),
        value_bytes=value_bytes,
        keys_sampled=sample,
    )
