"""MonitoringStack: Prometheus, Alertmanager and Grafana, the gateway's SLO alerts and dashboards.

kube-prometheus-stack is installed from its Helm chart with:

* Prometheus retention and volume from config, on the encrypted default StorageClass, selecting
  ServiceMonitors, PodMonitors and PrometheusRules from every namespace;
* Alertmanager configured from a Secret we write (Slack for everything, PagerDuty for critical), so
  webhook URLs never sit in Helm values;
* Grafana with a generated admin password in a Secret and the dashboard sidecar, which loads the
  gateway and Redis dashboards declared here as ConfigMaps.

Every alert carries ``runbook_url`` into ``docs/runbooks/incident-response.md``; the anchors are
listed in :data:`RUNBOOK_ANCHORS` and the tests check that each one exists.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components._shared import helm_release
from components._tier import REDIS

KUBE_PROMETHEUS_STACK_CHART = ("kube-prometheus-stack", "88.6.5", "https://prometheus-community.github.io/helm-charts")
"""(chart, version, repository). 88.x: Prometheus Operator CRDs monitoring.coreos.com/v1, Grafana 12."""
RUNBOOK_FILE = "incident-response.md"
GATEWAY_JOB = "redis-gateway"
"""``job`` label of the gateway's metrics (the name of its Service)."""

RUNBOOK_ANCHORS = {
    "GatewayErrorBudgetFastBurn": "gateway-error-budget-burn",
    "GatewayErrorBudgetSlowBurn": "gateway-error-budget-burn",
    "GatewayLatencyP99High": "gateway-latency-p99-high",
    "GatewayPodsUnavailable": "gateway-pods-unavailable",
    "RedisMemoryNearMaxmemory": "redis-memory-near-maxmemory",
    "RedisNoPrimary": "redis-no-primary",
    "RedisReplicationBroken": "redis-replication-broken",
    "RedisFailoverOccurred": "redis-failover-occurred",
    "RedisBackupTooOld": "redis-backup-too-old",
    "RedisRestoreDrillFailed": "redis-restore-drill-failed",
    "RedisReadinessCheckFailed": "redis-readiness-check-failed",
}
"""Alert name -> section of the incident-response runbook."""
DR_RUNBOOK_FILE = "disaster-recovery.md"
DR_RUNBOOK_ANCHORS = {
    "RedisStandbyLinkDown": "redis-standby-link-down",
    "RedisStandbyLagHigh": "redis-standby-lag-high",
    "RedisStandbyResyncing": "redis-standby-resyncing",
}
"""Alerts of the DR region's standby -> section of the disaster-recovery runbook."""
EVALUATION_SECONDS = 30
"""Prometheus' rule evaluation interval: kube-prometheus-stack leaves ``evaluationInterval`` empty and
the Prometheus Operator then sets 30s; kube-state-metrics is scraped every 30s the same way."""
STANDBY_SECONDS = 5
"""Evaluation interval of the standby's rule group and scrape interval of the Redis exporters: the
standby's lag must page within half the RPO, which 30-second steps cannot resolve."""
STANDBY_FOR_SECONDS = 10
"""How long the standby's lag condition must hold: two failed scrapes of its exporter, not one."""


@dataclass(frozen=True, kw_only=True)
class MonitoringStackArgs:
    """Inputs of :class:`MonitoringStack`."""

    namespace: str = "monitoring"
    prometheus_retention: str = "30d"
    prometheus_storage_size: str = "100Gi"
    storage_class: str
    """StorageClass of the Prometheus and Alertmanager volumes (encrypted)."""
    slack_channel: str
    slack_webhook_url: pulumi.Input[str]
    """Secret."""
    pagerduty_routing_key: pulumi.Input[str]
    """Secret."""
    heartbeat_url: pulumi.Input[str] | None = None
    """Secret: the dead man's switch Watchdog is sent to every minute (None: Watchdog goes nowhere)."""
    runbook_base_url: str
    """``docs/runbooks`` as users browse it (no trailing slash)."""
    gateway_namespace: str
    """Namespace of the gateway and Redis, whose metrics the rules read."""
    redis_replicas: int
    """Pods in the Redis replication group (one primary, the rest replicas)."""
    availability_slo: float = 0.999
    latency_p99_seconds: float = 0.25
    backup_max_age_seconds: int = 1800
    """Page when the newest successful backup is older than this: the schedule's longest gap plus one
    backup's deadline, i.e. the RPO the backups promise (see ``settings.backup_max_age_seconds``)."""
    standby: bool = False
    """The DR region's stack: its Redis replicates from the primary region, so the alerts of a serving
    tier (a primary, in-region replicas) are replaced by those of the cross-region link."""
    rpo_seconds: int = 60
    """Recovery point objective of a regional failover: the standby's lag alert fires at half of it."""
    readiness_cronjob: str | None = "redis-readiness"
    """The CronJob of the daily readiness scorecard in the gateway's namespace (None: not in this region)."""
    readiness_max_age_seconds: int = 2 * 86400 + 3600
    """Page-free alert when the scorecard has not succeeded for this long (two daily runs missed)."""


def _alert(
    name: str, expr: str, duration: str, severity: str, summary: str, base_url: str, namespace: str
) -> dict[str, Any]:
    # The namespace is written in, not read from $labels: aggregated expressions carry no namespace label.
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "service": "redis-gateway"},
        "annotations": {
            "summary": summary,
            "description": f"{summary} ({namespace}, value {{{{ $value | humanize }}}})",
            "runbook_url": f"{base_url}/{RUNBOOK_FILE}#{RUNBOOK_ANCHORS[name]}"
            if name in RUNBOOK_ANCHORS
            else f"{base_url}/{DR_RUNBOOK_FILE}#{DR_RUNBOOK_ANCHORS[name]}",
        },
    }


def alertmanager_config(
    slack_webhook_url: Any, pagerduty_routing_key: Any, slack_channel: str, heartbeat_url: Any = None
) -> dict[str, Any]:
    """Alertmanager's configuration, every severity routed explicitly:

    * ``Watchdog`` (always firing) goes to the heartbeat receiver every minute: a dead-man's-switch
      service that pages when the pings stop, i.e. when Prometheus, Alertmanager or the path out of
      the cluster died (``heartbeat_url`` from the alerting secret; without one it goes nowhere);
    * ``critical`` pages PagerDuty and posts to Slack; ``warning`` posts to Slack;
    * ``info`` and ``none`` (``InfoInhibitor``) go nowhere: they are context, seen in Alertmanager;
    * anything else (no severity, a misspelled one) posts to Slack, so it is seen and fixed, not lost.

    A critical alert silences its own warning; ``InfoInhibitor`` (kube-prometheus-stack's default
    rule) silences info alerts in a namespace where nothing worse fires."""
    heartbeat: dict[str, Any] = {"name": "heartbeat"}
    if heartbeat_url is not None:
        heartbeat["webhook_configs"] = [{"url": heartbeat_url, "send_resolved": False}]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "slack",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": "heartbeat",
                    "matchers": ['alertname="Watchdog"'],
                    "group_wait": "0s",
                    "group_interval": "1m",
                    "repeat_interval": "1m",
                },
                {"receiver": "null", "matchers": ['alertname="InfoInhibitor"']},
                # A page goes out as soon as Prometheus fires it: the alerts' timings are the objectives.
                {"receiver": "pagerduty", "matchers": ['severity="critical"'], "continue": True, "group_wait": "0s"},
                {"receiver": "slack", "matchers": ['severity=~"critical|warning"']},
                {"receiver": "null", "matchers": ['severity=~"info|none"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "namespace"],
            },
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": [
            {"name": "null"},
            heartbeat,
            {
                "name": "slack",
                "slack_configs": [
                    {
                        "api_url": slack_webhook_url,
                        "channel": slack_channel,
                        "send_resolved": True,
                        "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                        "text": (
                            "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                            "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
                        ),
                    }
                ],
            },
            {
                "name": "pagerduty",
                "pagerduty_configs": [{"routing_key": pagerduty_routing_key, "send_resolved": True}],
            },
        ],
    }


def standby_lag_threshold_seconds(rpo_seconds: int) -> int:
    """The standby's lag objective: half the RPO, so that a link failing is paged while a failover
    would still meet the objective (never under 15 s)."""
    return max(15, rpo_seconds // 2)


def standby_silence_threshold_seconds(rpo_seconds: int) -> int:
    """Seconds without news from the primary (``master_last_io_seconds_ago``) past which the standby
    alert starts: the lag objective less what the alert itself takes (its ``for``, one scrape and one
    evaluation of :data:`STANDBY_SECONDS`), so it pages within the objective; at least 5 s, more than
    twice the primary's 2-second ping period, so an idle healthy link never crosses it."""
    return max(5, standby_lag_threshold_seconds(rpo_seconds) - STANDBY_FOR_SECONDS - 2 * STANDBY_SECONDS)


def standby_alerts(args: MonitoringStackArgs) -> list[dict[str, Any]]:
    """The DR region's Redis alerts: no news from the primary region, the link down, a full resync.

    redis_exporter exports ``master_last_io_seconds_ago`` as Redis reports it, and Redis reports -1
    as soon as the link is down (after ``repl-timeout``) or resyncing: a lag threshold alone goes
    silent exactly when the link dies, so the lag alert also fires when no pod has its link up, and
    on no series at all (the exporter gone). It judges the freshest pod; one pod off the link is the
    ``RedisStandbyLinkDown`` warning."""
    ns, url = args.gateway_namespace, args.runbook_base_url
    sel = f'namespace="{ns}"'
    silence = standby_silence_threshold_seconds(args.rpo_seconds)
    objective = standby_lag_threshold_seconds(args.rpo_seconds)
    return [
        _alert(
            "RedisStandbyLagHigh",
            # The freshest pod decides: every DR pod replicates across the link, and one of them
            # resyncing after a restart (link down, -1) must not page while the others are current.
            f"min(redis_master_last_io_seconds_ago{{{sel}}} >= 0) > {silence} or "
            f"(max(redis_master_link_up{{{sel}}}) or vector(0)) == 0",
            f"{STANDBY_FOR_SECONDS}s",
            "critical",
            f"The DR standby has not heard from the primary within {objective}s (half the {args.rpo_seconds}s RPO)",
            url,
            ns,
        ),
        _alert(
            "RedisStandbyLinkDown",
            f"(min(redis_master_link_up{{{sel}}}) or vector(0)) == 0",
            "1m",
            "warning",
            "The DR standby's link to the primary region has been down for a minute: a failover now loses data",
            url,
            ns,
        ),
        _alert(
            "RedisStandbyResyncing",
            f"max(redis_master_sync_in_progress{{{sel}}}) == 1",
            "10m",
            "warning",
            "The DR standby has been in a full resynchronisation for 10 minutes",
            url,
            ns,
        ),
    ]


def since_last_success(ns: str, cronjob: str, window_seconds: int) -> str:
    """Seconds since ``cronjob`` last succeeded, as kube-state-metrics (v2.20) lets it be known: it
    exports ``kube_cronjob_status_last_successful_time`` only once a run succeeded, so a CronJob that
    never succeeded (a new stack, a broken role from day one, a re-created CronJob) counts from its
    creation (``kube_cronjob_created``), and with neither series for the window (kube-state-metrics
    or the CronJob gone) from the epoch: the alert fires rather than going silent. ``last_over_time``
    rides over a kube-state-metrics restart."""
    sel = f'namespace="{ns}",cronjob="{cronjob}"'
    window = f"{window_seconds}s"
    return (
        f"time() - (max(last_over_time(kube_cronjob_status_last_successful_time{{{sel}}}[{window}]))"
        f" or max(last_over_time(kube_cronjob_created{{{sel}}}[{window}])) or vector(0))"
    )


def latest_run_failed(ns: str, cronjob: str) -> str:
    """The creation time of the newest failed run of ``cronjob`` when it is newer than its newest
    successful run: the latest run failed. As kube-state-metrics (v2.20, internal/store/job.go)
    exports Jobs:

    * a run is a Job the CronJob owns (``kube_job_owner{owner_kind="CronJob"}``), scheduled or
      started by hand with ``kubectl create job --from=cronjob/...``; a Job merely named like one is
      not;
    * failed means its ``Failed`` condition (``kube_job_failed{condition="true"}``, once its retries
      are spent), not ``kube_job_status_failed`` (failed pods: a retry that passed would fire);
    * runs are compared by creation, like with like, so a run started earlier that succeeds later
      does not hide a newer failure; failed Jobs are kept by the history limit, and the next
      success resolves the alert. Where no successful Job is kept, the CronJob's last success
      stands in."""
    jobs = f'namespace="{ns}"'
    owned = f'kube_job_owner{{{jobs},owner_kind="CronJob",owner_name="{cronjob}"}}'

    def newest(condition: str) -> str:
        return (
            f"max(kube_job_created{{{jobs}}} and on (namespace, job_name) "
            f'(kube_job_{condition}{{{jobs},condition="true"}} == 1) and on (namespace, job_name) {owned})'
        )

    last_success = f'kube_cronjob_status_last_successful_time{{namespace="{ns}",cronjob="{cronjob}"}}'
    return f"{newest('failed')} > ({newest('complete')} or max({last_success}) or vector(0))"


def alert_rules(args: MonitoringStackArgs) -> list[dict[str, Any]]:
    """The PrometheusRule groups: gateway SLOs (multi-window burn rates, p99), Redis, backups."""
    ns, url = args.gateway_namespace, args.runbook_base_url
    budget = round(1 - args.availability_slo, 6)
    sel = f'job="{GATEWAY_JOB}",namespace="{ns}"'
    windows = ("5m", "30m", "1h", "6h")
    recording = [
        {
            "record": f"gateway:request_errors:ratio_rate{w}",
            "expr": (
                f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[{w}]))'
                f" / sum(rate(http_requests_total{{{sel}}}[{w}]))"
            ),
        }
        for w in windows
    ]
    recording.append(
        {
            "record": "gateway:request_duration_seconds:p99_5m",
            "expr": f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))",
        }
    )
    burn = "gateway:request_errors:ratio_rate"
    gateway = [
        _alert(
            "GatewayErrorBudgetFastBurn",
            f"{burn}1h > (14.4 * {budget}) and {burn}5m > (14.4 * {budget})",
            "2m",
            "critical",
            "Gateway is burning its error budget 14x too fast (2% of a 30-day budget per hour)",
            url,
            ns,
        ),
        _alert(
            "GatewayErrorBudgetSlowBurn",
            f"{burn}6h > (6 * {budget}) and {burn}30m > (6 * {budget})",
            "15m",
            "warning",
            "Gateway is burning its error budget 6x too fast",
            url,
            ns,
        ),
        _alert(
            "GatewayLatencyP99High",
            f"gateway:request_duration_seconds:p99_5m > {args.latency_p99_seconds}",
            "10m",
            "warning",
            f"Gateway p99 latency is above {args.latency_p99_seconds}s",
            url,
            ns,
        ),
        _alert(
            "GatewayPodsUnavailable",
            f"sum(up{{{sel}}}) == 0 or absent(up{{{sel}}})",
            "2m",
            "critical",
            "No gateway pod is up",
            url,
            ns,
        ),
    ]
    redis_sel = f'namespace="{ns}"'
    redis = [
        _alert(
            "RedisMemoryNearMaxmemory",
            f"redis_memory_used_bytes{{{redis_sel}}} / (redis_memory_max_bytes{{{redis_sel}}} > 0) > 0.9",
            "5m",
            "warning",
            "Redis uses more than 90% of maxmemory",
            url,
            ns,
        ),
        _alert(
            "RedisNoPrimary",
            # count() of no series is no series, not 0: "or vector(0)" makes "no primary at all" fire.
            f'(count(redis_instance_info{{{redis_sel},role="master"}}) or vector(0)) == 0',
            "1m",
            "critical",
            "Redis has no primary: writes fail",
            url,
            ns,
        ),
        _alert(
            "RedisReplicationBroken",
            # Counted from the replicas' side: the local replicas this region's Prometheus scrapes
            # with their link up. The primary's own count includes the DR standby wherever it
            # attached (after a local failover it may sit on the new primary), so it would hide a
            # lost local replica. A Redis pod whose exporter cannot be scraped (`up` 0) is unknown,
            # not lost: a crashed exporter sidecar is the target-down alert's, not a page for data.
            f"((count(redis_master_link_up{{{redis_sel}}} == 1) or vector(0)) + "
            f'(count(up{{{redis_sel},pod=~"{REDIS}-[0-9]+"}} == 0) or vector(0))) < {args.redis_replicas - 1} or '
            f"min(redis_master_link_up{{{redis_sel}}}) == 0",
            "5m",
            "critical",
            f"Redis has fewer than {args.redis_replicas - 1} healthy replicas",
            url,
            ns,
        ),
        _alert(
            "RedisFailoverOccurred",
            f'count by (pod) (redis_instance_info{{{redis_sel},role="master"}}) '
            f'unless count by (pod) (redis_instance_info{{{redis_sel},role="master"}} offset 10m)',
            "0m",
            "warning",
            "Sentinel promoted a new Redis primary",
            url,
            ns,
        ),
    ]
    if args.standby:
        redis = [redis[0], *standby_alerts(args)]
    backups = [
        _alert(
            "RedisBackupTooOld",
            f"{since_last_success(ns, 'redis-backup', args.backup_max_age_seconds)} "
            f"> {args.backup_max_age_seconds - EVALUATION_SECONDS}",
            "0m",
            "critical",
            f"No successful Redis backup in {args.backup_max_age_seconds // 60} minutes (the backup RPO)",
            url,
            ns,
        ),
        _alert(
            "RedisRestoreDrillFailed",
            latest_run_failed(ns, "redis-restore-drill"),
            "0m",
            "warning",
            "The weekly restore drill failed",
            url,
            ns,
        ),
    ]
    groups = [
        {"name": "redis-gateway.recording", "rules": recording},
        {"name": "redis-gateway.slo", "rules": gateway},
        # The standby's group runs every STANDBY_SECONDS: its lag must page within half the RPO.
        {"name": "redis", "rules": redis, **({"interval": f"{STANDBY_SECONDS}s"} if args.standby else {})},
        {"name": "redis-backups", "rules": backups},
    ]
    if args.readiness_cronjob and not args.standby:
        job = args.readiness_cronjob
        groups.append(
            {
                "name": "redis-gateway.readiness",
                "rules": [
                    _alert(
                        "RedisReadinessCheckFailed",
                        f"{latest_run_failed(ns, job)} or "
                        f"{since_last_success(ns, job, args.readiness_max_age_seconds)} "
                        f"> {args.readiness_max_age_seconds}",
                        "0m",
                        "warning",
                        "The production readiness scorecard failed or has not passed in two days",
                        url,
                        ns,
                    )
                ],
            }
        )
    return groups


def _panel(panel_id: int, title: str, exprs: dict[str, str], unit: str, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"expr": e, "legendFormat": legend, "refId": chr(65 + i)} for i, (legend, e) in enumerate(exprs.items())
        ],
        "datasource": {"type": "prometheus", "uid": "prometheus"},
    }


def dashboards(gateway_namespace: str) -> dict[str, dict[str, Any]]:
    """Grafana dashboards as code: file name -> dashboard JSON model."""
    sel = f'job="{GATEWAY_JOB}",namespace="{gateway_namespace}"'
    rsel = f'namespace="{gateway_namespace}"'
    bucket_rate = f"rate(http_request_duration_seconds_bucket{{{sel}}}[5m])"
    specs: dict[str, tuple[str, list[tuple[str, dict[str, str], str]]]] = {
        "redis-gateway.json": (
            "Redis HTTP Gateway",
            [
                (
                    "Requests per second",
                    {"{{code}}": f"sum by (code) (rate(http_requests_total{{{sel}}}[5m]))"},
                    "reqps",
                ),
                (
                    "Error ratio (5xx)",
                    {"5m": "gateway:request_errors:ratio_rate5m", "1h": "gateway:request_errors:ratio_rate1h"},
                    "percentunit",
                ),
                (
                    "Latency",
                    {q: f"histogram_quantile({q}, sum by (le) ({bucket_rate}))" for q in ("0.5", "0.9", "0.99")},
                    "s",
                ),
                (
                    "Ready pods",
                    {"ready": f'sum(kube_pod_status_ready{{{rsel},condition="true",pod=~"redis-gateway.*"}})'},
                    "short",
                ),
            ],
        ),
        "redis.json": (
            "Redis",
            [
                (
                    "Memory used / maxmemory",
                    {"{{pod}}": f"redis_memory_used_bytes{{{rsel}}} / redis_memory_max_bytes{{{rsel}}}"},
                    "percentunit",
                ),
                ("Commands per second", {"{{pod}}": f"rate(redis_commands_processed_total{{{rsel}}}[5m])"}, "ops"),
                ("Connected clients", {"{{pod}}": f"redis_connected_clients{{{rsel}}}"}, "short"),
                (
                    "Replication lag (bytes)",
                    {
                        "{{pod}}": f"redis_master_repl_offset{{{rsel}}}"
                        f" - on() group_left max(redis_slave_repl_offset{{{rsel}}})"
                    },
                    "bytes",
                ),
            ],
        ),
    }
    out = {}
    for file, (title, panels) in specs.items():
        out[file] = {
            "uid": file.removesuffix(".json"),
            "title": title,
            "schemaVersion": 39,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "tags": ["redis-gateway"],
            "panels": [_panel(i + 1, t, e, u, 12 * (i % 2), 8 * (i // 2)) for i, (t, e, u) in enumerate(panels)],
        }
    return out


class MonitoringStack(pulumi.ComponentResource):
    """kube-prometheus-stack with the gateway's alerts, routing and dashboards."""

    namespace: pulumi.Output[str]
    """Namespace of Prometheus, Alertmanager and Grafana."""
    grafana_admin_secret: pulumi.Output[str]
    """Name of the Secret holding Grafana's admin credentials."""
    release: k8s.helm.v3.Release
    """The chart release; resources using its CRDs depend on it."""

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:MonitoringStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": args.namespace, "labels": {"app.kubernetes.io/part-of": "redis-gateway"}},
            opts=child,
        )
        meta: dict[str, Any] = {"namespace": args.namespace, "labels": {"app.kubernetes.io/part-of": "redis-gateway"}}

        grafana_password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        grafana_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={**meta, "name": "grafana-admin"},
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": grafana_password.result},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )

        receivers_config = pulumi.Output.json_dumps(
            alertmanager_config(
                args.slack_webhook_url, args.pagerduty_routing_key, args.slack_channel, args.heartbeat_url
            )
        )
        am_secret = k8s.core.v1.Secret(
            f"{name}-alertmanager-config",
            metadata={**meta, "name": "alertmanager-redisgw"},
            type="Opaque",
            string_data={"alertmanager.yaml": pulumi.Output.secret(receivers_config)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )

        volume = {
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": args.storage_class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": args.prometheus_storage_size}},
                }
            }
        }
        self.release = helm_release(
            f"{name}-kube-prometheus-stack",
            KUBE_PROMETHEUS_STACK_CHART,
            namespace=args.namespace,
            timeout=900,
            values={
                "fullnameOverride": "kps",
                "prometheus": {
                    "prometheusSpec": {
                        "replicas": 2,
                        "retention": args.prometheus_retention,
                        "storageSpec": volume,
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "ruleSelectorNilUsesHelmValues": False,
                        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
                    }
                },
                "alertmanager": {
                    "alertmanagerSpec": {
                        "replicas": 2,
                        "configSecret": "alertmanager-redisgw",
                        "storage": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "storageClassName": args.storage_class,
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "5Gi"}},
                                }
                            }
                        },
                    }
                },
                "grafana": {
                    # The subchart names itself after the release, not the parent's fullnameOverride:
                    # pin it so runbooks can name the Service (svc/kps-grafana).
                    "fullnameOverride": "kps-grafana",
                    "admin": {
                        "existingSecret": "grafana-admin",
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "sidecar": {
                        "dashboards": {
                            "enabled": True,
                            "label": "grafana_dashboard",
                            "labelValue": "1",
                            "searchNamespace": "ALL",
                        }
                    },
                },
            },
            # Alertmanager and Grafana read these Secrets by name at start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, grafana_secret, am_secret]),
        )
        # The PrometheusRule CRD comes with the chart.
        with_crds = pulumi.ResourceOptions(parent=self, depends_on=[self.release])
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={**meta, "name": "redis-gateway"},
            spec={"groups": alert_rules(args)},
            opts=with_crds,
        )
        for file, model in dashboards(args.gateway_namespace).items():
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{file.removesuffix('.json')}",
                metadata={
                    **meta,
                    "name": f"dashboard-{file.removesuffix('.json')}",
                    "labels": {**meta["labels"], "grafana_dashboard": "1"},
                },
                data={file: json.dumps(model, indent=1)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
            )

        self.namespace = ns.metadata.name
        self.grafana_admin_secret = grafana_secret.metadata.name
        self.register_outputs({"namespace": self.namespace, "grafana_admin_secret": self.grafana_admin_secret})


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(float(duration[:-1]) * units[duration[-1]]) if duration and duration[-1] in units else 0


@functools.cache
def first_notification_seconds(severity: str) -> int:
    """Alertmanager's wait before the first notification of a new alert group of ``severity``: the
    ``group_wait`` of the first route of :func:`alertmanager_config` that takes it (the root's otherwise)."""
    route = alertmanager_config("", "", "")["route"]
    for child in route["routes"]:
        for matcher in child.get("matchers", []):
            name, _, value = matcher.partition("=")
            if name == "severity" and (value.strip('"') == severity or (value.startswith('~"') and severity in value)):
                return _seconds(str(child.get("group_wait", route["group_wait"])))
    return _seconds(str(route["group_wait"]))


def alert_timings(groups: list[dict[str, Any]], scrape_seconds: int = EVALUATION_SECONDS) -> list[tuple[str, str, int]]:
    """(alert, the moment it is measured from, the longest it takes to fire) for every alert of
    ``groups``, read from the rules themselves so the runbooks cannot drift from them:

    * ``RedisBackupTooOld``: from the last successful backup: its age threshold plus its ``for`` plus
      one evaluation (the age grows with ``time()``: no scrape to wait for);
    * ``RedisStandbyLagHigh``: from the last contact with the primary: its silence threshold plus its
      ``for`` plus one scrape and one evaluation of its group;
    * every other alert: from the moment its condition holds in the exporters: one scrape, its
      ``for`` and one evaluation (the group's interval, :data:`EVALUATION_SECONDS` by default).

    Each adds Alertmanager's wait before the first notification for its severity
    (:func:`first_notification_seconds`): the figure is when someone is notified, not when it fires."""
    out = []
    for group in groups:
        step = _seconds(str(group.get("interval", ""))) or EVALUATION_SECONDS
        scrape = step if "interval" in group else scrape_seconds
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            name, wait = rule["alert"], _seconds(str(rule.get("for", "0s")))
            wait += first_notification_seconds(str((rule.get("labels") or {}).get("severity", "")))
            if name == "RedisBackupTooOld":
                threshold = int(str(rule["expr"]).rsplit(">", 1)[1])
                out.append((name, "the last successful backup", threshold + wait + step))
            elif name == "RedisStandbyLagHigh":
                threshold = int(str(rule["expr"]).split(") > ", 1)[1].split(" or", 1)[0])
                out.append((name, "the last contact with the primary", threshold + wait + scrape + step))
            elif "kube_job_failed" in str(rule["expr"]):
                out.append((name, "the Job failing", scrape + wait + step))
            else:
                out.append((name, "the fault showing in the metrics", scrape + wait + step))
    return out


def timings_markdown(rows: list[tuple[str, str, int]]) -> str:
    """The runbooks' table of :func:`alert_timings` (one row per alert, both regions merged)."""
    seen: dict[str, tuple[str, int]] = {}
    for name, since, worst in rows:
        seen[name] = (since, max(worst, seen.get(name, (since, 0))[1]))

    def shown(seconds: int) -> str:
        minutes, rest = divmod(seconds, 60)
        return f"{seconds} s" if seconds < 120 else f"{minutes} min" + (f" {rest} s" if rest else "")

    lines = ["| alert | measured from | notifies within |", "|---|---|---|"]
    lines += [f"| `{name}` | {since} | {shown(worst)} |" for name, (since, worst) in sorted(seen.items())]
    return "\n".join(lines)
