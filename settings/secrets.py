"""The alerting secrets ``redisgw:alertSlackWebhookUrl``, ``redisgw:alertPagerdutyRoutingKey``,
``redisgw:alertHeartbeatUrl`` and ``redisgw:alertDrHeartbeatUrl``: not declared in ``Pulumi.yaml`` (a
stack that reads them from Secrets Manager, ``redisgw:monitoring.alertSecretName``, sets none), never
part of :class:`StackSettings`, only ever read as secret Outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from settings._base import NAMESPACE

if TYPE_CHECKING:
    from settings.stack import StackSettings


SECRET_KEYS = {
    "alertSlackWebhookUrl": "Slack incoming-webhook URL Alertmanager posts to",
    "alertPagerdutyRoutingKey": "PagerDuty Events API v2 routing key for critical alerts",
    "alertHeartbeatUrl": "dead man's switch URL the always-firing Watchdog alert is sent to every minute",
    "alertDrHeartbeatUrl": "the DR region's own dead man's switch URL (a second check: one per Alertmanager)",
}
"""Config keys that must be set with ``pulumi config set --secret``; read as secret Outputs only."""
DR_ONLY_SECRET_KEYS = frozenset({"alertDrHeartbeatUrl"})
"""Of :data:`SECRET_KEYS`, those only a stack with ``dr.enabled`` needs."""


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, only ever as secret Outputs."""

    alert_slack_webhook_url: pulumi.Output[str]
    alert_pagerduty_routing_key: pulumi.Output[str]
    alert_heartbeat_url: pulumi.Output[str]
    """A dead man's switch (a heartbeat check that pages when the pings stop): Watchdog goes there."""
    alert_dr_heartbeat_url: pulumi.Output[str] | None = None
    """The DR region's own switch: a check pinged by both regions would not notice one going quiet."""


def required_secret_keys(cfg: StackSettings) -> list[str]:
    """Full config keys this stack must hold as secrets: none when it reads them from Secrets Manager."""
    if cfg.monitoring.alert_secret_name:
        return []
    keys = [k for k in SECRET_KEYS if cfg.dr.enabled or k not in DR_ONLY_SECRET_KEYS]
    return [f"{NAMESPACE}:{k}" for k in keys]


def _field(document: str, field: str, secret_id: str) -> str:
    try:
        value = json.loads(document).get(field)
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise pulumi.RunError(f"Secrets Manager secret {secret_id}: {field} is missing (a JSON object is expected)")
    return value


def secrets_from_pulumi_config(cfg: StackSettings) -> StackSecrets:
    """The stack's alerting secrets, as secret Outputs: read from the Secrets Manager secret named by
    ``monitoring.alertSecretName`` at deploy time, or from secret stack config (:data:`SECRET_KEYS`)."""
    secret_id = cfg.monitoring.alert_secret_name
    if secret_id is None:
        config = pulumi.Config(NAMESPACE)
        return StackSecrets(
            alert_slack_webhook_url=config.require_secret("alertSlackWebhookUrl"),
            alert_pagerduty_routing_key=config.require_secret("alertPagerdutyRoutingKey"),
            alert_heartbeat_url=config.require_secret("alertHeartbeatUrl"),
            alert_dr_heartbeat_url=config.require_secret("alertDrHeartbeatUrl") if cfg.dr.enabled else None,
        )
    import pulumi_aws as aws  # here: settings validation itself needs no provider SDK

    document: pulumi.Output[str] = pulumi.Output.secret(
        aws.secretsmanager.get_secret_version_output(secret_id=secret_id).secret_string
    )

    def read(field: str) -> pulumi.Output[str]:
        return document.apply(lambda text: _field(str(text), field, secret_id))

    return StackSecrets(
        alert_slack_webhook_url=read("slackWebhookUrl"),
        alert_pagerduty_routing_key=read("pagerdutyRoutingKey"),
        alert_heartbeat_url=read("heartbeatUrl"),
        alert_dr_heartbeat_url=read("drHeartbeatUrl") if cfg.dr.enabled else None,
    )
