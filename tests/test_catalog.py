"""The policy catalog (docs/policy-catalog.md) agrees with the pack, and `ops policies --catalog` prints it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.cli import main
from ops.errors import OpsError
from ops.offline import catalog
from ops.offline.engine import ROOT
from redisgw_policies import POLICIES
from tests.conftest import Recording

NAMES = [p.name for p in POLICIES]


def test_every_item_is_covered_or_has_a_reason_and_every_policy_is_mapped() -> None:
    assert catalog.problems(catalog.load(), NAMES) == []


def test_the_public_catalogs_are_all_there() -> None:
    counts = catalog.summary(catalog.load())
    assert set(counts) == {"PSS", "CIS", "FSBP", "Readiness"}
    assert counts["PSS"]["covered"] >= 17  # every baseline and restricted control
    assert counts["CIS"]["covered"] + counts["CIS"]["n/a"] >= 35
    assert counts["FSBP"]["covered"] >= 40


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("| CIS EKS | 9.9 Something | covered | none named |", "covered, but names no policy"),
        ("| CIS EKS | 9.9 Something | n/a | short |", "n/a without a reason"),
        ("| CIS EKS | 9.9 Something | covered | `no-such-policy` |", "no policy no-such-policy in the pack"),
    ],
)
def test_a_wrong_row_is_reported(tmp_path: Path, row: str, problem: str) -> None:
    doc = tmp_path / "catalog.md"
    doc.write_text(catalog.CATALOG.read_text() + row + "\n")
    assert any(problem in p for p in catalog.problems(catalog.load(doc), NAMES))


def test_a_policy_missing_from_the_catalog_is_reported() -> None:
    assert "policy extra-policy is mapped to no catalog item" in catalog.problems(
        catalog.load(), [*NAMES, "extra-policy"]
    )


def test_a_malformed_row_names_its_line(tmp_path: Path) -> None:
    doc = tmp_path / "catalog.md"
    doc.write_text("| Catalog | Item | Verdict | Policy or reason |\n|---|---|---|---|\n| PSS | x | maybe | y |\n")
    with pytest.raises(OpsError, match=r"catalog\.md: line 3: "):
        catalog.load(doc)


def test_ops_policies_catalog_prints_the_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies", "--catalog"]) == 0
    out = capsys.readouterr().out
    for line in ("PSS: ", "CIS: ", "FSBP: ", "Readiness: "):
        assert line in out
    assert "k8s-pod-disallow-host-namespaces" in out


def test_accepted_findings_name_what_the_plan_declares(stack_run: Callable[[str], Recording]) -> None:
    """Each accepted finding names a rule, a resource of the production plan, a reason and what covers
    the risk; the procedure it relies on is in the runbooks."""
    text = (ROOT / "docs" / "accepted-findings.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(("| Rule", "|---"))]
    assert rows
    declared = {(r.type, r.name) for r in stack_run("production")}
    runbooks = " ".join((ROOT / "docs" / "runbooks").joinpath(f).read_text() for f in ("disaster-recovery.md",))
    for row in rows:
        rule, resource, finding, why, covered = (c.strip() for c in row.strip("|").split(" | "))
        name, kind = re.fullmatch(r"`([\w-]+)` \(`([^`]+)`\)", resource).groups()  # type: ignore[union-attr]
        assert (kind, name) in declared, row
        assert rule and finding and len(why) > 80 and covered
        for procedure in re.findall(r"`pulumi state taint` of `([\w-]+)`", covered):
            assert (("random:index/randomPassword:RandomPassword", procedure) in declared) and procedure in runbooks
