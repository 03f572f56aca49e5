"""``python -m ops stack-set``: set values in a stack file, by key path, and validate the result once.

What ``pulumi config set --path`` does to ``Pulumi.<stack>.yaml``, for the deploy workflow's
one-off overrides (the delivery strategy of a manual run), with two differences that matter in CI:
the whole file is validated by the settings model before it is written (a bad value leaves the
file untouched and exits 2), and it needs no Pulumi CLI, so the tests run the workflow's own
command line. Comments, order and quoting of the rest of the file are kept (ruamel.yaml round trip).

Several ``KEY=VALUE`` pairs are set together and validated together: changes that are only valid
as a whole (a public endpoint with its CIDRs) go through in one call, and a bad one leaves the file
as it was.

Keys and values as ``pulumi config set --path`` reads them (pulumi/pulumi v3.259.0
``sdk/go/common/resource/config``: ``map.go`` ``Map.Set``, ``object.go`` ``coerce`` and ``object.Set``,
``resource/properties_path.go`` ``ParsePropertyPathStrict``):

* the path: ``namespace:key`` (a bare ``key`` is the project's, ``ns:config:key`` is ``ns:key``) then
  ``.name``, ``[index]`` or ``["quoted.name"]`` segments (``redisgw:delivery.canarySteps[0].weight``);
  an index may be the list's length (appends); a list made for ``[2]`` has three items, the first two
  null; a map holding only a ``secure`` string is refused (it would read as a secret);
* a top-level key (``redisgw:protectStatefulResources``) takes the value as a string, as the CLI
  stores it; a nested one takes ``true``/``false`` as booleans and a decimal integer without a leading
  zero as a number, anything else as a string (``#alerts``, ``1.35``, ``2024-01-01``, ``0123``);
* beyond the CLI: a value starting with ``[`` or ``{`` is a list or object in JSON (or YAML flow)
  form, set whole (``publicAccessCidrs=["52.19.0.0/16"]``), where the CLI would store the text.

A string that would read back as something else (``"true"``, ``"1.35"``, ``"9_0"``) is written quoted.
One more difference: a path into a ``secure:`` value is refused (the CLI would overwrite the secret
with plain text); set a secret with ``pulumi config set --secret``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

import settings
from ops.errors import OpsError
from ops.offline import go_yaml, project_config
from ops.offline.engine import ROOT, load_stack_config


def _value(text: str, nested: bool) -> Any:
    """The value as ``pulumi config set --path`` stores it (see the module docstring)."""
    if text.lstrip().startswith(("[", "{")):
        try:
            whole = go_yaml.load(text)
        except yaml.YAMLError as exc:
            raise OpsError(f"{text!r}: not a list or object ({str(exc).splitlines()[0]})", code=2) from None
        if not isinstance(whole, list | dict):
            raise OpsError(f"{text!r}: not a list or object", code=2)
        return whole
    if not nested:
        return _quoted(text)
    if text in ("true", "false"):
        return text == "true"
    # coerce: more than one character starting with 0 stays text ("0123"); then strconv.ParseInt
    # (base 10, a sign allowed: "-05" is -5), then ParseUint
    number = None if len(text) > 1 and text[0] == "0" else go_yaml.parse_decimal(text, unsigned=True)
    return number if number is not None else _quoted(text)


def _quoted(text: str) -> Any:
    """A string that would read back as another value is written double-quoted."""
    read_back = go_yaml.resolve_plain(text) if text else None
    return text if read_back == text and type(read_back) is str else DoubleQuotedScalarString(text)


def _property_path(path: str) -> list[str | int]:
    """``resource.ParsePropertyPathStrict`` (``properties_path.go`` ``parsePropertyPath``): names end
    at ``.`` or ``[``; ``[N]`` an index; ``["..."]`` a name with ``\\"`` for a quote; ValueError otherwise."""
    elements: list[str | int] = []
    if path.startswith("."):
        raise ValueError("expected property path to start with a name or index")
    while path:
        if path[0] == ".":
            path = path[1:]
            if not path:
                raise ValueError("expected property path to end with a name or index")
            if path[0] == "[":
                raise ValueError("expected property name after '.'")
        elif path[0] == "[":
            if len(path) > 1 and path[1] == '"':
                name, i = [], 2
                while True:
                    if i >= len(path):
                        raise ValueError("missing closing quote in property name")
                    if path[i] == '"':
                        i += 1
                        break
                    if path[i] == "\\" and i + 1 < len(path) and path[i + 1] == '"':
                        name.append('"')
                        i += 2
                    else:
                        name.append(path[i])
                        i += 1
                if i >= len(path) or path[i] != "]":
                    raise ValueError("missing closing bracket in property access")
                elements.append("".join(name))
                path = path[i + 1 :]
            else:
                end = path.find("]")
                if end == -1:
                    raise ValueError("missing closing bracket in array index")
                segment = path[1:end]
                if segment == "*":
                    elements.append("*")
                elif (index := go_yaml.parse_decimal(segment, unsigned=False)) is not None:
                    elements.append(index)  # strconv.ParseInt(segment, 10, 0)
                else:
                    raise ValueError(f"invalid array index: {segment!r}")
                path = path[end + 1 :]
        else:
            name_end = re.search(r"[.\[]", path)
            cut = name_end.start() if name_end else len(path)
            elements.append(path[:cut])
            path = path[cut:]
    return elements


def _path(key: str, project: str) -> tuple[str, list[str | int]]:
    """``namespace:key.a[0]["b.c"]`` -> (``namespace:key``, ``["a", 0, "b.c"]``), as ``pulumi config
    set --path`` reads it (``parseConfigKey``: a bare key is the project's; ``config.ParseKey``;
    ``parseKeyPath``); OpsError (exit 2) otherwise."""
    usage = (
        f"{key}: a key path is namespace:key or namespace:key.nested (with [index] for list items), "
        "like redisgw:delivery.strategy"
    )
    parsed = project_config.config_key(project, key)
    if parsed is None:
        raise OpsError(f"{usage} ({project_config.key_error(key)})", code=2)
    namespace, _, name = parsed.partition(":")
    try:
        segments = _property_path(name)
    except ValueError as exc:
        raise OpsError(f"{usage} (invalid config key path: {exc})", code=2) from None
    if not segments or not isinstance(segments[0], str) or not namespace:
        raise OpsError(f"{usage} (the first segment must be a name)", code=2)
    top, *tail = segments
    return f"{namespace}:{top}", tail


def parse_assignments(words: list[str]) -> list[tuple[str, str]]:
    """``KEY VALUE`` (one pair, the original form) or ``KEY=VALUE ...``; OpsError (exit 2) otherwise."""
    if len(words) == 2 and "=" not in words[0]:
        return [(words[0], words[1])]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise OpsError(f"{word}: give a value: KEY VALUE, or KEY=VALUE pairs (KEY=VALUE KEY=VALUE ...)", code=2)
        pairs.append((key, value))
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise OpsError(f"{', '.join(twice)}: set twice in one call", code=2)
    return pairs


def _wanted(segment: str | int) -> str:
    return "an array" if isinstance(segment, int) else "a map"


def _container(segment: str | int) -> Any:
    """``newContainer``: a list long enough for the index (``[2]`` makes three items), or a map."""
    return CommentedSeq([None] * (segment + 1)) if isinstance(segment, int) and segment >= 0 else CommentedMap()


def _set(doc: Any, path: Path, key: str, raw_value: str, project: str) -> None:
    top, tail = _path(key, project)
    config = doc["config"]
    value = _value(raw_value, nested=bool(tail))
    if not tail:
        config[top] = value
        return
    if isinstance(config.get(top), dict) and set(config[top]) == {"secure"}:
        raise OpsError(f"{path.name}: {key}: {top} is a secret; set it with pulumi config set --secret", code=2)
    if not isinstance(config.get(top), dict | list):
        config[top] = _container(tail[0])  # the CLI replaces a scalar at the first level
    node: Any = config[top]
    trail = top
    for segment, following in zip(tail, [*tail[1:], None], strict=True):
        if isinstance(node, list):
            if not isinstance(segment, int):
                raise OpsError(f"{path.name}: {key}: {trail} is a list: give an [index]", code=2)
            if not 0 <= segment <= len(node):
                raise OpsError(f"{path.name}: {key}: {trail}[{segment}]: index out of range (0 to {len(node)})", code=2)
            if segment == len(node):
                node.append(None)
        elif segment == "secure" and following is None and not node and isinstance(value, str):
            # object.Set: errSecureReprReserved (a map of one "secure" string reads as a secret)
            raise OpsError(f'{path.name}: {key}: maps with the single key "secure" are reserved', code=2)
        elif not isinstance(segment, str):  # a map: the only other node there is
            raise OpsError(f"{path.name}: {key}: {trail} is an object: give a .name", code=2)
        trail += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
        child = node.get(segment) if isinstance(node, dict) else node[segment]
        if following is None:
            node[segment] = value
        elif child is None or (not isinstance(child, dict | list)):
            if child is not None:  # object.Set: "<path>: expected a map" (or "an array")
                raise OpsError(f"{path.name}: {key}: {trail}: expected {_wanted(following)}", code=2)
            node[segment] = child = _container(following)
        node = child


def run(stack: str, pairs: list[tuple[str, str]], config_file: Path | None = None) -> str:
    """Set every ``(namespace:top.nested.key, raw value)`` of ``pairs`` in the stack file, validate the
    result once, and write it; return its path. Nothing is written unless all of it is valid."""
    path = config_file or ROOT / f"Pulumi.{stack}.yaml"
    load_stack_config(stack, path)  # the same refusals as preview: missing, not UTF-8, duplicates, ...
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long values
    yaml.indent(mapping=2, sequence=4, offset=2)  # the stack files' own style
    doc = yaml.load(path.read_text(encoding="utf-8"))
    if doc is None:
        doc = CommentedMap()  # an empty file, as `pulumi stack init` may leave it
    if doc.get("config") is None:
        doc["config"] = CommentedMap()  # a stack with no config yet (only its secrets provider)
    project, _ = project_config.load_project(ROOT)
    for key, raw_value in pairs:
        _set(doc, path, key, raw_value, project)
    out = io.StringIO()
    yaml.dump(doc, out)
    candidate = path.with_name(f".{path.name}.new")
    candidate.write_text(out.getvalue(), encoding="utf-8")
    try:
        config = load_stack_config(stack, candidate)
        project_config.check(ROOT, stack, path.name, config.values, config.secret_keys)
        settings.load_settings(config.values, source=path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        candidate.unlink()
        raise OpsError(str(exc), code=2) from None
    except BaseException:
        candidate.unlink()
        raise
    candidate.replace(path)
    return str(path)
