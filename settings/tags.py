"""``redisgw:tags``: the tags every AWS resource gets through the provider's ``default_tags``."""

from __future__ import annotations

import re
from collections.abc import Mapping

KEY = "redisgw:tags"
"""The config key this module validates (:attr:`StackSettings.tags <settings.StackSettings.tags>`)."""


_TAG_RE = re.compile(r"[\w .:/=+\-@]+")


def check_tags(v: Mapping[str, str]) -> Mapping[str, str]:
    """``v`` if AWS accepts every tag of it beside the program's own, else ValueError naming the tag."""
    if len(v) > 40:
        raise ValueError(f"{len(v)} tags: AWS allows 50 per resource and the program adds its own; keep it to 40")
    for key, value in v.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:") or not _TAG_RE.fullmatch(key):
            raise ValueError(
                f"tag key {key!r} is not one AWS accepts (1-128 of letters, digits, spaces, _.:/=+-@; no aws:)"
            )
        if len(value) > 256 or not _TAG_RE.fullmatch(value or "x"):
            raise ValueError(
                f"the value of tag {key!r} is not one AWS accepts (up to 256 of letters, digits, spaces, _.:/=+-@)"
            )
    return v
