"""The policy catalog: public benchmarks mapped to the pack (``docs/policy-catalog.md``).

The Markdown table is the source; this module reads it, checks it against the pack (every named
policy exists, every row has a policy or a reason) and renders it with counts for
``ops policies --catalog``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.offline.engine import ROOT

CATALOG = ROOT / "docs" / "policy-catalog.md"
VERDICTS = ("covered", "n/a")


@dataclass(frozen=True)
class CatalogRow:
    catalog: str
    item: str
    verdict: str
    policies: tuple[str, ...]
    reason: str


def load(path: Path = CATALOG) -> list[CatalogRow]:
    """The rows of the catalog table; OpsError (exit 2) naming the line of a malformed row."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise OpsError(f"{path.name}: cannot be read ({exc.strerror})", code=2) from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("| ") or line.startswith(("| Catalog |", "|---")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 4 or cells[2] not in VERDICTS:
            raise OpsError(
                f"{path.name}: line {number}: a row is | catalog | item | covered or n/a | policies or reason |", code=2
            )
        catalog, item, verdict, rest = cells
        policies = tuple(re.findall(r"`([a-z0-9-]+)`", rest)) if verdict == "covered" else ()
        rows.append(CatalogRow(catalog, item, verdict, policies, rest if verdict == "n/a" else ""))
    return rows


def problems(rows: Sequence[CatalogRow], pack: Iterable[str]) -> list[str]:
    """What makes the catalog disagree with the pack (empty when it holds)."""
    names = set(pack)
    out = []
    for row in rows:
        if row.verdict == "covered" and not row.policies:
            out.append(f"{row.catalog} {row.item}: covered, but names no policy")
        if row.verdict == "n/a" and len(row.reason) < 20:
            out.append(f"{row.catalog} {row.item}: n/a without a reason")
        out += [f"{row.catalog} {row.item}: no policy {p} in the pack" for p in row.policies if p not in names]
    mapped = {p for row in rows for p in row.policies}
    out += [f"policy {p} is mapped to no catalog item" for p in sorted(names - mapped)]
    return out


def summary(rows: Sequence[CatalogRow]) -> dict[str, dict[str, int]]:
    """Catalog (its first word) -> verdict -> count."""
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        counts.setdefault(row.catalog.split()[0], Counter())[row.verdict] += 1
    return {k: {v: c[v] for v in VERDICTS} for k, c in counts.items()}


def render(rows: Sequence[CatalogRow], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Policy catalog: {len(rows)} items ({CATALOG.relative_to(ROOT)})")
    for col in ("catalog", "item", "verdict", "policies or reason"):
        table.add_column(col)
    for row in rows:
        table.add_row(row.catalog, row.item, row.verdict, ", ".join(row.policies) or row.reason)
    console.print(table)
    for catalog, counts in summary(rows).items():
        console.print(f"{catalog}: {counts['covered']} covered, {counts['n/a']} not applicable")
