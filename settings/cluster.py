"""``redisgw:cluster``: the EKS control plane, its Kubernetes version and the managed node groups
(``nodeGroups.main``, ``nodeGroups.redis``; :class:`NodeGroupsSettings` also sizes the DR standby's)."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from components.eks_cluster import version_pins_missing
from settings._base import _ROLE_ARN_RE, _Model, _network, log_retention

if TYPE_CHECKING:
    from settings.stack import StackSettings

KEY = "redisgw:cluster"
"""The config key this module validates (:attr:`StackSettings.cluster <settings.StackSettings.cluster>`)."""


_DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_K8S_VERSION_RE = re.compile(r"^1\.(\d{2})$")
SUPPORTED_KUBERNETES_MINORS = range(32, 36)
"""EKS minors this program supports (1.32 .. 1.35): each has a Cluster Autoscaler release and a build of
every add-on pinned in ``components/eks_cluster.py``; a minor in range without them is refused."""


def _kubernetes_minor(value: str, key: str) -> int:
    """The minor of a quoted ``"1.NN"`` in the supported range, or ValueError naming ``key``."""
    m = _K8S_VERSION_RE.fullmatch(value)
    if not m or int(m.group(1)) not in SUPPORTED_KUBERNETES_MINORS:
        lo, hi = SUPPORTED_KUBERNETES_MINORS[0], SUPPORTED_KUBERNETES_MINORS[-1]
        raise ValueError(f"{key} must be a quoted Kubernetes minor from '1.{lo}' to '1.{hi}'")
    return int(m.group(1))


def _control_plane_version(value: str, key: str) -> str:
    """A minor a control plane can run here: supported, with every add-on build and the autoscaler
    image pinned for it (the component looks them up by the control plane's minor)."""
    _kubernetes_minor(value, key)
    missing = version_pins_missing(value)
    if missing:
        raise ValueError(
            f"{key} {value} has no pinned build of {', '.join(missing)} in components/eks_cluster.py "
            f"(EKS_ADDON_VERSIONS, CLUSTER_AUTOSCALER_IMAGES): add them from `aws eks describe-addon-versions "
            f"--kubernetes-version {value}` before moving a cluster to {value}"
        )
    return value


def _minor(version: str) -> int:
    return int(version.split(".")[1])


class NodeGroupSettings(_Model):
    """One EKS managed node group."""

    instance_types: tuple[str, ...]
    """EC2 instance types, first preferred. Never empty."""
    min_size: int = Field(ge=0, le=450)
    desired_size: int = Field(ge=0, le=450)
    max_size: int = Field(ge=1, le=450)
    disk_size_gb: int = Field(default=50, ge=20, le=16384)
    """Root volume size (encrypted gp3)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"

    @field_validator("instance_types")
    @classmethod
    def _types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("instanceTypes must name at least one instance type")
        for t in v:
            if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", t):
                raise ValueError(f"instanceTypes entry {t!r} is not an EC2 instance type like 'm7i.large'")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroupSettings:
        if self.min_size > self.desired_size:
            raise ValueError(f"minSize ({self.min_size}) must not exceed desiredSize ({self.desired_size})")
        if self.desired_size > self.max_size:
            raise ValueError(f"desiredSize ({self.desired_size}) must not exceed maxSize ({self.max_size})")
        return self


class NodeGroupsSettings(_Model):
    main: NodeGroupSettings
    """General-purpose nodes: gateway, controllers, monitoring."""
    redis: NodeGroupSettings
    """Memory-optimised nodes, tainted ``redis-workload=true:NoSchedule``, labelled ``role=redis``."""


class ClusterSettings(_Model):
    """The EKS control plane and its node groups."""

    version: str
    """Kubernetes minor of the control plane, e.g. ``"1.34"``; node groups and add-ons follow it."""
    node_version: str | None = None
    """Kubernetes minor of the managed node groups while they stay one minor behind ``version`` (a staged
    upgrade: control plane and add-ons first, the nodes once those are verified). Unset: ``version``."""
    endpoint_public_access: bool = False
    """Expose the API server endpoint publicly (restricted to ``publicAccessCidrs``). Private is always on."""
    public_access_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to reach a public endpoint. Required when ``endpointPublicAccess`` is true."""
    log_retention_days: int = Field(default=365, ge=1, le=3653)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return log_retention(v)

    """Retention of the control-plane log group, in days."""
    admin_role_arns: tuple[str, ...] = ()
    """IAM roles granted cluster-admin through EKS access entries (no aws-auth ConfigMap)."""
    deletion_protection: bool = True
    """EKS deletion protection on the control plane."""
    node_groups: NodeGroupsSettings

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        return _control_plane_version(v, "version")

    @field_validator("node_version")
    @classmethod
    def _node_version(cls, v: str | None) -> str | None:
        if v is not None:
            _kubernetes_minor(v, "nodeVersion")
        return v

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            net = _network(c, "publicAccessCidrs entry")
            if any(net.subnet_of(doc) for doc in _DOCUMENTATION_RANGES):
                raise ValueError(
                    f"publicAccessCidrs entry {c} is a documentation range (RFC 5737): name your real CIDRs"
                )
            if net.prefixlen == 0:
                raise ValueError("publicAccessCidrs must not admit 0.0.0.0/0; name the CIDRs that need the API")
            if not net.is_global:
                raise ValueError(f"publicAccessCidrs entry {c} is not a public range: the endpoint sees public sources")
        if len(v) > 40:
            raise ValueError(f"publicAccessCidrs has {len(v)} entries; EKS accepts at most 40")
        return v

    @field_validator("admin_role_arns")
    @classmethod
    def _arns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for arn in v:
            if not _ROLE_ARN_RE.fullmatch(arn):
                raise ValueError(f"adminRoleArns entry {arn!r} is not an IAM role ARN")
        return v

    @model_validator(mode="after")
    def _public(self) -> ClusterSettings:
        if self.endpoint_public_access and not self.public_access_cidrs:
            raise ValueError("endpointPublicAccess is true but publicAccessCidrs is empty: name the CIDRs allowed in")
        if not self.endpoint_public_access and self.public_access_cidrs:
            raise ValueError("publicAccessCidrs is set but endpointPublicAccess is false: remove it or enable access")
        return self


def cluster_versions(cfg: StackSettings, *, dr: bool = False) -> tuple[str, str]:
    """(control plane, node groups) Kubernetes minors of the primary cluster, or with ``dr`` of the
    standby's: ``dr.clusterVersion`` while the standby trails the primary, its nodes never ahead of
    its control plane. Without the staging keys, both are ``cluster.version``."""
    control = (cfg.dr.cluster_version or cfg.cluster.version) if dr else cfg.cluster.version
    nodes = cfg.cluster.node_version or cfg.cluster.version
    return control, min(control, nodes, key=_minor)
