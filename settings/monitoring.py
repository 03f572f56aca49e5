"""``redisgw:monitoring``: kube-prometheus-stack sizing, alert routing (the Secrets Manager secret
holding the alerting secrets), the SLOs and the readiness schedule."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from settings._base import _Model, cron_schedule, quantity_bytes

KEY = "redisgw:monitoring"
"""The config key this module validates (:attr:`StackSettings.monitoring <settings.StackSettings.monitoring>`)."""


class MonitoringSettings(_Model):
    """kube-prometheus-stack sizing and alert routing."""

    prometheus_retention: str = "30d"
    prometheus_storage_size: str = "100Gi"
    slack_channel: str = "#redis-gateway-alerts"
    runbook_base_url: str
    """Where ``docs/runbooks`` is browsable; every alert's ``runbook_url`` starts with it."""
    alert_secret_name: str | None = None
    """AWS Secrets Manager secret (name or ARN) holding ``{"slackWebhookUrl": ..., "pagerdutyRoutingKey": ...}``,
    read at deploy time by the deploy role. Without it, the two values come from secret stack config."""

    @field_validator("alert_secret_name")
    @classmethod
    def _secret_id(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(
            r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@-]{1,512}", v
        ):
            raise ValueError("alertSecretName must be a Secrets Manager secret name or ARN")
        return v

    readiness_schedule: str = "17 6 * * *"
    """When the live readiness scorecard (``ops readiness``) runs as a CronJob, in UTC: daily by default."""

    @field_validator("readiness_schedule")
    @classmethod
    def _readiness_cron(cls, v: str) -> str:
        return cron_schedule(v, "readinessSchedule")

    latency_p99_seconds: float = Field(default=0.25, gt=0, le=10)
    """p99 latency SLO of the gateway."""
    availability_slo: float = Field(default=0.999, ge=0.9, lt=1)
    """Availability SLO of the gateway (share of non-5xx responses)."""

    @field_validator("prometheus_retention")
    @classmethod
    def _ret(cls, v: str) -> str:
        if not re.fullmatch(r"\d+[hdwy]", v):
            raise ValueError(f"prometheusRetention {v!r} must be a duration like '30d'")
        return v

    @field_validator("prometheus_storage_size")
    @classmethod
    def _size(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @field_validator("runbook_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.fullmatch(r"https://[^\s]+[^/]", v):
            raise ValueError("runbookBaseUrl must be an https URL without a trailing slash")
        return v
