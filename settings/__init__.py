"""Typed, validated stack settings, read once before any resource is declared.

Every difference between stacks is a value in ``Pulumi.<stack>.yaml``; this module turns those values
into one frozen :class:`StackSettings` object. Unknown keys are rejected, ranges and relations are
checked, and a broken file produces :class:`SettingsError` whose lines each name the file, the key
path and the rule that was broken, e.g.::

    Pulumi.production.yaml: redisgw:cluster.nodeGroups.main: minSize (4) must not exceed desiredSize (3)

Values are never echoed back, so a misplaced secret cannot leak through an error message.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.eks_cluster import version_pins_missing

NAMESPACE = "redisgw"
"""Config namespace of this project (``redisgw:<key>`` in the stack files)."""

SECRET_KEYS = {
    "alertSlackWebhookUrl": "Slack incoming-webhook URL Alertmanager posts to",
    "alertPagerdutyRoutingKey": "PagerDuty Events API v2 routing key for critical alerts",
    "alertHeartbeatUrl": "dead man's switch URL the always-firing Watchdog alert is sent to every minute",
    "alertDrHeartbeatUrl": "the DR region's own dead man's switch URL (a second check: one per Alertmanager)",
}
"""Config keys that must be set with ``pulumi config set --secret``; read as secret Outputs only."""
DR_ONLY_SECRET_KEYS = frozenset({"alertDrHeartbeatUrl"})
"""Of :data:`SECRET_KEYS`, those only a stack with ``dr.enabled`` needs."""

_PRIVATE_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_DOCUMENTATION_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_TAG_RE = re.compile(r"[\w .:/=+\-@]+")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
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


class SettingsError(pulumi.RunError):
    """Invalid stack configuration. Raised before any resource is declared; printed without traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True)


def _network(value: str, key: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{key} {value!r} is not a valid IPv4 CIDR block ({exc})") from None


def _private_cidr(value: str, key: str) -> str:
    net = _network(value, key)
    if not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        raise ValueError(f"{key} must lie inside an RFC 1918 private range (10/8, 172.16/12, 192.168/16)")
    if not 16 <= net.prefixlen <= 20:
        raise ValueError(f"{key} must be a /16 to /20 block to fit three private and three public subnets")
    return value


LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for a log group's retention (anything else fails at ``pulumi up``)."""


def log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        closest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - days))
        raise ValueError(
            f"{days} is not a retention CloudWatch Logs accepts (nearest: {closest}; see LOG_RETENTION_DAYS)"
        )
    return days


def cron_schedule(value: str, key: str) -> str:
    """A schedule the CronJob controller accepts: five fields or a macro, parsed by croniter."""
    fields = value.split()
    macro = len(fields) == 1 and value.startswith("@") and value != "@reboot"
    if not (len(fields) == 5 or macro) or not croniter.is_valid(value):
        raise ValueError(f"{key} {value!r} is not a valid cron schedule (five fields, e.g. '*/15 * * * *')")
    # The API server parses CronJob schedules with robfig/cron v3 (standard parser): no L, W, # or H,
    # and day-of-week 0-6 (7 is refused); croniter accepts all of these.
    tokens = [tok for field in fields for tok in re.split(r"[,/-]", field)] if len(fields) == 5 else []
    odd = [tok for tok in tokens if "#" in tok or re.fullmatch(r"\d*[LWH]", tok, re.I)]
    if odd or any(int(n) > 6 for n in re.findall(r"\d+", fields[4] if len(fields) == 5 else "")):
        raise ValueError(f"{key} {value!r} is not a schedule Kubernetes accepts (no L, W, # or H; day of week 0-6)")
    import datetime

    from croniter import CroniterError

    try:  # a valid expression may still name no real date (the 30th of February): it would never run
        it = croniter(value, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        it.get_next(float)
        it.get_next(float)
    except (CroniterError, ValueError, OverflowError):
        raise ValueError(f"{key} {value!r} never fires on a real date (e.g. the 30th of February)") from None
    return value


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


_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*(:\d+)?(/[a-z0-9._-]+)+(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BYTES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(value: str) -> int:
    """Bytes in a Kubernetes memory quantity (``512Mi``, ``2Gi``, ``1G``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?", value)
    if not m:
        raise ValueError(f"{value!r} is not a memory quantity like '512Mi'")
    return int(float(m.group(1)) * _BYTES[m.group(2) or ""])


def cpu_millis(value: str) -> int:
    """Millicores in a Kubernetes CPU quantity (``250m``, ``1``, ``1.5``)."""
    m = re.fullmatch(r"(\d+(?:\.\d{1,3})?)|(\d+)m", value)
    if not m or (m.group(2) is not None and int(m.group(2)) == 0) or value in ("0", "0.0"):
        raise ValueError(f"{value!r} is not a CPU quantity like '250m' or '1.5'")
    return int(m.group(2)) if m.group(2) is not None else round(float(m.group(1)) * 1000)


OPS_IMAGE_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d)\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?@sha256:(?P<digest>[a-f0-9]{64})$"
)
"""The ops image as the stacks pin it: from an ECR repository, by digest (a tag beside it is a label).
The pipeline builds, scans and signs one image and pushes it to the stack's repository; a digest
names exactly those bytes, where a tag names whatever was pushed last under it."""


def ops_image(value: str, key: str) -> str:
    """``value`` if it names an image in an ECR repository by digest, else ValueError naming ``key``."""
    if not OPS_IMAGE_RE.fullmatch(value):
        raise ValueError(
            f"{key} {value!r} must be an ECR image pinned by digest: "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag]@sha256:<64 hex>"
        )
    return value


def _image(value: str, key: str) -> str:
    if not _IMAGE_RE.fullmatch(value):
        raise ValueError(f"{key} {value!r} must be registry/repository:tag or @sha256 digest")
    if value.endswith(":latest"):
        raise ValueError(f"{key} must pin a version, not ':latest'")
    return value


class ResourcesSettings(_Model):
    """Requests and limits of one container."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu(cls, v: str) -> str:
        cpu_millis(v)
        return v

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @model_validator(mode="after")
    def _order(self) -> ResourcesSettings:
        if cpu_millis(self.cpu_request) > cpu_millis(self.cpu_limit):
            raise ValueError(f"cpuRequest ({self.cpu_request}) exceeds cpuLimit ({self.cpu_limit})")
        if quantity_bytes(self.memory_request) > quantity_bytes(self.memory_limit):
            raise ValueError(f"memoryRequest ({self.memory_request}) exceeds memoryLimit ({self.memory_limit})")
        return self


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


class RedisSettings(_Model):
    """The in-cluster Redis tier (replication with Sentinel)."""

    image: str
    sentinel_image: str
    exporter_image: str
    replicas: int = Field(default=3, ge=3, le=9)
    """Pods in the replication group: one primary, the rest replicas (at least two)."""
    sentinels: int = Field(default=3, ge=3, le=7)
    """Sentinel pods; an odd number so a quorum always exists."""
    storage_size: str = "20Gi"
    """Volume per Redis pod (encrypted gp3, AOF everysec)."""
    resources: ResourcesSettings
    maxmemory_percent: int = Field(default=70, ge=10, le=75)
    """``maxmemory`` as a share of the memory limit; at most 75 (25% reserve for fork copy-on-write)."""
    link_outage_seconds: int = Field(default=300, ge=30, le=3600)
    """How long a replication link (the cross-region one above all) may be broken while writes go on
    and the replica still resumes with a partial resynchronisation: the replication backlog of every
    Redis pod is sized to hold the declared write rate for this long (see
    :func:`redis_replication_config`). Longer outages end in a full resync."""

    @field_validator("image", "sentinel_image", "exporter_image")
    @classmethod
    def _img(cls, v: str) -> str:
        return _image(v, "image")

    @field_validator("storage_size")
    @classmethod
    def _size(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @field_validator("sentinels")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"sentinels must be odd for a clear quorum, got {v}")
        return v


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


class ObjectLockSettings(_Model):
    enabled: bool = False
    """S3 Object Lock on the backup bucket (set at creation; cannot be turned off)."""
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    days: int = Field(default=14, ge=1, le=3650)


class VaultLockSettings(_Model):
    enabled: bool = False
    """AWS Backup Vault Lock: recovery points cannot be deleted before ``minRetentionDays``."""
    min_retention_days: int = Field(default=7, ge=1, le=36500)
    max_retention_days: int = Field(default=35, ge=1, le=36500)
    changeable_for_days: int = Field(default=3, ge=3, le=36500)
    """Grace period before the lock becomes immutable (AWS minimum: 3)."""

    @model_validator(mode="after")
    def _order(self) -> VaultLockSettings:
        if self.min_retention_days > self.max_retention_days:
            raise ValueError(
                f"minRetentionDays ({self.min_retention_days}) exceeds maxRetentionDays ({self.max_retention_days})"
            )
        return self


class BackupSettings(_Model):
    """Redis backups: S3 (RDB streams), AWS Backup (EBS snapshots), schedules and retention tiers."""

    ops_image: str
    """The ops image the backup, drill, readiness and smoke jobs run (built from ``Dockerfile`` by the
    pipeline and pushed to the stack's own ECR repository): pinned by digest, see :data:`OPS_IMAGE_RE`."""
    schedule: str = "*/15 * * * *"
    drill_schedule: str = "0 4 * * 1"
    scratch_size: str = "20Gi"
    """``backup-storage`` PVC of the CronJob (spool when S3 is slow)."""
    infrequent_access_after_days: int = Field(default=30, ge=30)
    glacier_after_days: int = Field(default=90, ge=31)
    expire_after_days: int = Field(default=365, ge=32)
    snapshot_retention_days: int = Field(default=7, ge=1, le=35)
    """Retention of the hourly EBS snapshots (and their DR copies)."""
    object_lock: ObjectLockSettings = ObjectLockSettings()
    vault_lock: VaultLockSettings = VaultLockSettings()

    @field_validator("ops_image")
    @classmethod
    def _img(cls, v: str) -> str:
        return ops_image(v, "opsImage")

    @field_validator("schedule", "drill_schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        return cron_schedule(v, "schedule")

    @field_validator("scratch_size")
    @classmethod
    def _scratch(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @model_validator(mode="after")
    def _tiers(self) -> BackupSettings:
        if not self.infrequent_access_after_days < self.glacier_after_days < self.expire_after_days:
            raise ValueError("tiers must grow: infrequentAccessAfterDays < glacierAfterDays < expireAfterDays")
        if self.object_lock.enabled and self.object_lock.days >= self.expire_after_days:
            raise ValueError(f"objectLock.days ({self.object_lock.days}) must be shorter than expireAfterDays")
        lock = self.vault_lock
        if lock.enabled and not lock.min_retention_days <= self.snapshot_retention_days <= lock.max_retention_days:
            raise ValueError(
                f"snapshotRetentionDays ({self.snapshot_retention_days}) must lie within the vault lock's "
                f"{lock.min_retention_days}..{lock.max_retention_days} days"
            )
        return self


_DURATION_RE = re.compile(r"^[1-9]\d*[smh]$")


def _duration(value: str, key: str) -> str:
    if not _DURATION_RE.fullmatch(value):
        raise ValueError(f"{key} {value!r} must be a duration like '30s', '2m' or '1h'")
    return value


class AnalysisSettings(_Model):
    """Thresholds of the automated analysis that promotes or aborts a rollout."""

    min_success_rate: float = Field(default=0.99, gt=0.5, le=1.0)
    """Share of non-5xx responses the new version must keep."""
    max_latency_p99_seconds: float = Field(default=0.25, gt=0, le=30)
    """p99 latency (histogram_quantile over the request-duration histogram) it must stay under."""
    interval: str = "1m"
    """How often each measurement is taken."""
    count: int = Field(default=5, ge=1, le=100)
    """Measurements per analysis run."""
    failure_limit: int = Field(default=1, ge=0, le=20)
    """Failed measurements tolerated before the rollout aborts."""

    @field_validator("interval")
    @classmethod
    def _iv(cls, v: str) -> str:
        return _duration(v, "interval")

    @model_validator(mode="after")
    def _limit(self) -> AnalysisSettings:
        if self.failure_limit >= self.count:
            raise ValueError(
                f"failureLimit ({self.failure_limit}) must be below count ({self.count}), else no measurement can fail"
            )
        return self


class CanaryStep(_Model):
    weight: int = Field(ge=1, le=99)
    """Share of traffic (percent) sent to the new version at this step."""
    pause: str
    """How long to hold the weight while the background analysis runs."""

    @field_validator("pause")
    @classmethod
    def _p(cls, v: str) -> str:
        return _duration(v, "pause")


class RunnerSettings(_Model):
    """CI runners in the stack's VPC (CodeBuild-hosted GitHub Actions runners, see DeployRunner)."""

    repository: str
    """GitHub repository, ``owner/name``."""
    deploy_role_arn: str
    """The deploy jobs' role (created by the bootstrap); must be one of ``cluster.adminRoleArns``."""
    preview_role_arn: str
    """The pull-request preview jobs' read-only role (created by the bootstrap)."""
    deploy_ref: str
    """Regular expression of the Git refs the deploy runner serves, e.g. ``^refs/tags/v.*``."""
    compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = (
        "BUILD_GENERAL1_MEDIUM"
    )

    @field_validator("repository")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", v):
            raise ValueError(f"repository {v!r} must be owner/name")
        return v

    @field_validator("deploy_role_arn", "preview_role_arn")
    @classmethod
    def _role(cls, v: str) -> str:
        if not _ROLE_ARN_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an IAM role ARN")
        return v

    @field_validator("deploy_ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"deployRef is not a regular expression ({exc})") from None
        if not v.startswith("^refs/"):
            raise ValueError("deployRef must be anchored on a full ref, like ^refs/heads/main$ or ^refs/tags/v.*")
        return v


class DeliverySettings(_Model):
    """Progressive delivery of the gateway (Argo Rollouts) and its automated rollback."""

    strategy: Literal["blue-green", "canary", "rolling"] = "blue-green"
    analysis: AnalysisSettings = AnalysisSettings()
    canary_steps: tuple[CanaryStep, ...] = (
        CanaryStep(weight=10, pause="2m"),
        CanaryStep(weight=25, pause="2m"),
        CanaryStep(weight=50, pause="5m"),
    )
    """Weights must increase; after the last step traffic goes to 100%."""
    scale_down_delay_seconds: int = Field(default=300, ge=30, le=3600)
    """Blue-green: how long the old version stays warm after promotion, so an abort flips straight back."""
    max_surge: str = "25%"
    max_unavailable: str = "0"
    smoke_image: str | None = None
    """Image of the smoke-test Job (defaults to the backup section's ops image)."""
    runner: RunnerSettings | None = None
    """CI runners in the VPC; without them CI cannot reach a private cluster endpoint."""

    @field_validator("canary_steps")
    @classmethod
    def _steps(cls, v: tuple[CanaryStep, ...]) -> tuple[CanaryStep, ...]:
        if not v:
            raise ValueError("canarySteps needs at least one step")
        weights = [s.weight for s in v]
        if weights != sorted(set(weights)):
            raise ValueError(f"canarySteps weights must strictly increase, got {weights}")
        return v

    @field_validator("max_surge", "max_unavailable")
    @classmethod
    def _bound(cls, v: str) -> str:
        if not re.fullmatch(r"\d+%?", v) or (v.endswith("%") and int(v[:-1]) > 100):
            raise ValueError(f"{v!r} must be a count like '1' or a percentage like '25%'")
        return v

    @field_validator("smoke_image")
    @classmethod
    def _img(cls, v: str | None) -> str | None:
        return None if v is None else _image(v, "smokeImage")

    @model_validator(mode="after")
    def _progress(self) -> DeliverySettings:
        if self.max_surge in ("0", "0%") and self.max_unavailable in ("0", "0%"):
            raise ValueError("maxSurge and maxUnavailable cannot both be zero: the rollout could never progress")
        return self


class ValueSizeSettings(_Model):
    """Sizes of the values the service stores, in bytes."""

    mean: int = Field(ge=1, le=512 * 2**20)
    max: int = Field(ge=1, le=512 * 2**20)

    @model_validator(mode="after")
    def _order(self) -> ValueSizeSettings:
        if self.max < self.mean:
            raise ValueError(f"max ({self.max}) must not be below mean ({self.mean})")
        return self


class CapacitySettings(_Model):
    """What the service must carry: the inputs of ``ops capacity`` and of the capacity policy."""

    peak_requests_per_second: float = Field(gt=0, le=10_000_000)
    read_share: float = Field(ge=0, le=1)
    """Share of requests that read (GET); the rest write."""
    keys: int = Field(ge=0, le=10**11)
    value_bytes: ValueSizeSettings
    growth_per_month: float = Field(default=0.05, ge=0, le=10)
    """Growth of the key count per month (0.05: 5%)."""
    headroom: float = Field(default=0.3, ge=0, le=10)
    """Margin kept above the peak and the dataset (0.3: 30%)."""
    restore_objective_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    """How long a restore of the whole dataset may take."""
    baseline: str = "docs/capacity/baseline.json"
    """Measured baselines (``ops bench ... --save``), relative to the project."""

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/") or not v.endswith(".json"):
            raise ValueError(f"baseline {v!r} must be a .json path inside the project")
        return v


class StackSettings(_Model):
    """Everything one stack declares. Built by :func:`load_settings`; never mutated."""

    region: str
    """Primary AWS region (``aws:region``)."""
    protect_stateful_resources: bool = True
    """Set Pulumi ``protect`` on the cluster, KMS keys, log groups and data volumes."""
    tags: Mapping[str, str] = Field(default_factory=dict)
    """Tags applied to every AWS resource through the provider's ``default_tags``."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: Mapping[str, str]) -> Mapping[str, str]:
        if len(v) > 40:
            raise ValueError(f"{len(v)} tags: AWS allows 50 per resource and the program adds its own; keep it to 40")
        for key, value in v.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:") or not _TAG_RE.fullmatch(key):
                raise ValueError(
                    f"tag key {key!r} is not one AWS accepts (1-128 of letters, digits, spaces, _.:/=+-@; no aws:)"
                )
            if len(value) > 256 or not _TAG_RE.fullmatch(value or "x"):
                raise ValueError(
                    f"the value of tag {key!r} is not one AWS accepts (up to 256 of letters, digits, spaces, _.:/=+-@)"
                )
        return v

    network: NetworkSettings
    cluster: ClusterSettings
    gateway: GatewaySettings
    redis: RedisSettings
    monitoring: MonitoringSettings
    backup: BackupSettings
    delivery: DeliverySettings = DeliverySettings()
    dr: DrSettings = DrSettings()
    capacity: CapacitySettings | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not _REGION_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an AWS region name like 'eu-west-1'")
        return v

    @model_validator(mode="after")
    def _relations(self) -> StackSettings:
        control = _minor(self.cluster.version)
        for loc, trailing in (
            (("cluster", "nodeVersion"), self.cluster.node_version),
            (("dr", "clusterVersion"), self.dr.cluster_version),
        ):
            if trailing is None:
                continue
            if _minor(trailing) > control:
                raise _RelationError(
                    loc, f"({trailing}) must not be newer than cluster.version ({self.cluster.version})"
                )
            if control - _minor(trailing) > 1:
                raise _RelationError(
                    loc,
                    f"({trailing}) may trail cluster.version ({self.cluster.version}) by one minor at most: EKS "
                    "moves a control plane one minor at a time, and only once its managed nodes run its minor",
                )
        if self.dr.cluster_version is not None and not self.dr.enabled:
            raise _RelationError(("dr", "clusterVersion"), "is set but dr.enabled is false: remove it")
        foreign = [z for z in self.network.availability_zones if not z.startswith(self.region)]
        if foreign:
            raise _RelationError(("network", "availabilityZones"), f"zones {foreign} are not in region {self.region}")
        runner = self.delivery.runner
        if runner is not None and runner.deploy_role_arn not in self.cluster.admin_role_arns:
            raise _RelationError(
                ("delivery", "runner", "deployRoleArn"),
                "must be one of cluster.adminRoleArns: the deploy jobs apply Kubernetes objects",
            )
        if self.dr.enabled:
            if self.dr.region == self.region:
                raise _RelationError(("dr", "region"), f"must differ from the primary region {self.region}")
            foreign = [z for z in self.dr.availability_zones if not z.startswith(str(self.dr.region))]
            if foreign:
                raise _RelationError(("dr", "availabilityZones"), f"zones {foreign} are not in region {self.dr.region}")
            assert self.dr.vpc_cidr is not None  # checked by DrSettings
            if ipaddress.ip_network(self.dr.vpc_cidr).overlaps(ipaddress.ip_network(self.network.cidr)):
                raise _RelationError(("dr", "vpcCidr"), f"overlaps the primary VPC {self.network.cidr}")
            if self.dr.gateway_min_replicas > self.gateway.replicas.max:
                raise _RelationError(
                    ("dr", "gatewayMinReplicas"),
                    f"({self.dr.gateway_min_replicas}) must not exceed gateway.replicas.max "
                    f"({self.gateway.replicas.max})",
                )
            assert self.dr.node_groups is not None  # checked by DrSettings
            if self.dr.node_groups.redis.max_size < self.redis.replicas:
                raise _RelationError(
                    ("dr", "nodeGroups", "redis", "maxSize"),
                    f"({self.dr.node_groups.redis.max_size}) must hold redis.replicas ({self.redis.replicas}): "
                    "one Redis pod per node",
                )
        ops = OPS_IMAGE_RE.fullmatch(self.backup.ops_image)
        if ops is not None and ops["region"] != self.region:
            raise _RelationError(
                ("backup", "opsImage"),
                f"is in region {ops['region']}: the stack's ops repository is in its primary region {self.region}",
            )
        problem = _replication_problem(self)
        if problem is not None:
            raise _RelationError(*problem)
        return self


class _RelationError(ValueError):
    """A rule across sections; carries the key path it should be reported at."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _config_key(loc: tuple[Any, ...]) -> str:
    if not loc:
        return f"{NAMESPACE}:"
    head, *rest = (str(p) for p in loc)
    key = "aws:region" if head == "region" else f"{NAMESPACE}:{head}"
    return ".".join([key, *rest])


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


_SECRET_SHAPES = (
    ("an AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/(services|workflows)/")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")),
    ("a PagerDuty routing key", re.compile(r"^[0-9a-f]{32}$")),
    ("a URL with a password", re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)
"""Shapes of values that are secrets whatever key holds them."""
_SECRET_REFERENCE = re.compile(r"(secret|token|key)(id|name|arn|ref)$", re.I)
"""Keys that name where a secret is kept (``alertSecretName``), not the secret itself."""
_SECRET_KEY_NAME = re.compile(r"(password|passwd|secret|token|api[-_]?key|private[-_]?key|credential)", re.I)
KNOWN_NAMESPACES = ("aws", "kubernetes", "eks", "random", "pulumi", "awsx", "aws-native", "tls", "github")
"""Config namespaces of providers this program uses or that Pulumi itself reads."""


def _secret_like(key: str, value: Any) -> Iterator[str]:
    """Key paths under ``key`` whose plaintext value looks like a secret (the value is never returned)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _secret_like(f"{key}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secret_like(f"{key}[{i}]", v)
    elif isinstance(value, str) and value:
        leaf = key.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        for what, shape in _SECRET_SHAPES:
            if shape.search(value):
                yield f"{key}: the value looks like {what}"
                return
        if _SECRET_KEY_NAME.search(leaf) and not _SECRET_REFERENCE.search(leaf):
            yield f"{key}: a key named like a secret holds a plaintext value"


def _namespace_problems(config: Mapping[str, Any], source: str) -> list[str]:
    problems = []
    for key in config:
        ns = key.partition(":")[0]
        if ns == NAMESPACE or ns in KNOWN_NAMESPACES:
            continue
        squashed = re.sub(r"[^a-z0-9]", "", ns.lower())
        if squashed == NAMESPACE or difflib.get_close_matches(ns.lower(), [NAMESPACE], n=1, cutoff=0.7):
            problems.append(f"{source}: {key}: unknown config namespace {ns!r} (did you mean {NAMESPACE}?)")
    return problems


def load_settings(
    config: Mapping[str, Any], *, source: str, secret_keys: frozenset[str] | set[str] = frozenset()
) -> StackSettings:
    """Validate a stack's configuration.

    ``config`` maps full config keys (``aws:region``, ``redisgw:network``) to their values as the
    stack file holds them (objects as dicts). Keys of other namespaces (``aws:``, ``kubernetes:``)
    are left to their providers, except ``aws:region`` which is required here. The keys of
    :data:`SECRET_KEYS` are not part of the settings; they must be stored encrypted
    (``secret_keys`` names the keys that are) and are read with :func:`secrets_from_pulumi_config`.
    """
    leaked = [
        f"{source}: {problem}; store it with pulumi config set --secret (value not shown)"
        for key, value in config.items()
        if key not in secret_keys and key.removeprefix(f"{NAMESPACE}:") not in SECRET_KEYS
        for problem in _secret_like(key, value)
    ]
    if leaked:
        # Stop here: later checks quote values, and these must not be quoted anywhere.
        raise SettingsError(leaked)
    data: dict[str, Any] = {}
    problems = _namespace_problems(config, source)
    if "aws:region" in config:
        data["region"] = config["aws:region"]
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns == NAMESPACE and name in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(f"{source}: {key}: stored in plain text; set it with pulumi config set --secret {key}")
        elif ns == NAMESPACE:
            data[name] = value
    if problems:
        raise SettingsError(problems)
    try:
        # JSON mode: strict types (no "3" for 3, no "yes" for true) while arrays still fill tuples.
        return StackSettings.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            loc = ctx_error.loc if isinstance(ctx_error, _RelationError) else err["loc"]
            problems.append(f"{source}: {_config_key(tuple(loc))}: {_message(err)}")
        raise SettingsError(problems) from None


def from_pulumi_config() -> StackSettings:
    """Read the running stack's configuration (as the Pulumi CLI passes it) and validate it."""
    raw: dict[str, Any] = dict(pulumi.runtime.get_config_env())
    raw.update(pulumi.runtime.config.CONFIG.get())
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        elif isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        config[key] = value
    secret = {k for k in config if pulumi.runtime.is_config_secret(k)}
    secret.update(pulumi.runtime.get_config_secret_keys_env())
    return load_settings(config, source=f"Pulumi.{pulumi.get_stack()}.yaml", secret_keys=secret)


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, only ever as secret Outputs."""

    alert_slack_webhook_url: pulumi.Output[str]
    alert_pagerduty_routing_key: pulumi.Output[str]
    alert_heartbeat_url: pulumi.Output[str]
    """A dead man's switch (a heartbeat check that pages when the pings stop): Watchdog goes there."""
    alert_dr_heartbeat_url: pulumi.Output[str] | None = None
    """The DR region's own switch: a check pinged by both regions would not notice one going quiet."""


def schedule_max_gap_seconds(schedule: str, runs: int = 1000) -> int:
    """The longest interval between two runs of a (valid) cron schedule over its next ``runs`` runs."""
    import datetime

    it = croniter(schedule, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    previous = it.get_next(float)
    gap = 0.0
    for _ in range(runs):
        current = it.get_next(float)
        gap = max(gap, current - previous)
        previous = current
    return int(gap)


def cluster_versions(cfg: StackSettings, *, dr: bool = False) -> tuple[str, str]:
    """(control plane, node groups) Kubernetes minors of the primary cluster, or with ``dr`` of the
    standby's: ``dr.clusterVersion`` while the standby trails the primary, its nodes never ahead of
    its control plane. Without the staging keys, both are ``cluster.version``."""
    control = (cfg.dr.cluster_version or cfg.cluster.version) if dr else cfg.cluster.version
    nodes = cfg.cluster.node_version or cfg.cluster.version
    return control, min(control, nodes, key=_minor)


def backup_max_age_seconds(cfg: StackSettings, job_deadline_seconds: int) -> int:
    """Age of the newest backup past which a backup was missed: the schedule's longest gap plus the
    time one backup may take. The backup alert fires there, so a missed RPO pages within minutes."""
    return schedule_max_gap_seconds(cfg.backup.schedule) + job_deadline_seconds


MIB = 2**20
REPL_WRITE_OVERHEAD_BYTES = 64
"""Bytes one write adds to the replication stream besides its value: the key (a few tens of bytes) and
the RESP framing the primary propagates it in (``*3``, ``$3 SET`` and two length headers with their
CRLFs: about 25 bytes), rounded up. The pack keeps the same figure
(``redisgw_policies.capacity_model.REPL_WRITE_OVERHEAD_BYTES``; a test holds them equal)."""
REPL_BACKLOG_FLOOR_BYTES = 64 * MIB
"""The smallest replication backlog the plan sets, 64 MiB (Redis' default is 1 MB): a stack without a
declared capacity, or a small one, still rides out a reconnect or a burst of writes."""
REPL_BACKLOG_MAX_SHARE = 0.10
"""The largest share of a Redis pod's memory limit the backlog may take. It is held beside the dataset,
in the part of the limit ``maxmemoryPercent`` leaves for the fork's copy-on-write and client buffers."""
REPL_TIMEOUT_BOUNDS = (6, 60)
"""``repl-timeout`` is a quarter of the RPO, within these seconds: never so short that a slow
cross-region round trip drops a healthy link, never longer than Redis' own default."""
REPL_PING_REPLICA_PERIOD = 2
"""Seconds between the primary's pings to its replicas: below the smallest ``repl-timeout``, as Redis
requires, so an idle link is never taken for a dead one."""


def _replication_backlog(cfg: StackSettings) -> tuple[int, float | None]:
    """(backlog bytes the plan sets, bytes the declared write rate needs for the ride-out or None
    without a declared capacity)."""
    cap = cfg.capacity
    if cap is None:
        return REPL_BACKLOG_FLOOR_BYTES, None
    writes_per_second = cap.peak_requests_per_second * (1 - cap.read_share)
    stream_bytes_per_second = writes_per_second * (cap.value_bytes.mean + REPL_WRITE_OVERHEAD_BYTES)
    needed = stream_bytes_per_second * cfg.redis.link_outage_seconds * (1 + cap.headroom)
    return max(REPL_BACKLOG_FLOOR_BYTES, math.ceil(needed / MIB) * MIB), needed


def _repl_timeout(cfg: StackSettings) -> int:
    low, high = REPL_TIMEOUT_BOUNDS
    return min(max(cfg.dr.rpo_seconds // 4, low), high)


def _replication_problem(cfg: StackSettings) -> tuple[tuple[str, ...], str] | None:
    """(key path, what is wrong) when the plan's replication settings cannot be built, else None."""
    backlog, needed = _replication_backlog(cfg)
    ceiling = int(quantity_bytes(cfg.redis.resources.memory_limit) * REPL_BACKLOG_MAX_SHARE)
    share = f"{REPL_BACKLOG_MAX_SHARE:.0%}"
    if backlog > ceiling and needed is not None and needed > REPL_BACKLOG_FLOOR_BYTES:
        return (
            ("redis", "linkOutageSeconds"),
            f"the replication backlog that rides out {cfg.redis.link_outage_seconds} s of link outage at the "
            f"declared write rate (capacity.peakRequestsPerSecond x (1 - readShare) x (valueBytes.mean + "
            f"{REPL_WRITE_OVERHEAD_BYTES} B) x (1 + headroom)) is {backlog // MIB} MiB, above {share} of "
            f"redis.resources.memoryLimit ({ceiling // MIB} MiB): shorten linkOutageSeconds, lower the declared "
            "write rate or raise memoryLimit",
        )
    if backlog > ceiling:
        return (
            ("redis", "resources", "memoryLimit"),
            f"{share} of it ({ceiling // MIB} MiB) cannot hold the smallest replication backlog "
            f"({REPL_BACKLOG_FLOOR_BYTES // MIB} MiB)",
        )
    timeout = _repl_timeout(cfg)
    if timeout >= cfg.dr.rpo_seconds:
        return (
            ("dr", "rpoSeconds"),
            f"({cfg.dr.rpo_seconds}) must exceed Redis' repl-timeout ({timeout} s, at least "
            f"{REPL_TIMEOUT_BOUNDS[0]} s): a broken link could not be noticed within the RPO",
        )
    return None


def redis_replication_config(cfg: StackSettings) -> dict[str, str]:
    """The replication directives of the Redis tiers of both regions (``redis.conf`` name -> value),
    in the order they are written. Pure: no Pulumi call; the ops tooling reads it too.

    * ``min-replicas-to-write 1`` and ``min-replicas-max-lag 10``: the primary refuses writes unless
      a replica acknowledged the stream within 10 s, so an isolated primary stops accepting writes
      that only it would hold.
    * ``repl-backlog-size``: what a replica (the standby across regions above all) needs to resume
      with a partial resync after a broken link: the replication stream's rate times the outage to
      ride out, with the capacity headroom, rounded up to a whole MiB, at least
      :data:`REPL_BACKLOG_FLOOR_BYTES`::

          peakRequestsPerSecond x (1 - readShare) x (valueBytes.mean + REPL_WRITE_OVERHEAD_BYTES)
              x redis.linkOutageSeconds x (1 + headroom)

      Every pod of a tier carries it: a replica keeps a backlog too (the standby may replicate from
      one, and a promoted pod serves its former peers from it). It must stay within
      :data:`REPL_BACKLOG_MAX_SHARE` of the pod's memory limit, else :class:`SettingsError`. Without a
      declared capacity the floor is used.
    * ``repl-timeout``: a quarter of ``dr.rpoSeconds`` within :data:`REPL_TIMEOUT_BOUNDS`, so a dead
      link is noticed (and alerted on) well within the RPO instead of after Redis' default 60 s.
    * ``repl-ping-replica-period``: :data:`REPL_PING_REPLICA_PERIOD`, below ``repl-timeout``.

    Production (``Pulumi.production.yaml``): 3000 req/s x 0.2 writes = 600 writes/s x (512 + 64) B =
    345,600 B/s; x 300 s x 1.3 = 134,784,000 B = 128.5 MiB, so 129 MiB (135,266,304 bytes, 0.6% of
    the 20 GiB limit); RPO 60 s: ``repl-timeout`` 15, ping every 2 s. Staging: 200 req/s gives
    8,985,600 B (8.6 MiB), so the 64 MiB floor (67,108,864 bytes); ``repl-timeout`` 15.
    """
    problem = _replication_problem(cfg)
    if problem is not None:
        loc, message = problem
        raise SettingsError([f"{_config_key(loc)}: {message}"])
    backlog, _ = _replication_backlog(cfg)
    return {
        "min-replicas-to-write": "1",
        "min-replicas-max-lag": "10",
        "repl-backlog-size": str(backlog),
        "repl-timeout": str(_repl_timeout(cfg)),
        "repl-ping-replica-period": str(REPL_PING_REPLICA_PERIOD),
    }


BACKUP_BENCHMARK = "docs/capacity/backup-benchmark.json"


def capacity_record(cfg: StackSettings, root: Any) -> dict[str, Any] | None:
    """What the capacity policies judge the plan against: the declared demand (``redisgw:capacity``), the
    zones, the measured baselines as the files hold them (the baseline's gateway and Redis figures,
    the backup benchmark's rows), and what the replication link must ride out (``redis.linkOutageSeconds``,
    ``dr.rpoSeconds``). ``None`` when the stack declares no capacity."""
    cap = cfg.capacity
    if cap is None:
        return None
    documents = {}
    for key, name in (("baseline", cap.baseline), ("backup", BACKUP_BENCHMARK)):
        try:
            documents[key] = json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError([f"{name}: cannot be read as JSON for redisgw:capacity ({exc})"]) from None
    baseline = documents["baseline"] if isinstance(documents["baseline"], dict) else {}
    return {
        "demand": {
            "peak_rps": cap.peak_requests_per_second,
            "read_share": cap.read_share,
            "keys": cap.keys,
            "value_bytes": float(cap.value_bytes.mean),
            "growth_per_month": cap.growth_per_month,
            "headroom": cap.headroom,
            "restore_objective_seconds": float(cap.restore_objective_seconds),
        },
        "zones": len(cfg.network.availability_zones),
        "baseline": {k: baseline.get(k) for k in ("gateway", "redis")},
        "backup": documents["backup"],
        "replication": {"link_outage_seconds": cfg.redis.link_outage_seconds, "rpo_seconds": cfg.dr.rpo_seconds},
    }


DRILL_MEMORY_DEFAULT = "512Mi"
"""The drill pod's memory where the stack declares no capacity to size it from."""


def drill_memory(cfg: StackSettings, root: Any) -> str:
    """Memory (request and limit) of the restore drill's pod. The drill loads the whole dataset into a
    scratch Redis beside the job, so its pod holds the declared dataset, ``keys * (valueBytes.mean +
    the measured overhead per key) * (1 + headroom)`` (the capacity model's Redis memory), plus what
    :func:`ops.runtime.pod_limits.drill_memory_need` adds for the load and the job, rounded up to
    256 MiB. The drill itself refuses, before loading, a backup that outgrew this."""
    record = capacity_record(cfg, root)
    if record is None:
        return DRILL_MEMORY_DEFAULT
    from ops.runtime.pod_limits import drill_memory_need

    demand = record["demand"]
    redis = record["baseline"].get("redis") or {}
    overhead = redis.get("overhead_bytes_per_key")
    if not isinstance(overhead, int | float) or overhead < 0:
        raise SettingsError(["docs/capacity/baseline.json: redis.overhead_bytes_per_key is missing (ops bench redis)"])
    dataset = demand["keys"] * (demand["value_bytes"] + overhead) * (1 + demand["headroom"])
    step = 256 << 20
    return f"{math.ceil(drill_memory_need(dataset) / step) * 256}Mi"


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
