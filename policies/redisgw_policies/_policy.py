"""Small pieces every policy module uses: a rule is a pure function, wrapped here into a policy.

A rule takes a resource's properties (and the policy's config) and yields violation messages; a
stack rule takes the whole stack and yields (message, urn) pairs. Rules never print property values
that could be secret: messages name resources, keys and the rule broken.

**Exemptions.** CrossGuard has no per-resource waiver, so every policy accepts an ``exemptions``
config property: a list of ``{"resource": <glob on the resource name or URN>, "reason": <why, at
least 15 characters>, "expires": <YYYY-MM-DD, optional>}``. A violation on a matching resource is
not reported while the exemption is in force; an expired exemption is ignored and the violation
says so. The reason is mandatory (the config schema rejects a missing or short one).
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]
StackRule = Callable[[StackValidationArgs, Mapping[str, Any]], Iterable[tuple[str, str | None]]]

EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Per-resource waivers, each with a reason and an optional expiry date.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 15},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
}


def _schema(properties: Mapping[str, Any] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**(properties or {}), "exemptions": EXEMPTIONS_SCHEMA})


def exemption_state(config: Mapping[str, Any], urn: str | None, today: datetime.date | None = None) -> str | None:
    """``"exempt"`` if an exemption in force covers ``urn``, ``"expired <date>"`` if only an expired
    one does, else None."""
    if not urn:
        return None
    name = urn.rsplit("::", 1)[-1]
    today = today or datetime.date.today()
    expired = None
    for exemption in config.get("exemptions") or []:
        pattern = exemption.get("resource", "")
        if not (fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(urn, pattern)):
            continue
        expires = exemption.get("expires")
        if expires and datetime.date.fromisoformat(expires) < today:
            expired = expires
            continue
        return "exempt"
    return f"expired {expired}" if expired else None


def _report(
    report: ReportViolation, message: str, remediation: str, urn: str | None, config: Mapping[str, Any]
) -> None:
    state = exemption_state(config, urn)
    if state == "exempt":
        return
    note = f" (exemption expired {state.removeprefix('expired ')})" if state else ""
    report(f"{message}{note} Remediation: {remediation}", urn)


def resource_policy(
    *,
    name: str,
    description: str,
    types: tuple[str, ...],
    rule: Rule,
    severity: Severity,
    remediation: str,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationPolicy:
    """A policy that applies ``rule`` to every resource whose type is in ``types``."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        cfg = args.get_config() or {}
        for message in rule(args.props, cfg):
            _report(report, message, remediation, args.urn, cfg)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=_schema(config),
    )


def stack_policy(
    *,
    name: str,
    description: str,
    rule: StackRule,
    severity: Severity,
    remediation: str,
    config: Mapping[str, Any] | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack; ``rule`` yields (message, urn) pairs."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        cfg = args.get_config() or {}
        for message, urn in rule(args, cfg):
            _report(report, message, remediation, urn, cfg)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=_schema(config),
    )


def get(props: Any, path: str, default: Any = None) -> Any:
    """``props['a']['b']`` for ``path='a.b'``, or ``default`` where any step is missing."""
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def of_type(args: StackValidationArgs, *types: str) -> Iterator[PolicyResource]:
    return (r for r in args.resources if r.resource_type in types)


def k8s_kind(resource_type: str) -> str:
    """``Deployment`` for ``kubernetes:apps/v1:Deployment``."""
    return resource_type.rsplit(":", 1)[-1]


def namespace_of(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata.namespace", "default"))


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether ``matchLabels`` ``selector`` selects ``labels`` (an empty selector selects nothing here)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
