"""YAML read as the Pulumi CLI reads ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``, and values as it
holds them.

The CLI decodes both files with ``gopkg.in/yaml.v3`` (v3.0.1, pulumi/pulumi ``sdk/go.mod``;
``sdk/go/common/encoding/marshal.go``), whose plain scalars resolve by YAML 1.2's core rules
(``resolve.go``), not YAML 1.1's as PyYAML's: ``yes``, ``on`` and ``off`` are strings, ``True`` and
``TRUE`` booleans, ``1:30`` a string (no base 60), ``0x5A``, ``0o17`` and ``017`` integers (Go's
``strconv.ParseInt`` with base 0, after the underscores are dropped: ``9_0`` is 90), ``08`` a float
(not an octal, but ``yamlStyleFloat`` matches), and ``2024-01-01`` a timestamp when it starts with
four digits and a dash and ``time.Parse`` takes one of its four layouts.

Then ``sdk/go/common/resource/config/object.go`` (``unmarshalObject``, ``MarshalString``) keeps a
timestamp as Go's ``time.Time.String()`` (``2024-01-01 00:00:00 +0000 UTC``), a top-level scalar as
its text (a float as Go's ``encoding/json`` writes it) and an object or list as JSON. The program
receives that text.
"""

from __future__ import annotations

import base64
import decimal
import json
import math
import re
from typing import Any

import yaml

_PLAIN = "tag:go-yaml:plain"
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = ("", "~", "null", "Null", "NULL")
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_GO_INT_BASE0 = re.compile(
    r"(?P<sign>[-+]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0[bB](?P<bin>[01]+)|0[oO]?(?P<oct>[0-7]+)|(?P<dec>[1-9][0-9]*|0))"
)
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:[.,](?P<frac>[0-9]+))?"
    r"(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


class GoTimestamp(str):
    """A timestamp scalar, already in the text the CLI hands the program (``time.Time.String()``)."""


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``, then ``ParseUint`` (no sign): None when Go refuses both."""
    m = _GO_INT_BASE0.fullmatch(text)
    if m is None:
        return None
    digits, base = next((m.group(g), b) for g, b in (("hex", 16), ("bin", 2), ("oct", 8), ("dec", 10)) if m.group(g))
    value = int(digits, base) * (-1 if m.group("sign") == "-" else 1)
    return value if _in_go_range(value, signed=bool(m.group("sign")), unsigned=True) else None


def _in_go_range(value: int, *, signed: bool, unsigned: bool) -> bool:
    """``strconv.ParseInt``'s int64, or (``ParseUint`` after it, when ``unsigned``: no sign) uint64."""
    return -(2**63) <= value < 2**63 or (unsigned and not signed and 0 <= value < 2**64)


def parse_decimal(text: str, *, unsigned: bool) -> int | None:
    """``strconv.ParseInt(text, 10, 64)`` (a sign, leading zeros allowed), then ``ParseUint`` when
    ``unsigned``: None when Go refuses it. ``strconv.Atoi`` is ``unsigned=False``."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = int(text)
    return value if _in_go_range(value, signed=text[0] in "+-", unsigned=unsigned) else None


def _go_time(text: str) -> GoTimestamp | None:
    """yaml.v3 ``parseTimestamp`` with ``time.Parse``, shown as ``time.Time.String()``."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    # Layouts "2006-1-2T15:4:5.999999999Z07:00" (T or t: a zone is required) and
    # "2006-1-2 15:4:5.999999999" (a space: no zone).
    if m.group("sep") and (m.group("sep") == " ") == bool(m.group("tz")):
        return None
    year, month, day = int(m.group("y")), int(m.group("m")), int(m.group("d"))
    hour, minute, second = (int(m.group(g) or 0) for g in "HMS")
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1]) or hour > 23 or minute > 59 or second > 59:
        return None  # time.Parse: "... out of range"
    tz = m.group("tz")
    if tz not in (None, "Z") and (int(tz[1:3]) > 24 or int(tz[4:6]) > 60):
        return None  # time.Parse: time zone offset out of range
    frac = (m.group("frac") or "")[:9].rstrip("0")
    clock = f"{hour:02d}:{minute:02d}:{second:02d}" + (f".{frac}" if frac else "")
    offset = "+0000" if tz in (None, "Z") else tz.replace(":", "")
    # The CLI decodes the file, writes it back (a time as RFC 3339, a zero offset as Z) and decodes
    # it again: a zero offset comes back as UTC, any other in a fabricated zone with no name, whose
    # offset String() shows where the name would be.
    zone = "+0000 UTC" if offset in ("+0000", "-0000") else f"{offset} {offset}"
    return GoTimestamp(f"{year:04d}-{month:02d}-{day:02d} {clock} {zone}")


def resolve_plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar as yaml.v3 ``resolve`` decodes it into ``any``."""
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _NULLS:
        return None
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return _finite(text, text) if _YAML_STYLE_FLOAT.fullmatch(text) else text
    if not (first.isascii() and (first.isdigit() or first in "+-")):
        return text
    stamp = _go_time(text)
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        return _finite(plain, text)
    return text


def _finite(number: str, text: str) -> float | str:
    """``strconv.ParseFloat``: out of range (``1e999``) is an error, and yaml.v3 keeps the text."""
    value = float(number)
    return text if math.isinf(value) else value


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v3's resolution of plain scalars."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return resolve_plain(loader.construct_scalar(node))


_KINDS = {"int": int, "float": float, "bool": bool, "null": type(None), "timestamp": GoTimestamp}


def _construct_tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """A scalar with an explicit core tag: yaml.v3 ``resolve`` with that tag, which fails when the
    text is not of it ("cannot decode !!float `1.0` as a !!int"), an int being a float's too."""
    assert isinstance(node, yaml.ScalarNode)
    text, kind = loader.construct_scalar(node), node.tag.rsplit(":", 1)[-1]
    value = resolve_plain(text)
    if isinstance(value, GoTimestamp) and kind != "timestamp":
        value = text  # under another tag, yaml.v3 tries no timestamp layout
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, _KINDS[kind]) or (kind == "int" and isinstance(value, bool)):
        raise yaml.constructor.ConstructorError(None, None, f"cannot decode `{text}` as a !!{kind}", node.start_mark)
    return value


def _construct_binary(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """``!!binary``: yaml.v3 decodes the base64 into a string."""
    assert isinstance(node, yaml.ScalarNode)
    try:
        data = base64.b64decode("".join(loader.construct_scalar(node).split()), validate=True)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, "!!binary value contains invalid base64 data", node.start_mark
        ) from None
    return data.decode("utf-8", errors="replace")


def _construct_other(loader: yaml.SafeLoader, suffix: Any, node: yaml.Node | None = None) -> Any:
    """Any other tag (``!custom``, ``!!set``, ``!!omap``): yaml.v3 decodes the node by its kind
    (a scalar as its text, a mapping as a map, a sequence as a list)."""
    node = suffix if node is None else node
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [loader.construct_object(child, deep=True) for child in node.value]
    assert isinstance(node, yaml.MappingNode)
    return {loader.construct_object(k, deep=True): loader.construct_object(v, deep=True) for k, v in node.value}


Loader.add_constructor(_PLAIN, _construct_plain)
for _kind in _KINDS:
    Loader.add_constructor(f"tag:yaml.org,2002:{_kind}", _construct_tagged)
Loader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)
for _kind in ("set", "omap", "pairs"):
    Loader.add_constructor(f"tag:yaml.org,2002:{_kind}", _construct_other)
Loader.add_constructor(None, _construct_other)


def load(text: str) -> Any:
    """The document as the CLI decodes it; ``yaml.YAMLError`` on a syntax error."""
    return _normalise(yaml.load(text, Loader=Loader))  # noqa: S506 - a SafeLoader subclass


def _normalise(value: Any, within: frozenset[int] = frozenset()) -> Any:
    """Mapping keys as text (``unmarshalObject``: ``fmt.Sprintf("%v", k)``); an alias to a node that
    contains it is refused, as yaml.v3 refuses it ("anchor ... value contains itself")."""
    if isinstance(value, float) and not math.isfinite(value):
        # object.MarshalString: encoding/json refuses it, and the CLI the file with it
        raise yaml.constructor.ConstructorError(None, None, "json: unsupported value: .inf or .nan", None)
    if isinstance(value, dict | list):
        if id(value) in within:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to a node that contains it", None)
        inner = within | {id(value)}
        if isinstance(value, dict):
            return {_key_text(k): _normalise(v, inner) for k, v in value.items()}
        return [_normalise(v, inner) for v in value]
    return value


def _key_text(key: Any) -> str:
    """``fmt.Sprintf("%v", k)`` of a mapping key."""
    if isinstance(key, str):
        return key
    return "<nil>" if key is None else scalar_text(key)


def go_json(value: Any) -> str:
    """An object or list as Go's ``json.Marshal`` writes it, which is what the program receives:
    compact, keys sorted, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, other characters as they
    are, floats in Go's form (``[1.0]`` is ``[1]``)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(str(k))}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _go_string(value)
    if value is None:
        return "null"
    return scalar_text(value)


def _go_string(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        out = out.replace(char, escaped)
    return out


def go_float(value: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it: the shortest digits that read back the same
    (``strconv.AppendFloat(f, fmt, -1, 64)``), fixed notation from 1e-6 to 1e21, else exponent form
    with ``e-07`` written ``e-7``."""
    if math.isnan(value) or math.isinf(value):
        return repr(value)  # encoding/json refuses these, and load() refuses a file holding one
    if value == 0:
        return "0"
    shortest = decimal.Decimal(repr(value))
    if 1e-6 <= abs(value) < 1e21:
        text = format(shortest, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    sign, digits, exponent = shortest.normalize().as_tuple()
    assert isinstance(exponent, int)
    power = exponent + len(digits) - 1
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    tail = f"e{'-' if power < 0 else '+'}{abs(power):02d}"
    if tail.startswith("e-0"):
        tail = "e-" + tail[3:]
    return ("-" if sign else "") + mantissa + tail


def scalar_text(value: Any) -> str:
    """A scalar as the CLI holds it for the program (``MarshalString``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return "" if value is None else str(value)
