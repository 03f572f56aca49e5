"""The Pulumi CLI's own rules for ``Pulumi.yaml``'s ``config:`` declarations, applied to a stack file.

``pulumi preview`` refuses a stack before the program runs when the project's declarations and the
stack's values disagree; the offline engine refuses it the same way, in the CLI's words. The rules
are those of pulumi/pulumi ``sdk/go/common/workspace``:

* ``config.go`` ``mergeConfig``: a key of the project's namespace (``<project>:key``, or a bare
  ``key``) declared with neither ``default`` nor ``value`` must be set in every stack, whatever its
  ``type``; the missing ones are named together, sorted (``formatMissingKeys``: ``'a'``,
  ``'a' and 'b'``, ``'a', 'b' and 'c'``). Keys of other namespaces (``aws:region``) are never required.
* ``config.go`` ``validateStackConfigValue``, for explicitly typed keys the stack sets: a ``secret``
  key must be stored encrypted (``secure:``), then its value must be of the type: the value as the
  CLI holds it, a string for scalars (``3``, ``true``) and JSON for objects and lists.
* ``project.go`` ``ValidateConfigValue``: ``string`` takes any scalar; ``integer`` a whole number or
  a string ``strconv.Atoi`` parses; ``boolean`` true, false or the strings ``"true"``/``"false"``;
  ``array`` a list whose items each have ``items``' type (``array<array<string>>`` as
  ``InferFullTypeName`` names it). ``Project.Validate`` refuses a ``default`` not of its type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ops.errors import OpsError

TYPES = ("string", "integer", "boolean", "array")
"""The types the project schema allows for a config key."""


def load_project(root: Path) -> tuple[str, dict[str, Any]]:
    """(project name, config declarations) of ``root/Pulumi.yaml``; OpsError (exit 2) naming it."""
    path = root / "Pulumi.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise OpsError(f"Pulumi.yaml: cannot be read ({str(exc).splitlines()[0]})", code=2) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise OpsError("Pulumi.yaml: project is missing a non-empty string 'name' attribute", code=2)
    config = doc.get("config") or {}
    if not isinstance(config, Mapping):
        raise OpsError("Pulumi.yaml: config: must be a mapping of config keys to declarations", code=2)
    return doc["name"], dict(config)


def _type_name(declaration: Mapping[str, Any]) -> str:
    items = declaration.get("items")
    if isinstance(items, Mapping):
        return f"array<{_type_name(items)}>"
    return str(declaration.get("type"))


def _valid(type_name: str, items: Any, value: Any) -> bool:
    """``ValidateConfigValue`` on the value as the CLI holds it."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if not isinstance(value, list) or not isinstance(items, Mapping):
        return False
    return all(_valid(str(items.get("type")), items.get("items"), item) for item in value)


def _as_cli_holds(value: Any) -> Any:
    """A stack value as the CLI validates it: scalars as their text, lists and maps as themselves."""
    if isinstance(value, list | dict):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _format_missing(keys: list[str]) -> str:
    """``formatMissingKeys``: the last two joined by "and" with no comma before it."""
    keys = sorted(keys)
    if len(keys) == 1:
        return f"'{keys[0]}'"
    head = ", ".join(f"'{k}'" for k in keys[:-2])
    tail = f"'{keys[-2]}' and '{keys[-1]}'"
    return f"{head}, {tail}" if head else tail


def project_problems(project: str, declarations: Mapping[str, Any]) -> list[str]:
    """``Project.Validate``'s config rules: known types, and defaults of their type."""
    problems = []
    for key, declaration in declarations.items():
        if not isinstance(declaration, Mapping) or "type" not in declaration:
            continue
        if declaration["type"] not in TYPES:
            problems.append(f"Pulumi.yaml: config.{key}: type {declaration['type']!r} is not one of {', '.join(TYPES)}")
            continue
        if "default" in declaration and not _valid(
            str(declaration["type"]), declaration.get("items"), declaration["default"]
        ):
            problems.append(
                f"Pulumi.yaml: The default value specified for configuration key '{key}' is not of the expected "
                f"type '{_type_name(declaration)}'"
            )
    return problems


def stack_problems(
    project: str, declarations: Mapping[str, Any], stack: str, values: Mapping[str, Any], secure: frozenset[str]
) -> list[str]:
    """What ``pulumi preview`` says of stack ``stack`` (its ``values``, ``secure`` the keys stored
    encrypted) against the declarations, in its words; empty when it would go on."""

    def full(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    missing = []
    for key, declaration in declarations.items():
        has_default = isinstance(declaration, Mapping) and ("default" in declaration or "value" in declaration)
        if not isinstance(declaration, Mapping):
            has_default = True  # a bare value is the key's value (ProjectConfigType.Value)
        if full(key) not in values and not has_default and full(key).split(":", 1)[0] == project:
            missing.append(key)
    if missing:
        value_or_values = "value" if len(missing) == 1 else "values"
        return [f"Stack '{stack}' is missing configuration {value_or_values} {_format_missing(missing)}"]
    problems = []
    for key in sorted(declarations):
        declaration = declarations[key]
        if not isinstance(declaration, Mapping) or "type" not in declaration or full(key) not in values:
            continue
        if declaration.get("secret") and full(key) not in secure:
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
            continue
        if full(key) in secure:
            continue  # its plaintext is not in the file: the CLI checks it after decrypting
        if not _valid(str(declaration["type"]), declaration.get("items"), _as_cli_holds(values[full(key)])):
            problems.append(
                f"Stack '{stack}' with configuration key '{key}' must be of type '{_type_name(declaration)}'"
            )
    return problems[:1]  # the CLI stops at the first


def check(root: Path, stack: str, source: str, values: Mapping[str, Any], secure: frozenset[str]) -> None:
    """OpsError (exit 2) when ``pulumi preview`` would refuse the stack on its project config."""
    project, declarations = load_project(root)
    problems = project_problems(project, declarations) or stack_problems(project, declarations, stack, values, secure)
    if problems:
        raise OpsError(f"{source}: {problems[0]} (Pulumi.yaml declares it; the Pulumi CLI refuses the stack)", code=2)
