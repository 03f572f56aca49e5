"""Small pieces every policy module uses: a rule is a pure function, wrapped here into a policy.

A rule takes a resource's properties (and the policy's config) and yields violation messages; a
stack rule takes the whole stack and yields (message, urn) pairs. Rules never print property values
that could be secret: messages name resources, keys and the rule broken.

**Exemptions.** CrossGuard has no per-resource waiver, so every policy accepts an ``exemptions``
config property: a list of ``{"resource": <glob on the resource name or URN>, "container": <glob>,
"field": <glob>, "reason": <why, at least 15 characters>, "expires": <YYYY-MM-DD, optional>}``.
An exemption is always narrower than a resource: it names a container or a field (or both), and
only a finding about that container or field of that resource is waived. Every other finding on
the same resource is still reported. An expired exemption is ignored and the violation says so.

**Shapes.** Rules read properties as the engine hands them, which differs between the mock runtime
and a real preview (pulumi-aws 7 sends ``encryptionConfig`` as one object where older shapes had a
list), and any value may be missing, null, of another type, or unknown. The ``as_*`` helpers turn
any of these into a safe value; a rule never raises, it reports a violation or nothing.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


class Finding(str):
    """A violation message that also says which container or field it is about (for exemptions)."""

    container: str | None
    field: str | None

    def __new__(cls, message: str, *, container: str | None = None, field: str | None = None) -> Finding:
        self = super().__new__(cls, message)
        self.container = container
        self.field = field
        return self


Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]
"""(properties, policy config) -> violation messages."""
StackRule = Callable[[StackValidationArgs, Mapping[str, Any]], Iterable[tuple[str, str | None]]]

EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Per-resource waivers, each with a reason and an optional expiry date.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1},
            "container": {"type": "string", "minLength": 1},
            "field": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 15},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        },
        "required": ["resource", "reason"],
        "anyOf": [{"required": ["container"]}, {"required": ["field"]}],
        "additionalProperties": False,
    },
}


def _schema(properties: Mapping[str, Any] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**(properties or {}), "exemptions": EXEMPTIONS_SCHEMA})


def exemption_state(
    config: Mapping[str, Any], urn: str | None, finding: str = "", today: datetime.date | None = None
) -> str | None:
    """``"exempt"`` if an exemption in force covers this finding on ``urn``, ``"expired <date>"`` if
    only an expired one does, else None. A finding that names no container or field is never exempt."""
    if not urn:
        return None
    name = urn.rsplit("::", 1)[-1]
    today = today or datetime.date.today()
    container = getattr(finding, "container", None)
    field = getattr(finding, "field", None)
    expired = None
    for exemption in as_list(config.get("exemptions")):
        exemption = as_map(exemption)
        pattern = str(exemption.get("resource", ""))
        if not pattern or not (fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(urn, pattern)):
            continue
        scoped = False
        for key, value in (("container", container), ("field", field)):
            if key in exemption:
                if value is None or not fnmatch.fnmatchcase(value, str(exemption[key])):
                    break
                scoped = True
        else:
            if not scoped:
                continue
            expires = exemption.get("expires")
            try:
                lapsed = bool(expires) and datetime.date.fromisoformat(str(expires)) < today
            except ValueError:
                lapsed = True
            if lapsed:
                expired = str(expires)
                continue
            return "exempt"
    return f"expired {expired}" if expired else None


def _report(
    report: ReportViolation, message: str, remediation: str, urn: str | None, config: Mapping[str, Any]
) -> None:
    state = exemption_state(config, urn, message)
    if state == "exempt":
        return
    note = f" (exemption expired {state.removeprefix('expired ')})" if state else ""
    report(f"{message}{note} Remediation: {remediation}", urn)


def resource_policy(
    *,
    name: str,
    description: str,
    types: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    rule: Rule | Mapping[str, Rule],
    severity: Severity,
    remediation: str,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationPolicy:
    """A policy that applies ``rule`` to every resource whose type is in ``types``, or which is a
    Kubernetes object of one of ``kinds`` in any API group and version (patches included). ``rule``
    may be a mapping of type (or kind) to rule where the types need different reading."""

    def handles(resource_type: str) -> bool:
        return resource_type in types or (resource_type.startswith("kubernetes:") and k8s_kind(resource_type) in kinds)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not handles(args.resource_type):
            return
        check: Rule | None = (
            rule.get(args.resource_type) or rule.get(k8s_kind(args.resource_type))
            if isinstance(rule, Mapping)
            else rule
        )
        if check is None or not isinstance(args.props, Mapping):
            return
        cfg = args.get_config() or {}
        for message in check(args.props, cfg):
            _report(report, message, remediation, args.urn, cfg)

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=_schema(config),
    )
    policy.handles = handles  # type: ignore[attr-defined]
    policy.types = types  # type: ignore[attr-defined]
    policy.kinds = kinds  # type: ignore[attr-defined]
    return policy


def stack_policy(
    *,
    name: str,
    description: str,
    rule: StackRule,
    severity: Severity,
    remediation: str,
    config: Mapping[str, Any] | None = None,
    per_region: bool = True,
) -> StackValidationPolicy:
    """A policy over the stack; ``rule`` yields (message, urn) pairs.

    With ``per_region`` (the default) the rule sees one region at a time (:func:`region_of`): the
    primary's resources, then the DR region's, so that two clusters with the same namespaces and
    names are never matched with each other. Policies about the relation between the regions set it
    off and see everything."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        cfg = args.get_config() or {}
        # A resource whose properties are not an object (never sent by the engine) carries nothing to judge.
        readable = [r for r in args.resources if isinstance(r.props, Mapping)]
        groups: dict[str, list[PolicyResource]] = {}
        for r in readable:
            groups.setdefault(region_of(r) if per_region else "", []).append(r)
        for resources in groups.values() or [[]]:
            scoped = (
                args if len(resources) == len(args.resources) else StackValidationArgs(resources, cfg, args.stack_tags)
            )
            for message, urn in rule(scoped, cfg):
                _report(report, message, remediation, urn, cfg)

    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=_schema(config),
    )
    return policy


DR_COMPONENT = "redisgw:index:DrRegion"
"""Type of the component whose resources make up the DR region."""


def region_of(resource: PolicyResource) -> str:
    """``"dr"`` for a resource declared under the DR region's component (it, or an ancestor, is one),
    ``"primary"`` for every other one. A URN names only the immediate parent's type, so the parent
    chain the engine sends is walked."""
    seen = 0
    node: PolicyResource | None = resource
    while node is not None and seen < 64:
        parts = node.urn.split("::")
        if node.resource_type == DR_COMPONENT or (len(parts) >= 4 and DR_COMPONENT in parts[2].split("$")):
            return "dr"
        node, seen = getattr(node, "parent", None), seen + 1
    return "primary"


def get(props: Any, path: str, default: Any = None) -> Any:
    """``props['a']['b']`` for ``path='a.b'``, or ``default`` where any step is missing."""
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def known_items(value: Any) -> Iterator[tuple[str, Any, bool]]:
    """``(key, value, known)`` for each entry of an object. A value the engine cannot know during a
    preview (an ARN, a name with a random suffix) comes as ``(key, None, False)`` instead of aborting
    the whole policy, so the entries beside it are still judged."""
    from pulumi_policy.proxy import UnknownValueError

    mapping = as_map(value)
    for key in list(mapping):
        try:
            yield str(key), mapping[key], True
        except UnknownValueError:
            yield str(key), None, False


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: a list as is, one object as a list of one (the provider sends either), else []."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)  # a list, or the analyzer's read-only list proxy
    return []


def maps(value: Any) -> list[Mapping[str, Any]]:
    """The objects in ``value`` (see :func:`as_list`), skipping anything that is not an object."""
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def strings(value: Any) -> list[str]:
    """The strings in ``value``: one string as a list of one, a list's string items, else []."""
    if isinstance(value, str):
        return [value]
    return [v for v in as_list(value) if isinstance(v, str)]


def as_int(value: Any, default: int | None = None) -> int | None:
    """An integer from an int, a float or a numeric string; ``default`` for anything else."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def as_float(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return default
    return default


def truthy(value: Any) -> bool:
    """A boolean as the providers send it: ``True`` or the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def of_type(args: StackValidationArgs, *types: str) -> Iterator[PolicyResource]:
    return (r for r in args.resources if r.resource_type in types)


def k8s_kind(resource_type: str) -> str:
    """``Deployment`` for ``kubernetes:apps/v1:Deployment`` (and for ``...:DeploymentPatch``)."""
    kind = resource_type.rsplit(":", 1)[-1]
    return kind.removesuffix("Patch") if resource_type.startswith("kubernetes:") else kind


def namespace_of(props: Mapping[str, Any]) -> str:
    namespace = get(props, "metadata.namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def labels_match(selector: Any, labels: Any) -> bool:
    """Whether ``matchLabels`` ``selector`` selects ``labels`` (an empty selector selects nothing here)."""
    selector, labels = as_map(selector), as_map(labels)
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)", re.I)
"""Names of variables and keys that hold secrets (environment variables, ConfigMap keys)."""


def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM-style policy document given as JSON text or as an object."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    return maps(as_map(document).get("Statement"))


def principals(statement: Mapping[str, Any]) -> list[str]:
    """Every principal a statement names (``"*"`` for the anonymous wildcard, in any spelling)."""
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    return [p for values in as_map(principal).values() for p in strings(values)]


def conditions(statement: Mapping[str, Any]) -> dict[str, list[str]]:
    """Condition key (lower case) -> values, over every operator of the statement."""
    out: dict[str, list[str]] = {}
    for block in as_map(statement.get("Condition")).values():
        for key, values in as_map(block).items():
            out.setdefault(str(key).lower(), []).extend(strings(values) or [str(v) for v in as_list(values)])
            if isinstance(values, bool):
                out[str(key).lower()].append(str(values).lower())
    return out
