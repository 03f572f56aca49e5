"""``redisgw:dr``: the warm-standby disaster-recovery region (its VPC, node groups, replication mode,
the Route 53 health check on the primary, RPO/RTO objectives and the standby's cluster version)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from settings._base import _REGION_RE, _Model, _private_cidr
from settings.cluster import NodeGroupsSettings, _control_plane_version

KEY = "redisgw:dr"
"""The config key this module validates (:attr:`StackSettings.dr <settings.StackSettings.dr>`)."""


class HealthCheckSettings(_Model):
    """The Route 53 health check on the primary's public readiness endpoint."""

    path: str = "/readyz"
    """HTTP path probed over HTTPS on the primary's load balancer."""
    interval_seconds: Literal[10, 30] = 10
    """Seconds between probes from each checker (Route 53 offers 10 and 30)."""
    failure_threshold: int = Field(default=3, ge=1, le=10)
    """Consecutive failures before the primary is unhealthy and DNS answers with the DR region."""

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"/[\w./~-]{0,254}", v):
            raise ValueError(f"path {v!r} must be an absolute URL path like '/readyz' (no query)")
        return v


EKS_SERVICE_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.100.0.0/16", "172.20.0.0/16"))
"""The Kubernetes service ranges EKS picks by itself: a peered VPC overlapping one cannot reach its peer's
Services by address."""


class DrSettings(_Model):
    """The warm-standby disaster-recovery region."""

    enabled: bool = False
    region: str | None = None
    """AWS region of the standby. Must differ from the primary region."""
    vpc_cidr: str | None = None
    """VPC CIDR in the DR region. Must overlap neither the primary VPC nor EKS's service ranges (the two
    VPCs are peered)."""
    availability_zones: tuple[str, ...] = ()
    """Zones of the standby (3 to 6, in ``region``)."""
    node_groups: NodeGroupsSettings | None = None
    """Node groups of the standby cluster, at standby size (the Redis group holds a node per replica)."""
    gateway_min_replicas: int = Field(default=2, ge=2, le=500)
    """Gateway pods kept running in standby; failover raises the minimum to the primary's."""
    replication: Literal["replica", "backups-only"] = "replica"
    """``replica``: the standby Redis replicates continuously from the primary (RPO of seconds).
    ``backups-only``: no standby Redis link; the replicated backups are the only copy (RPO of the
    backup interval)."""
    health_check: HealthCheckSettings = HealthCheckSettings()
    rpo_seconds: int = Field(default=60, ge=1, le=86_400)
    """Recovery point objective of a regional failover: the drill fails above it."""
    rto_seconds: int = Field(default=900, ge=60, le=86_400)
    """Recovery time objective of a regional failover: the drill fails above it."""
    cluster_version: str | None = None
    """Kubernetes minor of the standby cluster while it trails the primary by one minor during an
    upgrade (the primary first, the fallback once the primary is proven). Unset: ``cluster.version``."""

    @field_validator("cluster_version")
    @classmethod
    def _cluster_version(cls, v: str | None) -> str | None:
        return None if v is None else _control_plane_version(v, "clusterVersion")

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str | None) -> str | None:
        if v is None:
            return None
        _private_cidr(v, "vpcCidr")
        for service in EKS_SERVICE_RANGES:
            if ipaddress.ip_network(v).overlaps(service):
                raise ValueError(f"vpcCidr {v} overlaps EKS's Kubernetes service range {service}")
        return v

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if v and not 3 <= len(v) <= 6:
            raise ValueError(f"availabilityZones needs 3 to 6 zones, got {len(v)}")
        if len(set(v)) != len(v):
            raise ValueError("availabilityZones must not repeat a zone")
        return v

    @model_validator(mode="after")
    def _complete(self) -> DrSettings:
        if self.region is not None and not _REGION_RE.fullmatch(self.region):
            raise ValueError(f"region {self.region!r} is not an AWS region name")
        if self.enabled:
            missing = [
                key
                for key, value in (
                    ("region", self.region),
                    ("vpcCidr", self.vpc_cidr),
                    ("availabilityZones", self.availability_zones),
                    ("nodeGroups", self.node_groups),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"enabled is true, so {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
                )
        return self
