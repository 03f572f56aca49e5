"""The policy pack evaluated in-process on a plan, with a stack's enforcement config.

The offline engine talks to the pack over the analyzer protocol (one process per preview); the
mutation harness and the property-based tests need thousands of evaluations, so they call the same
policy objects directly: ``validate`` with pulumi_policy's own argument classes, the config resolved
from ``policies/config/<stack>.json`` as the engine resolves it (``all``, then per-policy entries,
then schema defaults). ``tests/test_preview.py`` checks both paths agree on the real stacks.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from ops.offline.engine import Resource
from ops.offline.policy_runner import POLICY_DIR, resolve_entry
from redisgw_policies import POLICIES


@dataclass(frozen=True)
class Hit:
    policy: str
    level: str
    urn: str | None
    message: str


def pack_config(stack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Policy name -> (enforcement level, properties) for ``stack``."""
    doc = json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())
    out = {}
    for policy in POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        level, props = resolve_entry(doc, policy.name, "advisory", schema)
        out[policy.name] = (level, props)
    return out


def as_policy_resources(recorded: Iterable[Resource]) -> list[PolicyResource]:
    """The recorded stack as the analyzer hands it to policies."""
    recorded = list(recorded)
    items = [
        PolicyResource(
            r.type,
            copy.deepcopy(r.inputs),
            r.urn,
            r.name,
            PolicyResourceOptions(r.protect, [], None, [], None, [], r.parent),
            None,
            None,
            [],
            {},
        )
        for r in recorded
    ]
    by_urn = {p.urn: p for p in items}
    for p, r in zip(items, recorded, strict=True):
        p.property_dependencies = {k: [by_urn[u] for u in v if u in by_urn] for k, v in r.property_dependencies.items()}
        p.dependencies = [by_urn[u] for u in r.dependencies if u in by_urn]
        p.parent = by_urn.get(r.parent or "")  # as pulumi_policy links them: the region is read from it
    return items


def evaluate_resource(
    resource: PolicyResource, config: dict[str, tuple[str, dict[str, Any]]], policies: Iterable[Any] = POLICIES
) -> list[Hit]:
    hits: list[Hit] = []
    for policy in policies:
        if not isinstance(policy, ResourceValidationPolicy):
            continue
        level, props = config[policy.name]
        if level == "disabled":
            continue
        args = ResourceValidationArgs(
            resource.resource_type, resource.props, resource.urn, resource.name, resource.opts, None, props
        )
        policy.validate(args, lambda message, urn=None, p=policy, lv=level: hits.append(Hit(p.name, lv, urn, message)))
    return hits


def evaluate_stack(
    resources: list[PolicyResource], config: dict[str, tuple[str, dict[str, Any]]], policies: Iterable[Any] = POLICIES
) -> list[Hit]:
    hits: list[Hit] = []
    for policy in policies:
        if isinstance(policy, ResourceValidationPolicy):
            continue
        level, props = config[policy.name]
        if level == "disabled":
            continue
        args = StackValidationArgs(resources, props)
        policy.validate(args, lambda message, urn=None, p=policy, lv=level: hits.append(Hit(p.name, lv, urn, message)))
    return hits


def evaluate(resources: list[PolicyResource], stack: str) -> list[Hit]:
    config = pack_config(stack)
    hits = evaluate_stack(resources, config)
    for r in resources:
        hits += evaluate_resource(r, config)
    return hits
