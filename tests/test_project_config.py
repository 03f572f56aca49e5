"""The Pulumi CLI's project-config rules in the offline engine (``ops/offline/project_config.py``).

The vectors are pulumi/pulumi's own, ``sdk/go/common/workspace/project_test.go`` (the tests of
``ValidateStackConfigAndApplyProjectConfig`` and ``Project.Validate``), with the messages of
``config.go`` (``missingStackConfigurationKeysError``, ``validateStackConfigValue``) and
``project.go`` (``ValidateConfigValue``, ``InferFullTypeName``), at the CLI line the README documents
(v3). Both committed stacks pass them; ``make preview`` fails on each, naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.cli import main
from ops.offline import project_config
from ops.offline.engine import ROOT
from tests.conftest import STACKS, write_variant

ARRAY_OF_ARRAYS = {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}


def _stack(declarations: dict[str, Any], values: dict[str, Any], secure: frozenset[str] = frozenset()) -> list[str]:
    return project_config.stack_problems("test", declarations, "dev", values, secure)


def test_a_declared_key_without_a_default_is_required_whatever_its_type() -> None:
    """TestStackConfigErrorsWhenMissingStackValueForConfigTypeWithNoDefault, and ...MissingTwo..."""
    assert _stack({"values": ARRAY_OF_ARRAYS}, {}) == ["Stack 'dev' is missing configuration value 'values'"]
    assert _stack({"another": {"type": "string"}, "values": ARRAY_OF_ARRAYS}, {}) == [
        "Stack 'dev' is missing configuration values 'another' and 'values'"
    ]
    three = {"c": {"type": "string"}, "a": {"type": "string"}, "b": {"description": "no type at all"}}
    assert _stack(three, {}) == ["Stack 'dev' is missing configuration values 'a', 'b' and 'c'"]


def test_defaults_values_and_other_namespaces_are_not_required() -> None:
    """TestStackConfigIsInheritedFromProjectConfig and TestNamespacedConfigValuesAreInheritedCorrectly."""
    declarations = {
        "instanceSize": "t3.micro",  # a bare value
        "instanceCount": {"type": "integer", "default": 20},
        "aws:region": "us-west-1",
        "aws:profile": {"type": "string"},  # another namespace: the provider's business
    }
    assert _stack(declarations, {"test:instanceSize": "t4.large"}) == []


def test_a_secret_key_must_be_stored_encrypted() -> None:
    declarations = {"token": {"type": "string", "secret": True}}
    assert _stack(declarations, {"test:token": "plain"}) == [
        "Stack 'dev' with configuration key 'token' must be encrypted as it's secret"
    ]
    assert _stack(declarations, {"test:token": "[secret]"}, frozenset({"test:token"})) == []


@pytest.mark.parametrize(
    ("declaration", "value", "ok"),
    [
        ({"type": "integer"}, 3, True),
        ({"type": "integer"}, "3", True),  # strconv.Atoi accepts it
        ({"type": "integer"}, "3.5", False),
        ({"type": "integer"}, "three", False),
        ({"type": "boolean"}, True, True),
        ({"type": "boolean"}, "false", True),
        ({"type": "boolean"}, "yes", False),
        ({"type": "string"}, 42, True),  # the CLI holds scalars as their text
        ({"type": "string"}, ["a"], False),
        ({"type": "array", "items": {"type": "string"}}, ["a", "b"], True),
        (ARRAY_OF_ARRAYS, [["a"]], True),
        (ARRAY_OF_ARRAYS, ["a"], False),
    ],
)
def test_values_of_typed_keys_are_checked_as_the_cli_holds_them(
    declaration: dict[str, Any], value: Any, ok: bool
) -> None:
    problems = _stack({"values": declaration}, {"test:values": value})
    full = "array<array<string>>" if declaration is ARRAY_OF_ARRAYS else project_config._type_name(declaration)
    assert problems == ([] if ok else [f"Stack 'dev' with configuration key 'values' must be of type '{full}'"])


def test_a_default_of_the_wrong_type_is_refused_in_the_project() -> None:
    """TestProjectValidationFailsForIncorrectDefaultValueType."""
    assert project_config.project_problems("test", {"instanceSize": {"type": "integer", "default": "hello"}}) == [
        "Pulumi.yaml: The default value specified for configuration key 'instanceSize' is not of the expected "
        "type 'integer'"
    ]
    wrong = {**ARRAY_OF_ARRAYS, "default": ["hello"]}
    assert "not of the expected type 'array<array<string>>'" in project_config.project_problems("test", {"v": wrong})[0]
    assert project_config.project_problems("test", {"v": {**ARRAY_OF_ARRAYS, "default": [["hello"]]}}) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_pass_the_cli_rules(stack: str) -> None:
    name, declarations = project_config.load_project(ROOT)
    assert name == "redisgw" and declarations
    values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    secure = frozenset(k for k, v in values.items() if isinstance(v, dict) and set(v) == {"secure"})
    assert project_config.project_problems(name, declarations) == []
    assert project_config.stack_problems(name, declarations, stack, values, secure) == []


def test_make_preview_fails_naming_a_declared_key_the_stack_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variant = write_variant(tmp_path, "staging", [])
    doc = yaml.safe_load(variant.read_text())
    del doc["config"]["redisgw:delivery"]
    variant.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["preview", "--stack", "staging", "--config", str(variant)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "Stack 'staging' is missing configuration value 'redisgw:delivery'" in err and "Traceback" not in err


def test_urns_are_built_as_the_engine_builds_them(stack_run: Any) -> None:
    """pulumi/pulumi sdk/go/common/resource/urn.go ``NewURN``: the parent's qualified type chain,
    then the type; the root stack never appears in it. URNs from the report go into ``pulumi state``,
    ``--target`` and ``pulumi import``, so they must be the engine's."""
    recording = stack_run("production")
    by_urn = {r.urn: r for r in recording}
    nested = 0
    for r in recording:
        stack, project, chain, name = r.urn.removeprefix("urn:pulumi:").split("::", 3)
        assert (stack, project, name) == ("production", "redisgw", r.name) and "pulumi:pulumi:Stack" not in chain
        parent = by_urn.get(r.parent or "")
        if parent is None:
            assert chain == r.type, r.urn  # a top-level resource: its type alone
        else:
            assert chain == f"{parent.urn.split('::')[2]}${r.type}", r.urn
            nested += chain.count("$") >= 2
    assert nested > 100  # grandchildren carry the whole chain (the SDK's mock keeps only the last type)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: redisgw\nruntime: python\nconfig: [1, 2]\n", "config: must be a mapping"),
        ("runtime: python\n", "missing a non-empty string 'name'"),
        ("name: redisgw\nconfig:\n  size:\n    type: float\n", "type 'float' is not one of"),
        ("name: [unclosed\n", "cannot be read"),
    ],
)
def test_a_broken_project_file_is_one_line_exit_2(tmp_path: Path, text: str, says: str) -> None:
    from ops.errors import OpsError

    (tmp_path / "Pulumi.yaml").write_text(text)
    with pytest.raises(OpsError) as info:
        project_config.check(tmp_path, "dev", "Pulumi.dev.yaml", {}, frozenset())
    assert says in info.value.message and info.value.code == 2 and "\n" not in info.value.message
