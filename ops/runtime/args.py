"""Argument types of ``python -m ops``: each names what is wrong with a value, at parse time.

argparse turns an ``ArgumentTypeError`` into ``<prog>: error: argument --flag: <message>`` and exit
2, before any work starts, so a mistake costs nothing and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

_BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")
_STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HOST = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


T = TypeVar("T", int, float)


def _fail(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def http_url(value: str) -> str:
    """An http(s) URL with a host (and a valid port, if any)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise _fail(f"expected an http:// or https:// URL, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise _fail(f"{value!r} has an invalid port") from None
    if not parts.hostname:
        raise _fail(f"{value!r} names no host")
    del port
    return value.rstrip("/")


def number(cast: Callable[[str], T], what: str, accept: Callable[[T], bool], bounds: str) -> Callable[[str], T]:
    """An argparse type: ``cast`` the value (else "expected <what>") and ``accept`` it (else "must be
    <bounds>"), naming the value given either way."""

    def parse(value: str) -> T:
        try:
            parsed = cast(value)
        except ValueError:
            raise _fail(f"expected {what}, got {value!r}") from None
        if not accept(parsed):
            raise _fail(f"must be {bounds}, got {value}")
        return parsed

    return parse


positive_seconds = number(float, "a number of seconds", lambda s: 0 < s < 7 * 86400, "more than 0 and less than a week")
positive_count = number(int, "a whole number", lambda n: n > 0, "more than 0")
share = number(float, "a share between 0 and 1", lambda x: 0 <= x <= 1, "between 0 and 1")
rate = number(float, "requests per second", lambda r: 0 < r <= 1_000_000, "more than 0 (and at most 1000000)")


def stack_name(value: str) -> str:
    if not _STACK.fullmatch(value):
        raise _fail(f"{value!r} is not a stack name (letters, digits, '-', '_' and '.'; no path)")
    return value


def existing_file(value: str) -> Path:
    path = Path(value)
    if path.is_dir():
        raise _fail(f"{value} is a directory, not a file")
    if not path.is_file():
        raise _fail(f"{value}: no such file")
    return path


def work_dir(value: str) -> Path:
    """An existing, writable directory."""
    path = Path(value)
    if not path.exists():
        raise _fail(f"{value}: no such directory")
    if not path.is_dir():
        raise _fail(f"{value} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise _fail(f"{value} is not writable")
    return path


def new_file(value: str) -> Path:
    """A file to write: not a directory, in a directory that exists and is writable."""
    path = Path(value)
    if path.is_dir():
        raise _fail(f"{value} is a directory, not a file")
    parent = path.parent
    if not parent.is_dir():
        raise _fail(f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(f"directory {parent} is not writable")
    return path


def bucket_name(value: str) -> str:
    if not _BUCKET.fullmatch(value) or _is_ip(value):
        raise _fail(f"{value!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.' and '-')")
    return value


def key_prefix(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/") or any(ord(c) < 32 for c in value) or len(value) > 512:
        raise _fail(f"{value!r} is not a key prefix (relative, no '..' segment, like redis/)")
    return value


def aws_region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise _fail(f"{value!r} is not an AWS region like eu-west-1")
    return value


def address(value: str) -> str:
    """An IP address or a host name this process can bind to."""
    if _is_ip(value) or _HOST.fullmatch(value):
        return value
    raise _fail(f"{value!r} is neither an IP address nor a host name")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_IMAGE = re.compile(r"[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def image(value: str) -> str:
    """A pinned image reference: registry/repository:tag (not latest) or @sha256 digest."""
    if not _IMAGE.fullmatch(value) or value.endswith(":latest"):
        raise _fail(f"{value!r} is not a pinned image like registry/repository:1.2.3")
    return value


def dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise _fail(f"{value!r} is not a Kubernetes name (lowercase letters, digits and '-', at most 63)")
    return value


@contextlib.contextmanager
def scoped_environment(**values: str | None) -> Iterator[None]:
    """Set (a string) or unset (``None``) environment variables for the block, then put back exactly
    what was there before."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
