"""``redisgw:network``: the VPC (address space, zones, NAT gateways, flow logs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from settings._base import _Model, _private_cidr, log_retention

KEY = "redisgw:network"
"""The config key this module validates (:attr:`StackSettings.network <settings.StackSettings.network>`)."""


class NetworkSettings(_Model):
    """The VPC: address space, zones, egress and flow logs."""

    cidr: str
    """VPC CIDR (RFC 1918, /16 to /20). Subnets are carved from it deterministically."""
    availability_zones: tuple[str, ...]
    """Zones to spread subnets, NAT gateways and nodes across (3 to 6, distinct, in the stack's region)."""
    nat_gateways: Literal["per-az", "single"] = "per-az"
    """``per-az`` keeps egress alive when a zone fails; ``single`` saves cost where that is acceptable."""
    flow_log_retention_days: int = Field(default=365, ge=1, le=3653)
    """Retention of the VPC flow log group, in days (a value CloudWatch Logs accepts)."""

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return log_retention(v)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return _private_cidr(v, "cidr")

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not 3 <= len(v) <= 6:
            raise ValueError(f"availabilityZones needs 3 to 6 zones, got {len(v)}")
        if len(set(v)) != len(v):
            raise ValueError("availabilityZones must not repeat a zone")
        return v
