"""What a change does to the plan: ``python -m ops preview --stack S --diff BASE``.

``BASE`` is a previous preview report (``--json`` of ``ops preview``), or a git ref whose
``Pulumi.<stack>.yaml`` is previewed with the current program (what a stack file change does). The
diff lists the resources added, removed and changed (each changed input by path, before and after;
the report masks secrets, so neither side shows one) and the policy verdicts that appeared or went
away. ``--summary FILE`` appends it as Markdown (the pull-request workflow's job summary).
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

ABSENT = "(absent)"
"""What a diff shows for an input one side does not set."""
MAX_SHOWN = 90
"""Characters of a value shown in a diff line; longer values are cut with an ellipsis."""


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


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine's wire format carries every number as a float
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


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
                lines.append(
                    f"| `{_name(r['urn'])}` | `{c['path']}` | `{_shown(c['before'])}` | `{_shown(c['after'])}` |"
                )
    for title, rows in (("New policy violations", verdicts["new"]), ("Resolved policy violations", verdicts["gone"])):
        if rows:
            lines += ["", f"**{title}**", ""] + [
                f"- {v['enforcement']} `{v['policy']}` on `{_name(v['urn']) if v['urn'] != 'stack' else 'the stack'}`"
                for v in rows
            ]
    return "\n".join(lines) + "\n"


def load_report(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"--diff {path}: not a preview report ({str(exc).splitlines()[0]})", code=2) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list) or "policies" not in doc:
        raise OpsError(f"--diff {path}: not a preview report (no resources and policies)", code=2)
    return doc


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
