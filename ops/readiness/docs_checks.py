"""The documentation items: the runbooks exist, and every alert of ours links a ``runbook_url``
that leads to a section that exists in them (the docs shipped with this checkout, or with the ops
image).

"Ours" is every PrometheusRule the program declared and every one someone added in the stack's
namespaces (:mod:`ops.readiness.ownership`). The rules a chart ships (kube-prometheus-stack's
default rules link the upstream runbooks at runbooks.prometheus-operator.dev) are listed apart in
``chart-alert-rules``, with where their runbooks live: this checkout cannot vouch for them, and the
plan keeps them because they watch what the chart runs (the operator, the kubelet, etcd-less
control plane signals) that our rules do not."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ops.readiness import ownership
from ops.readiness.kube import ref
from ops.readiness.model import Item, item

REQUIRED_RUNBOOKS = (
    "runbooks/incident-response.md",
    "runbooks/deployment-procedures.md",
    "runbooks/disaster-recovery.md",
    "runbooks/backup-restore.md",
    "runbooks/capacity-review.md",
    "runbooks/upgrades.md",
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


def _alerts(rule_object: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for group in (rule_object.get("spec") or {}).get("groups") or []:
        for rule in (group or {}).get("rules") or [] if isinstance(group, Mapping) else []:
            if isinstance(rule, Mapping) and "alert" in rule:
                yield rule


def ours(objects: Iterable[Mapping[str, Any]], namespaces: Iterable[str]) -> list[Mapping[str, Any]]:
    """The PrometheusRules the program declared or someone added in the stack's namespaces."""
    return [o for o in ownership.judged(list(objects), namespaces) if o.get("kind") == "PrometheusRule"]


def alert_runbooks_resolve(objects: Iterable[Mapping[str, Any]], docs: Path) -> list[str]:
    """Every alert of every PrometheusRule of ``objects``: a ``runbook_url`` whose ``docs/...`` path
    is a file here and whose anchor is one of its headings."""
    problems = []
    cache: dict[Path, set[str]] = {}
    for rule_object in (o for o in objects if o.get("kind") == "PrometheusRule"):
        for rule in _alerts(rule_object):
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


def chart_rules(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per PrometheusRule a chart (or a controller) made: its alerts and the hosts of their runbooks."""
    lines = []
    for rule_object in ownership.of_origin(objects, "chart", "child"):
        if rule_object.get("kind") != "PrometheusRule":
            continue
        alerts = list(_alerts(rule_object))
        hosts = sorted(
            {
                urlsplit(str((r.get("annotations") or {}).get("runbook_url"))).netloc or "no runbook_url"
                for r in alerts
                if isinstance(r.get("annotations") or {}, Mapping)
            }
        )
        lines.append(f"{ref(rule_object)}: {len(alerts)} alerts, runbooks at {', '.join(hosts) or 'none'}")
    return lines


ITEMS = {
    "runbooks-present": "documentation",
    "alert-runbooks-resolve": "documentation",
    "chart-alert-rules": "documentation",
}


def docs_items(objects: Sequence[Mapping[str, Any]], docs: Path, namespaces: Iterable[str]) -> list[Item]:
    missing = runbooks_present(docs)
    mine = ours(objects, namespaces)
    broken = alert_runbooks_resolve(mine, docs)
    alerts = sum(len(list(_alerts(o))) for o in mine)
    theirs = chart_rules(objects)
    return [
        item(
            "runbooks-present",
            "documentation",
            "The runbooks on-call needs are written",
            "docs",
            "fail" if missing else "pass",
            missing or [f"docs/{name}" for name in REQUIRED_RUNBOOKS],
        ),
        item(
            "alert-runbooks-resolve",
            "documentation",
            "Every live alert links a runbook section that exists",
            "kubernetes+docs",
            "fail" if broken else "pass",
            broken or [f"{alerts} alerts in {len(mine)} PrometheusRules of ours link a section that exists"],
        ),
        item(
            "chart-alert-rules",
            "documentation",
            "The alert rules charts ship are listed apart, with where their runbooks live",
            "kubernetes",
            "pass",
            theirs or ["no chart ships alert rules here"],
        ),
    ]
