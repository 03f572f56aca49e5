"""``python -m ops dr``: status, failover, failback and restore of the warm-standby region.

The standby's Redis replicates continuously from the primary's (``replicaof`` over the private
inter-region path), and Route 53 answers the API hostname with failover records: PRIMARY (with a
health check on the primary's ``/readyz``) and SECONDARY (the DR region's ALB). The operations:

* :func:`failover`: fence the old primary when it is still reachable (writes paused, the DR replica
  allowed to catch up, then ``min-replicas-to-write`` set out of reach so every later write is
  refused: two writable primaries would lose data), promote the DR Redis (``REPLICAOF NO ONE``, its
  in-region replicas repointed), force the PRIMARY health check unhealthy (Route 53 then answers
  with SECONDARY; a global API, independent of the failed region), scale the DR gateway up, and run
  the smoke test against the DR endpoint. Measured RPO and RTO are part of the result.
* :func:`failback`: the reverse, without loss: the old primary becomes a replica of the DR Redis,
  catches up, the DR side is fenced, roles swap back, DNS override cleared, DR scaled down.
* :func:`restore_from_backup`: the second line, a verified backup of the DR bucket into the serving
  DR Redis (corruption or a flush that replication copied, a lost standby).
* Every step first looks at the state and reports ``done``, ``already`` (nothing to do) or
  ``skipped`` (with the reason), so an interrupted run is finished by running it again; ``dry_run``
  reports what each step would do and changes nothing.

Nothing here knows it is in a drill: :mod:`ops.runtime.dr_drill` runs these same functions against
two loopback ``redis-server``s and a moto Route 53.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis

from ops.errors import OpsError, describe
from ops.runtime import backups
from ops.runtime.backups import redis_client, redis_info
from ops.runtime.replication import Endpoint

FENCE_MIN_REPLICAS = 1_000_000
"""``min-replicas-to-write`` of a fenced primary: no topology reaches it, so every write is refused
(``NOREPLICAS``), while the server stays up for reads and for Sentinel (which must not fail it over)."""
SERVING_MIN_REPLICAS = 1
"""``min-replicas-to-write`` of a serving primary, as the data tier's configuration sets it."""


@dataclass(frozen=True)
class Side:
    """One region's Redis: the server to promote or fence, and its in-region replicas.

    ``link`` is how the *other* region reaches this one (its internal load balancer over the
    peering), used in ``REPLICAOF``; it defaults to ``redis``'s own address."""

    name: str
    redis: Endpoint
    replicas: tuple[Endpoint, ...] = ()
    link: tuple[str, int] | None = None

    @property
    def link_address(self) -> tuple[str, int]:
        return self.link or (self.redis.host, self.redis.port)


@dataclass
class Step:
    name: str
    status: str  # done | already | skipped | would | failed
    detail: str
    seconds: float = 0.0


@dataclass
class Outcome:
    """What a failover or failback did, step by step, with the measured objectives."""

    operation: str
    steps: list[Step] = field(default_factory=list)
    rpo_seconds: float | None = None
    rto_seconds: float | None = None
    lag_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class Scaler(Protocol):
    """Sets the minimum of the DR gateway's HorizontalPodAutoscaler (and so its replicas)."""

    def current(self) -> int: ...

    def scale(self, minimum: int) -> None: ...


class Dns(Protocol):
    """The failover records of the API hostname: which region they answer with, and the override.

    ``pinned()`` is the manual override (service held in the DR region whatever the primary's
    health says: a recovered but empty primary must not take traffic back by itself);
    ``answering()`` is the region Route 53 answers with right now."""

    def pinned(self) -> bool: ...

    def pin(self, to_dr: bool) -> None: ...

    def answering(self) -> str: ...


# -- Redis facts ---------------------------------------------------------------------------------


def client(endpoint: Endpoint, timeout: float = 3.0) -> redis.Redis:
    """A client with short timeouts: a region that is gone must not stall a failover."""
    return redis_client(endpoint, timeout)


@dataclass(frozen=True)
class RedisState:
    reachable: bool
    role: str = "unknown"
    offset: int = 0
    """``master_repl_offset`` (a primary) or ``slave_repl_offset`` (a replica)."""
    link_up: bool = False
    master: tuple[str, int] | None = None
    last_io_seconds: int | None = None
    link_down_seconds: int | None = None
    min_replicas_to_write: int = 0
    error: str = ""

    @property
    def fenced(self) -> bool:
        return self.role == "master" and self.min_replicas_to_write >= FENCE_MIN_REPLICAS


def state(endpoint: Endpoint) -> RedisState:
    """The replication state of one server, or ``reachable=False`` with the reason."""
    c = client(endpoint)
    try:
        info = redis_info(c, "replication")
        configured: dict[str, Any] = c.config_get("min-replicas-to-write")  # type: ignore[assignment]
        min_replicas = int(configured.get("min-replicas-to-write", 0))
    except redis.RedisError as exc:
        return RedisState(False, error=describe(exc))
    finally:
        c.close()
    role = str(info.get("role", "unknown"))
    if role == "slave":
        return RedisState(
            True,
            "replica",
            int(info.get("slave_repl_offset", 0)),
            info.get("master_link_status") == "up",
            (str(info.get("master_host")), int(info.get("master_port", 0))),
            int(info["master_last_io_seconds_ago"]) if "master_last_io_seconds_ago" in info else None,
            int(info["master_link_down_since_seconds"]) if "master_link_down_since_seconds" in info else None,
            min_replicas,
        )
    return RedisState(True, role, int(info.get("master_repl_offset", 0)), min_replicas_to_write=min_replicas)


def _must_reach(side: Side) -> RedisState:
    s = state(side.redis)
    if not s.reachable:
        raise OpsError(f"the {side.name} Redis at {side.redis.address} is unreachable: {s.error}")
    return s


def _wait(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)


def lag(primary: Endpoint, replica: Endpoint) -> tuple[int | None, RedisState, RedisState]:
    """Bytes the replica is behind the primary (``None`` when either is unreachable)."""
    p, r = state(primary), state(replica)
    if not (p.reachable and r.reachable) or r.role != "replica":
        return None, p, r
    return max(0, p.offset - r.offset), p, r


# -- the steps -----------------------------------------------------------------------------------


class _Run:
    def __init__(self, operation: str, dry_run: bool, say: Callable[[Step], None]) -> None:
        self.outcome = Outcome(operation)
        self.dry_run = dry_run
        self.say = say

    def step(self, name: str, fn: Callable[[], tuple[str, str]]) -> str:
        t0 = time.monotonic()
        try:
            status, detail = fn()
        except OpsError as exc:
            status, detail = "failed", exc.message
        except redis.RedisError as exc:
            status, detail = "failed", describe(exc)
        step = Step(name, status, detail, round(time.monotonic() - t0, 3))
        self.outcome.steps.append(step)
        self.say(step)
        if status == "failed":
            raise OpsError(f"{self.outcome.operation} stopped at step {name!r}: {detail} (fix it and run it again)")
        return status


def fence(side: Side, peer: Side, catch_up_timeout: float, dry_run: bool) -> tuple[str, str, int | None]:
    """Stop ``side`` from accepting writes, after giving ``peer`` (its replica) the chance to catch
    up. Returns (status, detail, bytes the peer was still behind when the fence went up)."""
    s = state(side.redis)
    if not s.reachable:
        return "skipped", f"{side.name} unreachable ({s.error}): it takes no writes while down", None
    if s.role != "master":
        return "already", f"{side.name} is a replica: it refuses writes", 0
    if s.fenced:
        return "already", f"{side.name} already refuses writes", 0
    if dry_run:
        return "would", f"pause writes on {side.name}, wait up to {catch_up_timeout:g}s for {peer.name}, fence it", None
    c = client(side.redis)
    try:
        c.execute_command("CLIENT", "PAUSE", int(max(catch_up_timeout, 1) * 1000) + 5000, "WRITE")
        try:
            target = state(side.redis).offset
            p = state(peer.redis)
            caught = False
            if p.reachable and p.role == "replica" and p.link_up:
                caught = _wait(lambda: state(peer.redis).offset >= target, catch_up_timeout)
            behind = max(0, target - state(peer.redis).offset) if state(peer.redis).reachable else None
            c.config_set("min-replicas-to-write", FENCE_MIN_REPLICAS)
        finally:
            c.execute_command("CLIENT", "UNPAUSE")
    finally:
        c.close()
    how = "caught up" if caught else f"not caught up ({behind} bytes behind: its link is down)"
    return "done", f"{side.name} refuses writes; {peer.name} {how}", behind


def promote(side: Side, dry_run: bool) -> tuple[str, str]:
    s = _must_reach(side)
    if s.role == "master" and not s.fenced:
        return "already", f"{side.name} Redis is the primary"
    if dry_run:
        return "would", f"REPLICAOF NO ONE on {side.name}, repoint its {len(side.replicas)} replica(s)"
    c = client(side.redis)
    try:
        c.execute_command("REPLICAOF", "NO", "ONE")
        c.config_set("min-replicas-to-write", min(SERVING_MIN_REPLICAS, len(side.replicas)))
    finally:
        c.close()
    for replica in side.replicas:
        rc = client(replica)
        try:
            rc.execute_command("REPLICAOF", side.redis.host, side.redis.port)
        finally:
            rc.close()
    return "done", f"{side.name} Redis promoted"


def demote(side: Side, upstream: Side, dry_run: bool) -> tuple[str, str]:
    """Make ``side`` (and its in-region replicas) replicate from ``upstream`` over the link."""
    s = _must_reach(side)
    host, port = upstream.link_address
    if s.role == "replica" and s.master == (host, port):
        return "already", f"{side.name} replicates from {upstream.name}"
    if dry_run:
        return "would", f"REPLICAOF {upstream.name} on {side.name}"
    c = client(side.redis)
    try:
        c.execute_command("REPLICAOF", host, port)
        # A replica refuses writes by itself; the fence is lifted so that a later promotion serves.
        c.config_set("min-replicas-to-write", 0)
    finally:
        c.close()
    return "done", f"{side.name} replicates from {upstream.name} at {host}:{port}"


def caught_up(primary: Side, replica: Side, timeout: float, dry_run: bool) -> tuple[str, str]:
    if dry_run:
        return "would", f"wait up to {timeout:g}s for {replica.name} to be in sync with {primary.name}"

    def synced() -> bool:
        behind, _, r = lag(primary.redis, replica.redis)
        return behind == 0 and r.link_up

    if not _wait(synced, timeout, 0.1):
        behind, _, r = lag(primary.redis, replica.redis)
        raise OpsError(
            f"{replica.name} is not in sync with {primary.name} after {timeout:g}s "
            f"(link {'up' if r.link_up else 'down'}, {behind if behind is not None else 'unknown'} bytes behind)"
        )
    return "done", f"{replica.name} in sync with {primary.name}"


def switch_dns(dns: Dns, to: str, dry_run: bool, timeout: float = 120.0) -> tuple[str, str]:
    """Pin DNS to the DR region (``to="dr"``) or lift the pin (``to="primary"``)."""
    to_dr = to == "dr"
    if dns.pinned() == to_dr and (dry_run or dns.answering() == to):
        return "already", f"DNS answers with the {to} region" + (" (pinned)" if to_dr else "")
    if dry_run:
        return "would", f"{'pin DNS to' if to_dr else 'lift the DNS pin; answer with'} the {to} region"
    dns.pin(to_dr)
    # Route 53's checkers need a few intervals to see a primary that was not checked while pinned.
    if not _wait(lambda: dns.answering() == to, timeout, 0.2):
        answering = dns.answering()
        raise OpsError(f"DNS answers with the {answering} region after pointing it at the {to} region")
    return "done", f"DNS answers with the {to} region" + (" (pinned)" if to_dr else "")


def scale(scaler: Scaler | None, minimum: int, dry_run: bool) -> tuple[str, str]:
    if scaler is None:
        return "skipped", "no DR cluster access given (--dr-kubeconfig): scale the gateway by hand"
    if scaler.current() == minimum:
        return "already", f"DR gateway minimum is {minimum}"
    if dry_run:
        return "would", f"set the DR gateway minimum to {minimum}"
    scaler.scale(minimum)
    return "done", f"DR gateway minimum set to {minimum}"


def smoke(url: str | None, metrics_url: str | None, dry_run: bool) -> tuple[str, str]:
    if url is None:
        return "skipped", "no endpoint given to smoke-test"
    if dry_run:
        return "would", f"smoke-test {url}"
    from ops.runtime import smoke as smoke_test

    report = smoke_test.run(url, metrics_url, check_metrics=metrics_url is not None)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if c.status == "fail"]
    if failed:
        raise OpsError(f"smoke test of {url} failed: {'; '.join(failed)}")
    return "done", f"smoke test of {url} passed"


# -- the operations ------------------------------------------------------------------------------


@dataclass
class Plan:
    """Everything a failover or failback acts on."""

    primary: Side
    dr: Side
    dns: Dns
    scaler: Scaler | None = None
    dr_url: str | None = None
    dr_metrics_url: str | None = None
    primary_url: str | None = None
    primary_metrics_url: str | None = None
    active_minimum: int = 3
    standby_minimum: int = 1
    catch_up_timeout: float = 30.0
    sync_timeout: float = 600.0
    dns_timeout: float = 120.0


def preflight(plan: Plan) -> None:
    """Read everything a run will change before changing anything: the DNS records and their health
    check, and the DR gateway's autoscaler. A missing record or a refused credential stops here."""
    plan.dns.pinned()
    if plan.scaler is not None:
        plan.scaler.current()


def failover(plan: Plan, *, dry_run: bool = False, say: Callable[[Step], None] = lambda s: None) -> Outcome:
    """Move service to the DR region. RTO is measured from the start of this call."""
    t0 = time.monotonic()
    run = _Run("failover", dry_run, say)
    preflight(plan)
    dr = state(plan.dr.redis)
    if not dr.reachable:
        raise OpsError(f"the DR Redis at {plan.dr.redis.address} is unreachable ({dr.error}): nothing to fail over to")
    # Before anything changes: how far behind the standby was (bytes) and how long it has not heard
    # from the primary (seconds), the bound of what a failover with the primary gone loses.
    behind, _, _ = lag(plan.primary.redis, plan.dr.redis)
    silent = dr.link_down_seconds if dr.link_down_seconds is not None else dr.last_io_seconds
    fenced_behind: list[int | None] = [behind]

    def do_fence() -> tuple[str, str]:
        status, detail, left = fence(plan.primary, plan.dr, plan.catch_up_timeout, dry_run)
        if status == "done":
            fenced_behind[0] = left
        return status, detail

    run.step("fence", do_fence)
    run.step("promote", lambda: promote(plan.dr, dry_run))
    run.step("dns", lambda: switch_dns(plan.dns, "dr", dry_run, plan.dns_timeout))
    run.step("scale", lambda: scale(plan.scaler, plan.active_minimum, dry_run))
    run.step("smoke", lambda: smoke(plan.dr_url, plan.dr_metrics_url, dry_run))
    out = run.outcome
    if not dry_run:
        out.rto_seconds = round(time.monotonic() - t0, 3)
        out.lag_bytes = fenced_behind[0]
        if dr.role == "replica":
            out.rpo_seconds = 0.0 if fenced_behind[0] == 0 else float(silent or 0)
        else:
            out.rpo_seconds = 0.0  # a second run: nothing new was lost
    return out


def failback(plan: Plan, *, dry_run: bool = False, say: Callable[[Step], None] = lambda s: None) -> Outcome:
    """Move service back to the primary region, losing nothing: the primary catches up first."""
    t0 = time.monotonic()
    run = _Run("failback", dry_run, say)
    preflight(plan)
    p, d = _must_reach(plan.primary), _must_reach(plan.dr)
    if p.role == "master" and not p.fenced and d.role == "replica":
        # Roles already restored; what is left is DNS and scale.
        run.step("replicate", lambda: ("already", "the primary region serves, the DR region replicates"))
    else:
        if d.role != "master":
            raise OpsError("the DR Redis is not the primary: there is nothing to fail back (run `ops dr status`)")
        run.step("replicate", lambda: demote(plan.primary, plan.dr, dry_run))
        run.step("catch-up", lambda: caught_up(plan.dr, plan.primary, plan.sync_timeout, dry_run))
        run.step("fence", lambda: fence(plan.dr, plan.primary, plan.catch_up_timeout, dry_run)[:2])
        run.step("promote", lambda: promote(plan.primary, dry_run))
        run.step("standby", lambda: demote(plan.dr, plan.primary, dry_run))
    run.step("dns", lambda: switch_dns(plan.dns, "primary", dry_run, plan.dns_timeout))
    run.step("smoke", lambda: smoke(plan.primary_url, plan.primary_metrics_url, dry_run))
    run.step("scale", lambda: scale(plan.scaler, plan.standby_minimum, dry_run))
    out = run.outcome
    if not dry_run:
        out.rto_seconds = round(time.monotonic() - t0, 3)
        out.rpo_seconds = 0.0
        out.lag_bytes = 0
    return out


def status(primary: Endpoint, dr: Endpoint, dns: Dns) -> dict[str, Any]:
    """The link between the regions, as ``ops dr status`` reports it (no secrets)."""
    behind, p, d = lag(primary, dr)
    return {
        "primary": {"address": primary.address, "reachable": p.reachable, "role": p.role, "fenced": p.fenced}
        | ({"error": p.error} if not p.reachable else {}),
        "dr": {"address": dr.address, "reachable": d.reachable, "role": d.role, "fenced": d.fenced}
        | ({"error": d.error} if not d.reachable else {}),
        "link": {
            "up": d.link_up,
            "lag_bytes": behind,
            "last_io_seconds": d.last_io_seconds,
            "down_seconds": d.link_down_seconds,
        },
        "dns": {"answering": dns.answering(), "pinned_to_dr": dns.pinned()},
    }


def restore_from_backup(
    location: backups.Location,
    backup_id: str,
    target: Endpoint,
    work_dir: Path,
    *,
    force: bool,
    advertise: str = "127.0.0.1",
) -> dict[str, Any]:
    """The second line: a verified backup from the DR bucket into the DR Redis, which must serve
    (a replica's data would be replaced by replication at once)."""
    s = state(target)
    if not s.reachable:
        raise OpsError(f"the DR Redis at {target.address} is unreachable: {s.error}")
    if s.role != "master":
        raise OpsError(
            f"the DR Redis at {target.address} replicates from the primary: fail over first (`ops dr failover`), "
            "or replication would overwrite the restore",
            code=2,
        )
    return backups.restore(location, backup_id, work_dir, target_url=target, force=force, advertise=advertise)
