"""The scorecard: items by category, each pass, warn or fail with its evidence, and its outputs
(a table, JSON, JUnit XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["pass", "warn", "fail"]

CATEGORIES = (
    "security",
    "resources",
    "monitoring",
    "backup-recovery",
    "high-availability",
    "performance-capacity",
    "documentation",
)
"""The categories of the production-readiness checklist, in the order the scorecard shows them."""

TITLES = {
    "security": "Security",
    "resources": "Resource management",
    "monitoring": "Monitoring and observability",
    "backup-recovery": "Backup and recovery",
    "high-availability": "High availability",
    "performance-capacity": "Performance and capacity",
    "documentation": "Documentation and runbooks",
}

MAX_EVIDENCE = 20
"""Evidence lines kept per item (the rest are counted): a broken namespace must not flood a report."""


@dataclass(frozen=True)
class Item:
    """One checked item: ``id`` is stable (``policy:<name>`` for the pack's rules, a short name for
    the runtime checks), ``source`` says where its facts come from."""

    id: str
    category: str
    title: str
    source: str
    status: Status
    evidence: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "source": self.source,
            "status": self.status,
            "evidence": list(self.evidence),
        }


def item(
    id: str, category: str, title: str, source: str, status: Status, evidence: list[str] | tuple[str, ...] = ()
) -> Item:
    """An :class:`Item`, its evidence cut at :data:`MAX_EVIDENCE` lines with the rest counted."""
    assert category in CATEGORIES, category
    lines = list(evidence)
    if len(lines) > MAX_EVIDENCE:
        lines = [*lines[:MAX_EVIDENCE], f"... and {len(lines) - MAX_EVIDENCE} more"]
    return Item(id, category, title, source, status, tuple(lines))


@dataclass
class Scorecard:
    stack: str
    target: str
    """What was read: the kubeconfig context, or the dump file."""
    sources: tuple[str, ...]
    items: list[Item] = field(default_factory=list)

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if i.status == "fail"]

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.items)

    def counts(self) -> dict[str, dict[str, int]]:
        """Category -> status -> count."""
        out: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
        for i in self.items:
            out[i.category][i.status] += 1
        return {c: {s: out[c][s] for s in ("pass", "warn", "fail")} for c in CATEGORIES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "target": self.target,
            "sources": list(self.sources),
            "ok": self.ok,
            "summary": self.counts(),
            "items": [i.as_dict() for i in self.ordered()],
        }

    def ordered(self) -> list[Item]:
        return sorted(self.items, key=lambda i: (CATEGORIES.index(i.category), i.id))

    def junit(self, path: Path) -> None:
        """One test suite per category, one test case per item: a fail is a failure, a warn passes
        with its evidence as system-out (CI shows it, the build stays green)."""
        suites = ET.Element("testsuites", name=f"readiness {self.stack}")
        for category in CATEGORIES:
            mine = [i for i in self.ordered() if i.category == category]
            suite = ET.SubElement(
                suites,
                "testsuite",
                name=f"readiness.{category}",
                tests=str(len(mine)),
                failures=str(sum(i.status == "fail" for i in mine)),
                errors="0",
                skipped="0",
            )
            for i in mine:
                case = ET.SubElement(suite, "testcase", classname=f"readiness.{category}", name=i.id)
                text = "\n".join(i.evidence)
                if i.status == "fail":
                    failure = ET.SubElement(
                        case, "failure", message=f"{i.title}: {i.evidence[0] if i.evidence else ''}"
                    )
                    failure.text = text
                elif text:
                    ET.SubElement(case, "system-out").text = f"{i.status}: {text}"
        tree = ET.ElementTree(suites)
        ET.indent(tree)
        temporary = path.with_name(f".{path.name}.partial")
        try:
            tree.write(temporary, encoding="utf-8", xml_declaration=True)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)

    def render(self, console: Any) -> None:
        from rich.table import Table

        colour = {"pass": "green", "warn": "yellow", "fail": "red"}
        table = Table(title=f"Production readiness: {self.stack} ({self.target})", show_lines=False)
        for col in ("category", "status", "item", "evidence"):
            table.add_column(col, overflow="fold")
        for i in self.ordered():
            shown = "\n".join(i.evidence[:3]) + (f"\n(+{len(i.evidence) - 3} more)" if len(i.evidence) > 3 else "")
            table.add_row(
                TITLES[i.category],
                f"[{colour[i.status]}]{i.status.upper()}[/{colour[i.status]}]",
                f"{i.title}\n[dim]{i.id}[/dim]",
                shown,
            )
        console.print(table)
        total = Counter(i.status for i in self.items)
        console.print(
            f"{len(self.items)} items from {', '.join(self.sources)}: {total['pass']} passed, {total['warn']} warned, "
            f"{total['fail']} failed; " + ("READY" if self.ok else "NOT READY"),
            markup=False,
        )
