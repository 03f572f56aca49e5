"""Small pieces every policy module uses: a rule is a pure function, wrapped here into a policy.

A rule takes a resource's properties (and the policy's config) and yields violation messages. It
never sees secrets in clear: messages name keys and rules, never values of secret inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]
StackRule = Callable[[StackValidationArgs], Iterable[tuple[str, str | None]]]


def resource_policy(
    *,
    name: str,
    description: str,
    types: tuple[str, ...],
    rule: Rule,
    severity: Severity,
    remediation: str,
    config_schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    """A policy that applies ``rule`` to every resource whose type is in ``types``."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for message in rule(args.props, args.get_config() or {}):
            report(f"{message} Remediation: {remediation}", None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=config_schema,
    )


def stack_policy(
    *, name: str, description: str, rule: StackRule, severity: Severity, remediation: str
) -> StackValidationPolicy:
    """A policy over the whole stack; ``rule`` yields (message, urn) pairs."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message, urn in rule(args):
            report(f"{message} Remediation: {remediation}", urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, severity=severity, remediation_steps=remediation
    )


def get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """``props['a']['b']`` for ``path='a.b'``, or ``default`` where any step is missing."""
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value
