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
  ``object`` a mapping; ``array`` a list whose items each have ``items``' type (``array<array<string>>``
  as ``InferFullTypeName`` names it).
* ``project.go`` ``ValidateProject``: the file against the CLI's own schema, ``project.json``
  (``pulumi_project.schema.json`` here, from pulumi/pulumi v3.259.0, Apache-2.0): a declaration is a
  scalar, a list, or a mapping of ``type``, ``items``, ``description``, ``secret`` (a boolean),
  ``default`` and ``value`` and nothing else (a misspelt attribute is named, with the closest allowed
  one when it is two edits away, as ``findClosestKey`` does); ``type`` one of string, integer,
  boolean, array, object; ``items`` a mapping with a ``type``.
* ``RewriteShorthandConfigValues``: a bare scalar or list is the key's ``default`` in the project's
  namespace, its ``value`` in another.
* ``Project.Validate``: not both ``default`` and ``value``; an ``array`` of the project's namespace
  names its ``items``; a ``default`` of its type; a key of another namespace (``aws:region``) has
  neither a ``type`` nor a ``default``, and has a ``value``.
* ``pkg/workspace/config.go`` ``mergeConfig``: declared keys parse as configuration keys
  (``resource/config/key.go`` ``ParseKey``: ``<namespace>:<name>``, or ``<namespace>:config:<name>``),
  and a key the stack does not set takes its ``default`` or ``value`` (``createConfigValue``: a
  string, boolean or integer as its text, anything else as JSON). The program sees it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ops.errors import OpsError
from ops.offline import go_yaml

CLI_VERSION = "3.259.0"
"""The Pulumi CLI whose rules these are; ``.pulumi.version`` pins the workflows' CLI to it."""
TYPES = ("string", "integer", "boolean", "array", "object")
"""The types the project schema allows for a config key."""
SCHEMA = Path(__file__).with_name("pulumi_project.schema.json")
"""The Pulumi CLI's ``Pulumi.yaml`` schema (pulumi/pulumi v3.259.0 ``sdk/go/common/workspace/project.json``)."""


def _refused(problem: str) -> OpsError:
    return OpsError(f"Pulumi.yaml: {problem} (the Pulumi CLI refuses the project)", code=2)


def _distance(a: str, b: str) -> int:
    """Levenshtein distance, case-insensitive (``findClosestKey``)."""
    a, b = a.lower(), b.lower()
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _schema_problem(doc: Any) -> str | None:
    """The first of ``ValidateProject``'s schema errors, in its words, or None."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return None
    error = errors[0]
    where = "#/" + "/".join(str(p) for p in error.absolute_path)
    if error.validator == "oneOf" and error.context:
        if not isinstance(error.instance, Mapping):
            return f"{where}: {error.instance!r} is neither a string, an integer, a boolean, a list nor a declaration"
        # A mapping failed the declaration branch (the others want scalars): its error is the one.
        error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        where = "#/" + "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        name = extra[0] if extra else "?"
        closest = sorted((_distance(name, a), a) for a in allowed if _distance(name, a) <= 2)
        if closest:
            hint = f"; did you mean '{closest[0][1]}'?"
        elif len(allowed) > 1:
            hint = "; the allowed attributes are " + ", ".join(f"'{a}'" for a in allowed[:-1]) + f" and '{allowed[-1]}'"
        else:
            hint = f"; the only allowed attribute is '{allowed[0]}'" if allowed else ""
        return f"{where}: additionalProperties '{name}' not allowed{hint}"
    return f"{where}: {error.message}"


def _go_only_value(value: Any, where: str = "#") -> str | None:
    """A value yaml.v3 decodes to a Go type the project schema cannot judge (a ``time.Time``, a
    ``uint64``): the CLI's validator fails on it ("invalid jsonType"), so the project is refused."""
    if isinstance(value, go_yaml.GoTimestamp):
        return f"{where}: {value!s} is a timestamp to YAML, which no project attribute takes: quote it"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2**63:
        return f"{where}: {value} is beyond a signed 64-bit integer"
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    return next((p for k, v in items if (p := _go_only_value(v, f"{where}/{k}"))), None)


def _shorthand(project: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """``RewriteShorthandConfigValues``: a bare string, integer, boolean or list is a default in the
    project's namespace and a value in another."""
    out: dict[str, Any] = {}
    for key, declaration in config.items():
        if isinstance(declaration, str | int | bool | list):
            out[key] = {"default" if _in_project(project, key) else "value": declaration}
        else:
            out[key] = declaration
    return out


def _in_project(project: str, key: str) -> bool:
    """``configKeyIsNamespacedByProject``."""
    return ":" not in key or key.startswith(f"{project}:")


def parse_key(key: str) -> str | None:
    """``config.ParseKey``: ``ns:name``, or ``ns:config:name`` (read as ``ns:name``); None otherwise."""
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return None


def config_key(project: str, key: str) -> str | None:
    """``parseConfigKey`` (``pkg/workspace/config.go``): a key without a namespace is the project's;
    any other goes through :func:`parse_key`. None when ``ParseKey`` refuses it."""
    return parse_key(key) if ":" in key else f"{project}:{key}"


def key_error(key: str) -> str:
    return (
        f"could not parse {key} as a configuration key (configuration keys should be of the form `<namespace>:<name>`)"
    )


def load_project(root: Path) -> tuple[str, dict[str, Any]]:
    """(project name, config declarations, shorthand rewritten) of ``root/Pulumi.yaml``, validated as
    the CLI validates it before anything runs; OpsError (exit 2) naming the file otherwise."""
    path = root / "Pulumi.yaml"
    try:
        doc = go_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise OpsError(f"Pulumi.yaml: cannot be read ({str(exc).splitlines()[0]})", code=2) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise OpsError(f"Pulumi.yaml{where}: not valid YAML ({problem})", code=2) from None
    if not isinstance(doc, Mapping):
        raise _refused(f"expected project to be an object, was {type(doc).__name__}")
    if "name" not in doc:
        closest = sorted((_distance("name", str(k)), str(k)) for k in doc if _distance("name", str(k)) <= 2)
        raise _refused(
            "project is missing a 'name' attribute" + (f"; found '{closest[0][1]}' instead" if closest else "")
        )
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        raise _refused("project is missing a non-empty string 'name' attribute")
    go_typed = _go_only_value(doc)
    if go_typed:
        raise _refused(go_typed)
    schema_problem = _schema_problem(doc)
    if schema_problem:
        raise _refused(schema_problem)
    config = doc.get("config") or {}
    if not isinstance(config, Mapping):
        raise _refused(
            "config: a stack config directory (the old spelling of stackConfigDir): this project keeps its "
            "stack files beside Pulumi.yaml"
        )
    declarations = _shorthand(doc["name"], config)
    problems = project_problems(doc["name"], declarations)
    if problems:
        raise _refused(problems[0])
    return doc["name"], declarations


def apply_defaults(project: str, declarations: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``mergeConfig``: the stack's values, plus each declared ``default`` or ``value`` the stack
    does not set, as the CLI hands them to the program."""
    out = dict(values)
    for key, declaration in declarations.items():
        full = config_key(project, key)
        if full is None or full in out or not isinstance(declaration, Mapping):
            continue
        value = declaration.get("default")
        value = declaration.get("value") if value is None else value  # a null default is no default
        if value is not None:
            out[full] = go_yaml.scalar_text(value) if isinstance(value, str | int | bool) else value
    return out


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
        return isinstance(value, str) and go_yaml.parse_decimal(value, unsigned=False) is not None  # Atoi
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or not isinstance(items, Mapping):
        return False
    return all(_valid(str(items.get("type")), items.get("items"), item) for item in value)


def _as_cli_holds(value: Any) -> Any:
    """A stack value as the CLI validates it: scalars as their text, lists and maps as themselves."""
    if isinstance(value, list | dict):
        return value
    return go_yaml.scalar_text(value)


def _format_missing(keys: list[str]) -> str:
    """``formatMissingKeys``: the last two joined by "and" with no comma before it."""
    keys = sorted(keys)
    if len(keys) == 1:
        return f"'{keys[0]}'"
    head = ", ".join(f"'{k}'" for k in keys[:-2])
    tail = f"'{keys[-2]}' and '{keys[-1]}'"
    return f"{head}, {tail}" if head else tail


def project_problems(project: str, declarations: Mapping[str, Any]) -> list[str]:
    """``Project.Validate``'s config rules (keys in order), then ``ParseKey`` on each declared key."""
    problems = []
    for key in sorted(declarations):
        declaration = declarations[key]
        if not isinstance(declaration, Mapping):
            continue
        typed, default = declaration.get("type") is not None, declaration.get("default")
        if default is not None and declaration.get("value") is not None:
            problems.append(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        elif _in_project(project, key):
            if typed and declaration["type"] not in TYPES:
                problems.append(f"config.{key}: type {declaration['type']!r} is not one of {', '.join(TYPES)}")
            elif typed and declaration["type"] == "array" and declaration.get("items") is None:
                problems.append(
                    f"The configuration key '{key}' declares an array but does not specify the underlying type "
                    "via the 'items' attribute"
                )
            elif typed and default is not None and not _valid(declaration["type"], declaration.get("items"), default):
                problems.append(
                    f"The default value specified for configuration key '{key}' is not of the expected type "
                    f"'{_type_name(declaration)}'"
                )
        elif typed:
            problems.append(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
        elif default is not None:
            problems.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a default value. "
                "Did you mean to use the 'value' attribute instead of 'default'?"
            )
        elif declaration.get("value") is None:
            problems.append(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
    problems += [key_error(k) for k in sorted(declarations) if config_key(project, k) is None]
    return problems


def stack_problems(
    project: str, declarations: Mapping[str, Any], stack: str, values: Mapping[str, Any], secure: frozenset[str]
) -> list[str]:
    """What ``pulumi preview`` says of stack ``stack`` (its ``values``, ``secure`` the keys stored
    encrypted) against the declarations, in its words; empty when it would go on."""

    def full(key: str) -> str:
        return config_key(project, key) or key

    missing = []
    for key, declaration in declarations.items():
        has_default = not isinstance(declaration, Mapping) or any(
            declaration.get(attribute) is not None for attribute in ("default", "value")
        )
        if full(key) not in values and not has_default and full(key).split(":", 1)[0] == project:
            missing.append(key)
    if missing:
        value_or_values = "value" if len(missing) == 1 else "values"
        return [f"Stack '{stack}' is missing configuration {value_or_values} {_format_missing(missing)}"]
    problems = []
    for key in sorted(declarations):
        declaration = declarations[key]
        if not isinstance(declaration, Mapping) or declaration.get("type") is None or full(key) not in values:
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
    problems = stack_problems(project, declarations, stack, apply_defaults(project, declarations, values), secure)
    if problems:
        raise OpsError(f"{source}: {problems[0]} (Pulumi.yaml declares it; the Pulumi CLI refuses the stack)", code=2)
