"""``ops dr`` under the faults a regional incident produces, on real ``redis-server``s and a moto Route 53.

Each case is written as an adversary would: the old primary restarted from its own configuration or
from nothing, reached under a second address, a standby in the middle of a full resync, the tool
killed with SIGKILL between every pair of steps. Each asserts what the issue's targets say: no
acknowledged write lost without the tool saying so, never two servers accepting writes once the tool
has run, and an end state that is exactly the plan's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import redis

from ops.errors import OpsError
from ops.runtime import dr, dr_drill
from ops.runtime.backups import start_redis_server, wait_until
from ops.runtime.dr_targets import Route53Dns
from ops.runtime.replication import Endpoint
from tests.conftest import RedisServer
from tests.test_dr import PASSWORD, PLAN_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
AUTH = ("--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0", *PLAN_SETTINGS)


class World:
    """A primary, the DR standby replicating from it, a DR replica (as the DR tier's pods, it
    replicates from the primary until promotion repoints it), the failover records."""

    def __init__(self, start: Callable[..., RedisServer], dns: Route53Dns, zone: str) -> None:
        self.primary = start(password=PASSWORD, extra=AUTH)
        upstream = ("--replicaof", "127.0.0.1", str(self.primary.port))
        self.standby = start(password=PASSWORD, extra=(*AUTH, *upstream))
        self.dr_replica = start(password=PASSWORD, extra=(*AUTH, *upstream))
        self.dns, self.zone = dns, zone
        for r in (self.standby, self.dr_replica):
            wait_until(lambda r=r: dr.lag(self.primary.endpoint, r.endpoint)[0] == 0, 30, "the replicas to sync")
        wait_until(lambda: dr.state(self.primary.endpoint).writable, 30, "the primary to count its replicas")

    def plan(self, **changes: Any) -> dr.Plan:
        values: dict[str, Any] = {
            "primary": dr.Side("primary", self.primary.endpoint),
            "dr": dr.Side("dr", self.standby.endpoint, (self.dr_replica.endpoint,)),
            "dns": self.dns,
            "catch_up_timeout": 2.0,
            "sync_timeout": 30.0,
            "dns_timeout": 5.0,
        }
        return dr.Plan(**{**values, **changes})

    def serving(self) -> list[str]:
        """The servers that acknowledge a write right now (a real SET, not INFO)."""
        out = []
        for name, server in (("primary", self.primary), ("dr", self.standby), ("dr-replica", self.dr_replica)):
            try:
                server.client.set("probe:serving", name)
                out.append(name)
            except redis.RedisError:
                pass
        return out


@pytest.fixture
def world(redis_server: Callable[..., RedisServer], moto_endpoint: str) -> Iterable[World]:
    import boto3

    r53 = boto3.client("route53", region_name="us-east-1")
    zone, _ = dr_drill.failover_zone(r53, "api.test.example", ("192.0.2.1", "192.0.2.2"), "eu-west-1.api.test.example")
    yield World(redis_server, Route53Dns(zone, "api.test.example", r53, probe=lambda: True), zone)


def _write(server: RedisServer, prefix: str, n: int) -> list[str]:
    """``n`` acknowledged writes (pipelined SETs whose replies were OK)."""
    keys = [f"{prefix}:{i}" for i in range(n)]
    pipe = server.client.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, k)
    assert all(pipe.execute()), "every write must be acknowledged"
    return keys


def _missing(server: RedisServer, keys: list[str]) -> list[str]:
    return dr_drill._missing_keys(server.endpoint, keys)


def _config_value(server: RedisServer, key: str) -> str:
    return str(server.client.config_get(key)[key])


# -- the old primary comes back --------------------------------------------------------------------


def test_frozen_primary_that_returns_is_split_brain_until_a_rerun_fences_it(world: World) -> None:
    before = _write(world.primary, "before", 200)
    wait_until(lambda: dr.lag(world.primary.endpoint, world.standby.endpoint)[0] == 0, 10, "sync")
    world.primary.proc.send_signal(signal.SIGSTOP)
    try:
        out = dr.failover(world.plan())
    finally:
        world.primary.proc.send_signal(signal.SIGCONT)
    assert {s.name: s.status for s in out.steps}["fence"] == "skipped"
    assert out.rpo_seconds is not None and out.rpo_seconds >= 0 and "None" not in out.rpo_text()
    # Back: its own replica... none here; it serves because min-replicas-to-write is capped by what it had.
    world.primary.client.config_set("min-replicas-to-write", "0")  # as a primary with its replicas back
    rogue = _write(world.primary, "rogue", 50)
    report = dr.status(world.primary.endpoint, world.standby.endpoint, world.dns)
    assert report["health"] == "split-brain" and dr.STATUS_EXIT[report["health"]] == 1
    assert "SPLIT BRAIN" in report["problems"][0] and "ops dr failover" in report["advice"]
    again = dr.failover(world.plan())
    assert {s.name: s.status for s in again.steps}["fence"] == "done"
    assert world.serving() == ["dr"]
    # Failback names the writes only the old primary holds and changes nothing...
    with pytest.raises(dr.DivergedError) as refused:
        dr.failback(world.plan())
    assert set(rogue) <= set(refused.value.keys) and "rogue:" in refused.value.message
    assert world.serving() == ["dr"] and dr.state(world.primary.endpoint).fenced
    # ...until they are recovered: every acknowledged write on the primary at the end.
    back = dr.failback(world.plan(recover_writes=True))
    assert back.ok and back.recovered_keys >= len(rogue)
    assert _missing(world.primary, before + rogue) == []
    assert world.serving() == ["primary"]


def test_a_fence_survives_a_restart_from_the_servers_own_configuration(
    world: World, redis_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """A primary started from a configuration file: the fence is written into it (CONFIG REWRITE)."""
    conf = tmp_path / "old-primary.conf"
    conf.write_text(f"requirepass {PASSWORD}\nmasterauth {PASSWORD}\nmin-replicas-to-write 1\n")
    work = tmp_path / "old-primary"
    work.mkdir()
    proc, port = _start_with_config(conf, work)
    try:
        old = Endpoint("127.0.0.1", port, None, PASSWORD)
        status, _, _ = dr.fence(dr.Side("primary", old), dr.Side("dr", world.standby.endpoint), 1.0, False)
        assert status == "done"
        assert "min-replicas-to-write 1000000" in conf.read_text()
        proc.terminate()
        proc.wait(timeout=10)
        proc, port = _start_with_config(conf, work, port)
        assert dr.state(old).fenced  # back from its own configuration, still refusing writes
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _start_with_config(conf: Path, work: Path, port: int | None = None) -> tuple[Any, int]:
    from ops.runtime.backups import free_port

    port = port or free_port()
    proc = subprocess.Popen(
        ["redis-server", str(conf), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    c = redis.Redis(port=port, password=PASSWORD)
    wait_until(lambda: _pings(c), 30, "redis-server to start")
    return proc, port


def _pings(c: redis.Redis) -> bool:
    try:
        return bool(c.ping())
    except redis.RedisError:
        return False


def test_an_old_primary_restarted_from_nothing_at_another_address_is_fenced_by_the_guard(
    world: World, tmp_path: Path
) -> None:
    """The primary region's pod rescheduled: a new process, a new run id, on another address, serving
    (its AOF brought its data back). ``guard`` looks at every address it is given."""
    dr.failover(world.plan())
    work = tmp_path / "rescheduled"
    work.mkdir()
    proc, port = start_redis_server(work, *AUTH, password=PASSWORD)
    try:
        rescheduled = Endpoint("127.0.0.1", port, None, PASSWORD)
        assert dr.state(rescheduled).serving
        plan = world.plan(primary=dr.Side("primary", Endpoint("127.0.0.1", 1, None, PASSWORD), watch=(rescheduled,)))
        lines = dr.guard(plan)
        assert len(lines) == 1 and f"fenced {rescheduled.address}" in lines[0]
        assert dr.state(rescheduled).fenced and dr.guard(plan) == []  # a second pass: nothing left to do
        assert dr.state(world.standby.endpoint).writable  # the promoted server is never touched
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_two_names_for_one_server_are_refused_before_anything_changes(world: World) -> None:
    relay = dr_drill.Link(("127.0.0.1", world.primary.port))
    try:
        second = Endpoint("127.0.0.1", relay.port, None, PASSWORD)
        with pytest.raises(OpsError, match="are the same Redis server") as caught:
            dr.failover(world.plan(dr=dr.Side("dr", second)))
        assert caught.value.code == 2
        with pytest.raises(OpsError, match="are the same Redis server"):
            dr.failback(world.plan(dr=dr.Side("dr", second)))
        report = dr.status(world.primary.endpoint, second, world.dns)
        assert report["health"] == "unknown" and "same server" in report["problems"][0]
    finally:
        relay.close()
    assert world.serving() == ["primary"] and not world.dns.pinned()


# -- a standby that does not hold the data ---------------------------------------------------------


def test_a_standby_in_a_full_resync_is_not_promoted(redis_server: Callable[..., RedisServer], world: World) -> None:
    """A standby that lost its data (a new pod) and is loading a large dataset from the primary: the
    guard refuses, with the primary reachable or not; --accept-data-loss promotes it and says so."""
    # The primary writes the dataset for the standby at 100 us a key (redis.conf rdb-key-save-delay, a
    # testing knob): 200,000 keys take 20 s, so the standby is still mid-sync when the primary is
    # killed however busy the machine is (a transfer at full speed lasts well under a second, and a
    # loaded CI machine reached the standby's loading phase first).
    big = redis_server(
        password=PASSWORD,
        extra=("--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0", "--rdb-key-save-delay", "100"),
    )
    pipe = big.client.pipeline(transaction=False)
    for i in range(200_000):
        pipe.set(f"k:{i}", "v" * 64)
    pipe.execute()
    fresh = redis_server(password=PASSWORD, extra=("--masterauth", PASSWORD, "--replicaof", "127.0.0.1", str(big.port)))
    wait_until(lambda: dr.state(fresh.endpoint).sync_in_progress, 10, "the full resync to start")
    plan = world.plan(primary=dr.Side("primary", big.endpoint), dr=dr.Side("dr", fresh.endpoint))
    with pytest.raises(OpsError, match="full resynchronisation is in progress") as refused:
        dr.failover(plan)
    assert "holds 0 keys, the primary 200000" in refused.value.message and "--accept-data-loss" in refused.value.message
    assert dr.state(fresh.endpoint).role == "replica" and not world.dns.pinned()  # nothing changed
    # The primary dies mid-resync: the standby never completed a sync; still refused.
    big.proc.send_signal(signal.SIGKILL)
    big.proc.wait(timeout=10)
    with pytest.raises(OpsError, match="never completed a sync"):
        dr.failover(plan)
    forced = dr.failover(dataclasses.replace(plan, accept_data_loss=True))
    assert {s.name: s.status for s in forced.steps}["check"] == "overridden"
    assert forced.rpo_seconds is None and "never completed a sync" in forced.rpo_text()


def test_a_standby_whose_link_is_down_longer_than_the_rpo_is_not_promoted(world: World) -> None:
    world.standby.client.execute_command("REPLICAOF", "127.0.0.1", "1")  # its link goes nowhere
    wait_until(lambda: dr.state(world.standby.endpoint).link_down_seconds is not None, 10, "the link to drop")
    time.sleep(2.1)
    plan = world.plan(rpo_seconds=1.0, primary=dr.Side("primary", Endpoint("127.0.0.1", 1, None, PASSWORD)))
    with pytest.raises(OpsError, match=r"its link has been down for \d+s, longer than the RPO \(1s\)"):
        dr.failover(plan)


# -- killed between any two steps ------------------------------------------------------------------

FAILOVER_STEPS = ("identity", "check", "fence", "promote", "dns")
FAILBACK_STEPS = ("identity", "compare", "replicate", "catch-up", "fence", "promote", "standby", "dns")
KILLER = """
import json, os, signal, sys
import boto3
from ops.runtime import dr
from ops.runtime.dr_targets import Route53Dns
from ops.runtime.replication import Endpoint
a = json.loads(sys.argv[1])
pw = os.environ["DR_TEST_PASSWORD"]
ep = lambda port: Endpoint("127.0.0.1", port, None, pw)
dns = Route53Dns(a["zone"], "api.test.example", boto3.client("route53", region_name="us-east-1"), probe=lambda: True)
plan = dr.Plan(primary=dr.Side("primary", ep(a["primary"])), dr=dr.Side("dr", ep(a["dr"]), (ep(a["replica"]),)),
               dns=dns, catch_up_timeout=2.0, sync_timeout=30.0, dns_timeout=5.0, recover_writes=True)
def say(step):
    if step.name == a["after"]:
        os.kill(os.getpid(), signal.SIGKILL)
getattr(dr, a["operation"])(plan, say=say)
"""


def _killed_after(world: World, operation: str, step: str) -> None:
    args = {
        "operation": operation,
        "after": step,
        "zone": world.zone,
        "primary": world.primary.port,
        "dr": world.standby.port,
        "replica": world.dr_replica.port,
    }
    env = {**os.environ, "DR_TEST_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, json.dumps(args)], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


@pytest.mark.parametrize("step", FAILOVER_STEPS)
def test_a_failover_killed_after_any_step_is_finished_by_running_it_again(world: World, step: str) -> None:
    before = _write(world.primary, "before", 100)
    wait_until(lambda: dr.lag(world.primary.endpoint, world.standby.endpoint)[0] == 0, 10, "sync")
    _killed_after(world, "failover", step)
    assert len(world.serving()) <= 1
    out = dr.failover(world.plan())
    assert out.ok and world.serving() == ["dr"] and world.dns.pinned()
    replica = dr.state(world.dr_replica.endpoint)
    assert replica.replicates_from(("127.0.0.1", world.standby.port)) and replica.link_up
    assert _config_value(world.standby, "min-replicas-to-write") == "1"  # the plan's, met by its replica
    assert _missing(world.standby, before) == []


@pytest.mark.parametrize("step", FAILBACK_STEPS)
def test_a_failback_killed_after_any_step_is_finished_by_running_it_again(world: World, step: str) -> None:
    before = _write(world.primary, "before", 100)
    wait_until(lambda: dr.lag(world.primary.endpoint, world.standby.endpoint)[0] == 0, 10, "sync")
    dr.failover(world.plan())
    during = _write(world.standby, "in-dr", 100)
    _killed_after(world, "failback", step)
    assert len(world.serving()) <= 1
    back = dr.failback(world.plan())
    assert back.ok and world.serving() == ["primary"] and not world.dns.pinned()
    assert _missing(world.primary, before + during) == []
    standby = dr.state(world.standby.endpoint)
    assert standby.replicates_from(("127.0.0.1", world.primary.port)) and standby.link_up
    # The plan's settings on both sides: the fence lifted, min-replicas-to-write back to 1.
    assert _config_value(world.primary, "min-replicas-to-write") == "1"
    assert _config_value(world.standby, "min-replicas-to-write") == "1"


def test_guard_without_a_serving_dr_side_cannot_judge(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any failover (the DR Redis a replica) or with it unreachable, the guard fences nothing and
    says it cannot judge (exit 2), rather than reporting all is well."""
    from ops.cli import main

    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    for dr_url in (f"redis://127.0.0.1:{world.standby.port}", "redis://127.0.0.1:1"):
        code = main(
            [
                "dr",
                "guard",
                "--stack",
                "production",
                "--primary-redis",
                world.primary.url,
                "--dr-redis",
                dr_url,
                "--once",
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and "nothing to guard" in err and PASSWORD not in err
    assert world.serving() == ["primary"]


def test_a_refused_failback_writes_the_keys_it_names_to_the_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal names 20 keys in its message; the --json report holds all of them."""
    from ops.cli import main
    from ops.runtime import dr_cli

    keys = [f"only-old:{i}" for i in range(25)]

    def refuse(plan: Any, **_: Any) -> dr.Outcome:
        raise dr.DivergedError("the old primary holds writes the DR side does not", keys)

    monkeypatch.setattr(dr_cli, "_plan", lambda args, cfg: None)
    monkeypatch.setattr(dr, "failback", refuse)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    report = tmp_path / "failback.json"
    argv = ["dr", "failback", "--stack", "production", "--primary-redis", "redis://127.0.0.1:1"]
    argv += ["--dr-redis", "redis://127.0.0.1:2", "--dr-kubeconfig", str(kubeconfig), "--json", str(report)]
    assert main(argv) == 1
    written = json.loads(report.read_text())
    assert written["diverged_keys"] == keys and written["ok"] is False
    assert "holds writes the DR side does not" in capsys.readouterr().err


def test_recovery_never_overwrites_and_reports_a_key_written_on_both_sides(
    redis_server: Callable[..., RedisServer],
) -> None:
    """Between the comparison and the copy the DR side may write a key the old primary holds: its value
    is kept, and the key is reported as a conflict (a decision for the service owner), not counted as
    recovered; the same value on both sides is no conflict; an expiring key keeps its TTL."""
    old, serving = redis_server(password=PASSWORD), redis_server(password=PASSWORD)
    old.client.set("both:differs", "old")
    old.client.set("both:same", "v")
    old.client.set("only-old", "x", px=60_000)
    serving.client.set("both:differs", "dr")
    serving.client.set("both:same", "v")
    copied, conflicts = dr._recover(old.endpoint, serving.endpoint, ["both:differs", "both:same", "only-old"])
    assert (copied, conflicts) == (1, ["both:differs"])
    assert serving.client.get("both:differs") == b"dr" and 0 < serving.client.pttl("only-old") <= 60_000
