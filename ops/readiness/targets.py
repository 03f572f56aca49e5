"""What the live checks look at outside Kubernetes: buckets, the vault, the certificate, the web ACL,
health checks, the cluster and Prometheus, with the objectives they are judged against.

The program writes them into the ConfigMap ``redis-gateway-readiness`` (key ``targets.json``) of the
gateway's namespace (``components/readiness_audit.py``), so a cluster (or a dump of it) describes
itself and the CronJob needs no flags. ``--targets FILE`` reads the same document from a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.errors import OpsError

CONFIGMAP = "redis-gateway-readiness"
KEY = "targets.json"

Seconds = Annotated[int, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Backups(_Model):
    bucket: str = Field(min_length=3)
    prefix: str = ""
    region: str
    max_age_seconds: Seconds
    """The newest complete backup must be younger (the backup alert's threshold: schedule gap + deadline)."""


class Vault(_Model):
    name: str = Field(min_length=1)
    region: str
    max_age_seconds: Seconds
    """The newest completed recovery point must be younger (the snapshot plan's interval plus its window)."""


class Edge(_Model):
    hostname: str
    certificate_arn: str
    web_acl_arn: str
    health_check_ids: tuple[str, ...] = ()
    min_certificate_days: int = Field(default=21, ge=1)


class Redis(_Model):
    """The Redis tier as the plan declares it in this region."""

    replication: str = Field(min_length=1)
    """Name of the RedisReplication."""
    replicas: int = Field(ge=1)
    """Its ``clusterSize``: the primary and its local replicas."""
    sentinel: str | None = None
    """Name of the RedisSentinel (none where the region holds its Sentinel back, as the DR standby does)."""
    sentinels: int = Field(default=3, ge=1)
    quorum: int = Field(default=2, ge=1)
    standby_replicas: int = Field(default=0, ge=0)
    """Replicas in another region that replicate from this region's tier (every pod of the DR standby)."""

    @property
    def primary_replicas(self) -> int:
        """How many replicas the primary must count: its local ones and the standbys."""
        return self.replicas - 1 + self.standby_replicas


class Versions(_Model):
    """What the program declares for the cluster (``EksCluster.declared_versions``): the versions a
    finished ``pulumi up`` leaves running, which an upgrade's verification compares with EKS."""

    version: Annotated[str, Field(pattern=r"^1\.\d+$")]
    """The control plane's Kubernetes minor (``redisgw:cluster.version``)."""
    node_version: Annotated[str, Field(pattern=r"^1\.\d+$")]
    """The managed node groups' minor (``redisgw:cluster.nodeVersion``, else the control plane's)."""
    node_groups: tuple[str, ...] = ()
    addons: dict[str, str] = Field(default_factory=dict)
    """EKS add-on name -> the build the stack pins for ``version``."""


class Targets(_Model):
    stack: str
    region: str
    cluster_name: str
    namespaces: tuple[Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")], ...] = Field(min_length=1)
    """The namespaces the stack owns: runtime facts (pods, jobs, workloads) are read there."""
    prometheus_url: str
    availability_slo: float = Field(gt=0, lt=1)
    backups: Backups
    replica: Backups | None = None
    """The DR region's replica bucket, when DR exists."""
    vault: Vault
    dr_vault: Vault | None = None
    edge: Edge
    dr_lag_max_seconds: Seconds | None = None
    """The standby's lag objective (half the RPO), when a standby replicates."""
    redis: Redis | None = None
    """The Redis tier the plan declares (written by the program; absent from older ConfigMaps)."""
    kubernetes: Versions | None = None
    """The cluster's declared versions (written by the program; absent from older ConfigMaps)."""


def _problem(exc: ValidationError, where: str) -> OpsError:
    first = exc.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(document)"
    return OpsError(f"{where}: {path}: {first['msg']}", code=2)


def parse(text: str, where: str) -> Targets:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OpsError(f"{where}: line {exc.lineno}: not JSON ({exc.msg})", code=2) from None
    try:
        return Targets.model_validate(doc)
    except ValidationError as exc:
        raise _problem(exc, where) from None


def from_file(path: Path) -> Targets:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"--targets {path}: cannot be read ({exc})", code=2) from None
    return parse(text, f"--targets {path}")


def from_objects(objects: Iterable[Mapping[str, Any]]) -> Targets | None:
    """The targets the cluster describes (its ConfigMap), or None where it has none."""
    for obj in objects:
        md = obj.get("metadata") or {}
        if obj.get("kind") == "ConfigMap" and md.get("name") == CONFIGMAP:
            text = (obj.get("data") or {}).get(KEY)
            where = f"ConfigMap {md.get('namespace')}/{CONFIGMAP}"
            if not isinstance(text, str):
                raise OpsError(f"{where}: no key {KEY}", code=2)
            return parse(text, f"{where} {KEY}")
    return None
