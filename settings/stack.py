"""The whole stack: :class:`StackSettings` composes one model per ``redisgw:`` section (the modules
beside this one) with the top-level keys ``aws:region`` and ``redisgw:protectStatefulResources``,
checks the rules across sections, and :func:`load_settings` / :func:`from_pulumi_config` read a
stack's configuration into it (refusing plaintext secrets, unknown keys and misspelt namespaces)."""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
from pydantic import Field, ValidationError, field_validator, model_validator

from settings._base import _REGION_RE, NAMESPACE, SettingsError, _config_key, _Model
from settings.backup import OPS_IMAGE_RE, BackupSettings
from settings.capacity import CapacitySettings
from settings.cluster import ClusterSettings, _minor
from settings.delivery import DeliverySettings
from settings.dr import DrSettings
from settings.gateway import GatewaySettings
from settings.monitoring import MonitoringSettings
from settings.network import NetworkSettings
from settings.redis import RedisSettings, _replication_problem
from settings.secrets import SECRET_KEYS
from settings.tags import check_tags


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
        return check_tags(v)

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
                    f"({trailing}) may trail cluster.version ({self.cluster.version}) by one minor at most: a "
                    "staged upgrade holds one minor, so that the next control-plane update starts with every node "
                    "on its minor (docs/runbooks/upgrades.md)",
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
            # `pulumi config set redisgw:protectStatefulResources false` stores the string "false"
            # (an untyped value stays a string: pulumi sdk/go/common/resource/config/value.go), and the
            # CLI hands the program the same "false" as for a YAML false: read both as the program does
            # (from_pulumi_config).
            # Likewise `pulumi config set redisgw:tags '{"team": "core"}'` stores the text, which the
            # program reads as JSON (from_pulumi_config): an object given as JSON text is that object.
            if isinstance(value, str) and value in ("true", "false"):
                value = value == "true"
            elif isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
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
