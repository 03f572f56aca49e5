"""The bootstrap's settings: its own keys, and what it reads from the stacks it serves.

The roles' names, the regions, the runner projects, the alerting secrets and the ops image
repositories all come from the served stacks' files (``../Pulumi.<stack>.yaml``), validated by the
program's own settings (:func:`settings.load_settings`), so the bootstrap creates exactly what those
stacks name and nothing is typed twice. A served stack that is invalid, or roles of another account,
stop the bootstrap with one line naming the file and the key; so do a key of its own namespace it
does not know (:data:`KEYS`: the Pulumi CLI checks only the keys ``Pulumi.yaml`` declares) and a
stack listed twice.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml

import settings
from ops.errors import OpsError
from ops.offline import go_yaml, project_config

NAMESPACE = "redisgw-bootstrap"
KEYS = ("stacks", "stateRetentionDays", "githubConnectionReady", "githubOidcProviderArn")
"""The keys of :data:`NAMESPACE` (``bootstrap/Pulumi.yaml``'s ``config:``); any other is refused."""
PLACEHOLDER = "[secure value]"
"""Stands in for a served stack's ``secure:`` values: the bootstrap reads no secret."""


class BootstrapError(pulumi.RunError):
    """A bootstrap input is wrong; the message names the file and the key."""


@dataclass(frozen=True)
class Served:
    """One served stack, as the bootstrap needs it."""

    name: str
    region: str
    dr_region: str | None
    repository: str
    deploy_role_arn: str
    preview_role_arn: str
    alert_secret_name: str | None

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region, self.dr_region) if self.dr_region else (self.region,)

    def project(self, purpose: Literal["deploy", "preview"]) -> str:
        """The stack's CodeBuild runner project (``components/deploy_runner.py``)."""
        return f"redisgw-{self.name}-{purpose}"

    @property
    def ops_repository(self) -> str:
        """The stack's ops image repository (``__main__.py``: ``redisgw-<stack>/ops``)."""
        return f"redisgw-{self.name}/ops"


@dataclass(frozen=True)
class Role:
    """One CI role and the stacks whose runners use it (stacks of one account may share a role)."""

    name: str
    purpose: Literal["deploy", "preview"]
    stacks: tuple[Served, ...]

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for s in self.stacks for r in s.regions))


@dataclass(frozen=True)
class Bootstrap:
    account: str
    partition: str
    region: str
    stacks: tuple[Served, ...]
    state_retention_days: int
    github_connection_ready: bool
    github_oidc_provider_arn: str

    @property
    def roles(self) -> tuple[Role, ...]:
        """One deploy and one preview role per stack (validated by :func:`load`)."""
        return tuple(
            Role(arn.rsplit("/", 1)[-1], purpose, (stack,))  # type: ignore[arg-type]
            for stack in self.stacks
            for purpose, arn in (("deploy", stack.deploy_role_arn), ("preview", stack.preview_role_arn))
        )

    @property
    def repositories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.repository for s in self.stacks))


def _stack_values(path: Path) -> tuple[dict[str, Any], frozenset[str]]:
    """The served stack's config as the Pulumi CLI hands it to that stack's program: its file read as
    the CLI reads YAML, with the project's declared defaults for what it leaves out."""
    try:
        doc = go_yaml.load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise BootstrapError(f"{NAMESPACE}:stacks: {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise BootstrapError(f"{NAMESPACE}:stacks: {path} is not YAML ({exc})") from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise BootstrapError(f"{path}: no `config:` mapping")
    secure = frozenset(k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"})
    values = {k: (PLACEHOLDER if k in secure else v) for k, v in config.items()}
    try:
        project, declarations = project_config.load_project(path.parent)
    except OpsError as exc:
        raise BootstrapError(f"{NAMESPACE}:stacks: {exc}") from None
    return project_config.apply_defaults(project, declarations, values), secure


def served(root: Path, stack: str) -> Served:
    """Read and validate ``root/Pulumi.<stack>.yaml`` with the program's own settings."""
    path = root / f"Pulumi.{stack}.yaml"
    values, secure = _stack_values(path)
    try:
        cfg = settings.load_settings(values, source=str(path), secret_keys=secure)
    except settings.SettingsError as exc:
        raise BootstrapError(f"{NAMESPACE}:stacks: {stack}: {exc}") from None
    runner = cfg.delivery.runner
    if runner is None:
        raise BootstrapError(f"{path}: redisgw:delivery.runner is not set: the bootstrap creates its roles")
    return Served(
        name=stack,
        region=cfg.region,
        dr_region=cfg.dr.region if cfg.dr.enabled else None,
        repository=runner.repository,
        deploy_role_arn=runner.deploy_role_arn,
        preview_role_arn=runner.preview_role_arn,
        alert_secret_name=cfg.monitoring.alert_secret_name,
    )


def _one_role_per_stack_and_purpose(stacks: Sequence[Served]) -> None:
    """A role shared by two stacks would let a push to ``main`` (the staging runner) write production's
    state and administer its cluster, past production's reviewers; a role both deploy and preview
    would hand a pull request's code the deploy rights."""
    users: dict[str, list[str]] = {}
    for stack in stacks:
        for purpose, arn in (("deploy", stack.deploy_role_arn), ("preview", stack.preview_role_arn)):
            users.setdefault(arn.rsplit("/", 1)[-1], []).append(f"{stack.name} {purpose}")
    shared = {name: uses for name, uses in users.items() if len(uses) > 1}
    if shared:
        name, uses = next(iter(sorted(shared.items())))
        raise BootstrapError(
            f"{NAMESPACE}:stacks: role {name} is the runner role of {' and '.join(uses)} "
            "(redisgw:delivery.runner): each stack needs its own deploy and preview role"
        )


def load(values: Mapping[str, Any], *, root: Path, region: str, source: str = f"{NAMESPACE} config") -> Bootstrap:
    """The bootstrap's settings from its config ``values`` (its keys without the namespace): a key it
    does not know (a misspelt ``stack``, which would leave the intended value unread) and a stack
    listed twice are refused."""
    unknown = [key for key in values if key not in KEYS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f"did you mean {NAMESPACE}:{close[0]}?" if close else f"known: {', '.join(KEYS)}"
        raise BootstrapError(f"{source}: {NAMESPACE}:{key}: unknown key ({hint})")
    stacks = values.get("stacks")
    if not isinstance(stacks, Sequence) or isinstance(stacks, str) or not stacks:
        raise BootstrapError(
            f"{source}: {NAMESPACE}:stacks must list the stacks this account serves, e.g. [production]"
        )
    bad = [s for s in stacks if not isinstance(s, str) or not s or "/" in s]
    if bad:
        raise BootstrapError(f"{source}: {NAMESPACE}:stacks: {bad!r} are not stack names")
    twice = sorted({s for s in stacks if stacks.count(s) > 1})
    if twice:
        raise BootstrapError(f"{source}: {NAMESPACE}:stacks: {', '.join(twice)} listed more than once")
    served_stacks = tuple(served(root, s) for s in stacks)
    accounts = {arn.split(":")[4] for s in served_stacks for arn in (s.deploy_role_arn, s.preview_role_arn)}
    partitions = {arn.split(":")[1] for s in served_stacks for arn in (s.deploy_role_arn, s.preview_role_arn)}
    if len(accounts) != 1 or len(partitions) != 1:
        raise BootstrapError(
            f"{NAMESPACE}:stacks: the served stacks' runner roles name accounts {sorted(accounts)}: one bootstrap "
            "stack serves one account"
        )
    _one_role_per_stack_and_purpose(served_stacks)
    elsewhere = [f"{s.name} ({s.region})" for s in served_stacks if s.region != region]
    if elsewhere:
        raise BootstrapError(
            f"{source}: aws:region is {region} but the served stacks {', '.join(elsewhere)} are not: the state key, "
            "the alerting secrets' key and the GitHub connection live in the bootstrap's region (one bootstrap stack "
            "per account and region)"
        )
    # `pulumi config set KEY VALUE` stores "90" and "true" as strings; the CLI accepts them for the
    # declared integer and boolean types (ops/offline/project_config.py), and so does pulumi.Config.
    retention = values.get("stateRetentionDays", 90)
    if isinstance(retention, str) and retention.strip().lstrip("-").isdigit():
        retention = int(retention)
    if isinstance(retention, bool) or not isinstance(retention, int) or not 1 <= retention <= 3650:
        raise BootstrapError(f"{source}: {NAMESPACE}:stateRetentionDays must be a whole number of days, 1 to 3650")
    ready = values.get("githubConnectionReady", False)
    ready = {"true": True, "false": False}.get(ready, ready) if isinstance(ready, str) else ready
    if not isinstance(ready, bool):
        raise BootstrapError(f"{source}: {NAMESPACE}:githubConnectionReady must be true or false")
    oidc = values.get("githubOidcProviderArn", "") or ""
    if oidc and ":oidc-provider/token.actions.githubusercontent.com" not in str(oidc):
        raise BootstrapError(
            f"{source}: {NAMESPACE}:githubOidcProviderArn must be the ARN of the "
            "token.actions.githubusercontent.com provider"
        )
    return Bootstrap(
        account=accounts.pop(),
        partition=partitions.pop(),
        region=region,
        stacks=served_stacks,
        state_retention_days=retention,
        github_connection_ready=ready,
        github_oidc_provider_arn=str(oidc),
    )
