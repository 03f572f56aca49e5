"""``python -m ops bench http``: load on the gateway at a fixed arrival rate.

**Open model.** Request *i* is due at ``t0 + i / rate`` whatever happened to the requests before it:
a slow server cannot slow the load down. Latency is measured from the moment a request was *due*,
not from when a connection became free, so queueing shows in the figures instead of being hidden
(no coordinated omission). Requests go over persistent HTTP/1.1 connections, opened as needed up to
``max_connections``; beyond that, due requests wait for a connection and that wait is latency too.

The mix: reads (``GET /v1/keys/<key>``; 404 for a key never written is an answer, not an error) and
writes (``PUT`` with a value whose size is drawn from the configured distribution) over a uniform
key space. Latencies go into an HDR histogram (``hdrhistogram``, microseconds, 3 significant
digits). Errors: 5xx, any other 4xx than a read's 404, timeouts and connection failures.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram

from ops.errors import OpsError

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass(frozen=True)
class ValueSizes:
    """Value sizes in bytes: ``512`` (fixed) or ``128-4096`` (uniform between the two)."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> ValueSizes:
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
        if not m:
            raise ValueError(f"{text!r} is not a size in bytes (512) or a range (128-4096)")
        low, high = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= low <= high <= 64 * 2**20:
            raise ValueError(f"{text!r}: sizes go from 1 byte to 64 MiB, the low end first")
        return cls(low, high)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def draw(self, rng: random.Random) -> int:
        return rng.randint(self.low, self.high)


@dataclass(frozen=True)
class Mix:
    read_share: float = 0.8
    keys: int = 10_000
    values: ValueSizes = ValueSizes(512, 512)
    prefix: str = "bench:"


@dataclass
class Result:
    rate: float
    """Requested arrival rate (requests/s)."""
    duration: float
    sent: int = 0
    completed: int = 0
    errors: int = 0
    achieved_rate: float = 0.0
    """Requests actually sent per second during the measured window: the slope of the send times
    (see ``SendClock``), so one stall of the machine does not decide it."""
    send_lag_ms: dict[str, float] = field(default_factory=dict)
    """How late the generator sent requests after they were due (p50, p99, max): its own fidelity."""
    throughput: float = 0.0
    """Responses per second during the measured window."""
    latency_ms: dict[str, float] = field(default_factory=dict)
    max_latency_ms: float = 0.0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": round(self.error_rate, 6)}


def _percentiles_ms(histogram: HdrHistogram, percentiles: tuple[float, ...]) -> dict[str, float]:
    """``{"p50": ..., "p99": ...}`` in milliseconds from a histogram of microseconds."""
    return {f"p{p:g}": round(histogram.get_value_at_percentile(p) / 1000, 3) for p in percentiles}


class SendClock:
    """The rate the generator really kept: the least-squares slope of the measured requests' send
    times against their index (Welford's running form, constant memory at any rate).

    The two end points alone would let one late send decide: a 145 ms stall of the machine just
    before the last request of a 2 s window reads as 7% slower, though every other request left on
    time. The slope moves by what the stall moved on average. A generator that truly falls behind
    sends later and later, and the slope shows that. How late sends were is ``lag`` (microseconds,
    an HDR histogram), reported apart."""

    def __init__(self) -> None:
        self.n = 0
        self._mean_i = self._mean_t = self._sxx = self._sxt = 0.0
        self._t0: float | None = None
        self.lag = HdrHistogram(1, 120_000_000, 3)

    def sent(self, due: float, at: float) -> None:
        if self._t0 is None:
            self._t0 = at
        t = at - self._t0
        self.n += 1
        di = self.n - 1 - self._mean_i  # the index of this send is n - 1
        self._mean_i += di / self.n
        self._mean_t += (t - self._mean_t) / self.n
        self._sxx += di * (self.n - 1 - self._mean_i)
        self._sxt += di * (t - self._mean_t)
        self.lag.record_value(max(1, int((at - due) * 1e6)))

    def rate(self) -> float | None:
        """Requests per second, or None with fewer than two sends or no time between them."""
        if self.n < 2 or self._sxt <= 0:
            return None
        return self._sxx / self._sxt

    def lag_ms(self) -> dict[str, float]:
        if not self.n:
            return {}
        return {**_percentiles_ms(self.lag, (50.0, 99.0)), "max": round(self.lag.get_max_value() / 1000, 3)}


class _Connections:
    def __init__(self, host: str, port: int, tls: bool, limit: int, timeout: float) -> None:
        self.host, self.port, self.limit, self.timeout = host, port, limit, timeout
        self.ssl = ssl.create_default_context() if tls else None
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.free = asyncio.Condition()

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.free:
            while not self.idle and self.open >= self.limit:
                await self.free.wait()
            if self.idle:
                return self.idle.pop()
            self.open += 1
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self.ssl), timeout=self.timeout
            )
        except BaseException:
            async with self.free:
                self.open -= 1
                self.free.notify()
            raise

    async def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        async with self.free:
            if conn is None:
                self.open -= 1
            else:
                self.idle.append(conn)
            self.free.notify()

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """Send one request, read one response; returns (status, connection still usable)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError("not an HTTP response")
    status = int(parts[1])
    length, chunked, keep = 0, False, not status_line.startswith(b"HTTP/1.0")
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            keep = value != "close"
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


def run(
    url: str,
    rate: float,
    duration: float,
    *,
    mix: Mix = Mix(),
    warmup: float = 1.0,
    requests: int | None = None,
    timeout: float = 5.0,
    max_connections: int = 256,
    seed: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Result:
    """Drive ``url`` at ``rate`` requests/s for ``warmup`` + ``duration`` seconds (or ``requests`` after
    the warm-up); only the measured window is reported."""
    if not rate > 0:
        raise OpsError(f"--rate must be more than 0, got {rate:g}", code=2)
    if not duration > 0 and not requests:
        raise OpsError("--duration must be more than 0", code=2)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OpsError(f"--url {url!r}: expected http(s)://host[:port][/prefix]", code=2)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    base = parts.path.rstrip("/")
    measured = requests if requests else int(rate * duration)
    warm = int(rate * warmup)
    total = warm + measured
    rng = random.Random(seed)  # noqa: S311 - the mix of keys and sizes, not a secret
    payloads = [rng.randbytes(mix.values.high) for _ in range(4)]

    def request(i: int) -> tuple[bytes, bool]:
        key = f"{mix.prefix}{rng.randrange(mix.keys)}"
        path = f"{base}/v1/keys/{key}"
        if rng.random() < mix.read_share:
            head = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: ops-bench\r\n\r\n"
            return head.encode(), True
        body = payloads[i % 4][: mix.values.draw(rng)]
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: ops-bench\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body, False

    histogram = HdrHistogram(1, 120_000_000, 3)
    clock = SendClock()
    result = Result(rate=rate, duration=measured / rate)

    async def main() -> None:
        pool = _Connections(parts.hostname or "", port, parts.scheme == "https", max_connections, timeout)
        loop = asyncio.get_running_loop()
        done = 0
        tasks: set[asyncio.Task[None]] = set()

        async def one(i: int, due: float) -> None:
            nonlocal done
            data, read = request(i)
            counted = i >= warm
            kind = None
            try:
                conn = await asyncio.wait_for(pool.get(), timeout=timeout)
                try:
                    status, keep = await asyncio.wait_for(_exchange(*conn, data), timeout=timeout)
                except BaseException:
                    conn[1].close()
                    await pool.put(None)
                    raise
                if keep:
                    await pool.put(conn)
                else:
                    conn[1].close()
                    await pool.put(None)
                if status >= 500 or (status >= 400 and not (read and status == 404)):
                    kind = f"http {status}"
            except TimeoutError:
                kind = "timeout"
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                kind = type(exc).__name__
            finished = loop.time()
            done += 1
            if counted:
                result.completed += 1
                if kind:
                    result.errors += 1
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
                histogram.record_value(max(1, int((finished - due) * 1e6)))

        start = loop.time() + 0.01
        measured_from = start + warm / rate
        for i in range(total):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if i >= warm:
                result.sent += 1
                clock.sent(due, loop.time())
            task = asyncio.ensure_future(one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if i % 256 == 0:
                progress(i, total)
        if tasks:
            await asyncio.wait(set(tasks))
        ended = loop.time()
        progress(total, total)
        kept = clock.rate()
        result.achieved_rate = round(kept if kept is not None else rate, 2)
        result.send_lag_ms = clock.lag_ms()
        result.throughput = round(result.completed / max(ended - measured_from, 1e-9), 2)
        pool.close()

    # Its own loop, left as it found the thread: asyncio.run() would also unset the thread's current
    # loop, which callers in the same process (Pulumi's runtime, in the test suite) rely on.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    if result.completed == 0:
        raise OpsError(f"no request to {url} completed")
    if result.errors == result.completed and set(result.error_kinds) <= {
        "ConnectionRefusedError",
        "OSError",
        "timeout",
        "gaierror",
    }:
        raise OpsError(f"{url} is unreachable: every request failed ({', '.join(sorted(result.error_kinds))})")
    result.latency_ms = _percentiles_ms(histogram, PERCENTILES)
    result.max_latency_ms = round(histogram.get_max_value() / 1000, 3)
    return result


@dataclass
class MaxRate:
    max_sustainable_rate: float | None
    steps: list[dict[str, Any]]


def find_max(
    url: str,
    start: float,
    step_seconds: float,
    *,
    p99_slo_ms: float,
    max_error_rate: float,
    factor: float = 1.5,
    limit: float = 100_000,
    mix: Mix = Mix(),
    say: Callable[[str], None] = lambda line: None,
) -> MaxRate:
    """Raise the rate by ``factor`` until p99 or the error rate breaches the SLO, or the generator
    cannot keep the rate (achieved under 95% of it); the last rate that held is the maximum."""
    best: float | None = None
    steps = []
    rate = start
    while rate <= limit:
        r = run(url, rate, step_seconds, mix=mix, warmup=min(1.0, step_seconds / 2))
        held = r.latency_ms["p99"] <= p99_slo_ms and r.error_rate <= max_error_rate and r.achieved_rate >= 0.95 * rate
        steps.append({**r.as_dict(), "held": held})
        say(
            f"{rate:>10.0f} req/s  p99 {r.latency_ms['p99']:>9.2f} ms  errors {r.error_rate:.3%}  "
            + ("ok" if held else "BREACH")
        )
        if not held:
            break
        best = rate
        rate *= factor
    return MaxRate(best, steps)
