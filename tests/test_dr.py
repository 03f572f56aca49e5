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
PLAN_SETTINGS = tuple(arg for key, value in dr.PLAN_REDIS_CONFIG.items() for arg in (f"--{key}", value))
"""The data tier's min-replicas settings, on every server of these tests as on the plan's."""


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
    assert kill["writes"] > 20  # the writer really ran through the fault (48 on a loaded 2-core machine)
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


def test_frozen_primary_returning_is_split_brain_fenced_and_its_writes_recovered(drill: dict[str, Any]) -> None:
    """SIGSTOP through the failover (fence skipped: unreachable), SIGCONT with a client of its own region
    writing to it: status says split brain, the fence check fences it, failback refuses and names every
    write only it holds, then recovers them: nothing acknowledged is missing at the end."""
    freeze = _scenario(drill, "freeze")
    assert {s["name"]: s["status"] for s in freeze["failover"]["steps"]}["fence"] == "skipped"
    assert freeze["status_after_return"] == "split-brain"
    assert freeze["guard"] and freeze["guard"][0].startswith("fenced ")
    assert freeze["rogue_writes"] > 0 and freeze["old_primary_refuses_writes"] is True
    assert freeze["failback_refused_keys"] >= freeze["rogue_writes"] + freeze["lost_writes"]
    assert freeze["failback"]["recovered_keys"] == freeze["failback_refused_keys"]
    assert freeze["acknowledged_writes_missing_at_end"] == 0 and freeze["end_state_is_the_plan"] is True


def test_failover_rpo_is_an_upper_bound_from_evidence(drill: dict[str, Any]) -> None:
    for name in ("kill", "cut", "freeze"):
        over = _scenario(drill, name)["failover"]
        assert over["rpo_seconds"] is not None and over["rpo_seconds"] >= 0 and over["rpo_basis"]
    cut = _scenario(drill, "cut")
    # The cut's loss is real and the tool's bound covers the writes actually lost.
    assert cut["failover"]["lag_bytes"] > 0 and cut["failover"]["rpo_seconds"] >= cut["rpo_seconds"]


def test_failback_loses_nothing_and_restores_the_roles(drill: dict[str, Any]) -> None:
    for name in ("kill", "cut", "freeze"):
        back = _scenario(drill, name)["failback"]
        assert back["ok"] and back["lost_writes"] == 0 and back["rto_seconds"] is not None
        assert _scenario(drill, name)["standby_replicating_again"] is True
        assert _scenario(drill, name)["end_state_is_the_plan"] is True
    # The writes the cut primary took after the link broke are named at failback, then recovered.
    cut = _scenario(drill, "cut")
    assert cut["failback_refused_keys"] >= cut["lost_writes"] > 0
    assert cut["acknowledged_writes_missing_at_end"] == 0


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


def test_drill_command_prints_the_table_and_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.cli import main

    # The primary region in the standard variable the AWS CLI reads: the drill's own buckets still work.
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    report = tmp_path / "drill.json"
    assert main(["dr", "drill", "--scenario", "restore", "--json", str(report)]) == 0
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

    auth = ("--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0", *PLAN_SETTINGS)
    primary = redis_server(password=PASSWORD, extra=auth)
    standby = redis_server(password=PASSWORD, extra=(*auth, "--replicaof", "127.0.0.1", str(primary.port)))
    wait_until(lambda: dr.lag(primary.endpoint, standby.endpoint)[0] == 0, 30, "the standby to sync")
    wait_until(lambda: dr.state(primary.endpoint).writable, 30, "the primary to count its replica")
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
        "identity": "done",
        "check": "already",
        "fence": "already",
        "promote": "already",
        "dns": "already",
        "config": "skipped",
        "sentinel": "skipped",
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
    assert [(s.name, s.status) for s in second.steps][1:5] == [
        ("check", "already"),
        ("fence", "already"),
        ("promote", "already"),
        ("dns", "done"),
    ]
    assert pair.dns.answering() == "dr"


def test_dry_run_changes_nothing(pair: Pair) -> None:
    outcome = dr.failover(pair.plan(), dry_run=True)
    assert {s.status for s in outcome.steps if s.name not in ("identity", "check")} <= {"would", "skipped"}
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
    statuses = {s.name: s.status for s in back.steps}
    assert statuses["compare"] == statuses["replicate"] == statuses["catch-up"] == statuses["dns"] == "already"
    assert statuses["fence"] == statuses["promote"] == statuses["standby"] == "already"
    assert _writable(pair.primary) and dr.state(pair.standby.endpoint).role == "replica"
    assert back.settings_changed == []


def test_failback_refuses_when_the_dr_side_never_took_over(pair: Pair) -> None:
    pair.primary.client.config_set("min-replicas-to-write", dr.FENCE_MIN_REPLICAS)  # fenced, never promoted
    with pytest.raises(OpsError, match="neither region's Redis is the primary"):
        dr.failback(pair.plan())
    assert dr.state(pair.standby.endpoint).role == "replica"


def test_failback_after_failover_restores_roles_without_loss(pair: Pair) -> None:
    dr.failover(pair.plan())
    for i in range(200):
        pair.standby.client.set(f"written-in-dr:{i}", i)
    back = dr.failback(pair.plan())
    assert back.ok and [s.status for s in back.steps if s.name in ("replicate", "catch-up", "promote")] == ["done"] * 3
    assert back.rpo_seconds == 0.0 and back.lost_keys == []
    assert _writable(pair.primary) and not _writable(pair.standby)
    assert all(pair.primary.client.get(f"written-in-dr:{i}") == str(i).encode() for i in range(200))
    assert dr.state(pair.standby.endpoint).role == "replica" and not pair.dns.pinned()
    again = dr.failback(pair.plan())
    assert all(s.status in ("already", "skipped") for s in again.steps if s.name not in ("identity", "smoke"))
    assert again.settings_changed == []


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
    captured = capsys.readouterr()
    # Neither Redis nor Route 53 can be read: the status cannot be judged (exit 2), and says why, line by line.
    assert code == 2, captured
    assert "dns      unknown: cannot read the records of zone Z04512345EXAMPLEPROD" in captured.out
    assert "health   unknown" in captured.out and "None" not in captured.out
    assert PASSWORD not in captured.out + captured.err


# -- the DR cluster's half: Sentinel and the gateway's minimum ------------------------------------


def _fake_cluster(calls: list[str], conf: dict[str, str], annotations: dict[str, str], hpa: dict[str, int]) -> Any:
    """A KubernetesScaler over in-memory APIs that keep state as the API server would: a Sentinel that
    was created exists (409 on a second create), a deleted one is gone (404), patches merge.

    Behaviour taken from the Kubernetes API conventions (kubernetes/community,
    contributors/devel/sig-architecture/api-conventions.md: create of an existing name is 409
    AlreadyExists, get/delete of a missing one 404 NotFound) and from the merge patch the Python
    client sends for a dict body (strategic merge patch; on a map such as ``metadata.annotations`` a
    ``null`` value deletes the key, as in RFC 7386)."""
    import json
    from types import SimpleNamespace

    from kubernetes.client.exceptions import ApiException

    from ops.runtime.dr_targets import KubernetesScaler

    manifest = {
        "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
        "kind": "RedisSentinel",
        "metadata": {"name": "redis"},
    }
    sentinels: set[str] = set()

    class Hpa:
        def read_namespaced_horizontal_pod_autoscaler(self, name: str, ns: str) -> Any:
            return SimpleNamespace(spec=SimpleNamespace(min_replicas=hpa["min"]))

        def patch_namespaced_horizontal_pod_autoscaler(self, name: str, ns: str, body: Any) -> None:
            calls.append(f"hpa {body['spec']['minReplicas']}")
            hpa["min"] = body["spec"]["minReplicas"]

    class Core:
        def read_namespaced_config_map(self, name: str, ns: str) -> Any:
            if name == "redis-extra-config":
                return SimpleNamespace(data=dict(conf), metadata=SimpleNamespace(annotations=dict(annotations)))
            assert name == "redis-dr-sentinel"
            return SimpleNamespace(
                data={"sentinel.json": json.dumps(manifest)}, metadata=SimpleNamespace(annotations={})
            )

        def patch_namespaced_config_map(self, name: str, ns: str, body: Any) -> None:
            calls.append(f"patch {name}")
            conf.update(body["data"])
            for k, v in body["metadata"]["annotations"].items():
                if v is None:
                    annotations.pop(k, None)
                else:
                    annotations[k] = v

    class Custom:
        def get_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str) -> Any:
            if name not in sentinels:
                raise ApiException(status=404)
            return manifest

        def create_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, body: Any) -> None:
            calls.append(f"create {body['kind']}")
            if body["metadata"]["name"] in sentinels:
                raise ApiException(status=409)
            sentinels.add(body["metadata"]["name"])

        def delete_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str) -> None:
            calls.append(f"delete {plural}/{name}")
            if name not in sentinels:
                raise ApiException(status=404)
            sentinels.discard(name)

    scaler = KubernetesScaler.__new__(KubernetesScaler)
    scaler.api, scaler.core, scaler.custom = Hpa(), Core(), Custom()  # type: ignore[assignment]
    scaler.namespace, scaler.name = "redis-system", "redis-gateway"
    return scaler


def test_cluster_steps_check_each_postcondition_not_the_replica_count() -> None:
    """The HPA already at the active minimum (someone scaled it by hand) must not stop the Sentinel from
    being created or the replicaof line from being dropped; failback puts the line back as it was."""
    calls: list[str] = []
    line = "replicaof k8s-link.elb.eu-west-1.amazonaws.com 6379"
    conf = {"redis-additional.conf": f"appendonly yes\n{line}\n"}
    annotations: dict[str, str] = {}
    hpa = {"min": 6}
    scaler = _fake_cluster(calls, conf, annotations, hpa)
    assert dr.cluster_config(scaler, False, False)[0] == "done"
    assert dr.cluster_sentinel(scaler, True, False)[0] == "done"
    assert dr.scale(scaler, 6, False)[0] == "already"
    assert conf["redis-additional.conf"] == "appendonly yes\n" and scaler.sentinel_present()
    # A second run: every postcondition holds, nothing is called again.
    calls.clear()
    assert [dr.cluster_config(scaler, False, False)[0], dr.cluster_sentinel(scaler, True, False)[0]] == ["already"] * 2
    assert calls == []
    # Failback: scale down, Sentinel removed, the plan's replicaof line back.
    assert dr.scale(scaler, 3, False)[0] == "done"
    assert dr.cluster_sentinel(scaler, False, False)[0] == "done" and not scaler.sentinel_present()
    assert dr.cluster_config(scaler, True, False)[0] == "done"
    assert conf["redis-additional.conf"] == f"appendonly yes\n{line}\n" and annotations == {}
    assert dr.cluster_config(scaler, True, False)[0] == "already"


def test_relink_without_the_saved_line_is_a_clear_error() -> None:
    scaler = _fake_cluster([], {"redis-additional.conf": "appendonly yes\n"}, {}, {"min": 3})
    with pytest.raises(OpsError, match=r"no replicaof line and no redisgw\.io/unlinked-replicaof annotation"):
        dr.cluster_config(scaler, True, False)


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
    report = tmp_path / "report.json"
    argv = ["dr", action, "--stack", "production", "--primary-redis", primary.url, "--dr-redis", "redis://127.0.0.1:1"]
    argv += ["--json", str(report)]
    if action != "status":
        argv += ["--dr-kubeconfig", str(kubeconfig)]
    code = main(argv)
    captured = capsys.readouterr()
    # The report is written whatever the outcome, and names the reason.
    assert "cannot read the records of zone Z04512345EXAMPLEPROD" in report.read_text()
    if action == "status":
        assert code == 2 and "health   unknown" in captured.out and "None" not in captured.out
    else:
        err = captured.err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "cannot read the records of zone Z04512345EXAMPLEPROD" in err[0], err
    assert PASSWORD not in captured.out + captured.err + report.read_text() and _writable(primary)
