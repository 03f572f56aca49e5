"""MonitoringStack component: alert routing from secrets, SLO rules, runbooks, dashboards."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.monitoring_stack import (
    EVALUATION_SECONDS,
    KUBE_PROMETHEUS_STACK_CHART,
    RUNBOOK_ANCHORS,
    RUNBOOK_FILE,
    MonitoringStack,
    MonitoringStackArgs,
    alert_rules,
    dashboards,
)
from ops.offline.engine import ROOT, run_program
from tests.conftest import Recording

BASE = "https://git.example.com/redisgw/blob/main/docs/runbooks"
ARGS = MonitoringStackArgs(
    storage_class="gp3-encrypted",
    prometheus_retention="15d",
    prometheus_storage_size="50Gi",
    slack_channel="#alerts",
    slack_webhook_url="https://hooks.slack.invalid/T000/B000/XXXX",
    pagerduty_routing_key="R0UT1NGKEY",
    runbook_base_url=BASE,
    gateway_namespace="redis-system",
    redis_replicas=3,
)


@pytest.fixture(scope="module")
def rec() -> Recording:
    return Recording(run_program(lambda: MonitoringStack("mon", ARGS), stack="test", config={}, region="eu-west-1"))


def _alerts() -> list[dict[str, Any]]:
    return [r for g in alert_rules(ARGS) for r in g["rules"] if "alert" in r]


def test_every_alert_has_a_runbook_url_whose_section_exists() -> None:
    runbook = (ROOT / "docs" / "runbooks" / RUNBOOK_FILE).read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in re.findall(r"^## (.+)$", runbook, re.M)
    }
    alerts = _alerts()
    assert {a["alert"] for a in alerts} == set(RUNBOOK_ANCHORS)
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        path, _, anchor = url.removeprefix(BASE + "/").partition("#")
        assert (ROOT / "docs" / "runbooks" / path).is_file(), url
        assert anchor in anchors, url
        assert alert["labels"]["severity"] in {"critical", "warning"}


def test_slo_alerts_use_multi_window_burn_rates_and_true_p99() -> None:
    by_name = {a["alert"]: a for a in _alerts()}
    fast = by_name["GatewayErrorBudgetFastBurn"]["expr"]
    assert "ratio_rate1h > (14.4 * 0.001)" in fast and "ratio_rate5m > (14.4 * 0.001)" in fast
    slow = by_name["GatewayErrorBudgetSlowBurn"]["expr"]
    assert "ratio_rate6h > (6 * 0.001)" in slow and "ratio_rate30m" in slow
    recording = {r["record"]: r["expr"] for g in alert_rules(ARGS) for r in g["rules"] if "record" in r}
    assert recording["gateway:request_duration_seconds:p99_5m"].startswith("histogram_quantile(0.99,")
    assert by_name["GatewayLatencyP99High"]["expr"].endswith("> 0.25")


def test_redis_and_backup_alerts_exist() -> None:
    by_name = {a["alert"]: a for a in _alerts()}
    assert "redis_memory_max_bytes" in by_name["RedisMemoryNearMaxmemory"]["expr"]
    assert 'role="master"' in by_name["RedisNoPrimary"]["expr"]
    assert "< 2" in by_name["RedisReplicationBroken"]["expr"]
    assert "offset 10m" in by_name["RedisFailoverOccurred"]["expr"]
    assert 'cronjob="redis-backup"' in by_name["RedisBackupTooOld"]["expr"]
    # The threshold is the stack's backup RPO (schedule gap + deadline), passed in, not an hour, less
    # one rule evaluation so that the page comes within the RPO, with no `for` to wait on top.
    assert by_name["RedisBackupTooOld"]["expr"].endswith(f"> {ARGS.backup_max_age_seconds - EVALUATION_SECONDS}")
    assert by_name["RedisBackupTooOld"]["for"] == "0m"
    assert "redis-restore-drill" in by_name["RedisRestoreDrillFailed"]["expr"]


def test_alertmanager_routes_come_from_a_secret_not_helm_values(rec: Recording) -> None:
    secret = rec.one("kubernetes:core/v1:Secret", "mon-alertmanager-config")
    assert secret.inputs["stringData"] == {"alertmanager.yaml": "[secret]"}
    release = rec.one("kubernetes:helm.sh/v3:Release").inputs
    assert release["values"]["alertmanager"]["alertmanagerSpec"]["configSecret"] == "alertmanager-redisgw"
    dumped = json.dumps([r.inputs for r in rec])
    assert "hooks.slack.invalid" not in dumped and "R0UT1NGKEY" not in dumped


def test_grafana_admin_password_is_generated(rec: Recording) -> None:
    secret = rec.one("kubernetes:core/v1:Secret", "mon-grafana-admin")
    assert secret.inputs["stringData"]["admin-password"] == "[secret]"
    assert (
        rec.by_urn(secret.property_dependencies["stringData"][0]).type == "random:index/randomPassword:RandomPassword"
    )
    grafana = rec.one("kubernetes:helm.sh/v3:Release").inputs["values"]["grafana"]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"


def test_prometheus_sized_from_config_on_encrypted_storage(rec: Recording) -> None:
    release = rec.one("kubernetes:helm.sh/v3:Release").inputs
    assert (release["chart"], release["version"]) == KUBE_PROMETHEUS_STACK_CHART[:2]
    spec = release["values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi" and claim["storageClassName"] == "gp3-encrypted"
    assert spec["ruleSelectorNilUsesHelmValues"] is False and spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_dashboards_are_configmaps_the_sidecar_loads(rec: Recording) -> None:
    maps = [r.inputs for r in rec.of_type("kubernetes:core/v1:ConfigMap")]
    assert len(maps) == len(dashboards("redis-system")) == 2
    for m in maps:
        assert m["metadata"]["labels"]["grafana_dashboard"] == "1"
        (content,) = m["data"].values()
        model = json.loads(content)
        assert model["panels"] and all(p["targets"] for p in model["panels"])


def test_rules_are_a_prometheus_rule_resource(rec: Recording) -> None:
    (rule,) = [r for r in rec if r.type.endswith(":PrometheusRule")]
    assert rule.inputs["spec"]["groups"] == alert_rules(ARGS)
    assert rec.one("kubernetes:helm.sh/v3:Release").urn in rule.dependencies


def test_the_grafana_service_the_runbook_names_is_the_one_the_chart_creates(rec: Recording) -> None:
    runbook = (ROOT / "docs" / "runbooks" / "incident-response.md").read_text()
    (service,) = set(re.findall(r"svc/([a-z0-9-]*grafana[a-z0-9-]*)", runbook))
    (release,) = [
        r for r in rec.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"
    ]
    # The subchart names its Service after fullnameOverride (else after the release, not the parent's override).
    assert release.inputs["values"]["grafana"]["fullnameOverride"] == service
