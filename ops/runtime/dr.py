"""``python -m ops dr``: status, failover, failback, guard and restore of the warm-standby region.

The standby's Redis replicates continuously from the primary's (``replicaof`` over the private
inter-region path), and Route 53 answers the API hostname with failover records: PRIMARY (with a
health check on the primary's ``/readyz``) and SECONDARY (the DR region's ALB).

What each operation guarantees, and how:

* **Identity first.** Every server named on the command line is identified by its run id before
  anything changes: two names for one server (two port-forwards mixed up) stop the run (exit 2).
* **Promotion guard** (:func:`promotion_problems`): the standby is promoted only when it holds the
  data: not in the middle of a full resync or a load, a link that completed a sync and has not been
  down longer than the RPO, the primary's replication history, and a dataset not much smaller than
  the primary's last known size. Otherwise the run stops before any change, unless
  ``accept_data_loss``.
* **Fence** (:func:`fence`): a reachable old primary gets its writes paused, the standby the chance to
  catch up, then ``min-replicas-to-write`` out of reach (every write refused with ``NOREPLICAS``,
  reads and Sentinel pings still answered), persisted with ``CONFIG REWRITE`` where the server has a
  configuration file. An old primary that cannot be reached is fenced when it comes back: every
  later ``failover`` (the steps are idempotent) and ``guard`` (the same check in a loop) fence any
  server at the primary's addresses that serves writes and is not the promoted one, whatever the
  way it came back (resumed, restarted from its configuration or AOF, at another address), and
  ``status`` reports two serving primaries as split brain (exit 1).
* **Evidence, not assumptions.** The RPO of a failover is derived from the standby's replication
  state (bytes behind at the fence, seconds since its last contact with the primary); when nothing
  shows it, it is reported as not measured, never as a number. A failback compares the old primary
  with the serving side before it discards anything: writes only the old primary holds are counted
  and named, and the failback refuses unless they are recovered (``recover_writes``: copied to the
  serving side first) or their loss accepted.
* **Resumable from any point.** Each step checks its real postcondition (roles, replica links,
  ``min-replicas-to-write`` satisfied, DNS and health-check state, the DR cluster's configuration,
  Sentinel and scale) and does only what is missing, so a run killed between any two steps is
  finished by running it again. ``dry_run`` reports what each step would do and changes nothing.
* **The plan's settings.** Every Redis setting a step changes is recorded in the outcome, and the
  end state carries the plan's values (``Plan.redis_config``, from the stack's settings).

Nothing here knows it is in a drill: :mod:`ops.runtime.dr_drill` runs these same functions against
loopback ``redis-server``s and a moto Route 53.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis

from ops.errors import OpsError, describe
from ops.runtime import backups
from ops.runtime.backups import redis_client
from ops.runtime.replication import Endpoint

FENCE_MIN_REPLICAS = 1_000_000
"""``min-replicas-to-write`` of a fenced primary: no topology reaches it, so every write is refused
(``NOREPLICAS``), while the server stays up for reads and for Sentinel (which must not fail it over)."""
PLAN_REDIS_CONFIG = {"min-replicas-to-write": "1", "min-replicas-max-lag": "10"}
"""The data tier's replication settings when no stack is given (the stack's come from
``settings.redis_replication_config``)."""
MIN_DATASET_SHARE = 0.9
"""A standby holding fewer keys than this share of the primary's last known count is not promoted."""
DIVERGENCE_NAMES = 20
"""How many diverging keys a refusal names in its message (all of them are in the JSON report)."""


@dataclass(frozen=True)
class Side:
    """One region's Redis: the server to promote or fence, and its in-region replicas.

    ``link`` is how the *other* region reaches this one (its internal load balancer over the
    peering), used in ``REPLICAOF``; it defaults to ``redis``'s own address. ``watch`` are further
    addresses the same tier can be reached at (a pod's own address, a second load balancer): the
    fence looks at all of them."""

    name: str
    redis: Endpoint
    replicas: tuple[Endpoint, ...] = ()
    link: tuple[str, int] | None = None
    watch: tuple[Endpoint, ...] = ()

    @property
    def link_address(self) -> tuple[str, int]:
        return self.link or (self.redis.host, self.redis.port)


@dataclass
class Step:
    name: str
    status: str  # done | already | skipped | would | overridden | failed
    detail: str
    seconds: float = 0.0


@dataclass
class Outcome:
    """What a failover or failback did, step by step, with the measured objectives."""

    operation: str
    steps: list[Step] = field(default_factory=list)
    rpo_seconds: float | None = None
    """Upper bound of the writes lost, in seconds, from the replication evidence; None: not measured."""
    rpo_basis: str = ""
    """What the RPO figure rests on, in words."""
    rto_seconds: float | None = None
    lag_bytes: int | None = None
    lost_keys: list[str] = field(default_factory=list)
    """Failback: keys only the old primary held, discarded (``accept_data_loss``)."""
    recovered_keys: int = 0
    """Failback: keys only the old primary held, copied to the serving side first (``recover_writes``)."""
    settings_changed: list[dict[str, str]] = field(default_factory=list)
    """Every Redis setting a step changed: server, key, before, after."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.status != "failed" for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def rpo_text(self) -> str:
        if self.rpo_seconds is None:
            return f"RPO not measured ({self.rpo_basis})"
        return f"RPO <= {self.rpo_seconds:g}s ({self.rpo_basis})"


class Scaler(Protocol):
    """The DR region's in-cluster half: the gateway's minimum, the Sentinel quorum, and the tier's
    ``replicaof`` line. Each method reads or sets one postcondition, so a step never infers one from
    another (a gateway already at its minimum says nothing about Sentinel)."""

    def current(self) -> int: ...

    def scale(self, minimum: int) -> None: ...

    def sentinel_present(self) -> bool: ...

    def sentinel(self, *, present: bool) -> None: ...

    def linked(self) -> bool: ...

    def unlink(self) -> None: ...

    def relink(self) -> None: ...


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


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


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
    """Seconds the replica's link has been down; None while up or when it never came up."""
    min_replicas_to_write: int = 0
    error: str = ""
    run_id: str = ""
    replid: str = ""
    replid2: str = ""
    second_offset: int = -1
    """``second_repl_offset``: where the history ``replid2`` ends (-1: none)."""
    never_synced: bool = False
    """A replica whose link never completed a sync (``master_link_down_since_seconds:-1``)."""
    sync_in_progress: bool = False
    loading: bool = False
    keys: int = 0
    min_replicas_max_lag: int = 10
    good_replicas: int = 0
    """Connected replicas whose lag is within ``min-replicas-max-lag``."""
    config_file: str = ""

    @property
    def fenced(self) -> bool:
        return self.role == "master" and self.min_replicas_to_write >= FENCE_MIN_REPLICAS

    @property
    def serving(self) -> bool:
        """A primary that is not fenced: it accepts writes, or will as soon as its replicas connect."""
        return self.reachable and self.role == "master" and not self.fenced

    @property
    def writable(self) -> bool:
        """It acknowledges a write right now."""
        return self.serving and self.good_replicas >= self.min_replicas_to_write

    def replicates_from(self, address: tuple[str, int]) -> bool:
        return self.role == "replica" and self.master == address


def state(endpoint: Endpoint) -> RedisState:
    """The replication state and identity of one server, or ``reachable=False`` with the reason."""
    c = client(endpoint)
    try:
        info: dict[str, Any] = c.info()  # type: ignore[assignment]
        try:
            configured: dict[str, Any] = c.config_get("min-replicas-*")  # type: ignore[assignment]
        except redis.exceptions.BusyLoadingError:
            configured = {}
    except redis.exceptions.BusyLoadingError:
        return RedisState(True, "loading", loading=True, error="loading its dataset")
    except redis.RedisError as exc:
        return RedisState(False, error=describe(exc))
    finally:
        c.close()
    common: dict[str, Any] = {
        "run_id": str(info.get("run_id", "")),
        "replid": str(info.get("master_replid", "")),
        "replid2": str(info.get("master_replid2", "")),
        "second_offset": _int(info.get("second_repl_offset"), -1),
        "loading": bool(_int(info.get("loading"))),
        "keys": sum(_int(v.get("keys")) for k, v in info.items() if k.startswith("db") and isinstance(v, dict)),
        "min_replicas_to_write": _int(configured.get("min-replicas-to-write")),
        "min_replicas_max_lag": _int(configured.get("min-replicas-max-lag"), 10),
        "config_file": str(info.get("config_file", "")),
    }
    if info.get("role") == "slave":
        down = _int(info.get("master_link_down_since_seconds"), 0) if "master_link_down_since_seconds" in info else None
        return RedisState(
            True,
            "replica",
            _int(info.get("slave_repl_offset")),
            info.get("master_link_status") == "up",
            (str(info.get("master_host")), _int(info.get("master_port"))),
            _int(info["master_last_io_seconds_ago"]) if "master_last_io_seconds_ago" in info else None,
            down if down is not None and down >= 0 else None,
            never_synced=down is not None and down < 0,
            sync_in_progress=bool(_int(info.get("master_sync_in_progress"))),
            **common,
        )
    lag_limit = common["min_replicas_max_lag"]
    good = sum(
        1
        for k, v in info.items()
        if k.startswith("slave")
        and isinstance(v, dict)
        and v.get("state") == "online"
        and _int(v.get("lag"), 99) <= lag_limit
    )
    return RedisState(
        True, str(info.get("role", "unknown")), _int(info.get("master_repl_offset")), good_replicas=good, **common
    )


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


def identify(servers: dict[str, Endpoint]) -> dict[str, RedisState]:
    """The state of every named server; two names that lead to one server (same run id) are refused
    before anything is touched."""
    states = {name: state(e) for name, e in servers.items()}
    seen: dict[str, str] = {}
    for name, s in states.items():
        if not s.run_id:
            continue
        if s.run_id in seen:
            other = seen[s.run_id]
            raise OpsError(
                f"{other} ({servers[other].address}) and {name} ({servers[name].address}) are the same Redis "
                f"server (run id {s.run_id[:12]}): check the endpoints (two port-forwards to one pod?); "
                "nothing was changed",
                code=2,
            )
        seen[s.run_id] = name
    return states


def _apply(c: redis.Redis, who: str, values: dict[str, str], changed: list[dict[str, str]]) -> None:
    """CONFIG SET each of ``values`` that differs, recorded in ``changed``; then, when anything changed,
    ``CONFIG REWRITE`` where the server has a configuration file, so a restart keeps it (a server
    started from arguments only has none; the fence check covers its restart)."""
    before_count = len(changed)
    for key, value in values.items():
        before = str((c.config_get(key) or {}).get(key, ""))  # type: ignore[union-attr]
        if before != value:
            c.config_set(key, value)
            changed.append({"server": who, "key": key, "before": before, "after": value})
    if len(changed) > before_count:
        with contextlib.suppress(redis.ResponseError):
            c.execute_command("CONFIG", "REWRITE")


def _fence_now(c: redis.Redis, who: str, changed: list[dict[str, str]]) -> None:
    _apply(c, who, {"min-replicas-to-write": str(FENCE_MIN_REPLICAS)}, changed)


def _min_replicas(config: dict[str, str], replicas: int) -> int:
    """The plan's ``min-replicas-to-write`` for a server with ``replicas``: capped at what it has (a
    promoted standby with none listed must still serve)."""
    return min(_int(config.get("min-replicas-to-write", "0")), replicas)


def settle(endpoint: Endpoint, who: str, config: dict[str, str], replicas: int, changed: list[dict[str, str]]) -> None:
    """Give a server the plan's replication settings (see :func:`_min_replicas`)."""
    c = client(endpoint)
    try:
        _apply(c, who, config | {"min-replicas-to-write": str(_min_replicas(config, replicas))}, changed)
    finally:
        c.close()


class DivergedError(OpsError):
    """A failback refused because the old primary holds writes the serving side lacks (``keys``)."""

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = keys


# -- the steps -----------------------------------------------------------------------------------


class _Run:
    def __init__(self, operation: str, dry_run: bool, say: Callable[[Step], None]) -> None:
        self.outcome = Outcome(operation)
        self.dry_run = dry_run
        self.say = say

    def record(self, name: str, status: str, detail: str, seconds: float = 0.0) -> None:
        step = Step(name, status, detail, round(seconds, 3))
        self.outcome.steps.append(step)
        self.say(step)

    def step(self, name: str, fn: Callable[[], tuple[str, str]]) -> str:
        t0 = time.monotonic()
        try:
            status, detail = fn()
        except DivergedError:
            self.record(name, "failed", "the old primary holds writes the DR side lacks", time.monotonic() - t0)
            raise
        except OpsError as exc:
            status, detail = "failed", exc.message
            code = exc.code
        except redis.RedisError as exc:
            status, detail, code = "failed", describe(exc), 1
        self.record(name, status, detail, time.monotonic() - t0)
        if status == "failed":
            self.outcome.error = f"{self.outcome.operation} stopped at step {name!r}: {detail}"
            raise OpsError(f"{self.outcome.error} (fix it and run it again)", code=code)
        return status


def fence(
    side: Side, peer: Side, catch_up_timeout: float, dry_run: bool, changed: list[dict[str, str]] | None = None
) -> tuple[str, str, int | None]:
    """Stop ``side`` from accepting writes, after giving ``peer`` (its replica) the chance to catch
    up. Returns (status, detail, bytes the peer was still behind when the fence went up)."""
    changed = [] if changed is None else changed
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
    caught = False
    try:
        c.execute_command("CLIENT", "PAUSE", int(max(catch_up_timeout, 1) * 1000) + 5000, "WRITE")
        try:
            target = state(side.redis).offset
            p = state(peer.redis)
            if p.reachable and p.role == "replica" and p.link_up:
                caught = _wait(lambda: state(peer.redis).offset >= target, catch_up_timeout)
            now = state(peer.redis)
            behind = max(0, target - now.offset) if now.reachable and now.role == "replica" else None
            _fence_now(c, side.name, changed)
        finally:
            c.execute_command("CLIENT", "UNPAUSE")
    finally:
        c.close()
    if caught:
        how = "caught up"
    elif behind is None:
        how = "was not replicating from it"
    else:
        how = f"not caught up ({behind} bytes behind: its link is down)"
    return "done", f"{side.name} refuses writes; {peer.name} {how}", behind


def fence_returned(
    side: Side, endpoints: tuple[Endpoint, ...], serving: RedisState, dry_run: bool, changed: list[dict[str, str]]
) -> list[str]:
    """Fence every server at ``endpoints`` (addresses of ``side``) that serves writes and is not
    ``serving`` (the promoted server, by run id): the old primary back from a freeze, a restart or at
    another address. Returns one line per server that needed it."""
    out = []
    for endpoint in dict.fromkeys(endpoints):
        s = state(endpoint)
        if not s.serving or s.run_id == serving.run_id:
            continue
        if dry_run:
            out.append(f"would fence {endpoint.address} (a primary again, run id {s.run_id[:12]})")
            continue
        c = client(endpoint)
        try:
            _fence_now(c, f"{side.name} at {endpoint.address}", changed)
        finally:
            c.close()
        out.append(f"fenced {endpoint.address}: it was serving writes again (run id {s.run_id[:12]}, {s.keys} keys)")
    return out


def promotion_problems(p: RedisState, d: RedisState, rpo_seconds: float, last_known_keys: int | None) -> list[str]:
    """Why the standby ``d`` must not be promoted (empty when it holds the data). ``p`` is the primary
    (possibly unreachable); ``last_known_keys`` its last known key count (a backup manifest's)."""
    if d.loading:
        return ["it is loading a dataset"]
    if d.role != "replica":
        return []
    out = []
    if d.sync_in_progress:
        out.append("a full resynchronisation is in progress (its dataset is incomplete)")
    if d.never_synced:
        out.append("it never completed a sync with the primary")
    elif not d.link_up and d.link_down_seconds is not None and d.link_down_seconds > rpo_seconds:
        out.append(f"its link has been down for {d.link_down_seconds}s, longer than the RPO ({rpo_seconds:g}s)")
    if p.reachable and p.role == "master" and d.replid and d.replid not in (p.replid, p.replid2):
        out.append(
            f"it follows another replication history than the primary's (replication id {d.replid[:12]}, "
            f"the primary's {p.replid[:12]})"
        )
    # With the primary reachable over a live link of the same history, the fence lets the standby catch
    # up: only a standby that cannot is judged by its size.
    catching_up = p.reachable and p.role == "master" and d.link_up and d.replid == p.replid
    known = max(p.keys if p.reachable and p.role == "master" else 0, last_known_keys or 0)
    if known and not catching_up and d.keys < known * MIN_DATASET_SHARE:
        out.append(f"it holds {d.keys} keys, the primary {known}")
    return out


def promote(
    side: Side,
    config: dict[str, str],
    dry_run: bool,
    changed: list[dict[str, str]],
    *,
    expected_replicas: int | None = None,
    wait: bool = True,
) -> tuple[str, str]:
    """Make ``side`` the serving primary with its in-region replicas repointed at it. Postconditions,
    each checked: a primary, not fenced, every listed replica replicating from it with its link up,
    the plan's settings (``min-replicas-to-write`` capped at ``expected_replicas``, by default the
    listed ones), and, with ``wait``, writes acknowledged."""
    s = _must_reach(side)
    address = (side.redis.host, side.redis.port)
    expected = len(side.replicas) if expected_replicas is None else expected_replicas
    replicas = {r.address: state(r) for r in side.replicas}
    loose = [a for a, r in replicas.items() if not (r.replicates_from(address) and r.link_up)]
    if (
        s.serving
        and not loose
        and s.min_replicas_to_write == _min_replicas(config, expected)
        and (s.writable or not wait)
    ):
        return "already", f"{side.name} Redis is the primary, with {len(side.replicas)} replica(s) in sync"
    if dry_run:
        return "would", f"REPLICAOF NO ONE on {side.name}, repoint {len(loose)} replica(s), plan settings"
    # Replicas first (they chain from the standby until it is promoted: same history, partial sync),
    # so that the promoted server satisfies min-replicas-to-write as soon as it serves.
    for endpoint in side.replicas:
        if endpoint.address in loose:
            rc = client(endpoint)
            try:
                rc.execute_command("REPLICAOF", side.redis.host, side.redis.port)
            finally:
                rc.close()
    if s.role != "master":
        c = client(side.redis)
        try:
            c.execute_command("REPLICAOF", "NO", "ONE")
        finally:
            c.close()
        before = f"{s.master[0]}:{s.master[1]}" if s.master else s.role
        changed.append({"server": side.name, "key": "replicaof", "before": before, "after": "no one"})
    settle(side.redis, side.name, config, expected, changed)
    if wait:
        writable(side, 30.0)
    return "done", f"{side.name} Redis promoted; {len(side.replicas)} replica(s) replicate from it"


def writable(side: Side, timeout: float) -> None:
    """Wait until ``side`` acknowledges writes (``min-replicas-to-write`` met)."""
    if not _wait(lambda: state(side.redis).writable, timeout, 0.1):
        now = state(side.redis)
        raise OpsError(
            f"{side.name} Redis is the primary but does not accept writes after {timeout:g}s: "
            f"{now.good_replicas} of {now.min_replicas_to_write} replica(s) in sync"
        )


def demote(
    side: Side, upstream: Side, config: dict[str, str], dry_run: bool, changed: list[dict[str, str]]
) -> tuple[str, str]:
    """Make ``side`` replicate from ``upstream`` over the link, with the plan's settings (a replica
    refuses writes by itself; the fence is lifted so that a later promotion serves)."""
    s = _must_reach(side)
    host, port = upstream.link_address
    if s.replicates_from((host, port)) and s.min_replicas_to_write == _min_replicas(config, len(side.replicas) + 1):
        return "already", f"{side.name} replicates from {upstream.name}"
    if dry_run:
        return "would", f"REPLICAOF {upstream.name} on {side.name}"
    c = client(side.redis)
    try:
        if not s.replicates_from((host, port)):
            c.execute_command("REPLICAOF", host, port)
            changed.append({"server": side.name, "key": "replicaof", "before": s.role, "after": f"{host}:{port}"})
    finally:
        c.close()
    # As a future primary it has its in-region replicas and the other region's standby.
    settle(side.redis, side.name, config, len(side.replicas) + 1, changed)
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
            f"(link {'up' if r.link_up else 'down'}, "
            + (f"{behind} bytes behind)" if behind is not None else "lag unknown)")
        )
    return "done", f"{replica.name} in sync with {primary.name}"


def switch_dns(dns: Dns, to: str, dry_run: bool, timeout: float = 120.0) -> tuple[str, str]:
    """Pin DNS to the DR region (``to="dr"``) or lift the pin (``to="primary"``)."""
    to_dr = to == "dr"
    if dns.pinned() == to_dr and (dry_run or dns.answering() == to):
        return "already", f"DNS answers with the {to} region" + (" (pinned)" if to_dr else "")
    if dry_run:
        return "would", f"{'pin DNS to' if to_dr else 'lift the DNS pin; answer with'} the {to} region"
    if dns.pinned() != to_dr:
        dns.pin(to_dr)
    # Route 53's checkers need a few intervals to see a primary that was not checked while pinned.
    if not _wait(lambda: dns.answering() == to, timeout, 0.2):
        answering = dns.answering()
        raise OpsError(f"DNS answers with the {answering} region after pointing it at the {to} region")
    return "done", f"DNS answers with the {to} region" + (" (pinned)" if to_dr else "")


def _no_cluster() -> tuple[str, str]:
    return "skipped", "no DR cluster access given (--dr-kubeconfig): do this step by hand"


def cluster_config(scaler: Scaler | None, linked: bool, dry_run: bool) -> tuple[str, str]:
    """The DR tier's ``replicaof`` line: dropped when it serves (a restarted pod stays the primary),
    back when it stands by again."""
    if scaler is None:
        return _no_cluster()
    if scaler.linked() == linked:
        return "already", "the DR tier's configuration " + (
            "replicates from the primary" if linked else "has no replicaof"
        )
    if dry_run:
        return "would", ("restore" if linked else "drop") + " replicaof in the DR tier's configuration"
    scaler.relink() if linked else scaler.unlink()
    return "done", ("replicaof restored in" if linked else "replicaof dropped from") + " the DR tier's configuration"


def cluster_sentinel(scaler: Scaler | None, present: bool, dry_run: bool) -> tuple[str, str]:
    if scaler is None:
        return _no_cluster()
    if scaler.sentinel_present() == present:
        return "already", "the DR Sentinel " + ("runs" if present else "is absent")
    if dry_run:
        return "would", ("create" if present else "delete") + " the DR Sentinel"
    scaler.sentinel(present=present)
    return "done", "DR Sentinel " + ("created" if present else "deleted")


def scale(scaler: Scaler | None, minimum: int, dry_run: bool) -> tuple[str, str]:
    if scaler is None:
        return _no_cluster()
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
    rpo_seconds: float = 60.0
    """The stack's RPO: a standby whose link has been down longer is not promoted without consent."""
    redis_config: dict[str, str] = field(default_factory=lambda: dict(PLAN_REDIS_CONFIG))
    """The plan's replication settings, put back on every server a run touches."""
    last_known_keys: int | None = None
    """The primary's last known key count (newest backup's manifest), for the promotion guard."""
    accept_data_loss: bool = False
    """Promote a standby that fails the guard; discard writes only the old primary holds."""
    recover_writes: bool = False
    """Failback: copy keys only the old primary holds to the serving side before it is demoted."""


def _servers(plan: Plan) -> dict[str, Endpoint]:
    named = {"--primary-redis": plan.primary.redis, "--dr-redis": plan.dr.redis}
    named |= {f"--dr-replica {r.address}": r for r in plan.dr.replicas}
    named |= {f"--primary-replica {r.address}": r for r in plan.primary.replicas}
    return named


def preflight(plan: Plan) -> dict[str, RedisState]:
    """Read everything a run will change before changing anything: the servers and their identity,
    the DNS records and their health check, and the DR cluster. A missing record, a refused
    credential or two names for one server stop here."""
    states = identify(_servers(plan))
    plan.dns.pinned()
    if plan.scaler is not None:
        plan.scaler.current()
        plan.scaler.linked()
        plan.scaler.sentinel_present()
    return states


def _rpo(d: RedisState, behind: int | None, fenced: str) -> tuple[float | None, str]:
    """The failover's RPO from the standby's replication state before the run: 0 when the fence
    found it caught up; otherwise the time since its last contact with the primary (integer seconds
    from INFO, so rounded up), an upper bound of what the primary acknowledged that it lacks."""
    if behind == 0 and fenced in ("done", "already"):
        return 0.0, "the standby had every write when the primary was fenced"
    if d.role != "replica":
        return None, "the DR Redis was already the primary"
    if d.never_synced:
        return None, "the standby never completed a sync"
    silent = d.link_down_seconds if not d.link_up else d.last_io_seconds
    if silent is None:
        return None, "the standby reported no last contact with the primary"
    what = f"{behind} bytes behind at the fence; " if behind else ""
    return float(max(0, silent) + 1), f"{what}last contact with the primary {max(0, silent)}s before the failover"


def failover(plan: Plan, *, dry_run: bool = False, say: Callable[[Step], None] = lambda s: None) -> Outcome:
    """Move service to the DR region. RTO is measured from the start of this call."""
    t0 = time.monotonic()
    run = _Run("failover", dry_run, say)
    changed = run.outcome.settings_changed
    states = preflight(plan)
    p, d = states["--primary-redis"], states["--dr-redis"]
    if not d.reachable:
        raise OpsError(f"the DR Redis at {plan.dr.redis.address} is unreachable ({d.error}): nothing to fail over to")
    run.record(
        "identity",
        "done",
        f"dr run id {d.run_id[:12]}"
        + (f", primary run id {p.run_id[:12]}" if p.reachable else ", primary unreachable"),
    )
    behind = max(0, p.offset - d.offset) if p.reachable and d.role == "replica" else None

    def check() -> tuple[str, str]:
        if d.role == "master":
            return "already", "the DR Redis is already a primary"
        problems = promotion_problems(p, d, plan.rpo_seconds, plan.last_known_keys)
        if not problems:
            return "done", "the standby holds the data" + (f" ({behind} bytes behind)" if behind else "")
        if plan.accept_data_loss:
            return "overridden", "promoting anyway (--accept-data-loss): " + "; ".join(problems)
        raise OpsError(
            f"refusing to promote the DR Redis at {plan.dr.redis.address}: {'; '.join(problems)}. Nothing was "
            "changed: wait for it to sync (`ops dr status`), or promote it anyway with --accept-data-loss"
        )

    run.step("check", check)
    fenced_behind: list[int | None] = [behind]
    fence_status = ["skipped"]

    def do_fence() -> tuple[str, str]:
        status, detail, left = fence(plan.primary, plan.dr, plan.catch_up_timeout, dry_run, changed)
        fence_status[0] = status
        if status == "done":
            fenced_behind[0] = left
        serving = state(plan.dr.redis)
        returned = (
            fence_returned(plan.primary, plan.primary.watch, serving, dry_run, changed)
            if serving.role == "master"
            else []
        )
        if returned:
            return ("would" if dry_run else "done"), "; ".join([detail, *returned])
        if status == "skipped":
            return status, (
                detail + "; DNS is pinned away from it, and a rerun of this failover or `ops dr guard` fences it "
                "when it returns (`ops dr status` reports it as split brain until then)"
            )
        return status, detail

    run.step("fence", do_fence)
    run.step("promote", lambda: promote(plan.dr, plan.redis_config, dry_run, changed))
    run.step("dns", lambda: switch_dns(plan.dns, "dr", dry_run, plan.dns_timeout))
    run.step("config", lambda: cluster_config(plan.scaler, False, dry_run))
    run.step("sentinel", lambda: cluster_sentinel(plan.scaler, True, dry_run))
    run.step("scale", lambda: scale(plan.scaler, plan.active_minimum, dry_run))
    run.step("smoke", lambda: smoke(plan.dr_url, plan.dr_metrics_url, dry_run))
    out = run.outcome
    if not dry_run:
        out.rto_seconds = round(time.monotonic() - t0, 3)
        out.lag_bytes = fenced_behind[0]
        out.rpo_seconds, out.rpo_basis = _rpo(d, fenced_behind[0], fence_status[0])
    return out


def _scan_divergence(old: Endpoint, serving: Endpoint, batch: int = 500) -> tuple[list[str], list[str]]:
    """Keys of ``old`` that ``serving`` lacks, and keys whose value differs (``DUMP`` payloads)."""
    a, b = client(old, 30), client(serving, 30)
    missing: list[str] = []
    differing: list[str] = []
    try:
        cursor = 0
        while True:
            cursor, keys = a.scan(cursor, count=batch)  # type: ignore[misc]
            if keys:
                pa, pb = a.pipeline(transaction=False), b.pipeline(transaction=False)
                for k in keys:
                    pa.dump(k)
                    pb.dump(k)
                for k, va, vb in zip(keys, pa.execute(), pb.execute(), strict=True):
                    name = k.decode(errors="backslashreplace") if isinstance(k, bytes) else str(k)
                    if va is None:
                        continue  # expired meanwhile
                    if vb is None:
                        missing.append(name)
                    elif va != vb:
                        differing.append(name)
            if cursor == 0:
                return sorted(missing), sorted(differing)
    finally:
        a.close()
        b.close()


def _recover(old: Endpoint, serving: Endpoint, keys: list[str]) -> tuple[int, list[str]]:
    """Copy ``keys`` (absent on ``serving``) from ``old``, with their TTLs. A key written on
    ``serving`` meanwhile is kept (no REPLACE) and returned as a conflict unless it holds the same
    value; a key that expired on ``old`` meanwhile is nothing to copy. Returns (copied, conflicts)."""
    a, b = client(old, 30), client(serving, 30)
    copied, conflicts = 0, []
    try:
        for k in keys:
            payload = a.dump(k)
            if payload is None:
                continue
            ttl = int(a.pttl(k))  # type: ignore[arg-type]
            try:
                b.restore(k, max(0, ttl), payload)  # type: ignore[arg-type]
                copied += 1
            except redis.ResponseError as exc:
                if "BUSYKEY" not in str(exc):
                    raise
                if b.dump(k) != payload:
                    conflicts.append(k)
    finally:
        a.close()
        b.close()
    return copied, conflicts


def divergence(plan: Plan, dry_run: bool, out: Outcome) -> tuple[str, str]:
    """Before the old primary is made a replica (which discards its dataset): what does it hold that
    the serving DR side does not? Its history being a prefix of the DR side's proves nothing; else
    its keys are compared one by one."""
    p, d = state(plan.primary.redis), state(plan.dr.redis)
    if not p.reachable:
        raise OpsError(f"the primary Redis at {plan.primary.redis.address} is unreachable: {p.error}")
    if p.replicates_from(plan.dr.link_address) or (p.serving and not d.serving):
        return "already", "the primary no longer holds writes of its own"
    if p.keys == 0:
        return "done", "the primary region's Redis is empty: nothing to lose"
    if p.replid == d.replid2 and 0 <= p.offset <= d.second_offset - 1:
        return "done", "the primary's history is a prefix of the DR side's: it holds nothing the DR side lacks"
    missing, differing = _scan_divergence(plan.primary.redis, plan.dr.redis)
    if not missing and not differing:
        return "done", f"all {p.keys} keys of the primary are on the DR side with the same values"
    if missing and plan.recover_writes and not dry_run:
        out.recovered_keys, conflicts = _recover(plan.primary.redis, plan.dr.redis, missing)
        missing, differing = [], sorted(differing + conflicts)
    left = missing + differing
    if not left:
        return "done", f"{out.recovered_keys} keys only the primary held copied to the DR side"
    named = ", ".join(left[:DIVERGENCE_NAMES]) + (
        f" and {len(left) - DIVERGENCE_NAMES} more" if len(left) > DIVERGENCE_NAMES else ""
    )
    what = f"{len(missing)} keys only the old primary holds and {len(differing)} with another value there"
    if plan.accept_data_loss:
        out.lost_keys = left
        return "overridden", f"discarding {what} (--accept-data-loss): {named}"
    raise DivergedError(
        f"the old primary holds writes the DR side does not: {what}: {named}. Nothing was changed: copy the "
        "missing keys to the DR side with --recover-writes, or discard them with --accept-data-loss",
        left,
    )


def failback(plan: Plan, *, dry_run: bool = False, say: Callable[[Step], None] = lambda s: None) -> Outcome:
    """Move service back to the primary region: the old primary is compared with the serving side
    (writes only it holds are never discarded silently), catches up, then the roles swap."""
    t0 = time.monotonic()
    run = _Run("failback", dry_run, say)
    changed = run.outcome.settings_changed
    states = preflight(plan)
    p, d = states["--primary-redis"], states["--dr-redis"]
    for side, s in ((plan.primary, p), (plan.dr, d)):
        if not s.reachable:
            raise OpsError(f"the {side.name} Redis at {side.redis.address} is unreachable: {s.error}")
    if not (d.serving or p.serving or p.replicates_from(plan.dr.link_address)):
        raise OpsError("neither region's Redis is the primary: there is nothing to fail back (run `ops dr status`)")
    if p.serving and d.role == "replica" and not d.replicates_from(plan.primary.link_address):
        raise OpsError("the DR Redis is not the primary: there is nothing to fail back (run `ops dr status`)")
    run.record("identity", "done", f"primary run id {p.run_id[:12]}, dr run id {d.run_id[:12]}")

    def primary_promoted() -> bool:
        s, o = state(plan.primary.redis), state(plan.dr.redis)
        return s.serving and not o.serving

    def replicate() -> tuple[str, str]:
        if primary_promoted():
            return "already", "the primary serves again"
        return demote(plan.primary, plan.dr, plan.redis_config, dry_run, changed)

    def catch_up() -> tuple[str, str]:
        if primary_promoted():
            return "already", "the primary serves again"
        return caught_up(plan.dr, plan.primary, plan.sync_timeout, dry_run)

    def fence_dr() -> tuple[str, str]:
        return fence(plan.dr, plan.primary, plan.catch_up_timeout, dry_run, changed)[:2]

    run.step("compare", lambda: divergence(plan, dry_run, run.outcome))
    run.step("replicate", replicate)
    run.step("catch-up", catch_up)
    run.step("fence", fence_dr)
    # The primary's replicas include the DR standby again: the plan's min-replicas-to-write counts it,
    # so writes resume once the standby step has it replicating.
    expected = len(plan.primary.replicas) + 1
    run.step(
        "promote",
        lambda: promote(plan.primary, plan.redis_config, dry_run, changed, expected_replicas=expected, wait=False),
    )

    def standby() -> tuple[str, str]:
        status, detail = demote(plan.dr, plan.primary, plan.redis_config, dry_run, changed)
        if not dry_run:
            writable(plan.primary, plan.sync_timeout)
        return status, detail + ("; the primary acknowledges writes" if not dry_run else "")

    run.step("standby", standby)
    run.step("dns", lambda: switch_dns(plan.dns, "primary", dry_run, plan.dns_timeout))
    run.step("smoke", lambda: smoke(plan.primary_url, plan.primary_metrics_url, dry_run))
    run.step("scale", lambda: scale(plan.scaler, plan.standby_minimum, dry_run))
    run.step("sentinel", lambda: cluster_sentinel(plan.scaler, False, dry_run))
    run.step("config", lambda: cluster_config(plan.scaler, True, dry_run))
    out = run.outcome
    if not dry_run:
        out.rto_seconds = round(time.monotonic() - t0, 3)
        out.lag_bytes = 0
        if out.lost_keys:
            out.rpo_seconds, out.rpo_basis = None, f"{len(out.lost_keys)} keys of the old primary discarded"
        else:
            out.rpo_seconds, out.rpo_basis = 0.0, "the primary caught up before the DR side was fenced"
    return out


def guard(plan: Plan, *, dry_run: bool = False) -> list[str]:
    """One pass of the fence check after a failover: every server at the primary's addresses that
    serves writes and is not the promoted DR Redis is fenced. Lines of what it did (empty: nothing);
    OpsError (exit 2) when no DR Redis serves: there is nothing to guard yet, or it cannot be judged."""
    d = state(plan.dr.redis)
    if not d.serving:
        why = f"is unreachable ({d.error})" if not d.reachable else "does not serve writes (no failover?)"
        raise OpsError(f"the DR Redis at {plan.dr.redis.address} {why}: nothing to guard", code=2)
    changed: list[dict[str, str]] = []
    return fence_returned(plan.primary, (plan.primary.redis, *plan.primary.watch), d, dry_run, changed)


def status(primary: Endpoint, dr: Endpoint, dns: Dns, rpo_seconds: float = 60.0) -> dict[str, Any]:
    """The link between the regions and a verdict (no secrets): ``health`` is ``healthy``,
    ``failed-over``, ``degraded``, ``split-brain`` or ``unknown``, with ``problems`` and ``advice``."""
    p, d = state(primary), state(dr)
    behind = max(0, p.offset - d.offset) if p.reachable and d.reachable and d.role == "replica" else None
    same = p.reachable and d.reachable and p.run_id == d.run_id
    problems: list[str] = []
    advice = ""
    try:
        dns_view: dict[str, Any] = {"answering": dns.answering(), "pinned_to_dr": dns.pinned()}
    except OpsError as exc:
        dns_view = {"answering": "unknown", "pinned_to_dr": None, "error": exc.message}
    if same:
        health = "unknown"
        problems.append(f"both endpoints lead to the same server (run id {p.run_id[:12]})")
    elif not p.reachable and not d.reachable:
        health = "unknown"
        problems.append("neither region's Redis can be reached")
    elif p.serving and d.serving:
        health = "split-brain"
        problems.append(
            f"SPLIT BRAIN: both the primary ({primary.address}, {p.keys} keys) and the DR Redis ({dr.address}, "
            f"{d.keys} keys) accept writes"
        )
        advice = (
            "run `ops dr failover` again to fence the old primary if service is in the DR region (pinned DNS), "
            "then `ops dr failback` counts what only the old primary holds"
        )
    elif d.serving:
        health = "failed-over"
        problems.append(
            "the DR region serves: the primary region "
            + ("is unreachable" if not p.reachable else f"is {p.role}" + (", fenced" if p.fenced else ""))
        )
        advice = "`ops dr failback` when the primary region is back"
    elif p.serving and d.role == "replica":
        health = "healthy"
        if not d.link_up:
            health = "degraded"
            down = d.link_down_seconds
            problems.append("the link is down" + (f" for {down}s" if down is not None else " (never synced)"))
        elif d.sync_in_progress:
            health = "degraded"
            problems.append("the standby is in a full resynchronisation")
        elif d.last_io_seconds is not None and d.last_io_seconds > rpo_seconds:
            health = "degraded"
            problems.append(f"no contact with the primary for {d.last_io_seconds}s")
    else:
        health = "degraded"
        problems.append(
            "no region serves writes: "
            + ", ".join(
                f"{n} {'unreachable' if not s.reachable else s.role + (' (fenced)' if s.fenced else '')}"
                for n, s in (("primary", p), ("dr", d))
            )
        )
    if dns_view.get("error"):
        health = "unknown"
        problems.append(dns_view["error"])

    def side(endpoint: Endpoint, s: RedisState) -> dict[str, Any]:
        out = {
            "address": endpoint.address,
            "reachable": s.reachable,
            "role": s.role,
            "fenced": s.fenced,
            "serving": s.serving,
            "keys": s.keys,
            "run_id": s.run_id,
        }
        return out | ({"error": s.error} if not s.reachable else {})

    return {
        "health": health,
        "problems": problems,
        "advice": advice,
        "primary": side(primary, p),
        "dr": side(dr, d),
        "link": {
            "up": d.link_up,
            "lag_bytes": behind,
            "last_io_seconds": d.last_io_seconds,
            "down_seconds": d.link_down_seconds,
            "sync_in_progress": d.sync_in_progress,
        },
        "dns": dns_view,
    }


STATUS_EXIT = {"healthy": 0, "failed-over": 1, "degraded": 1, "split-brain": 1, "unknown": 2}


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
