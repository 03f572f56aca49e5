"""The policy pack evaluated in-process on a plan, with a stack's enforcement config.

The offline engine talks to the pack over the analyzer protocol (one process per preview); the
mutation harness and the property-based tests need thousands of evaluations, so they call the same
policy objects directly: ``validate`` with pulumi_policy's own argument classes, the config resolved
from ``policies/config/<stack>.json`` as the engine resolves it (``all``, then per-policy entries,
then schema defaults). ``tests/test_preview.py`` checks both paths agree on the real stacks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from pulumi_policy import PolicyResource, PolicyResourceOptions

from ops.offline.engine import Resource
from ops.readiness.pack import Hit, evaluate_resource, evaluate_stack, pack_config

__all__ = ["Hit", "as_policy_resources", "evaluate", "evaluate_resource", "evaluate_stack", "pack_config"]


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


def evaluate(resources: list[PolicyResource], stack: str) -> list[Hit]:
    config = pack_config(stack)
    hits = evaluate_stack(resources, config)
    for r in resources:
        hits += evaluate_resource(r, config)
    return hits
