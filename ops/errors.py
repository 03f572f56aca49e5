"""The one exception type the CLI turns into a message and an exit code (no traceback), and the
redaction every message passes through on its way out.

Secrets (the Redis password, an ACL user's password, the restore listener's one-time token) are
registered with :func:`register_secret` as soon as they are read; :func:`redact` replaces each of
them, raw and percent-encoded, and removes the userinfo of any URL. The CLI redacts everything it
prints, so a library's message that quotes a password or a ``redis://user:pass@host`` URL is still
safe to log.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_SECRETS: set[str] = set()
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
MASK = "***"
MAX_DETAIL = 160


class OpsError(Exception):
    """A user-facing failure: ``message`` is printed as is, ``code`` becomes the exit status."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` hides it from every message (short values are not
    registered: masking every "a" would make messages unreadable, and nobody uses such a password)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` without registered secrets (raw or percent-encoded) and without URL userinfo."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), repr(secret)[1:-1]}:
            text = text.replace(form, MASK)
    return text


def describe(exc: BaseException) -> str:
    """One short line for a library's exception: its first line, redacted, cut at 160 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact(text)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
