"""``python -m ops stack-set``: set one value in a stack file, by key path, and validate the result.

What ``pulumi config set --path`` does to ``Pulumi.<stack>.yaml``, for the deploy workflow's
one-off overrides (the delivery strategy of a manual run), with two differences that matter in CI:
the whole file is validated by the settings model before it is written (a bad value leaves the
file untouched and exits 2), and it needs no Pulumi CLI, so the tests run the workflow's own
command line. Comments, order and quoting of the rest of the file are kept (ruamel.yaml round trip).
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


def run(stack: str, key: str, raw_value: str, config_file: Path | None = None) -> str:
    """Set ``key`` (``namespace:top.nested.key``) to ``raw_value`` in the stack file; return its path."""
    path = config_file or ROOT / f"Pulumi.{stack}.yaml"
    load_stack_config(stack, path)  # the same refusals as preview: missing, not UTF-8, duplicates, ...
    namespace, sep, dotted = key.partition(":")
    if not sep or not namespace or not dotted or any(not part for part in dotted.split(".")):
        raise OpsError(
            f"{key}: a key path is namespace:key or namespace:key.nested, like redisgw:delivery.strategy", code=2
        )
    top, *rest = dotted.split(".")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long values
    yaml.indent(mapping=2, sequence=4, offset=2)  # the stack files' own style
    doc = yaml.load(path.read_text(encoding="utf-8"))
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
