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
        "aws:profile": {"value": "dev"},  # another namespace: a value, never required
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
        "The default value specified for configuration key 'instanceSize' is not of the expected type 'integer'"
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
        ("name: redisgw\nruntime: python\nconfig: [1, 2]\n", "#/config: [1, 2] is not of type"),
        ("runtime: python\n", "project is missing a 'name' attribute"),
        ("name: ''\nruntime: python\n", "missing a non-empty string 'name'"),
        ("name: redisgw\nconfig:\n  size:\n    type: float\n", "#/config/size/type: 'float' is not one of"),
        ("name: [unclosed\n", "line 2: not valid YAML"),
        ("- a\n- list\n", "expected project to be an object"),
    ],
)
def test_a_broken_project_file_is_one_line_exit_2(tmp_path: Path, text: str, says: str) -> None:
    from ops.errors import OpsError

    (tmp_path / "Pulumi.yaml").write_text(text)
    with pytest.raises(OpsError) as info:
        project_config.check(tmp_path, "dev", "Pulumi.dev.yaml", {}, frozenset())
    assert says in info.value.message and info.value.code == 2 and "\n" not in info.value.message


# -- Pulumi.yaml itself: ValidateProject (project.json) and Project.Validate, pulumi/pulumi v3.259.0
# sdk/go/common/workspace/project_test.go (the test named on each case) ---------------------------


def _project(tmp_path: Path, config: str) -> str:
    from ops.errors import OpsError

    (tmp_path / "Pulumi.yaml").write_text(f"name: test\nruntime: dotnet\nconfig:\n{config}")
    with pytest.raises(OpsError) as info:
        project_config.load_project(tmp_path)
    assert info.value.code == 2 and "\n" not in info.value.message
    assert info.value.message.startswith("Pulumi.yaml: ")
    return info.value.message


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (  # TestNamespacedProjectConfigShouldNotBeExplicitlyTyped
            "  aws:region:\n    type: string\n    value:\n      region: us-west-1\n",
            "Configuration key 'aws:region' is not namespaced by the project and should not define a type",
        ),
        (  # TestProjectConfigCannotHaveBothValueAndDefault
            "  instanceSize:\n    type: string\n    default: t3.micro\n    value: t4.large\n",
            "project config 'instanceSize' cannot have both a 'default' and 'value' attribute",
        ),
        (  # TestProjectConfigCannotBeTypedArrayWithoutItems
            "  instanceSize:\n    type: array\n    default: [t3.micro, t4.large]\n",
            "The configuration key 'instanceSize' declares an array but does not specify the underlying type via "
            "the 'items' attribute",
        ),
        (  # TestNamespacedProjectConfigShouldNotBeProvideDefault
            "  aws:region:\n    default: us-west-1\n",
            "Configuration key 'aws:region' is not namespaced by the project and should not define a default value. "
            "Did you mean to use the 'value' attribute instead of 'default'?",
        ),
        (  # Project.Validate: another namespace's key must carry a value
            "  aws:profile:\n    description: the profile\n",
            "Configuration key 'aws:profile' is namespaced and must provide an attribute 'value'",
        ),
        (  # project.json: additionalProperties false, named with findClosestKey's hint
            "  size:\n    type: integer\n    defualt: 3\n",
            "#/config/size: additionalProperties 'defualt' not allowed; did you mean 'default'?",
        ),
        (  # ... and the allowed attributes when nothing is close
            "  size:\n    type: integer\n    minimum: 3\n",
            "additionalProperties 'minimum' not allowed; the allowed attributes are 'default', 'description', "
            "'items', 'secret', 'type' and 'value'",
        ),
        ("  token:\n    type: string\n    secret: 'yes'\n", "#/config/token/secret: 'yes' is not of type 'boolean'"),
        ("  list:\n    type: array\n    items: {}\n", "#/config/list/items: 'type' is a required property"),
        ("  size: 1.5\n", "#/config/size: 1.5 is neither a string, an integer, a boolean, a list nor a declaration"),
        ("  size:\n", "#/config/size: None is neither"),
        (  # pkg/workspace/config.go mergeConfig: parseConfigKey -> config.ParseKey
            "  test:foo:bar:\n    type: string\n",
            "could not parse test:foo:bar as a configuration key (configuration keys should be of the form "
            "`<namespace>:<name>`)",
        ),
    ],
)
def test_each_project_rule_of_the_cli_refuses_the_project(tmp_path: Path, config: str, says: str) -> None:
    assert says in _project(tmp_path, config)


def test_an_object_type_and_shorthand_values_are_accepted(tmp_path: Path) -> None:
    """TestProjectValidationSucceedsForObjectConfigType; RewriteShorthandConfigValues."""
    (tmp_path / "Pulumi.yaml").write_text(
        "name: test\nruntime: dotnet\nconfig:\n  example:\n    type: object\n    default: {hello: world}\n"
        "  size: t3.micro\n  aws:region: us-west-2\n  test:config:count:\n    type: integer\n    default: 2\n"
    )
    name, declarations = project_config.load_project(tmp_path)
    assert declarations["size"] == {"default": "t3.micro"} and declarations["aws:region"] == {"value": "us-west-2"}
    # mergeConfig: what the stack does not set comes from the project, as the CLI hands it over
    merged = project_config.apply_defaults(name, declarations, {"test:size": "t4.large"})
    assert merged == {
        "test:size": "t4.large",
        "test:example": {"hello": "world"},
        "aws:region": "us-west-2",
        "test:count": "2",
    }
    assert project_config.stack_problems(name, declarations, "dev", merged, frozenset()) == []
    assert project_config.stack_problems(name, declarations, "dev", {**merged, "test:example": "x"}, frozenset()) == [
        "Stack 'dev' with configuration key 'example' must be of type 'object'"
    ]


def test_a_project_default_reaches_the_program(tmp_path: Path) -> None:
    """``Pulumi.yaml`` declares ``protectStatefulResources`` with ``default: true``; a stack that
    leaves it out gets the default, and with ``default: false`` the program reads "false"."""
    from ops.offline.engine import cli_config, load_stack_config

    (tmp_path / "Pulumi.yaml").write_text(
        (ROOT / "Pulumi.yaml").read_text().replace("    default: true", "    default: false", 1)
    )
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    kept = [line for line in text.splitlines() if not line.startswith("  redisgw:protectStatefulResources:")]
    assert len(kept) == len(text.splitlines()) - 1
    (tmp_path / "Pulumi.staging.yaml").write_text("\n".join(kept) + "\n")
    loaded = load_stack_config("staging", root=tmp_path)
    assert cli_config(loaded)["redisgw:protectStatefulResources"] == "false"
    assert cli_config(load_stack_config("staging"))["redisgw:protectStatefulResources"] == "false"  # as committed
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    assert cli_config(load_stack_config("staging", root=tmp_path))["redisgw:protectStatefulResources"] == "true"


@pytest.mark.parametrize("text", ["", "config:\n", "secretsprovider: awskms://alias/pulumi-redisgw\n"])
def test_a_stack_file_with_no_config_lacks_every_required_key(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty file, a bare ``config:`` and a file with only the secrets provider (as ``pulumi stack
    init`` writes it) are the same empty config to the CLI: every required key is missing."""
    stack_file = tmp_path / "Pulumi.staging.yaml"
    stack_file.write_text(text)
    assert main(["preview", "--stack", "staging", "--config", str(stack_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "Stack 'staging' is missing configuration values 'redisgw:backup', " in err


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        # gopkg.in/yaml.v3 resolve.go: YAML 1.2 booleans only, no base 60, Go's ParseInt with base 0
        ("true", True),
        ("True", True),
        ("FALSE", True),
        ("yes", False),
        ("on", False),
        ("'true'", True),
        ("1", False),
    ],
)
def test_a_boolean_key_takes_what_yaml_v3_reads_as_one(
    tmp_path: Path, value: str, ok: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    variant = write_variant(tmp_path, "staging", [])
    text = variant.read_text()
    line = next(x for x in text.splitlines() if x.startswith("  redisgw:protectStatefulResources:"))
    variant.write_text(text.replace(line, f"  redisgw:protectStatefulResources: {value}"))
    from ops.offline.engine import load_stack_config

    loaded = load_stack_config("staging", variant)
    name, declarations = project_config.load_project(ROOT)
    problems = project_config.stack_problems(name, declarations, "staging", loaded.values, loaded.secret_keys)
    assert problems == (
        []
        if ok
        else ["Stack 'staging' with configuration key 'redisgw:protectStatefulResources' must be of type 'boolean'"]
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Name: test\nruntime: dotnet\n", "project is missing a 'name' attribute; found 'Name' instead"),
        ("runtime: dotnet\n", "project is missing a 'name' attribute ("),
        (
            "name: test\nruntime: dotnet\ndescription: 2024-01-01\n",
            "#/description: 2024-01-01 00:00:00 +0000 UTC is a timestamp",
        ),
        (
            "name: test\nruntime: dotnet\nconfig:\n  n:\n    type: integer\n    default: 18446744073709551615\n",
            "#/config/n/default: 18446744073709551615 is beyond a signed 64-bit integer",
        ),
    ],
)
def test_what_the_cli_decodes_to_go_types_its_schema_refuses(tmp_path: Path, text: str, says: str) -> None:
    """TestProjectLoadJSONInformativeErrors ("found 'Name' instead"); a time.Time or uint64 that the
    schema validator cannot type ("invalid jsonType")."""
    from ops.errors import OpsError

    (tmp_path / "Pulumi.yaml").write_text(text)
    with pytest.raises(OpsError) as info:
        project_config.load_project(tmp_path)
    assert says in info.value.message


def test_a_null_default_leaves_the_value_and_integers_are_atoi_s() -> None:
    """mergeConfig uses ``Value`` when ``Default`` is nil; ``strconv.Atoi`` refuses beyond int64."""
    declarations = {"aws:r": {"value": "x", "default": None}, "n": {"type": "integer"}}
    assert project_config.apply_defaults("test", declarations, {"test:n": "1"})["aws:r"] == "x"
    assert _stack({"n": {"type": "integer"}}, {"test:n": str(2**63 - 1)}) == []
    assert _stack({"n": {"type": "integer"}}, {"test:n": 2**63}) == [
        "Stack 'dev' with configuration key 'n' must be of type 'integer'"
    ]


def test_a_bare_key_is_the_projects_and_a_null_is_an_empty_string(tmp_path: Path) -> None:
    """loaders.go ``stackConfigNamespacedWithProject`` and ``checkForEmptyConfig`` ("treated as an
    empty string")."""
    from ops.offline.engine import cli_config, load_stack_config

    text = (ROOT / "Pulumi.staging.yaml").read_text().replace("  redisgw:tags:", "  tags:", 1)
    stack_file = tmp_path / "Pulumi.staging.yaml"
    stack_file.write_text(text + "  aws:profile:\n")
    loaded = load_stack_config("staging", stack_file)
    assert "redisgw:tags" in loaded.values and "tags" not in loaded.values
    assert cli_config(loaded)["aws:profile"] == ""
