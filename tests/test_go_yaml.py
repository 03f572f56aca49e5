"""Stack and project files read as the Pulumi CLI reads them (``ops/offline/go_yaml.py``).

Plain scalars resolve as gopkg.in/yaml.v3 v3.0.1 ``resolve.go`` resolves them (the CLI's YAML
library, pulumi/pulumi v3.259.0 ``sdk/go.mod``), with its edge cases: YAML 1.2 booleans only, no base
60, Go's ``strconv.ParseInt`` with base 0 after underscores are dropped, ``yamlStyleFloat``, and
timestamps by ``parseTimestamp``'s four layouts. The CLI then holds a timestamp as Go's
``time.Time.String()`` and a float as ``encoding/json`` writes it (``resource/config/object.go``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from ops.offline import go_yaml


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("tRUE", "tRUE"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("n", "n"),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("1:30", "1:30"),  # base 60 is purposefully unsupported
        ("0x5A", 90),
        ("0o17", 15),
        ("017", 15),  # YAML 1.1 octal, still decoded by v3
        ("08", 8.0),  # not octal, but yamlStyleFloat matches
        ("9_0", 90),
        ("-0b101", -5),
        ("+3", 3),
        ("18446744073709551615", 2**64 - 1),  # ParseUint after ParseInt overflows
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("-.inf", -math.inf),
        ("0x", "0x"),
        ("#x", "#x"),
        ("2024-01-01", "2024-01-01 00:00:00 +0000 UTC"),
        ("2024-1-2", "2024-01-02 00:00:00 +0000 UTC"),
        ("2024-02-30", "2024-02-30"),  # time.Parse: day out of range, so a string
        ("2024-01-01T10:00:00Z", "2024-01-01 10:00:00 +0000 UTC"),
        ("2024-01-01t10:00:00.500Z", "2024-01-01 10:00:00.5 +0000 UTC"),
        ("2024-01-01T10:00:00+02:00", "2024-01-01 10:00:00 +0200 +0200"),
        ("2024-01-01T10:00:00", "2024-01-01T10:00:00"),  # the T layouts need a zone
        ("2024-01-01 10:00:00", "2024-01-01 10:00:00 +0000 UTC"),
        ("2024-01-01 10:00:00Z", "2024-01-01 10:00:00Z"),  # the space layout takes none
        ("20240-01-01", "20240-01-01"),
        ("2024-01-01T00:00:00+00:00", "2024-01-01 00:00:00 +0000 UTC"),  # the CLI's round trip writes Z
        ("2024-01-01T00:00:00,5Z", "2024-01-01 00:00:00.5 +0000 UTC"),  # Go 1.17+ takes a comma
        ("0000-01-01", "0000-01-01 00:00:00 +0000 UTC"),  # Go takes year 0
        ("2024-01-01T00:00:00+25:00", "2024-01-01T00:00:00+25:00"),  # offset hour out of range
        ("1e999", "1e999"),  # ParseFloat's range error: the text
        (".5e999", ".5e999"),
    ],
)
def test_plain_scalars_resolve_as_yaml_v3_resolves_them(text: str, value: Any) -> None:
    got = go_yaml.resolve_plain(text)
    assert got == value
    assert isinstance(got, str) if isinstance(value, str) else type(got) is type(value)


def test_quoted_and_tagged_scalars_stay_what_they_say() -> None:
    doc = go_yaml.load('a: "true"\nb: \'0x5A\'\nc: !!str 2024-01-01\nd: yes\ne: [on, 1, "1"]\n')
    assert doc == {"a": "true", "b": "0x5A", "c": "2024-01-01", "d": "yes", "e": ["on", 1, "1"]}


def test_anchors_and_merge_keys_work_and_a_recursive_alias_is_refused() -> None:
    assert go_yaml.load("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n") == {
        "base": {"x": 1},
        "derived": {"x": 1, "y": 2},
    }
    with pytest.raises(yaml.YAMLError):
        go_yaml.load("a: &x [*x]\n")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (1.5, "1.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (1.25e-10, "1.25e-10"),
        (0.000001, "0.000001"),
        (-2.5e300, "-2.5e+300"),
        (True, "true"),
        (7, "7"),
    ],
)
def test_scalars_are_handed_over_as_the_cli_holds_them(value: Any, text: str) -> None:
    """``MarshalString``: a float as ``encoding/json`` writes it ('f' from 1e-6 to 1e21, else 'e'
    with ``e-07`` shortened to ``e-7``), a boolean as true/false."""
    assert go_yaml.scalar_text(value) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: !!float 1", {"a": 1.0}),
        ("a: [!!timestamp 2024-01-01]", {"a": ["2024-01-01 00:00:00 +0000 UTC"]}),
        ("a: [!!binary aGVsbG8=]", {"a": ["hello"]}),  # decoded into a string
        ("a: !!set {x, y}", {"a": {"x": None, "y": None}}),
        ("a: !custom x", {"a": "x"}),  # an unknown tag: the node by its kind
        ("a: {~: 1}", {"a": {"<nil>": 1}}),  # fmt's %v of a nil key
    ],
)
def test_explicit_tags_decode_as_yaml_v3_decodes_them(text: str, value: Any) -> None:
    assert go_yaml.load(text) == value


@pytest.mark.parametrize("text", ["a: !!int 1.0", "a: !!int 2024-01-01", "a: !!bool yes", "a: .inf", "a: [.nan]"])
def test_what_the_cli_cannot_decode_or_hold_is_a_yaml_error(text: str) -> None:
    """yaml.v3: "cannot decode !!float `1.0` as a !!int"; encoding/json: "unsupported value" (+Inf,
    NaN), which fails the CLI's ``MarshalString``."""
    with pytest.raises(yaml.YAMLError):
        go_yaml.load(text)


def test_objects_reach_the_program_as_go_writes_json() -> None:
    """``json.Marshal``: compact, keys sorted, HTML characters escaped, UTF-8 as it is, floats in Go's
    form (a whole float is an integer to the program)."""
    value = {"b": 1, "a": ["x", "<&>", "é", 1.0, 1e20, None, True, "\u2028"]}
    assert (
        go_yaml.go_json(value)
        == '{"a":["x","\\u003c\\u0026\\u003e","é",1,100000000000000000000,null,true,"\\u2028"],"b":1}'
    )
