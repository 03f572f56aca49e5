"""``ops dr`` against real peers: two ``redis-server``s linked by replication, a moto Route 53.

The drill runs once for the module (its three scenarios start their own servers); the other tests
drive failover and failback step by step to show what each guarantee rests on: fencing refuses writes
on the old primary (no split brain), every step is idempotent (an interrupted run finishes when run
again), a dry run changes nothing, and a run that cannot complete changes nothing either.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import redis

from ops.errors import OpsError
from ops.runtime import dr, dr_drill
from ops.runtime.backups import wait_until
from ops.runtime.dr_targets import Route53Dns
from ops.runtime.replication import Endpoint
from tests.conftest import RedisServer

PASSWORD = "dr-test-" + secrets.token_hex(8)


# -- the drill -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drill() -> dict[str, Any]:
    started = time.monotonic()
    result = dr_drill.drill(dr_drill.SCENARIOS, 60.0, 900.0, lambda line: None)
    result["elapsed"] = time.monotonic() - started
    return result


def _scenario(drill: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in drill["scenarios"] if s["scenario"] == name)


def test_drill_passes_under_the_targets(drill: dict[str, Any]) -> None:
    assert drill["ok"] and drill["problems"] == [], drill["problems"]
    for s in drill["scenarios"]:
        assert s["rto_seconds"] is not None and s["rto_seconds"] < 900
        assert s["rpo_seconds"] is not None and s["rpo_seconds"] < 60
    assert drill["elapsed"] < 60


def test_kill_9_loses_at_most_what_was_in_flight(drill: dict[str, Any]) -> None:
    kill = _scenario(drill, "kill")
    assert kill["writes"] > 50  # the writer really ran through the fault
    assert kill["lost_writes"] <= 5 and kill["rpo_seconds"] < 1
    steps = {s["name"]: s["status"] for s in kill["failover"]["steps"]}
    assert steps["fence"] == "skipped"  # a dead primary takes no writes: nothing to fence
    assert steps["promote"] == steps["dns"] == steps["smoke"] == "done"


def test_cut_link_is_fenced_measured_and_idempotent(drill: dict[str, Any]) -> None:
    cut = _scenario(drill, "cut")
    # The writes the primary took after the cut are the data lost: measured, not assumed.
    assert cut["lost_writes"] > 0 and 0 < cut["rpo_seconds"] < 5
    assert cut["old_primary_refuses_writes"] is True
    assert cut["second_failover_changed_nothing"] is True
    assert {s["name"]: s["status"] for s in cut["failover"]["steps"]}["fence"] == "done"


def test_failback_loses_nothing_and_restores_the_roles(drill: dict[str, Any]) -> None:
    for name in ("kill", "cut"):
        back = _scenario(drill, name)["failback"]
        assert back["ok"] and back["lost_writes"] == 0 and back["rto_seconds"] is not None
        assert _scenario(drill, name)["standby_replicating_again"] is True


def test_restore_from_backup_brings_back_the_data_at_backup_time(drill: dict[str, Any]) -> None:
    restored = _scenario(drill, "restore")
    assert restored["digest_matches"] is True and restored["keys"] == 5500


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"scenario": "kill", "rpo_seconds": 0.1, "rto_seconds": 901.0}, "kill: RTO 901.0s exceeds the target 900s"),
        ({"scenario": "kill", "rpo_seconds": 61.0, "rto_seconds": 1.0}, "kill: RPO 61.0s exceeds the target 60s"),
        ({"scenario": "kill", "rpo_seconds": 0.0, "rto_seconds": None}, "kill: no write succeeded through the DR side"),
        (
            {"scenario": "kill", "rpo_seconds": 0.0, "rto_seconds": 1.0, "failback": {"lost_writes": 3}},
            "kill: failback lost 3 acknowledged writes",
        ),
        (
            {"scenario": "cut", "rpo_seconds": 0.0, "rto_seconds": 1.0, "old_primary_refuses_writes": False},
            "cut: the fenced old primary still accepts writes (split brain)",
        ),
        (
            {"scenario": "restore", "rpo_seconds": 1.0, "rto_seconds": 1.0, "digest_matches": False},
            "restore: the restored data differs from the source at backup time (DEBUG DIGEST)",
        ),
    ],
)
def test_a_missed_target_or_guarantee_fails_the_drill(result: dict[str, Any], problem: str) -> None:
    assert problem in dr_drill.verdicts([result], 60.0, 900.0)


def test_drill_command_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from ops.cli import main

    report = tmp_path / "drill.json"
    assert main(["dr", "drill", "--scenario", "kill", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "DR drill (production: RPO < 60s, RTO < 900s)" in out and "drill passed" in out
    assert '"ok": true' in report.read_text() and PASSWORD not in out


# -- step by step, against real servers and a moto Route 53 ----------------------------------------


class Pair:
    """A primary and a standby replicating from it, and the failover records of ``api.test.example``."""

    def __init__(self, primary: RedisServer, standby: RedisServer, dns: Route53Dns) -> None:
        self.primary, self.standby, self.dns = primary, standby, dns

    def plan(self, **changes: Any) -> dr.Plan:
        values: dict[str, Any] = {
            "primary": dr.Side("primary", self.primary.endpoint),
            "dr": dr.Side("dr", self.standby.endpoint),
            "dns": self.dns,
            "catch_up_timeout": 2.0,
            "sync_timeout": 30.0,
            "dns_timeout": 5.0,
        }
        return dr.Plan(**{**values, **changes})


@pytest.fixture
def pair(redis_server: Callable[..., RedisServer], moto_endpoint: str) -> Iterable[Pair]:
    import boto3

    auth = ("--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0")
    primary = redis_server(password=PASSWORD, extra=auth)
    standby = redis_server(password=PASSWORD, extra=(*auth, "--replicaof", "127.0.0.1", str(primary.port)))
    wait_until(lambda: dr.lag(primary.endpoint, standby.endpoint)[0] == 0, 30, "the standby to sync")
    r53 = boto3.client("route53", region_name="us-east-1")
    zone, _ = dr_drill.failover_zone(r53, "api.test.example", ("192.0.2.1", "192.0.2.2"), "eu-west-1.api.test.example")
    healthy = {"primary": True}
    dns = Route53Dns(zone, "api.test.example", r53, probe=lambda: healthy["primary"])
    yield Pair(primary, standby, dns)


def _writable(server: RedisServer) -> bool:
    try:
        server.client.set(f"probe:{secrets.token_hex(4)}", "1")
        return True
    except redis.ResponseError:
        return False


def test_fencing_refuses_writes_on_the_old_primary_but_keeps_reads(pair: Pair) -> None:
    pair.primary.client.set("before", "1")
    outcome = dr.failover(pair.plan())
    assert outcome.ok and outcome.rpo_seconds == 0.0 and outcome.lag_bytes == 0
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        pair.primary.client.set("split-brain", "1")
    assert pair.primary.client.get("before") == b"1"  # still readable, for the failback
    assert pair.standby.client.get("before") == b"1" and _writable(pair.standby)
    assert pair.dns.pinned() and pair.dns.answering() == "dr"


def test_a_second_failover_changes_nothing(pair: Pair) -> None:
    dr.failover(pair.plan())
    again = dr.failover(pair.plan())
    assert {s.name: s.status for s in again.steps} == {
        "fence": "already",
        "promote": "already",
        "dns": "already",
        "scale": "skipped",
        "smoke": "skipped",
    }


def test_an_interrupted_failover_finishes_when_run_again(pair: Pair) -> None:
    class Flaky:
        """Route 53 refusing the first update (throttling, an expired session)."""

        def __init__(self, dns: Route53Dns) -> None:
            self.dns, self.failures = dns, 1

        def pinned(self) -> bool:
            return self.dns.pinned()

        def answering(self) -> str:
            return self.dns.answering()

        def pin(self, to_dr: bool) -> None:
            if self.failures:
                self.failures -= 1
                raise OpsError("cannot update health check: Throttling")
            self.dns.pin(to_dr)

    flaky = Flaky(pair.dns)
    with pytest.raises(OpsError, match="stopped at step 'dns'"):
        dr.failover(pair.plan(dns=flaky))
    assert not _writable(pair.primary) and _writable(pair.standby)  # fenced and promoted: half-way
    second = dr.failover(pair.plan(dns=flaky))
    assert [(s.name, s.status) for s in second.steps][:3] == [
        ("fence", "already"),
        ("promote", "already"),
        ("dns", "done"),
    ]
    assert pair.dns.answering() == "dr"


def test_dry_run_changes_nothing(pair: Pair) -> None:
    outcome = dr.failover(pair.plan(), dry_run=True)
    assert {s.status for s in outcome.steps} <= {"would", "skipped"}
    assert _writable(pair.primary) and not _writable(pair.standby)
    assert dr.state(pair.standby.endpoint).role == "replica" and not pair.dns.pinned()


def test_an_unreachable_standby_stops_the_failover_before_any_change(pair: Pair) -> None:
    gone = Endpoint("127.0.0.1", 1, None, PASSWORD)
    plan = pair.plan()
    plan.dr = dr.Side("dr", gone)
    with pytest.raises(OpsError, match=r"the DR Redis at 127\.0\.0\.1:1 is unreachable"):
        dr.failover(plan)
    assert _writable(pair.primary) and not pair.dns.pinned()


def test_missing_failover_records_stop_the_failover_before_any_change(pair: Pair) -> None:
    plan = pair.plan(dns=Route53Dns(pair.dns.zone_id, "other.test.example", pair.dns.client))
    with pytest.raises(OpsError, match=r"has no PRIMARY and no SECONDARY failover record for other\.test\.example\."):
        dr.failover(plan)
    assert _writable(pair.primary) and not _writable(pair.standby)


def test_failback_with_nothing_failed_over_is_already_done(pair: Pair) -> None:
    back = dr.failback(pair.plan())
    assert [(s.name, s.status) for s in back.steps][:2] == [("replicate", "already"), ("dns", "already")]
    assert _writable(pair.primary) and dr.state(pair.standby.endpoint).role == "replica"


def test_failback_refuses_when_the_dr_side_never_took_over(pair: Pair) -> None:
    pair.primary.client.config_set("min-replicas-to-write", dr.FENCE_MIN_REPLICAS)  # fenced, never promoted
    with pytest.raises(OpsError, match="the DR Redis is not the primary"):
        dr.failback(pair.plan())
    assert dr.state(pair.standby.endpoint).role == "replica"


def test_failback_after_failover_restores_roles_without_loss(pair: Pair) -> None:
    dr.failover(pair.plan())
    for i in range(200):
        pair.standby.client.set(f"written-in-dr:{i}", i)
    back = dr.failback(pair.plan())
    assert back.ok and [s.status for s in back.steps if s.name in ("replicate", "catch-up", "promote")] == ["done"] * 3
    assert _writable(pair.primary) and not _writable(pair.standby)
    assert all(pair.primary.client.get(f"written-in-dr:{i}") == str(i).encode() for i in range(200))
    assert dr.state(pair.standby.endpoint).role == "replica" and not pair.dns.pinned()
    assert [s.status for s in dr.failback(pair.plan()).steps][:2] == ["already", "already"]


def test_status_reports_the_link_and_dns(pair: Pair) -> None:
    report = dr.status(pair.primary.endpoint, pair.standby.endpoint, pair.dns)
    assert report["link"]["up"] and report["link"]["lag_bytes"] == 0
    assert report["dns"] == {"answering": "primary", "pinned_to_dr": False}
    assert PASSWORD not in repr(report)


def test_restore_into_a_replica_is_refused(pair: Pair, tmp_path: Path) -> None:
    from ops.runtime.backups import Location

    with pytest.raises(OpsError, match="replicates from the primary: fail over first"):
        dr.restore_from_backup(Location("b", "redis/"), "latest", pair.standby.endpoint, tmp_path, force=False)


def test_missing_aws_credentials_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.cli import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    code = main(
        [
            "dr",
            "status",
            "--stack",
            "production",
            "--primary-redis",
            "redis://127.0.0.1:1",
            "--dr-redis",
            "redis://127.0.0.1:2",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "cannot read the records of zone Z04512345EXAMPLEPROD" in err[0], err
    assert PASSWORD not in err[0]


# -- the DR cluster's half: Sentinel and the gateway's minimum ------------------------------------


def test_scaler_unlinks_and_creates_sentinel_before_raising_and_removes_it_after_lowering() -> None:
    import json
    from types import SimpleNamespace

    from kubernetes.client.exceptions import ApiException

    from ops.runtime.dr_targets import KubernetesScaler

    calls: list[str] = []
    state = {"min": 3}
    manifest = {
        "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
        "kind": "RedisSentinel",
        "metadata": {"name": "redis"},
    }

    class Hpa:
        def read_namespaced_horizontal_pod_autoscaler(self, name: str, ns: str) -> Any:
            return SimpleNamespace(spec=SimpleNamespace(min_replicas=state["min"]))

        def patch_namespaced_horizontal_pod_autoscaler(self, name: str, ns: str, body: Any) -> None:
            calls.append(f"hpa {body['spec']['minReplicas']}")
            state["min"] = body["spec"]["minReplicas"]

    conf = {"redis-additional.conf": "appendonly yes\nreplicaof k8s-link.elb.eu-west-1.amazonaws.com 6379\n"}

    class Core:
        def read_namespaced_config_map(self, name: str, ns: str) -> Any:
            if name == "redis-extra-config":
                return SimpleNamespace(data=dict(conf))
            assert name == "redis-dr-sentinel"
            return SimpleNamespace(data={"sentinel.json": json.dumps(manifest)})

        def patch_namespaced_config_map(self, name: str, ns: str, body: Any) -> None:
            calls.append(f"unlink {name}")
            conf.update(body["data"])

    class Custom:
        def create_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, body: Any) -> None:
            calls.append(f"create {body['kind']}")
            raise ApiException(status=409)  # already there: a second run must not fail

        def delete_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str) -> None:
            calls.append(f"delete {plural}/{name}")

    scaler = KubernetesScaler.__new__(KubernetesScaler)
    scaler.api, scaler.core, scaler.custom = Hpa(), Core(), Custom()  # type: ignore[assignment]
    scaler.namespace, scaler.name = "redis-system", "redis-gateway"
    scaler.scale(6)
    scaler.scale(3)
    assert calls == [
        "unlink redis-extra-config",
        "create RedisSentinel",
        "hpa 6",
        "hpa 3",
        "delete redissentinels/redis",
    ]
    assert conf["redis-additional.conf"] == "appendonly yes\n"  # a restarted pod stays the primary
    state["min"] = 3
    scaler.scale(6)  # a second activation: nothing left to unlink, Sentinel already there
    assert calls[-2:] == ["create RedisSentinel", "hpa 6"]


def test_a_broken_kubeconfig_is_one_clear_error(tmp_path: Path) -> None:
    from ops.runtime.dr_targets import KubernetesScaler

    broken = tmp_path / "kubeconfig"
    broken.write_text("not: [a kubeconfig")
    with pytest.raises(OpsError, match="--dr-kubeconfig") as caught:
        KubernetesScaler(str(broken), "redis-system", "redis-gateway")
    assert caught.value.code == 2


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: dr, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: dr, user: {token: not-a-real-token}}]
contexts: [{name: dr, context: {cluster: dr, user: dr}}]
current-context: dr
"""


@pytest.mark.parametrize("action", ["status", "failover", "failback"])
def test_unreachable_endpoints_are_one_line_and_change_nothing(
    action: str,
    redis_server: Callable[..., RedisServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Route 53 unreachable (a dead endpoint), the Kubernetes API unreachable: the command stops at its
    first read, before the first change; the primary is still writable."""
    from ops.cli import main

    primary = redis_server(password=PASSWORD)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    argv = ["dr", action, "--stack", "production", "--primary-redis", primary.url, "--dr-redis", "redis://127.0.0.1:1"]
    if action != "status":
        argv += ["--dr-kubeconfig", str(kubeconfig)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read the records of zone Z04512345EXAMPLEPROD" in err[0], err
    assert PASSWORD not in err[0] and _writable(primary)
