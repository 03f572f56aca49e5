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

import datetime
import decimal
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
_GO_INT_BASE0 = re.compile(
    r"(?P<sign>[-+]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0[bB](?P<bin>[01]+)|0[oO]?(?P<oct>[0-7]+)|(?P<dec>[1-9][0-9]*|0))"
)
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:\.(?P<frac>[0-9]+))?"
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
    if -(2**63) <= value < 2**63 or (not m.group("sign") and value < 2**64):
        return value
    return None


def _go_time(text: str) -> GoTimestamp | None:
    """yaml.v3 ``parseTimestamp`` with ``time.Parse``, shown as ``time.Time.String()``."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    # Layouts "2006-1-2T15:4:5.999999999Z07:00" (T or t: a zone is required) and
    # "2006-1-2 15:4:5.999999999" (a space: no zone).
    if m.group("sep") and (m.group("sep") == " ") == bool(m.group("tz")):
        return None
    try:
        date = datetime.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        hour, minute, second = (int(m.group(g) or 0) for g in "HMS")
        if hour > 23 or minute > 59 or second > 59:
            return None
    except ValueError:
        return None
    frac = (m.group("frac") or "")[:9].rstrip("0")
    clock = f"{hour:02d}:{minute:02d}:{second:02d}" + (f".{frac}" if frac else "")
    tz = m.group("tz")
    if tz in (None, "Z"):
        zone = "+0000 UTC"
    else:
        offset = tz.replace(":", "")
        # time.Parse records an offset other than the local zone's in a fabricated zone with no
        # name; String() then shows the offset where the name would be.
        zone = f"{offset} {offset}" if offset not in ("+0000", "-0000") else "+0000 +0000"
    return GoTimestamp(f"{date.isoformat()} {clock} {zone}")


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
        return float(text) if _YAML_STYLE_FLOAT.fullmatch(text) else text
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
        return float(plain)
    return text


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v3's resolution of plain scalars."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return "tag:yaml.org,2002:merge" if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return resolve_plain(loader.construct_scalar(node))


Loader.add_constructor(_PLAIN, _construct_plain)


def load(text: str) -> Any:
    """The document as the CLI decodes it; ``yaml.YAMLError`` on a syntax error."""
    return _normalise(yaml.load(text, Loader=Loader))  # noqa: S506 - a SafeLoader subclass


def _normalise(value: Any, within: frozenset[int] = frozenset()) -> Any:
    """Mapping keys as text (``unmarshalObject``: ``fmt.Sprintf("%v", k)``); an alias to a node that
    contains it is refused, as yaml.v3 refuses it ("anchor ... value contains itself")."""
    if isinstance(value, dict | list):
        if id(value) in within:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to a node that contains it", None)
        inner = within | {id(value)}
        if isinstance(value, dict):
            return {k if isinstance(k, str) else scalar_text(k): _normalise(v, inner) for k, v in value.items()}
        return [_normalise(v, inner) for v in value]
    return value


def go_float(value: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it: the shortest digits that read back the same
    (``strconv.AppendFloat(f, fmt, -1, 64)``), fixed notation from 1e-6 to 1e21, else exponent form
    with ``e-07`` written ``e-7``."""
    if math.isnan(value) or math.isinf(value):
        return repr(value)  # encoding/json refuses these; the CLI then refuses the stack file
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
