"""``python -m ops dr drill``: the regional failover and failback rehearsed for real, on one machine.

What runs: two ``redis-server``s on loopback (the primary, and the DR standby replicating from it
through a TCP relay that stands for the inter-region link, so the link can be cut), an HTTP stand-in
of the gateway in front of each (``/healthz``, ``/readyz``, ``/metrics``, the key API), and a moto
server for Route 53 (failover records and the health check) and S3 (the DR backup bucket). A writer
puts a sequence number through DNS every few milliseconds, the whole time.

Scenarios:

* ``kill``: ``kill -9`` of the primary. Failover (nothing to fence), then the primary region is
  rebuilt empty and failed back.
* ``cut``: the link is cut while the primary keeps serving; failover fences the still-reachable
  primary (a write there must be refused afterwards: no split brain), is run a second time (every
  step must report ``already``), then the link is restored and service failed back.
* ``restore``: a backup is taken into the DR bucket, an accidental ``FLUSHALL`` replicates to the
  standby, service fails over, and ``restore-from-backup`` brings the data back; ``DEBUG DIGEST``
  of the restored data must equal the source's at backup time.

**RPO** is the data actually lost: sequence numbers the old primary acknowledged and the new one
does not hold, as the time between the first and the last of them (0 when none is missing).
**RTO** is the time from the fault to the first write acknowledged through the DR side. The
failback is measured the same way and must lose nothing. A drill detects the fault at once; a real
one adds Route 53's detection and the DNS TTL (see docs/runbooks/disaster-recovery.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import secrets
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from ops.errors import OpsError, register_secret
from ops.runtime import backups, dr
from ops.runtime.args import scoped_environment
from ops.runtime.backups import free_port, start_redis_server
from ops.runtime.dr_targets import Route53Dns
from ops.runtime.replication import Endpoint

SCENARIOS = ("kill", "cut", "freeze", "restore")
WRITE_INTERVAL = 0.005
SEED_KEYS = 5000
PRIMARY_ADDRESS, DR_ADDRESS = "192.0.2.1", "192.0.2.2"
"""What the failover records answer (documentation addresses); the drill maps them to its fronts."""
REDIS_OPTIONS = ("--enable-debug-command", "local", "--repl-diskless-sync-delay", "0")
"""On top of the plan's replication settings (``redis_config``): DIGEST, and no wait before a sync."""


# -- the stand-ins: link relay and gateway front ---------------------------------------------------


class Link:
    """A TCP relay: the DR replica reaches the primary through it, so the drill can cut the link."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                conn.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                conn.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.conns += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns.clear()

    def restore(self, target: tuple[str, int] | None = None) -> None:
        if target is not None:
            self.target = target
        self.up = True

    def close(self) -> None:
        self.cut()
        self.server.close()


class Front:
    """An HTTP stand-in of the gateway over one Redis: health, readiness (its Redis is a writable
    primary), the metrics the smoke test looks for, and the key API."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        pool = redis.ConnectionPool(
            host=endpoint.host,
            port=endpoint.port,
            password=endpoint.password,
            socket_timeout=1,
            socket_connect_timeout=1,
        )
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes = b"") -> None:
                with contextlib.suppress(OSError):  # a client that gave up (its timeout) is not an error
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def _redis(self) -> redis.Redis:
                return redis.Redis(connection_pool=pool)

            def do_GET(self) -> None:
                try:
                    if self.path == "/healthz":
                        return self._send(200, b"ok")
                    if self.path == "/readyz":
                        ok = front.ready()
                        return self._send(200 if ok else 503)
                    if self.path == "/metrics":
                        return self._send(
                            200, b'http_requests_total 1\nhttp_request_duration_seconds_bucket{le="+Inf"} 1\n'
                        )
                    if self.path.startswith("/v1/keys/"):
                        value: bytes | None = self._redis().get(self.path[len("/v1/keys/") :])  # type: ignore[assignment]
                        return self._send(404) if value is None else self._send(200, value)
                    return self._send(404)
                except redis.RedisError:
                    return self._send(503)

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    self._redis().set(self.path[len("/v1/keys/") :], body)
                    return self._send(204)
                except redis.RedisError:
                    return self._send(503)

            def do_DELETE(self) -> None:
                try:
                    self._redis().delete(self.path[len("/v1/keys/") :])
                    return self._send(204)
                except redis.RedisError:
                    return self._send(503)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ready(self) -> bool:
        s = dr.state(self.endpoint)
        return s.reachable and s.role == "master" and not s.fenced

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the writer ------------------------------------------------------------------------------------


@dataclass
class Ack:
    seq: int
    at: float
    side: str


@dataclass
class Writer:
    """Writes ``drill:seq:<n>`` through the front DNS answers with, every ``WRITE_INTERVAL``."""

    resolve: Callable[[], str]
    fronts: dict[str, Front]
    first: int = 0
    """The sequence starts after this: each writer of a scenario writes keys of its own."""
    acks: list[Ack] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import urllib.error
        import urllib.request

        seq, side, resolved_at = self.first, self.resolve(), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - resolved_at > 0.05:  # a short DNS TTL
                with contextlib.suppress(OpsError):
                    side = self.resolve()
                resolved_at = time.monotonic()
            seq += 1
            req = urllib.request.Request(  # noqa: S310 - the drill's own loopback front
                f"{self.fronts[side].url}/v1/keys/drill:seq:{seq}", data=str(seq).encode(), method="PUT"
            )
            try:
                with urllib.request.urlopen(req, timeout=1) as r:  # noqa: S310 - loopback
                    ok = r.status == 204
            except (urllib.error.URLError, OSError):
                ok = False
            if ok:
                self.acks.append(Ack(seq, time.monotonic(), side))
            else:
                self.errors += 1
            self._stop.wait(WRITE_INTERVAL)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _missing(endpoint: Endpoint, acks: list[Ack]) -> list[Ack]:
    absent = set(_missing_keys(endpoint, [f"drill:seq:{a.seq}" for a in acks]))
    return [a for a in acks if f"drill:seq:{a.seq}" in absent]


def _rpo(acks: list[Ack], lost: list[Ack]) -> float:
    """Seconds of acknowledged writes lost: from the last surviving write before the first lost one
    to the last lost one."""
    if not lost:
        return 0.0
    first = lost[0]
    before = [a.at for a in acks if a.at < first.at and a not in lost]
    start = before[-1] if before else first.at
    return round(lost[-1].at - start, 3)


# -- the world of one scenario ---------------------------------------------------------------------


class World:
    """Both regions on loopback, the moto Route 53 zone, the writer's DNS."""

    def __init__(
        self, work: Path, aws: str, redis_config: dict[str, str] | None = None, primary_replica: bool = False
    ) -> None:
        self.work = work
        self.redis_config = dict(dr.PLAN_REDIS_CONFIG if redis_config is None else redis_config)
        self.password = secrets.token_urlsafe(24)
        register_secret(self.password)
        self.procs: list[Any] = []
        self.writers = 0
        self.primary = self._redis("primary")
        self.primary_replicas: tuple[Endpoint, ...] = ()
        if primary_replica:  # the primary region's own replica: the old primary serves again when it returns
            self.primary_replicas = (
                self._redis("primary-replica", "--replicaof", "127.0.0.1", str(self.primary.port)),
            )
        self.link = Link(("127.0.0.1", self.primary.port))
        self.standby = self._redis("dr", "--replicaof", "127.0.0.1", str(self.link.port))
        self.fronts = {"primary": Front(self.primary), "dr": Front(self.standby)}
        import boto3

        r53 = boto3.client("route53", endpoint_url=aws, region_name="us-east-1")
        zone, _ = failover_zone(r53, "api.drill.example", (PRIMARY_ADDRESS, DR_ADDRESS), "primary.drill.example")
        self.dns = Route53Dns(zone, "api.drill.example", r53, probe=lambda: self.fronts["primary"].ready())

    def _redis(self, name: str, *extra: str) -> Endpoint:
        d = self.work / f"{name}-{len(self.procs)}"
        d.mkdir()
        # Both regions' servers authenticate to each other with the shared password (``masterauth``),
        # as the data tier's configuration does.
        auth = ("--masterauth", self.password)
        plan = [arg for key, value in self.redis_config.items() for arg in (f"--{key}", value)]
        proc, port = start_redis_server(d, *plan, *REDIS_OPTIONS, *auth, *extra, password=self.password)
        self.procs.append(proc)
        return Endpoint("127.0.0.1", port, None, self.password)

    def plan(self) -> dr.Plan:
        return dr.Plan(
            primary=dr.Side("primary", self.primary, self.primary_replicas, link=("127.0.0.1", self.link.port)),
            dr=dr.Side("dr", self.standby),
            dns=self.dns,
            dr_url=self.fronts["dr"].url,
            dr_metrics_url=self.fronts["dr"].url + "/metrics",
            primary_url=self.fronts["primary"].url,
            primary_metrics_url=self.fronts["primary"].url + "/metrics",
            catch_up_timeout=2.0,
            sync_timeout=60.0,
            dns_timeout=10.0,
            redis_config=self.redis_config,
        )

    def writer(self) -> Writer:
        self.writers += 1
        w = Writer(self.dns.answering, self.fronts, first=self.writers * 10**7)
        w.start()
        return w

    def seed(self, keys: int = SEED_KEYS) -> None:
        """A dataset for the writes to land in: the promotion guard compares sizes, as in production."""
        c = dr.client(self.primary, 30)
        try:
            pipe = c.pipeline(transaction=False)
            for i in range(keys):
                pipe.set(f"drill:data:{i}", secrets.token_hex(8))
            pipe.execute()
        finally:
            c.close()

    def synced(self, timeout: float = 30.0) -> None:
        def done() -> bool:
            replicas = (self.standby, *self.primary_replicas)
            return all(dr.lag(self.primary, r)[0] == 0 for r in replicas) and dr.state(self.primary).writable

        if not dr._wait(done, timeout, 0.05):
            raise OpsError("the drill's standby did not finish its initial sync")

    def rebuild_primary(self) -> None:
        """The lost region comes back empty, on a new address: a new server, the link relay and the
        front pointed at it."""
        self.fronts["primary"].close()
        self.primary = self._redis("primary")
        self.link.restore(("127.0.0.1", self.primary.port))
        self.fronts["primary"] = Front(self.primary)

    def kill_primary(self) -> None:
        self.procs[0].send_signal(signal.SIGKILL)
        self.procs[0].wait(timeout=10)

    def close(self) -> None:
        for f in self.fronts.values():
            with contextlib.suppress(Exception):
                f.close()
        self.link.close()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                with contextlib.suppress(Exception):
                    p.wait(timeout=10)


@contextlib.contextmanager
def moto_server(region: str = "eu-central-1") -> Iterator[str]:
    """A moto server (Route 53, S3, KMS), with this process's AWS environment pointing at it."""
    try:
        from moto.server import ThreadedMotoServer
    except ModuleNotFoundError:
        raise OpsError("the drill needs moto (pip install -r requirements.txt)", code=2) from None
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    try:
        with scoped_environment(**aws, AWS_REGION=region, AWS_DEFAULT_REGION=region, AWS_PROFILE=None):
            yield endpoint
    finally:
        server.stop()


def failover_zone(r53: Any, hostname: str, addresses: tuple[str, str], check_fqdn: str) -> tuple[str, str]:
    """A hosted zone with the failover pair of ``hostname`` (PRIMARY, health-checked on ``check_fqdn``,
    and SECONDARY, answering ``addresses``), as the edge declares it; returns (zone id, check id)."""
    domain = hostname.split(".", 1)[1]
    zone = r53.create_hosted_zone(Name=f"{domain}.", CallerReference=secrets.token_hex(8))["HostedZone"]["Id"]
    check = r53.create_health_check(
        CallerReference=secrets.token_hex(8),
        HealthCheckConfig={
            "Type": "HTTPS",
            "FullyQualifiedDomainName": check_fqdn,
            "ResourcePath": "/readyz",
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": f"{hostname}.",
                "Type": "A",
                "SetIdentifier": role.lower(),
                "Failover": role,
                "TTL": 60,
                "ResourceRecords": [{"Value": address}],
                **({"HealthCheckId": check} if role == "PRIMARY" else {}),
            },
        }
        for role, address in zip(("PRIMARY", "SECONDARY"), addresses, strict=True)
    ]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return zone, check


# -- scenarios -------------------------------------------------------------------------------------


def _measure(world: World, writer: Writer, fault_at: float, old: Endpoint, new: Endpoint, side: str) -> dict[str, Any]:
    """RPO (acknowledged writes on ``old`` missing from ``new``) and RTO (first write through ``side``)."""
    before = [a for a in writer.acks if a.side != side and a.at <= time.monotonic()]
    lost = _missing(new, before)
    after = [a for a in writer.acks if a.side == side and a.at > fault_at]
    return {
        "writes": len(writer.acks),
        "lost_writes": len(lost),
        "rpo_seconds": _rpo(before, lost),
        "rto_seconds": round(after[0].at - fault_at, 3) if after else None,
    }


def _step_log(say: Callable[[str], None]) -> Callable[[dr.Step], None]:
    return lambda s: say(f"  {s.name:<9} {s.status:<8} {s.detail} ({s.seconds}s)")


@dataclass
class Rogue:
    """A client of the old region that never saw DNS move (a gateway pod, a batch job): it writes
    ``drill:rogue:<n>`` straight to the old primary and records what was acknowledged."""

    endpoint: Endpoint
    acked: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        c = dr.client(self.endpoint, 1)
        n = 0
        while not self._stop.is_set():
            n += 1
            with contextlib.suppress(redis.RedisError):
                c.set(f"drill:rogue:{n}", n)
                self.acked.append(f"drill:rogue:{n}")
            self._stop.wait(WRITE_INTERVAL)
        c.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _refuses_writes(endpoint: Endpoint) -> bool:
    try:
        dr.client(endpoint).set("drill:split-brain", "1")
        return False
    except redis.ResponseError:
        return True


def scenario_failover(
    kind: str, work: Path, aws: str, say: Callable[[str], None], redis_config: dict[str, str] | None = None
) -> dict[str, Any]:
    """``kill``, ``cut`` or ``freeze`` (the old primary frozen through the failover, then back with a
    client of its own region writing to it: split brain until the fence check finds it)."""
    world = World(work, aws, redis_config, primary_replica=True)
    try:
        world.synced()
        world.seed()
        world.synced()
        writer = world.writer()
        time.sleep(0.5)
        say(f"{kind}: fault")
        fault_at = time.monotonic()
        if kind == "kill":
            world.kill_primary()
        elif kind == "freeze":
            world.procs[0].send_signal(signal.SIGSTOP)
        else:
            world.link.cut()
            time.sleep(0.3)  # the primary keeps taking writes the standby never sees
        outcome = dr.failover(world.plan(), say=_step_log(say))
        time.sleep(0.3)
        result: dict[str, Any] = {"scenario": kind, "failover": outcome.as_dict()}
        rogue: Rogue | None = None
        if kind == "freeze":
            world.procs[0].send_signal(signal.SIGCONT)
            rogue = Rogue(world.primary)
            rogue.start()
            dr._wait(lambda: len(rogue.acked) > 20, 5.0)
            result["status_after_return"] = dr.status(world.primary, world.standby, world.dns)["health"]
            result["guard"] = dr.guard(world.plan())
            time.sleep(0.2)
            rogue.stop()
            result["rogue_writes"] = len(rogue.acked)
        writer.stop()
        first = writer
        result |= _measure(world, writer, fault_at, world.primary, world.standby, "dr")
        if kind in ("cut", "freeze"):
            result["old_primary_refuses_writes"] = _refuses_writes(world.primary)
            again = dr.failover(world.plan(), say=_step_log(say))
            result["second_failover_changed_nothing"] = all(
                s.status in ("already", "skipped") for s in again.steps if s.name not in ("identity", "smoke")
            )
            world.link.restore()
        else:
            world.rebuild_primary()
        # Failback, with the writer running: nothing acknowledged by either side may be lost. Writes only
        # the old primary holds are refused by default (and named), then recovered.
        writer = world.writer()
        time.sleep(0.3)
        back_at = time.monotonic()
        try:
            dr.failback(world.plan(), say=_step_log(say))
            result["failback_refused_keys"] = 0
            back = None
        except dr.DivergedError as exc:
            result["failback_refused_keys"] = len(exc.keys)
            back = dr.failback(dataclasses.replace(world.plan(), recover_writes=True), say=_step_log(say))
        if back is None:
            back = dr.failback(world.plan(), say=_step_log(say))
        time.sleep(0.3)
        writer.stop()
        measured = _measure(world, writer, back_at, world.standby, world.primary, "primary")
        result["failback"] = back.as_dict() | {
            "lost_writes": measured["lost_writes"],
            "rpo_seconds": measured["rpo_seconds"],
            "rto_seconds": measured["rto_seconds"],
        }
        # Every write either side acknowledged, the old primary's included, is on the primary at the end.
        everything = first.acks + writer.acks
        result["acknowledged_writes_missing_at_end"] = len(_missing(world.primary, everything)) + (
            len(_missing_keys(world.primary, rogue.acked)) if rogue else 0
        )
        result["standby_replicating_again"] = dr.state(world.standby).role == "replica"
        result["end_state_is_the_plan"] = _plan_state(world)
        return result
    finally:
        with contextlib.suppress(Exception):
            world.procs[0].send_signal(signal.SIGCONT)
        world.close()


def _missing_keys(endpoint: Endpoint, keys: list[str]) -> list[str]:
    c = dr.client(endpoint, 10)
    try:
        pipe = c.pipeline(transaction=False)
        for k in keys:
            pipe.exists(k)
        return [k for k, found in zip(keys, pipe.execute(), strict=True) if not found]
    finally:
        c.close()


def _plan_state(world: World) -> bool:
    """The primary serves with the plan's settings, the standby replicates from it with them too."""
    p, d = dr.state(world.primary), dr.state(world.standby)
    plan_min = int(world.redis_config.get("min-replicas-to-write", "0"))
    return (
        p.writable
        and p.min_replicas_to_write == plan_min
        and d.role == "replica"
        and d.link_up
        and d.min_replicas_to_write == plan_min
    )


def scenario_restore(
    work: Path, aws: str, say: Callable[[str], None], redis_config: dict[str, str] | None = None
) -> dict[str, Any]:
    import boto3

    world = World(work, aws, redis_config)
    try:
        c = dr.client(world.primary, 30)
        pipe = c.pipeline(transaction=False)
        for i in range(5000):
            pipe.set(f"item:{i}", secrets.token_hex(16))
            pipe.hset(f"user:{i % 500}", f"f{i}", str(i))
        pipe.execute()
        world.synced()
        digest = dr.client(world.standby).execute_command("DEBUG", "DIGEST")
        bucket = f"redisgw-drill-dr-{secrets.token_hex(4)}"
        boto3.client("s3", region_name="eu-central-1").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        location = backups.Location(bucket, "redis/", "eu-central-1")
        made = backups.backup(world.standby, location, None)
        say(f"restore: backup {made['id']} of {made.get('key_count')} keys in the DR bucket")
        c.flushall()  # the accident: replication copies it to the standby
        world.synced()
        c.close()
        fault_at = time.monotonic()
        dr.failover(world.plan(), say=_step_log(say))
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            restored = dr.restore_from_backup(location, "latest", world.standby, Path(tmp), force=False)
        after = dr.client(world.standby).execute_command("DEBUG", "DIGEST")
        return {
            "scenario": "restore",
            "keys": restored["keys"],
            "digest_matches": after == digest,
            "rto_seconds": round(time.monotonic() - fault_at, 3),
            "rpo_seconds": round(
                (
                    datetime.datetime.now(datetime.UTC) - datetime.datetime.fromisoformat(made["completed_at"])
                ).total_seconds(),
                3,
            )
            if "completed_at" in made
            else None,
        }
    finally:
        world.close()


def drill(
    scenarios: tuple[str, ...],
    rpo_target: float,
    rto_target: float,
    say: Callable[[str], None],
    redis_config: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``scenarios`` with the plan's replication settings (``redis_config``) on every server."""
    results: list[dict[str, Any]] = []
    with moto_server() as aws, tempfile.TemporaryDirectory(prefix="ops-dr-drill-") as tmp:
        for kind in scenarios:
            work = Path(tmp) / kind
            work.mkdir()
            if kind == "restore":
                results.append(scenario_restore(work, aws, say, redis_config))
            else:
                results.append(scenario_failover(kind, work, aws, say, redis_config))
    problems = verdicts(results, rpo_target, rto_target)
    return {
        "rpo_target_seconds": rpo_target,
        "rto_target_seconds": rto_target,
        "scenarios": results,
        "problems": problems,
        "ok": not problems,
    }


def verdicts(results: list[dict[str, Any]], rpo_target: float, rto_target: float) -> list[str]:
    """Every way a drill result misses the targets or a guarantee, one line each."""
    out: list[str] = []
    for r in results:
        name = r["scenario"]
        rpo, rto = r.get("rpo_seconds"), r.get("rto_seconds")
        if rto is None:
            out.append(f"{name}: no write succeeded through the DR side")
        elif rto > rto_target:
            out.append(f"{name}: RTO {rto}s exceeds the target {rto_target:g}s")
        if name == "restore":
            if not r.get("digest_matches"):
                out.append("restore: the restored data differs from the source at backup time (DEBUG DIGEST)")
            continue
        if rpo is not None and rpo > rpo_target:
            out.append(f"{name}: RPO {rpo}s exceeds the target {rpo_target:g}s")
        back = r.get("failback", {})
        if back.get("lost_writes"):
            out.append(f"{name}: failback lost {back['lost_writes']} acknowledged writes")
        if back.get("rto_seconds") is None:
            out.append(f"{name}: no write succeeded through the primary after failback")
        if not r.get("standby_replicating_again"):
            out.append(f"{name}: the DR Redis is not a replica again after failback")
        if r.get("acknowledged_writes_missing_at_end"):
            out.append(f"{name}: {r['acknowledged_writes_missing_at_end']} acknowledged writes are missing at the end")
        if not r.get("end_state_is_the_plan"):
            out.append(f"{name}: the end state is not the plan's (roles, links or min-replicas-to-write)")
        if name in ("cut", "freeze"):
            if not r.get("old_primary_refuses_writes"):
                out.append(f"{name}: the fenced old primary still accepts writes (split brain)")
            if not r.get("second_failover_changed_nothing"):
                out.append(f"{name}: a second failover changed something (steps are not idempotent)")
            held = r.get("lost_writes", 0) + r.get("rogue_writes", 0)
            if r.get("failback_refused_keys", 0) < held:
                out.append(
                    f"{name}: failback named {r.get('failback_refused_keys', 0)} keys only the old primary held, "
                    f"{held} were acknowledged there"
                )
        if name == "freeze":
            if r.get("status_after_return") != "split-brain":
                out.append(f"freeze: `dr status` said {r.get('status_after_return')!r} with two primaries serving")
            if not r.get("guard"):
                out.append("freeze: the fence check did not fence the returned old primary")
    return out
