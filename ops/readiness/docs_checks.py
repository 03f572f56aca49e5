"""The documentation items: the runbooks exist, and every live alert's ``runbook_url`` leads to a
section that exists in them (the docs shipped with this checkout, or with the ops image)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ops.readiness.kube import ref
from ops.readiness.model import Item, item

REQUIRED_RUNBOOKS = (
    "runbooks/incident-response.md",
    "runbooks/deployment-procedures.md",
    "runbooks/disaster-recovery.md",
    "runbooks/backup-restore.md",
    "runbooks/capacity-review.md",
)
"""Documents an on-call engineer needs (paths under ``docs/``)."""
MIN_RUNBOOK_BYTES = 500


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {slug(h) for h in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M)}


def runbooks_present(docs: Path) -> list[str]:
    problems = []
    for name in REQUIRED_RUNBOOKS:
        path = docs / name
        if not path.is_file():
            problems.append(f"docs/{name}: missing")
        elif path.stat().st_size < MIN_RUNBOOK_BYTES:
            problems.append(f"docs/{name}: {path.stat().st_size} bytes, too short to be a runbook")
    return problems


def alert_runbooks_resolve(objects: Iterable[Mapping[str, Any]], docs: Path) -> list[str]:
    """Every alert of every live PrometheusRule: a ``runbook_url`` whose ``docs/...`` path is a file
    here and whose anchor is one of its headings."""
    problems = []
    cache: dict[Path, set[str]] = {}
    for rule_object in (o for o in objects if o.get("kind") == "PrometheusRule"):
        for group in (rule_object.get("spec") or {}).get("groups") or []:
            for rule in (group or {}).get("rules") or [] if isinstance(group, Mapping) else []:
                if not isinstance(rule, Mapping) or "alert" not in rule:
                    continue
                url = ((rule.get("annotations") or {}) or {}).get("runbook_url")
                where = f"{ref(rule_object)} alert {rule['alert']}"
                if not isinstance(url, str) or not url:
                    problems.append(f"{where}: no runbook_url")
                    continue
                parts = urlsplit(url)
                _, found, relative = parts.path.partition("/docs/")
                path = docs / relative
                if not found or not relative or not path.is_file():
                    problems.append(f"{where}: {url} names no document under docs/")
                    continue
                if path not in cache:
                    cache[path] = anchors(path)
                if parts.fragment and parts.fragment not in cache[path]:
                    problems.append(f"{where}: docs/{relative} has no section #{parts.fragment}")
    return problems


ITEMS = {"runbooks-present": "documentation", "alert-runbooks-resolve": "documentation"}


def docs_items(objects: Sequence[Mapping[str, Any]], docs: Path) -> list[Item]:
    missing = runbooks_present(docs)
    broken = alert_runbooks_resolve(objects, docs)
    return [
        item(
            "runbooks-present",
            "documentation",
            "The runbooks on-call needs are written",
            "docs",
            "fail" if missing else "pass",
            missing,
        ),
        item(
            "alert-runbooks-resolve",
            "documentation",
            "Every live alert links a runbook section that exists",
            "kubernetes+docs",
            "fail" if broken else "pass",
            broken,
        ),
    ]
