"""``python -m ops stack-set``: set values in a stack file, by key path, and validate the result once.

What ``pulumi config set --path`` does to ``Pulumi.<stack>.yaml``, for the deploy workflow's
one-off overrides (the delivery strategy of a manual run), with two differences that matter in CI:
the whole file is validated by the settings model before it is written (a bad value leaves the
file untouched and exits 2), and it needs no Pulumi CLI, so the tests run the workflow's own
command line. Comments, order and quoting of the rest of the file are kept (ruamel.yaml round trip).

Several ``KEY=VALUE`` pairs are set together and validated together: changes that are only valid
as a whole (a public endpoint with its CIDRs) go through in one call, and a bad one leaves the file
as it was.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

import settings
from ops.errors import OpsError
from ops.offline.engine import ROOT, load_stack_config


def _value(text: str) -> Any:
    """The value as YAML reads it (``3`` is a number, ``true`` a boolean, ``canary`` a string)."""
    try:
        return YAML(typ="safe").load(text)
    except YAMLError:
        return text


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


def _set(doc: Any, path: Path, key: str, raw_value: str) -> None:
    namespace, sep, dotted = key.partition(":")
    if not sep or not namespace or not dotted or any(not part for part in dotted.split(".")):
        raise OpsError(
            f"{key}: a key path is namespace:key or namespace:key.nested, like redisgw:delivery.strategy", code=2
        )
    top, *rest = dotted.split(".")
    node = doc["config"].setdefault(f"{namespace}:{top}", {} if rest else None)
    if rest:
        for part in rest[:-1]:
            if not isinstance(node, dict):
                raise OpsError(f"{path.name}: {key}: {part} is not an object", code=2)
            node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise OpsError(f"{path.name}: {key}: the parent is not an object", code=2)
        node[rest[-1]] = _value(raw_value)
    else:
        doc["config"][f"{namespace}:{top}"] = _value(raw_value)


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
    for key, raw_value in pairs:
        _set(doc, path, key, raw_value)
    out = io.StringIO()
    yaml.dump(doc, out)
    candidate = path.with_name(f".{path.name}.new")
    candidate.write_text(out.getvalue(), encoding="utf-8")
    try:
        config = load_stack_config(stack, candidate)
        settings.load_settings(config.values, source=path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        candidate.unlink()
        raise OpsError(str(exc), code=2) from None
    except BaseException:
        candidate.unlink()
        raise
    candidate.replace(path)
    return str(path)
