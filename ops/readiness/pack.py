"""The policy pack evaluated in-process, with a stack's enforcement config.

``pulumi preview --policy-pack`` and the offline engine talk to the pack over the analyzer protocol;
the live scorecard (and the tests that need thousands of evaluations) call the same policy objects
directly: ``validate`` with pulumi_policy's own argument classes, the config resolved from
``policies/config/<stack>.json`` as the engine resolves it (``all``, then the policy's entry, then
the schema's defaults).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.errors import OpsError

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policies"


@dataclass(frozen=True)
class Hit:
    policy: str
    level: str
    urn: str | None
    message: str


def _collect(hits: list[Hit], policy: str, level: str) -> Callable[..., None]:
    """The ``report`` callback of one policy: it appends to ``hits``."""

    def report(message: str, urn: str | None = None) -> None:
        hits.append(Hit(policy, level, urn, message))

    return report


def policies() -> Sequence[Any]:
    """The pack's policies (``policies/redisgw_policies``), or OpsError (exit 2) saying what is missing."""
    if str(POLICY_DIR) not in sys.path:
        sys.path.append(str(POLICY_DIR))  # the pack is self-contained; it is read from where it lives
    try:
        from redisgw_policies import POLICIES
    except ModuleNotFoundError as exc:
        raise OpsError(
            f"the policy pack cannot be loaded (missing: {exc.name}): install policies/requirements.txt "
            "and run from a checkout or the ops image",
            code=2,
        ) from None
    return POLICIES


def resolve_entry(
    doc: dict[str, Any], name: str, code_level: str, schema: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(enforcement level, properties) of policy ``name`` under a pack config ``doc``, as
    ``--policy-pack-config`` resolves them: the ``all`` level, then the policy's own entry (a level,
    or an object with ``enforcementLevel`` and properties), then the schema's defaults."""
    level = doc["all"] if isinstance(doc.get("all"), str) else code_level
    entry = doc.get(name)
    props: dict[str, Any] = {}
    if isinstance(entry, str):
        level = entry
    elif isinstance(entry, dict):
        level = entry.get("enforcementLevel", level)
        props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    for prop, spec in schema.items():
        if prop not in props and isinstance(spec, dict) and "default" in spec:
            props[prop] = spec["default"]
    return level, props


def load_pack_config(path: Path) -> dict[str, Any]:
    """Read ``policies/config/<stack>.json``; OpsError (exit 2) naming the file and key if malformed."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise OpsError(f"{where}: missing policy config for this stack", code=2) from None
    except json.JSONDecodeError as exc:
        raise OpsError(f"{where}: line {exc.lineno}: not valid JSON ({exc.msg})", code=2) from None
    if not isinstance(doc, dict):
        raise OpsError(f"{where}: must be a JSON object of policy names", code=2)
    return doc


def pack_config(stack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Policy name -> (enforcement level, properties) for ``stack``."""
    doc = load_pack_config(POLICY_DIR / "config" / f"{stack}.json")
    out = {}
    for policy in policies():
        schema = policy.config_schema.properties if policy.config_schema else {}
        out[policy.name] = resolve_entry(doc, policy.name, "advisory", schema)
    return out


def evaluate_resource(
    resource: Any, config: dict[str, tuple[str, dict[str, Any]]], chosen: Iterable[Any] | None = None
) -> list[Hit]:
    """Every resource policy of ``chosen`` (default: the pack) on one ``PolicyResource``."""
    from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy

    hits: list[Hit] = []
    for policy in policies() if chosen is None else chosen:
        if not isinstance(policy, ResourceValidationPolicy):
            continue
        level, props = config[policy.name]
        if level == "disabled":
            continue
        args = ResourceValidationArgs(
            resource.resource_type, resource.props, resource.urn, resource.name, resource.opts, None, props
        )
        policy.validate(args, _collect(hits, policy.name, level))
    return hits


def evaluate_stack(
    resources: list[Any], config: dict[str, tuple[str, dict[str, Any]]], chosen: Iterable[Any] | None = None
) -> list[Hit]:
    """Every stack policy of ``chosen`` (default: the pack) on the ``PolicyResource`` list."""
    from pulumi_policy import ResourceValidationPolicy, StackValidationArgs

    hits: list[Hit] = []
    for policy in policies() if chosen is None else chosen:
        if isinstance(policy, ResourceValidationPolicy):
            continue
        level, props = config[policy.name]
        if level == "disabled":
            continue
        args = StackValidationArgs(resources, props)
        policy.validate(args, _collect(hits, policy.name, level))
    return hits


def evaluate(
    resources: list[Any], config: dict[str, tuple[str, dict[str, Any]]], chosen: Iterable[Any] | None = None
) -> list[Hit]:
    chosen = list(policies() if chosen is None else chosen)
    hits = evaluate_stack(resources, config, chosen)
    for r in resources:
        hits += evaluate_resource(r, config, chosen)
    return hits
