"""Whether an identity policy allows a request: the part of IAM's evaluation the CI roles rely on.

From the IAM user guide, "Policy evaluation logic" (an explicit Deny wins; otherwise any matching
Allow; otherwise implicitly denied) and "IAM JSON policy elements": ``Action``/``NotAction`` and
``Resource``/``NotResource`` match case-insensitively for actions and case-sensitively for ARNs,
``*`` any run of characters and ``?`` one; a ``Condition`` holds only when every operator holds, and
an operator on a key the request does not carry is false (``StringEquals``, ``StringLike``,
``ArnLike``, ``ArnEquals``; any value of a list matches).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _match(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            if key not in context:
                return False
            actual = context[key]
            wanted = _list(expected)
            if operator == "StringEquals":
                ok = actual in wanted
            elif operator in ("StringLike", "ArnLike"):
                ok = any(_match(w, actual, case=True) for w in wanted)
            elif operator == "ArnEquals":
                ok = actual in wanted
            else:
                raise AssertionError(f"condition operator {operator} is not modelled")
            if not ok:
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Action" in statement and not any(_match(a, action, case=False) for a in _list(statement["Action"])):
        return False
    if "NotAction" in statement and any(_match(a, action, case=False) for a in _list(statement["NotAction"])):
        return False
    if "Resource" in statement and not any(_match(r, resource, case=True) for r in _list(statement["Resource"])):
        return False
    if "NotResource" in statement and any(_match(r, resource, case=True) for r in _list(statement["NotResource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allowed(document: Mapping[str, Any], action: str, resource: str = "*", **context: str) -> bool:
    """``resource`` is the ARN the request names (``*`` for actions without a resource type)."""
    found = False
    for statement in document["Statement"]:
        if _applies(statement, action, resource, context):
            if statement["Effect"] == "Deny":
                return False
            found = True
    return found
