"""``redisgw:gateway``: the gateway workload (image, public host name and zone, namespace, replicas,
resources, WAF rate limit, log level)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from settings._base import ResourcesSettings, _image, _Model

KEY = "redisgw:gateway"
"""The config key this module validates (:attr:`StackSettings.gateway <settings.StackSettings.gateway>`)."""


_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class GatewayReplicasSettings(_Model):
    """Horizontal scaling of the gateway."""

    min: int = Field(ge=2, le=500)
    """At least 2, so one pod can be disrupted while another serves."""
    max: int = Field(ge=2, le=500)
    target_cpu_utilization: int = Field(default=70, ge=10, le=95)

    @model_validator(mode="after")
    def _order(self) -> GatewayReplicasSettings:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class GatewaySettings(_Model):
    """The Redis HTTP Gateway workload and its public entry point."""

    image: str
    """Container image, pinned by tag or digest."""
    hostname: str
    """Public API host name (TLS certificate and DNS alias)."""
    hosted_zone_id: str
    """Route53 public hosted zone holding ``hostname`` (certificate validation and alias)."""
    namespace: str = "redis-system"
    replicas: GatewayReplicasSettings
    resources: ResourcesSettings
    rate_limit: int = Field(default=1000, ge=100, le=2_000_000_000)
    """WAF rate-based rule: requests per client IP per 5 minutes before blocking."""
    log_level: Literal["debug", "info", "warn", "error"] = "info"

    @field_validator("image")
    @classmethod
    def _img(cls, v: str) -> str:
        return _image(v, "image")

    @field_validator("hostname")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _HOSTNAME_RE.fullmatch(v):
            raise ValueError(f"hostname {v!r} is not a DNS name")
        return v

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone(cls, v: str) -> str:
        if not re.fullmatch(r"Z[A-Z0-9]{1,32}", v):
            raise ValueError(f"hostedZoneId {v!r} is not a Route53 zone ID like 'Z0123456789ABCDEFGHIJ'")
        return v

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", v):
            raise ValueError(f"namespace {v!r} is not a Kubernetes namespace name")
        return v
