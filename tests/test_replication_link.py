"""A real link break, with the plan's replication directives, on real ``redis-server``s.

A primary configured with production's directives (``settings.redis_replication_config``) keeps an
in-region replica (so ``min-replicas-to-write 1`` is met while the other link is down, as in a
region's tier) and a standby that replicates through a TCP relay that can be cut. Writes go on
while the link is down for about 3 s; once it is back, the standby must resume with a partial
resynchronisation and end with the primary's dataset. The control runs the same break with Redis'
default 1 MB backlog: the writes of the outage overflow it and the standby needs a full resync, so
the first test would fail if the backlog were not what lets the standby resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import settings
from ops.runtime.backups import wait_until
from ops.runtime.dr_drill import Link
from tests.conftest import RedisServer, stack_values

VALUE = b"v" * 4096
"""Each write's value: at the writer's pace, the outage's writes are several MB (above 1 MB, far
below the plan's backlog)."""
BATCH, BATCHES_PER_SECOND = 25, 20
CUT_SECONDS = 3.0


def production_directives() -> dict[str, str]:
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    return settings.redis_replication_config(cfg)


def as_arguments(directives: dict[str, str]) -> tuple[str, ...]:
    return tuple(word for name, value in directives.items() for word in (f"--{name}", value))


@dataclass
class Writer:
    """A steady stream of acknowledged SETs (pipelined batches at a fixed pace) until stopped."""

    server: RedisServer
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import redis

        client = redis.Redis(port=self.server.port, socket_timeout=5)
        n = 0
        while not self.stop.is_set():
            started = time.monotonic()
            pipe = client.pipeline(transaction=False)
            for _ in range(BATCH):
                pipe.set(f"key:{n}", VALUE)
                n += 1
            try:
                pipe.execute()
                self.acknowledged += BATCH
            except redis.RedisError as exc:  # NOREPLICAS would mean min-replicas-to-write stopped the writes
                self.errors.append(str(exc))
            time.sleep(max(0.0, 1 / BATCHES_PER_SECOND - (time.monotonic() - started)))


def _info(server: RedisServer, section: str) -> dict[str, Any]:
    return dict(server.client.info(section))


def _link(replica: RedisServer) -> str:
    return str(_info(replica, "replication").get("master_link_status"))


def _in_sync(primary: RedisServer, *replicas: RedisServer) -> bool:
    offset = _info(primary, "replication")["master_repl_offset"]
    return all(
        _info(r, "replication").get("master_link_status") == "up"
        and _info(r, "replication")["master_repl_offset"] == offset
        for r in replicas
    )


def break_the_link(redis_server: Callable[..., RedisServer], directives: dict[str, str]) -> dict[str, Any]:
    """Cut the standby's link for :data:`CUT_SECONDS` under a steady write stream; what happened."""
    plan = as_arguments(directives)
    primary = redis_server(extra=plan)
    in_region = redis_server(extra=("--replicaof", "127.0.0.1", str(primary.port), *plan))
    link = Link(("127.0.0.1", primary.port))
    try:
        standby = redis_server(extra=("--replicaof", "127.0.0.1", str(link.port), *plan))
        wait_until(lambda: _in_sync(primary, in_region, standby), 30, "both replicas in sync")
        before = _info(primary, "stats")
        writer = Writer(primary)
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        time.sleep(0.5)
        offset_at_cut = _info(primary, "replication")["master_repl_offset"]
        link.cut()
        wait_until(lambda: _link(standby) == "down", 5, "the standby to lose its link")
        acknowledged_at_cut = writer.acknowledged
        time.sleep(CUT_SECONDS)
        written_during_cut = _info(primary, "replication")["master_repl_offset"] - offset_at_cut
        acknowledged_during_cut = writer.acknowledged - acknowledged_at_cut
        link.restore()
        wait_until(lambda: _link(standby) == "up", 15, "the link to come back")
        time.sleep(0.5)  # writes go on after the resume too
        writer.stop.set()
        thread.join(timeout=10)
        wait_until(lambda: _in_sync(primary, in_region, standby), 30, "the standby to catch up")
        after = _info(primary, "stats")
        return {
            "full": after["sync_full"] - before["sync_full"],
            "partial": after["sync_partial_ok"] - before["sync_partial_ok"],
            "written_during_cut": written_during_cut,
            "acknowledged_during_cut": acknowledged_during_cut,
            "errors": writer.errors,
            "digests": {primary.digest(), in_region.digest(), standby.digest()},
            "keys": primary.client.dbsize(),
            "acknowledged": writer.acknowledged,
        }
    finally:
        link.close()


def test_the_plans_directives_are_what_production_sets() -> None:
    directives = production_directives()
    assert directives["repl-backlog-size"] == str(129 * 2**20) and directives["repl-timeout"] == "15"


def test_with_the_plans_backlog_the_standby_resumes_after_a_link_break(
    redis_server: Callable[..., RedisServer],
) -> None:
    outcome = break_the_link(redis_server, production_directives())
    assert outcome["errors"] == []  # the in-region replica kept min-replicas-to-write satisfied
    assert outcome["acknowledged_during_cut"] > 0
    assert outcome["written_during_cut"] > 2**20  # more than Redis' default backlog holds
    assert (outcome["full"], outcome["partial"]) == (0, 1)
    assert len(outcome["digests"]) == 1 and outcome["keys"] == outcome["acknowledged"]


def test_with_redis_default_backlog_the_same_break_forces_a_full_resync(
    redis_server: Callable[..., RedisServer],
) -> None:
    default = {**production_directives(), "repl-backlog-size": "1mb"}
    outcome = break_the_link(redis_server, default)
    assert outcome["errors"] == [] and outcome["written_during_cut"] > 2**20
    assert outcome["full"] == 1 and outcome["partial"] == 0
    assert len(outcome["digests"]) == 1 and outcome["keys"] == outcome["acknowledged"]


@pytest.mark.parametrize("directive", ["repl-backlog-size", "repl-timeout", "repl-ping-replica-period"])
def test_redis_accepts_every_directive_of_the_plan(redis_server: Callable[..., RedisServer], directive: str) -> None:
    """As Redis reads them back: the plan's values are ones it takes, unchanged."""
    server = redis_server(extra=as_arguments(production_directives()))
    assert server.client.config_get(directive) == {directive: production_directives()[directive]}
