"""``--json FILE``: the one convention every command follows for machine-readable output.

``FILE`` is a path, written atomically (a temporary file renamed into place, so a reader never sees
half a report), or ``-`` for standard output, in which case the human-readable lines go to standard
error. The path is checked when the arguments are parsed, before any work is done: a report that
cannot be written is a usage error (exit 2), not a failure found at the end.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ops.runtime.args import new_file

STDOUT = "-"
HELP = "write the result as JSON to FILE ('-' for standard output, the summary then goes to standard error)"


def json_target(value: str) -> str:
    """argparse type of ``--json``: ``-`` or a file path whose directory exists and is writable."""
    if value != STDOUT:
        new_file(value)
    return value


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", type=json_target, help=HELP)


def write_json(target: str | None, document: Any) -> None:
    """Write ``document`` to ``target`` (see :func:`json_target`); nothing when ``target`` is None."""
    if target is None:
        return
    text = json.dumps(document, indent=None if target == STDOUT else 2) + "\n"
    if target == STDOUT:
        print(text, end="", flush=True)
        return
    path = Path(target)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
