"""What a change does to the plan: ``python -m ops preview --stack S --diff BASE``.

``BASE`` is a previous preview report (``--json`` of ``ops preview``), or a git ref whose
``Pulumi.<stack>.yaml`` is previewed with the current program (what a stack file change does). A
report must be of the stack previewed and of this project (its ``stack`` and ``project``, and the
stack and project of every URN in it): another stack's report, or the bootstrap's, would be a diff
of everything. The diff lists the resources added, removed and changed (each changed input by path,
before and after; the report masks secrets, so neither side shows one) and the policy verdicts that
appeared or went away. A value too long for a line is shown from a little before where the two
sides first differ, what is cut marked with an ellipsis, so the change is in view. ``--summary
FILE`` appends it as Markdown (the pull-request workflow's job summary).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ops.errors import OpsError

PROJECT = "redisgw"
"""The project whose stacks ``--diff`` compares (``Pulumi.yaml``'s ``name``)."""
ABSENT = "(absent)"
"""What a diff shows for an input one side does not set."""
MAX_SHOWN = 90
"""Characters of a value shown in a diff line; longer values are cut with an ellipsis."""
LEAD = 30
"""Characters shown before the first difference when a value is cut."""
MAX_DEPTH = 100
"""Nesting a base report's inputs may have (the program's are a dozen deep)."""


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf path -> value (``spec.template.spec.containers[0].image``); empty containers are leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{path}[{index}]"))
        return out
    return {path: value}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine's wire format carries every number as a float
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def _window(text: str, start: int) -> str:
    """``text`` from ``start`` in at most :data:`MAX_SHOWN` characters, an ellipsis where it is cut."""
    head = "…" if start > 0 else ""
    body = text[start:]
    room = MAX_SHOWN - len(head)
    return head + (body if len(body) <= room else body[: room - 1] + "…")


def _shown(before: Any, after: Any) -> tuple[str, str]:
    """Both sides of a change as a diff line shows them. A side too long is cut, both sides alike, from
    :data:`LEAD` characters before the first one where they differ: a long value changed near its end
    (a provider's ``defaultTags``, an IAM policy) shows the change, not the same start twice."""
    old, new = _text(before), _text(after)
    if len(old) <= MAX_SHOWN and len(new) <= MAX_SHOWN:
        return old, new
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(0, first - LEAD)
    return _window(old, start), _window(new, start)


def _violations(report: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (str(v.get("policy")), str(v.get("enforcement")), str(v.get("urn") or "stack"))
        for v in (report.get("policies") or {}).get("violations") or []
    }


def diff(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    """The differences from ``base`` to ``head`` (two preview reports of one stack)."""
    before = {r["urn"]: r for r in base.get("resources") or []}
    after = {r["urn"]: r for r in head.get("resources") or []}
    changed = []
    for urn in sorted(set(before) & set(after)):
        old, new = _flatten(before[urn].get("inputs") or {}), _flatten(after[urn].get("inputs") or {})
        changes = [
            {"path": path, "before": old.get(path, ABSENT), "after": new.get(path, ABSENT)}
            for path in sorted(set(old) | set(new))
            if old.get(path, ABSENT) != new.get(path, ABSENT)
        ]
        if changes:
            changed.append({"urn": urn, "type": after[urn].get("type"), "changes": changes})
    old_verdicts, new_verdicts = _violations(base), _violations(head)
    fields = ("policy", "enforcement", "urn")
    return {
        "stack": head.get("stack"),
        "added": [{"urn": u, "type": after[u].get("type")} for u in sorted(set(after) - set(before))],
        "removed": [{"urn": u, "type": before[u].get("type")} for u in sorted(set(before) - set(after))],
        "changed": changed,
        "verdicts": {
            "new": [dict(zip(fields, v, strict=True)) for v in sorted(new_verdicts - old_verdicts)],
            "gone": [dict(zip(fields, v, strict=True)) for v in sorted(old_verdicts - new_verdicts)],
        },
    }


def _name(urn: str) -> str:
    """``Type::name`` of a URN, the part a reader scans for."""
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]}::{parts[-1]}" if len(parts) >= 4 else urn


def _cell(text: str) -> str:
    """Text for a code span in a table cell: a pipe escaped (GitHub's tables split on it even in a code
    span), a line break shown as a return sign, a backtick (it would end the span) as its look-alike
    U+02CB."""
    return str(text).replace("|", "\\|").replace("\r\n", "\u23ce").replace("\n", "\u23ce").replace("`", "\u02cb")


def markdown(d: Mapping[str, Any]) -> str:
    """The diff as the job summary shows it."""
    lines = [f"### Plan diff: {d.get('stack')}", ""]
    counts = f"{len(d['added'])} to add, {len(d['removed'])} to remove, {len(d['changed'])} to change"
    verdicts = d["verdicts"]
    lines.append(f"{counts}; {len(verdicts['new'])} new policy violations, {len(verdicts['gone'])} resolved.")
    if not (d["added"] or d["removed"] or d["changed"] or verdicts["new"] or verdicts["gone"]):
        lines += ["", "No change to the plan or to the verdicts."]
    for title, rows in (("Added", d["added"]), ("Removed", d["removed"])):
        if rows:
            lines += ["", f"**{title}**", ""] + [f"- `{_name(r['urn'])}`" for r in rows]
    if d["changed"]:
        lines += ["", "**Changed**", "", "| resource | input | before | after |", "|---|---|---|---|"]
        for r in d["changed"]:
            for c in r["changes"]:
                before, after = (_cell(side) for side in _shown(c["before"], c["after"]))
                lines.append(f"| `{_name(r['urn'])}` | `{_cell(c['path'])}` | `{before}` | `{after}` |")
    for title, rows in (("New policy violations", verdicts["new"]), ("Resolved policy violations", verdicts["gone"])):
        if rows:
            lines += ["", f"**{title}**", ""] + [
                f"- {v['enforcement']} `{v['policy']}` on `{_name(v['urn']) if v['urn'] != 'stack' else 'the stack'}`"
                for v in rows
            ]
    return "\n".join(lines) + "\n"


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (without recursion: a hostile file may nest thousands deep)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def load_report(path: Path) -> dict[str, Any]:
    """A preview report (``ops preview --json``) of the shape :func:`diff` reads; OpsError (exit 2)
    naming what is wrong in it."""
    where = f"--diff {path}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{where}: not a preview report ({str(exc).splitlines()[0]})", code=2) from None
    except RecursionError:
        raise OpsError(f"{where}: not a preview report (nested too deeply to read)", code=2) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list) or "policies" not in doc:
        raise OpsError(f"{where}: not a preview report (no resources and policies)", code=2)
    for i, r in enumerate(doc["resources"]):
        if not isinstance(r, dict) or not isinstance(r.get("urn"), str):
            raise OpsError(f"{where}: `resources[{i}]` is not a resource with a `urn`", code=2)
        if r.get("inputs") is not None and not isinstance(r["inputs"], dict):
            raise OpsError(f"{where}: `resources[{i}].inputs` is not an object", code=2)
        if _depth(r.get("inputs")) > MAX_DEPTH:
            raise OpsError(f"{where}: `resources[{i}].inputs` nests deeper than {MAX_DEPTH}", code=2)
    policies = doc["policies"]
    violations = policies.get("violations") if isinstance(policies, dict) else None
    if not isinstance(policies, dict) or not isinstance(violations or [], list):
        raise OpsError(f"{where}: `policies` is not the verdicts of a preview (with a `violations` list)", code=2)
    if not all(isinstance(v, dict) for v in violations or []):
        raise OpsError(f"{where}: `policies.violations` is not a list of verdicts", code=2)
    return doc


def check_same_stack(report: Mapping[str, Any], stack: str, where: str) -> None:
    """``report`` is of ``stack`` of this project: its ``stack`` and ``project`` (a report written
    before it carried one is judged by its URNs), and every URN's ``urn:pulumi:<stack>::<project>::``.
    OpsError (exit 2) naming the report's stack and the one previewed."""
    owners = {(report["stack"], report.get("project", PROJECT))} if "stack" in report else set()
    for r in report.get("resources") or []:
        parts = str(r["urn"]).removeprefix("urn:pulumi:").split("::")
        owners.add((parts[0], parts[1] if len(parts) > 1 else None))
    for theirs, project in sorted(owners, key=lambda owner: (owner[1] == PROJECT, str(owner))):  # project first
        if project != PROJECT:
            problem = (
                f"a report of stack {theirs} of project {project}, not of {PROJECT}: --diff compares reports of "
                f"this project's stack {stack}"
            )
        elif theirs != stack:
            problem = (
                f"a report of stack {theirs}, but the stack previewed is {stack}: compare with a report of {stack} "
                f"(ops preview --stack {stack} --json FILE)"
            )
        else:
            continue
        raise OpsError(f"{where}: {problem}", code=2)


def stack_file_at(root: Path, ref: str, stack: str) -> Path:
    """``Pulumi.<stack>.yaml`` as it is at git ``ref``, in a temporary file; OpsError (exit 2) if none."""
    if ref.startswith("-"):
        raise OpsError(f"--diff {ref}: not a preview report or a git ref", code=2)
    git = shutil.which("git")
    if git is None:
        raise OpsError(f"--diff {ref}: not a file, and git (to read a ref) is not installed", code=2)
    try:
        shown = subprocess.run(
            [git, "-C", str(root), "show", f"{ref}:Pulumi.{stack}.yaml"],
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OpsError(f"--diff {ref}: git cannot be run ({exc})", code=2) from None
    if shown.returncode != 0:
        why = shown.stderr.decode(errors="replace").strip().splitlines()
        raise OpsError(
            f"--diff {ref}: neither a preview report nor a git ref holding Pulumi.{stack}.yaml "
            f"({why[-1] if why else 'git failed'})",
            code=2,
        )
    with tempfile.NamedTemporaryFile(prefix=f"Pulumi.{stack}.", suffix=".base.yaml", delete=False) as handle:
        handle.write(shown.stdout)
    return Path(handle.name)
