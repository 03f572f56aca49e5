"""Alerting proven with Prometheus' own tools: ``promtool`` checks and unit-tests every rule the
program renders (with the stack's own thresholds), ``amtool`` checks the Alertmanager configuration
and its routing. Both come from the Debian packages ``prometheus`` and ``prometheus-alertmanager``,
which ``make test`` and ``.ci/run`` install.
"""

from __future__ import annotations

import collections
import json
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring_stack import EVALUATION_SECONDS, STANDBY_SECONDS, alertmanager_config
from ops.offline.engine import ROOT
from tests.conftest import Recording

NS = "redis-system"
GW = f'job="redis-gateway",namespace="{NS}"'


def humanize(value: float) -> str:
    """Prometheus' ``humanize`` template function (SI prefixes, 4 significant digits)."""
    if value == 0:
        return "0"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.4g}{prefix}"
    if abs(value) >= 1:
        return f"{value:.4g}"
    for factor, prefix in ((1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.4g}{prefix}"
    return f"{value:.4g}"


RULE_SETS = {"primary": "monitoring-rules", "dr": "dr-monitoring-rules"}
"""The PrometheusRule of each region's MonitoringStack (the DR one: the standby's alerts)."""
REGIONS = [("production", "primary"), ("production", "dr"), ("staging", "primary")]


def groups(recording: Recording, region: str = "primary") -> list[dict[str, Any]]:
    rule_set = recording.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", RULE_SETS[region])
    return list(rule_set.inputs["spec"]["groups"])


def alerts(recording: Recording, region: str = "primary") -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups(recording, region) for r in g["rules"] if "alert" in r}


def counter(rate_per_second: float, minutes: int) -> str:
    return f"0+{rate_per_second * 60:g}x{minutes}"


def gateway_traffic(error_share: float, minutes: int) -> list[dict[str, str]]:
    total = 10.0
    return [
        {"series": f'http_requests_total{{{GW},code="500"}}', "values": counter(total * error_share, minutes)},
        {"series": f'http_requests_total{{{GW},code="200"}}', "values": counter(total * (1 - error_share), minutes)},
    ]


def latency(slow: bool, minutes: int) -> list[dict[str, str]]:
    bucket = "http_request_duration_seconds_bucket"
    fast = counter(0 if slow else 10, minutes)
    return [
        {"series": f'{bucket}{{{GW},le="0.1"}}', "values": fast},
        {"series": f'{bucket}{{{GW},le="0.5"}}', "values": counter(10, minutes)},
        {"series": f'{bucket}{{{GW},le="+Inf"}}', "values": counter(10, minutes)},
    ]


def fired(rule: dict[str, Any], value: float, labels: dict[str, str] | None = None) -> dict[str, Any]:
    summary = rule["annotations"]["summary"]
    return {
        "exp_labels": {**rule["labels"], **(labels or {})},
        "exp_annotations": {
            "summary": summary,
            "description": f"{summary} ({NS}, value {humanize(value)})",
            "runbook_url": rule["annotations"]["runbook_url"],
        },
    }


def alert_case(
    a: dict[str, dict[str, Any]],
    series: Mapping[str, str],
    checks: Iterable[tuple[str, str, float | None]],
    interval: str = "1m",
) -> dict[str, Any]:
    """One promtool test case: ``series`` (series -> values) sampled every ``interval``, and for each
    check (eval time, alert, value) the alert firing with that value, or quiet where it is None."""
    return {
        "interval": interval,
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [
            {"eval_time": at, "alertname": alert, "exp_alerts": [] if value is None else [fired(a[alert], value)]}
            for at, alert, value in checks
        ],
    }


def backup_times(minutes: int, every: int | None) -> str:
    """kube-state-metrics' last successful time, sampled each minute: a run every ``every`` minutes, or none."""
    return " ".join(str(0 if every is None else (m // every) * every * 60) for m in range(minutes + 1))


def unit_tests(recording: Recording, region: str = "primary") -> list[dict[str, Any]]:
    """For every alert of the region's rules, series that fire it (with its exact labels and annotations)
    and series that keep it quiet."""
    a = alerts(recording, region)
    cases = (
        [*_serving_tests(a), *_recovery_cases(a)] if "RedisNoPrimary" in a else [*_standby_tests(a), *_shared_tests(a)]
    )
    return [c for c in cases if all(t["alertname"] in a for t in c.get("alert_rule_test", []))]


def _standby_tests(a: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The DR standby's link alerts with series as redis_exporter (v1.44/1.45, exporter/info.go) exports
    a replica's ``INFO replication`` and Redis 7.0 (replication.c) fills it, sampled every 5 s:
    ``master_last_io_seconds_ago`` counts up while the primary is silent and turns -1 once the link is
    dropped after ``repl-timeout`` (15 s in the plan), when ``master_link_up`` turns 0; no series at
    all when the exporter is gone."""
    redis = f'namespace="{NS}",pod="redis-0",master_host="redis-link.example",master_port="6379"'
    silence = int(a["RedisStandbyLagHigh"]["expr"].split(") > ", 1)[1].split(" or", 1)[0])
    io, up = "redis_master_last_io_seconds_ago", "redis_master_link_up"

    def case(
        series: dict[str, str], checks: list[tuple[str, str, float | None]], interval: str = "5s"
    ) -> dict[str, Any]:
        return alert_case(a, {f"{name}{{{redis}}}": values for name, values in series.items()}, checks, interval)

    # The primary goes silent at 0 s: 0, 5, 10 s of silence, then the link is dropped (-1, down),
    # then it comes back at 60 s.
    silent = {io: "0 5 10 -1 -1 -1 -1 -1 -1 -1 -1 -1 1 1 1 1 1 1", up: "1 1 1 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1"}
    other = f'namespace="{NS}",pod="redis-1",master_host="redis-link.example",master_port="6379"'
    one_resyncing = {
        "interval": "5s",
        "input_series": [
            {"series": f"{io}{{{redis}}}", "values": "1x40"},
            {"series": f"{up}{{{redis}}}", "values": "1x40"},
            # redis-1 restarted and resyncs (Redis reports -1 and the link down while it does)
            {"series": f"{io}{{{other}}}", "values": "-1x40"},
            {"series": f"{up}{{{other}}}", "values": "0x40"},
        ],
        "alert_rule_test": [
            {"eval_time": "100s", "alertname": "RedisStandbyLagHigh", "exp_alerts": []},
            {
                "eval_time": "100s",
                "alertname": "RedisStandbyLinkDown",
                "exp_alerts": [fired(a["RedisStandbyLinkDown"], 0)],
            },
        ],
    }
    return [
        one_resyncing,
        case(
            silent,
            [
                ("10s", "RedisStandbyLagHigh", None),
                # within half the RPO of the last contact: the objective the runbook states
                ("25s", "RedisStandbyLagHigh", 0),  # the link-down branch: last_io is -1 by then
                ("55s", "RedisStandbyLagHigh", 0),
                ("80s", "RedisStandbyLagHigh", None),  # resolved once the link is back
                ("55s", "RedisStandbyLinkDown", None),
            ],
        ),
        case({io: "-1x40", up: "0x40"}, [("100s", "RedisStandbyLinkDown", 0), ("30s", "RedisStandbyLagHigh", 0)]),
        # the link down for two minutes, then back: the warning resolves
        case(
            {io: "-1x23 1x20", up: "0x23 1x20"},
            [("100s", "RedisStandbyLinkDown", 0), ("130s", "RedisStandbyLinkDown", None)],
        ),
        case({}, [("100s", "RedisStandbyLinkDown", 0), ("30s", "RedisStandbyLagHigh", 0)]),  # the exporter gone
        case({io: "1x40", up: "1x40"}, [("100s", "RedisStandbyLinkDown", None), ("100s", "RedisStandbyLagHigh", None)]),
        case({io: f"{silence}x40", up: "1x40"}, [("100s", "RedisStandbyLagHigh", None)]),
        case({io: f"{silence + 1}x40", up: "1x40"}, [("100s", "RedisStandbyLagHigh", silence + 1)]),
        case(
            {"redis_master_sync_in_progress": "1x15 0x5"},
            [("12m", "RedisStandbyResyncing", 1), ("17m", "RedisStandbyResyncing", None)],
            "1m",
        ),
        case({"redis_master_sync_in_progress": "1x5 0x10"}, [("12m", "RedisStandbyResyncing", None)], "1m"),
    ]


def _shared_tests(a: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The serving tests of the alerts both regions have (gateway SLOs, memory, backups)."""
    # Cases of alerts the standby does not have are built against a stand-in and then dropped.
    stand_in = {"expr": "x > 0", "labels": {}, "annotations": {"summary": "", "runbook_url": ""}}
    with_stand_ins = collections.defaultdict(lambda: stand_in, a)
    return [*_serving_tests(with_stand_ins), *_recovery_cases(with_stand_ins)]


def _backup_cases(a: dict[str, dict[str, Any]], objective: int) -> list[dict[str, Any]]:
    """RedisBackupTooOld within its objective after the last success, from a first success never
    made, a CronJob re-created, kube-state-metrics gone; quiet between healthy runs; resolved by the
    next success."""
    sel = f'namespace="{NS}",cronjob="redis-backup"'
    minute = objective // 60  # 29 with the 15-minute schedule
    last = f"kube_cronjob_status_last_successful_time{{{sel}}}"
    created = f"kube_cronjob_created{{{sel}}}"

    def case(series: dict[str, str], checks: list[tuple[int, float | None]]) -> dict[str, Any]:
        return alert_case(a, series, [(f"{at}m", "RedisBackupTooOld", value) for at, value in checks])

    return [
        # the last success at 0, none since: quiet a minute before the objective, paging at it
        case({created: "0x60", last: "0x60"}, [(minute - 1, None), (minute, objective)]),
        # never a success (a new stack, a broken role from day one): counted from the creation
        case({created: "0x60"}, [(minute - 1, None), (minute, objective)]),
        # the last success at minute 5, the CronJob re-created at minute 10 (a new object: no success
        # series of its own yet): the RPO still runs from that last backup
        case(
            {created: "0x9 600x50", last: "_x5 300x4"},
            [(minute - 1 + 5, None), (minute + 5, objective)],
        ),
        # kube-state-metrics gone for good: no series at all, still pages
        case({}, [(minute, objective)]),
        # healthy: a success every 15 minutes
        case({created: "0x60", last: backup_times(60, 15)}, [(59, None)]),
        # recovery: paging at the objective, resolved by the success at minute 40
        case(
            {created: "0x60", last: " ".join(["0"] * 40 + ["2400"] * 21)},
            [(minute, objective), (41, None)],
        ),
    ]


def _job_cases(a: dict[str, dict[str, Any]], alert: str, cronjob: str) -> list[dict[str, Any]]:
    """The latest run failed: fires; a retry passed: quiet; a later success: resolved; a run started
    earlier that succeeds later: still fires; a Job the CronJob does not own: not its run."""
    last = f'kube_cronjob_status_last_successful_time{{namespace="{NS}",cronjob="{cronjob}"}}'
    created = f'kube_cronjob_created{{namespace="{NS}",cronjob="{cronjob}"}}'

    def job(name: str, created_at: int, *, failed: str | None = None, complete: str | None = None, owned: bool = True):
        sel = f'namespace="{NS}",job_name="{name}"'
        owner = f'owner_kind="CronJob",owner_name="{cronjob}"' if owned else 'owner_kind="",owner_name=""'
        series = {
            f"kube_job_created{{{sel}}}": f"{created_at}x20",
            f'kube_job_owner{{{sel},{owner},owner_is_controller="{str(owned).lower()}"}}': "1x20",
        }
        if failed:
            series[f'kube_job_failed{{{sel},condition="true"}}'] = failed
        if complete:
            series[f'kube_job_complete{{{sel},condition="true"}}'] = complete
        return series

    def case(series: dict[str, str], checks: list[tuple[str, float | None]]) -> dict[str, Any]:
        return alert_case(a, series, [(at, alert, value) for at, value in checks])

    base = {created: "-100x20", last: "-50x20", **job(f"{cronjob}-28990", -100, complete="1x20")}
    return [
        # the run created at 60 s failed for good from minute 3
        case({**base, **job(f"{cronjob}-29000", 60, failed="_x3 1x16")}, [("2m", None), ("4m", 60)]),
        # its first pod failed, the retry passed: kube_job_status_failed says 1, the Job completed
        case(
            {
                **base,
                **job(f"{cronjob}-29000", 60, complete="_x3 1x16"),
                f'kube_job_status_failed{{namespace="{NS}",job_name="{cronjob}-29000",reason=""}}': "0 1x19",
            },
            [("4m", None), ("10m", None)],
        ),
        # failed, kept by the history limit, then the next run (created at 600 s) succeeded at minute 11
        case(
            {
                **base,
                **job(f"{cronjob}-29000", 60, failed="_x3 1x16"),
                **job(f"{cronjob}-29010", 600, complete="_x11 1x8"),
            },
            [("4m", 60), ("12m", None)],
        ),
        # a run started by hand before the scheduled one succeeds after it failed: the failure stands
        case(
            {
                **base,
                **job("manual-drill", 30, complete="_x5 1x14"),
                **job(f"{cronjob}-29000", 60, failed="_x3 1x16"),
            },
            [("2m", None), ("8m", 60)],
        ),
        # a Job named like a run that the CronJob does not own is not its run
        case({**base, **job(f"{cronjob}-test", 60, failed="1x20", owned=False)}, [("4m", None)]),
    ]


def _serving_tests(a: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    objective = int(a["RedisBackupTooOld"]["expr"].rsplit(">", 1)[1]) + EVALUATION_SECONDS
    readiness_age = int(a["RedisReadinessCheckFailed"]["expr"].rsplit(">", 1)[1])
    last_success = "kube_cronjob_status_last_successful_time"
    created = "kube_cronjob_created"
    redis = f'namespace="{NS}"'
    info = "redis_instance_info"
    return [
        # availability: 10% errors burn the 0.1% budget fast (and slowly); 0.05% is healthy
        {  # ... and both resolve once the errors stop (the 5 and 30 minute windows clear)
            "interval": "1m",
            "input_series": phased_traffic([(0.10, 420), (0.0, 40)]),
            "alert_rule_test": [
                {
                    "eval_time": "70m",
                    "alertname": "GatewayErrorBudgetFastBurn",
                    "exp_alerts": [fired(a["GatewayErrorBudgetFastBurn"], 0.1)],
                },
                {
                    "eval_time": "7h",
                    "alertname": "GatewayErrorBudgetSlowBurn",
                    "exp_alerts": [fired(a["GatewayErrorBudgetSlowBurn"], 0.1)],
                },
                {"eval_time": "430m", "alertname": "GatewayErrorBudgetFastBurn", "exp_alerts": []},
                {"eval_time": "455m", "alertname": "GatewayErrorBudgetSlowBurn", "exp_alerts": []},
            ],
        },
        {
            "interval": "1m",
            "input_series": gateway_traffic(0.0005, 420),
            "alert_rule_test": [
                {"eval_time": "70m", "alertname": "GatewayErrorBudgetFastBurn", "exp_alerts": []},
                {"eval_time": "7h", "alertname": "GatewayErrorBudgetSlowBurn", "exp_alerts": []},
            ],
        },
        {  # the recording rules: a quarter of the requests fail (exact in binary floating point)
            "interval": "1m",
            "input_series": gateway_traffic(0.25, 420),
            "promql_expr_test": [
                {
                    "expr": f"gateway:request_errors:ratio_rate{w}",
                    "eval_time": "7h",
                    "exp_samples": [{"labels": f"gateway:request_errors:ratio_rate{w}", "value": 0.25}],
                }
                for w in ("5m", "30m", "1h", "6h")
            ],
        },
        # latency: every request in (0.1, 0.5] gives p99 0.496 s; every request under 0.1 s gives 0.099 s
        {
            "interval": "1m",
            "input_series": latency(True, 30),
            "alert_rule_test": [
                {
                    "eval_time": "25m",
                    "alertname": "GatewayLatencyP99High",
                    "exp_alerts": [fired(a["GatewayLatencyP99High"], 0.496)],
                },
            ],
            "promql_expr_test": [
                {
                    "expr": "gateway:request_duration_seconds:p99_5m",
                    "eval_time": "25m",
                    "exp_samples": [{"labels": "gateway:request_duration_seconds:p99_5m", "value": 0.496}],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": latency(False, 30),
            "alert_rule_test": [
                {"eval_time": "25m", "alertname": "GatewayLatencyP99High", "exp_alerts": []},
            ],
        },
        # no gateway target up
        {
            "interval": "1m",
            "input_series": [{"series": f'up{{{GW},pod="gw-0"}}', "values": "0x10"}],
            "alert_rule_test": [
                {
                    "eval_time": "8m",
                    "alertname": "GatewayPodsUnavailable",
                    "exp_alerts": [fired(a["GatewayPodsUnavailable"], 0)],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [{"series": f'up{{{GW},pod="gw-0"}}', "values": "1x10"}],
            "alert_rule_test": [
                {"eval_time": "8m", "alertname": "GatewayPodsUnavailable", "exp_alerts": []},
            ],
        },
        # Redis memory above 90% of maxmemory, and below
        {
            "interval": "1m",
            "input_series": [
                {"series": f'redis_memory_used_bytes{{{redis},pod="redis-0"}}', "values": "95x15"},
                {"series": f'redis_memory_max_bytes{{{redis},pod="redis-0"}}', "values": "100x15"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "RedisMemoryNearMaxmemory",
                    "exp_alerts": [fired(a["RedisMemoryNearMaxmemory"], 0.95, {"namespace": NS, "pod": "redis-0"})],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'redis_memory_used_bytes{{{redis},pod="redis-0"}}', "values": "50x15"},
                {"series": f'redis_memory_max_bytes{{{redis},pod="redis-0"}}', "values": "100x15"},
            ],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "RedisMemoryNearMaxmemory", "exp_alerts": []}],
        },
        # no primary: the replicas still report, the primary is gone
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-1",role="slave"}}', "values": "1x10"},
                {"series": f'{info}{{{redis},pod="redis-2",role="slave"}}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "RedisNoPrimary", "exp_alerts": [fired(a["RedisNoPrimary"], 0)]}
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-0",role="master"}}', "values": "1x10"},
                {"series": f'{info}{{{redis},pod="redis-1",role="slave"}}', "values": "1x10"},
            ],
            "alert_rule_test": [{"eval_time": "5m", "alertname": "RedisNoPrimary", "exp_alerts": []}],
        },
        # replication, as redis_exporter reports it per pod (redis_master_link_up on each replica,
        # redis_connected_slaves on every instance with replicas). The DR standby is attached to the
        # primary here (where it lands after a local failover): the primary still counts 2 when a
        # local replica is lost, the replicas' side counts 1
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-0",role="master"}}', "values": "1x15"},
                {"series": f'redis_connected_slaves{{{redis},pod="redis-0"}}', "values": "3x4 2x10"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-1"}}', "values": "1x15"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-2"}}', "values": "1x4 stale"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "RedisReplicationBroken", "exp_alerts": []},
                {
                    # a local replica lost at minute 5 with the standby attached: fires after its for
                    "eval_time": "10m",
                    "alertname": "RedisReplicationBroken",
                    "exp_alerts": [fired(a["RedisReplicationBroken"], 1)],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'redis_master_link_up{{{redis},pod="redis-1"}}', "values": "0x15"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-2"}}', "values": "1x15"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "RedisReplicationBroken",
                    "exp_alerts": [fired(a["RedisReplicationBroken"], 1)],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-0",role="master"}}', "values": "1x15"},
                {"series": f'redis_connected_slaves{{{redis},pod="redis-0"}}', "values": "2x15"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-1"}}', "values": "1x15"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-2"}}', "values": "1x15"},
                # another team's Redis in another namespace, one replica down: not ours
                {"series": 'redis_master_link_up{namespace="payments",pod="cache-1"}', "values": "0x15"},
            ],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "RedisReplicationBroken", "exp_alerts": []}],
        },
        {
            # redis-2's exporter sidecar crashed (its target down, no link series): unknown, not lost
            "interval": "1m",
            "input_series": [
                {"series": f'redis_master_link_up{{{redis},pod="redis-1"}}', "values": "1x15"},
                {"series": f'up{{{redis},pod="redis-1"}}', "values": "1x15"},
                {"series": f'up{{{redis},pod="redis-2"}}', "values": "0x15"},
            ],
            "alert_rule_test": [{"eval_time": "10m", "alertname": "RedisReplicationBroken", "exp_alerts": []}],
        },
        # failover: the primary moves from redis-0 to redis-1 at minute 20; a steady primary is quiet
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-0",role="master"}}', "values": "1x19 stale"},
                {"series": f'{info}{{{redis},pod="redis-1",role="master"}}', "values": "_x20 1x20"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "25m",
                    "alertname": "RedisFailoverOccurred",
                    "exp_alerts": [fired(a["RedisFailoverOccurred"], 1, {"pod": "redis-1"})],
                },
                {"eval_time": "35m", "alertname": "RedisFailoverOccurred", "exp_alerts": []},
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{info}{{{redis},pod="redis-0",role="master"}}', "values": "1x40"},
            ],
            "alert_rule_test": [{"eval_time": "25m", "alertname": "RedisFailoverOccurred", "exp_alerts": []}],
        },
        # backups, with series as kube-state-metrics v2.20 exports them (internal/store/cronjob.go):
        # kube_cronjob_created always, kube_cronjob_status_last_successful_time only after a first
        # success. The objective is the RPO: a page at most `objective` after the last success.
        *_backup_cases(a, objective),
        # the restore drill and the readiness job, as kube-state-metrics v2.20 exports Jobs
        # (internal/store/job.go): kube_job_failed{condition="true"} only once the Job failed for
        # good; kube_job_status_failed counts failed pods, so a retry that passed still reports one
        *_job_cases(a, "RedisRestoreDrillFailed", "redis-restore-drill"),
        *_job_cases(a, "RedisReadinessCheckFailed", "redis-readiness"),
        # the readiness scorecard's last pass long ago: promtool's clock starts at 0, so it is a time
        # before it, and the alert's threshold is crossed ten minutes into the series
        {
            "interval": "1m",
            "input_series": [
                {"series": f'{created}{{{redis},cronjob="redis-readiness"}}', "values": f"-{readiness_age * 2}x20"},
                {
                    "series": f'{last_success}{{{redis},cronjob="redis-readiness"}}',
                    "values": f"-{readiness_age - 600}x20",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "RedisReadinessCheckFailed", "exp_alerts": []},
                {
                    "eval_time": "15m",
                    "alertname": "RedisReadinessCheckFailed",
                    "exp_alerts": [fired(a["RedisReadinessCheckFailed"], readiness_age + 300)],
                },
            ],
        },
    ]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, check=False)


def _at(check: dict[str, Any]) -> float:
    text = str(check["eval_time"])
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]]


@pytest.mark.parametrize(("stack", "region"), REGIONS)
def test_promtool_checks_the_rendered_rules(
    stack: str, region: str, stack_run: Callable[[str], Recording], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups(stack_run(stack), region)}))
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0 and "SUCCESS" in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize(("stack", "region"), REGIONS)
def test_every_alert_fires_and_stays_quiet_with_the_stacks_thresholds(
    stack: str, region: str, stack_run: Callable[[str], Recording], tmp_path: Path
) -> None:
    recording = stack_run(stack)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups(recording, region)}))
    tests = unit_tests(recording, region)
    covered = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t["exp_alerts"]}
    quiet = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if not t["exp_alerts"]}
    assert covered == quiet == set(alerts(recording, region))  # every alert both fires and stays quiet
    # ... and resolves: a case expects it firing and then, later in the same series, quiet again
    resolved = {
        t["alertname"]
        for case in tests
        for t in case.get("alert_rule_test", [])
        if t["exp_alerts"]
        and any(
            u["alertname"] == t["alertname"] and not u["exp_alerts"] and _at(u) > _at(t)
            for u in case["alert_rule_test"]
        )
    }
    assert resolved == set(alerts(recording, region)), set(alerts(recording, region)) - resolved
    # Cases sampled in seconds (the standby's, whose group runs every STANDBY_SECONDS in the plan) are
    # evaluated at that step; the rest at one minute (a 7-hour burn-rate series at 5 s would take long).
    files = []
    for step, mine in (
        (f"{STANDBY_SECONDS}s", [c for c in tests if str(c["interval"]).endswith("s")]),
        ("1m", [c for c in tests if not str(c["interval"]).endswith("s")]),
    ):
        if mine:
            name = f"tests-{step}.yaml"
            document = {"rule_files": ["rules.yaml"], "evaluation_interval": step, "tests": mine}
            (tmp_path / name).write_text(yaml.safe_dump(document, sort_keys=False))
            files.append(name)
    result = subprocess.run(
        ["promtool", "test", "rules", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def am_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yaml"
    config = alertmanager_config(
        "https://hooks.slack.invalid/T/B/x",
        "0123456789abcdef0123456789abcdef",
        "#alerts",
        "https://heartbeat.invalid/ping/8d2f",
    )
    path.write_text(yaml.safe_dump(json.loads(json.dumps(config))))
    return path


def test_amtool_accepts_the_alertmanager_configuration(am_config: Path) -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(am_config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=RedisNoPrimary"], "pagerduty,slack"),
        (["severity=warning", "alertname=RedisMemoryNearMaxmemory"], "slack"),
        (["severity=none", "alertname=Watchdog"], "heartbeat"),
        (["severity=critical", "alertname=Watchdog"], "heartbeat"),
        (["severity=none", "alertname=InfoInhibitor"], "null"),
        (["severity=info", "alertname=CPUThrottlingHigh"], "null"),
        (["alertname=SomethingWithoutSeverity"], "slack"),
        (["severity=page", "alertname=Misspelled"], "slack"),
    ],
)
def test_routing_critical_pages_warning_posts_the_heartbeat_goes_to_its_switch(
    am_config: Path, labels: list[str], receivers: str
) -> None:
    result = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={am_config}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


# -- the rollout analysis, evaluated by Prometheus' own engine -------------------------------------

HASH = "6d4cf56db6"


def _analysis(recording: Recording) -> dict[str, dict[str, Any]]:
    typ = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
    template = recording.one(typ, "gateway-analysis-gateway-slo")
    # The DR region's gateway is judged by the same analysis: one evaluation proves both.
    assert all(
        t.inputs["spec"] == template.inputs["spec"]
        for t in recording.of_type(typ)
        if t.inputs["metadata"]["name"] == "gateway-slo"
    )
    return {m["name"]: m for m in template.inputs["spec"]["metrics"]}


def _new_version(error_share: float, slow: bool) -> list[dict[str, str]]:
    """The new ReplicaSet's series (labelled with its pod-template hash), one hour of them."""
    labels = f'{GW},rollouts_pod_template_hash="{HASH}"'
    bucket = "http_request_duration_seconds_bucket"
    return [
        {"series": f'http_requests_total{{{labels},code="500"}}', "values": counter(8 * error_share, 60)},
        {"series": f'http_requests_total{{{labels},code="200"}}', "values": counter(8 * (1 - error_share), 60)},
        {"series": f'{bucket}{{{labels},le="0.125"}}', "values": counter(0 if slow else 8, 60)},
        {"series": f'{bucket}{{{labels},le="0.5"}}', "values": counter(8, 60)},
        {"series": f'{bucket}{{{labels},le="+Inf"}}', "values": counter(8, 60)},
    ]


@pytest.mark.parametrize(
    ("error_share", "slow", "verdicts"),
    [
        (0.0, False, {"success-rate": 1, "latency-p99": 1}),  # a healthy release passes both metrics
        (0.25, False, {"success-rate": 0, "latency-p99": 1}),  # a regression in errors fails the success rate
        (0.0, True, {"success-rate": 1, "latency-p99": 0}),  # a regression in latency fails the p99
    ],
    ids=["healthy", "errors", "slow"],
)
def test_the_analysis_queries_judge_a_release_as_argo_would(
    stack_run: Callable[[str], Recording],
    tmp_path: Path,
    error_share: float,
    slow: bool,
    verdicts: dict[str, int],
) -> None:
    """The AnalysisTemplate's own queries, with the hash Argo passes in, over the new version's
    series, compared with the template's own success conditions, all in Prometheus' engine."""
    metrics = _analysis(stack_run("production"))
    checks = []
    for name, metric in metrics.items():
        query = metric["provider"]["prometheus"]["query"].replace("{{args.pod-hash}}", HASH)
        op, threshold = metric["successCondition"].removeprefix("result[0] ").split()
        checks.append(
            {
                "expr": f"({query}) {op} bool {threshold}",
                "eval_time": "30m",
                "exp_samples": [{"labels": "{}", "value": verdicts[name]}],
            }
        )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": []}))
    tests = [{"interval": "1m", "input_series": _new_version(error_share, slow), "promql_expr_test": checks}]
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": tests}, sort_keys=False)
    )
    result = subprocess.run(
        ["promtool", "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(verdicts) == set(metrics)


def test_the_runbooks_alert_timings_are_the_rules(stack_run: Callable[[str], Recording]) -> None:
    """The table in incident-response.md is computed from the production rules as rendered; each
    alert with a stated objective meets it."""
    from components.monitoring_stack import alert_timings, timings_markdown

    recording = stack_run("production")
    rows = [row for region in RULE_SETS for row in alert_timings(groups(recording, region))]
    text = (ROOT / "docs/runbooks/incident-response.md").read_text()
    table = text.split("<!-- alert-timings:start -->\n", 1)[1].split("\n<!-- alert-timings:end -->", 1)[0]
    assert table == timings_markdown(rows)
    worst = {name: seconds for name, _, seconds in rows}
    backup = int(alerts(recording)["RedisBackupTooOld"]["expr"].rsplit(">", 1)[1]) + 30
    assert worst["RedisBackupTooOld"] <= backup == 29 * 60  # the RPO: the schedule's 15 min gap + 14 min deadline
    assert "(29 minutes with the 15-minute schedule)" in text
    assert worst["RedisStandbyLagHigh"] <= 30  # half the 60 s RPO


def phased(*phases: tuple[float, int]) -> str:
    """A counter sampled each minute through phases of (rate per second, minutes)."""
    values, total = ["0"], 0.0
    for rate, minutes in phases:
        for _ in range(minutes):
            total += rate * 60
            values.append(f"{total:g}")
    return " ".join(values)


def phased_traffic(phases: list[tuple[float, int]]) -> list[dict[str, str]]:
    """The gateway's request counters through phases of (error share, minutes) at 10 requests/s."""
    total = 10.0
    return [
        {
            "series": f'http_requests_total{{{GW},code="500"}}',
            "values": phased(*[(total * share, m) for share, m in phases]),
        },
        {
            "series": f'http_requests_total{{{GW},code="200"}}',
            "values": phased(*[(total * (1 - share), m) for share, m in phases]),
        },
    ]


def _recovery_cases(a: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each serving alert fires on its fault and resolves once the fault is gone, with the series the
    exporters give when it recovers (counters that keep counting, gauges back to normal)."""
    redis = f'namespace="{NS}"'
    info = "redis_instance_info"

    def case(series: list[dict[str, str]], alert: str, fired_at: str, value: float, quiet_at: str) -> dict[str, Any]:
        named = {s["series"]: s["values"] for s in series}
        return alert_case(a, named, [(fired_at, alert, value), (quiet_at, alert, None)])

    bucket = "http_request_duration_seconds_bucket"
    slow_then_fast = [
        {"series": f'{bucket}{{{GW},le="0.1"}}', "values": phased((0, 25), (10, 20))},
        {"series": f'{bucket}{{{GW},le="0.5"}}', "values": phased((10, 45))},
        {"series": f'{bucket}{{{GW},le="+Inf"}}', "values": phased((10, 45))},
    ]
    return [
        case(slow_then_fast, "GatewayLatencyP99High", "25m", 0.496, "40m"),
        case([{"series": f'up{{{GW},pod="gw-0"}}', "values": "0x10 1x10"}], "GatewayPodsUnavailable", "8m", 0, "13m"),
        {
            "interval": "1m",
            "input_series": [
                {"series": f'redis_memory_used_bytes{{{redis},pod="redis-0"}}', "values": "95x15 50x10"},
                {"series": f'redis_memory_max_bytes{{{redis},pod="redis-0"}}', "values": "100x25"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "RedisMemoryNearMaxmemory",
                    "exp_alerts": [fired(a["RedisMemoryNearMaxmemory"], 0.95, {"namespace": NS, "pod": "redis-0"})],
                },
                {"eval_time": "18m", "alertname": "RedisMemoryNearMaxmemory", "exp_alerts": []},
            ],
        },
        case(
            [
                {"series": f'{info}{{{redis},pod="redis-1",role="slave"}}', "values": "1x10 stale"},
                {"series": f'{info}{{{redis},pod="redis-1",role="master"}}', "values": "_x11 1x10"},
                {"series": f'{info}{{{redis},pod="redis-2",role="slave"}}', "values": "1x21"},
            ],
            "RedisNoPrimary",
            "5m",
            0,
            "14m",
        ),
        case(
            [
                {"series": f'redis_master_link_up{{{redis},pod="redis-1"}}', "values": "1x25"},
                {"series": f'redis_master_link_up{{{redis},pod="redis-2"}}', "values": "_x12 1x12"},
            ],
            "RedisReplicationBroken",
            "10m",
            1,
            "14m",
        ),
    ]
