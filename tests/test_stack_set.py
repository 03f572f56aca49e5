"""``python -m ops stack-set``: one value, or several set and validated together, never half-written."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.cli import main
from ops.errors import OpsError
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
        ((PUBLIC, "redisgw:a:b:publicAccessCidrs=[]"), "a key path is namespace:key"),
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


def _config(stack_file: Path) -> dict[str, Any]:
    from ops.offline import go_yaml

    return dict(go_yaml.load(stack_file.read_text())["config"])


def test_values_are_coerced_as_pulumi_config_set_path_coerces_them(stack_file: Path) -> None:
    """pulumi/pulumi v3.259.0 sdk/go/common/resource/config/object.go ``coerce``: in a nested path,
    "true"/"false" are booleans and a decimal integer without a leading zero a number; anything else
    stays the text given (a YAML reading would turn "#alerts" into null and "2024-01-01" into a date)."""
    assert _set(stack_file, "redisgw:monitoring.slackChannel=#alerts", "redisgw:tags.created=2024-01-01") == 0
    assert _set(stack_file, "redisgw:cluster.version=1.35", "redisgw:tags.build=0123") == 0
    config = _config(stack_file)
    assert config["redisgw:monitoring"]["slackChannel"] == "#alerts"
    assert config["redisgw:tags"]["created"] == "2024-01-01" and config["redisgw:tags"]["build"] == "0123"
    assert config["redisgw:cluster"]["version"] == "1.35"
    assert _set(stack_file, "redisgw:gateway.replicas.min=4", "redisgw:cluster.endpointPublicAccess=false") == 0
    config = _config(stack_file)
    assert config["redisgw:gateway"]["replicas"]["min"] == 4
    assert config["redisgw:cluster"]["endpointPublicAccess"] is False


def test_a_top_level_key_takes_the_text_and_the_project_type_judges_it(
    stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``Map.Set`` without a nested path stores the string; ``Pulumi.yaml`` types the key boolean, so
    "false" passes (``ValidateConfigValue`` takes the literal) and "yes" is refused in the CLI's words."""
    assert _set(stack_file, "redisgw:protectStatefulResources=false") == 0
    assert _config(stack_file)["redisgw:protectStatefulResources"] == "false"
    before = stack_file.read_text()
    assert _set(stack_file, "redisgw:protectStatefulResources=yes") == 2
    assert "configuration key 'redisgw:protectStatefulResources' must be of type 'boolean'" in capsys.readouterr().err
    assert stack_file.read_text() == before


def test_list_items_are_addressed_by_index(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = _config(stack_file)["redisgw:delivery"]["canarySteps"]
    assert _set(stack_file, "redisgw:delivery.canarySteps[0].weight=10") == 0
    assert _config(stack_file)["redisgw:delivery"]["canarySteps"][0] == {**steps[0], "weight": 10}
    before = stack_file.read_text()
    assert _set(stack_file, f"redisgw:delivery.canarySteps[{len(steps) + 1}].weight=10") == 2
    assert f"index out of range (0 to {len(steps)})" in capsys.readouterr().err
    assert _set(stack_file, "redisgw:delivery.canarySteps.weight=10") == 2
    assert "is a list: give an [index]" in capsys.readouterr().err
    assert _set(stack_file, "redisgw:delivery[0]=x") == 2
    assert "redisgw:delivery is an object: give a .name" in capsys.readouterr().err
    assert stack_file.read_text() == before


def test_a_stack_file_without_config_gets_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pulumi stack init --secrets-provider`` writes only the provider: setting a key adds config:
    (and the whole file is then validated: a lone key is missing the others)."""
    bare = tmp_path / "Pulumi.staging.yaml"
    bare.write_text("secretsprovider: awskms://alias/pulumi-redisgw\n")
    assert _set(bare, "redisgw:delivery.strategy=canary") == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "is missing configuration values" in err and "Traceback" not in err
    assert bare.read_text() == "secretsprovider: awskms://alias/pulumi-redisgw\n"


def test_keys_and_paths_as_pulumi_config_set_path_reads_them(
    stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``parseConfigKey`` (a bare key is the project's), ``config.ParseKey`` (``ns:config:key``),
    ``ParsePropertyPathStrict`` (``["a\\"b"]``), ``coerce`` ("-05" is -5), ``newContainer`` (an index
    past a new list's end makes the items before it null)."""
    assert _set(stack_file, "delivery.strategy=rolling", "redisgw:config:gateway.replicas.min=-05") == 2
    assert "redisgw:gateway.replicas.min" in capsys.readouterr().err  # -5 reached the settings as a number
    assert _set(stack_file, "delivery.strategy=rolling", 'redisgw:tags["team/x"]=core') == 0
    config = _config(stack_file)
    assert config["redisgw:delivery"]["strategy"] == "rolling" and config["redisgw:tags"]["team/x"] == "core"
    from ops.offline import stack_set

    doc: dict[str, Any] = {"config": {}}
    stack_set._set(doc, stack_file, 'aws:x["a\\"b"][2]', "v", "redisgw")
    assert doc["config"]["aws:x"] == {'a"b': [None, None, "v"]}
    with pytest.raises(OpsError, match='maps with the single key "secure" are reserved'):
        stack_set._set({"config": {}}, stack_file, "aws:y.secure", "v", "redisgw")
