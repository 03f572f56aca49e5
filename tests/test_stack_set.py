"""``python -m ops stack-set``: one value, or several set and validated together, never half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ops.cli import main
from ops.offline.engine import ROOT

PUBLIC = "redisgw:cluster.endpointPublicAccess=true"
CIDRS = 'redisgw:cluster.publicAccessCidrs=["52.19.0.0/16"]'


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    copy = tmp_path / "Pulumi.staging.yaml"
    shutil.copy(ROOT / "Pulumi.staging.yaml", copy)
    return copy


def _set(stack_file: Path, *assignments: str) -> int:
    return main(["stack-set", "--stack", "staging", "--config", str(stack_file), *assignments])


@pytest.mark.parametrize("alone", [PUBLIC, CIDRS])
def test_a_change_valid_only_as_a_whole_fails_one_key_at_a_time(
    stack_file: Path, alone: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack_file.read_text()
    assert _set(stack_file, alone) == 2
    assert stack_file.read_text() == before  # nothing half-written
    err = capsys.readouterr().err
    assert "endpointPublicAccess" in err and "Traceback" not in err


def test_several_pairs_are_set_and_validated_together(stack_file: Path) -> None:
    text = stack_file.read_text()
    assert _set(stack_file, PUBLIC, CIDRS) == 0
    cluster = yaml.safe_load(stack_file.read_text())["config"]["redisgw:cluster"]
    assert cluster["endpointPublicAccess"] is True and cluster["publicAccessCidrs"] == ["52.19.0.0/16"]
    kept = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert all(line in stack_file.read_text() for line in kept)  # comments kept


def test_the_original_key_value_form_still_works(stack_file: Path) -> None:
    assert _set(stack_file, "redisgw:delivery.strategy", "rolling") == 0
    assert yaml.safe_load(stack_file.read_text())["config"]["redisgw:delivery"]["strategy"] == "rolling"


@pytest.mark.parametrize(
    ("assignments", "says"),
    [
        ((PUBLIC, "redisgw:delivery.strategy"), "redisgw:delivery.strategy: give a value"),
        ((PUBLIC, PUBLIC), "redisgw:cluster.endpointPublicAccess: set twice"),
        ((PUBLIC, "cluster.publicAccessCidrs=[]"), "a key path is namespace:key"),
    ],
)
def test_bad_assignments_are_one_line_and_change_nothing(
    stack_file: Path, assignments: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack_file.read_text()
    assert _set(stack_file, *assignments) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.splitlines() == [err]
    assert stack_file.read_text() == before
