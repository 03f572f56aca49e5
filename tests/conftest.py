"""The one place that owns the mocks and the helpers to run code under them.

Components and whole stacks run under Pulumi's mock runtime with the same realistic mocks the
offline engine uses (:mod:`ops.mocks`); every registered resource is recorded with its inputs,
parent and dependencies, and tests assert on those recordings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.engine import ROOT, Resource, assume_secrets, cli_config, load_stack_config, run_program
from settings import NAMESPACE, SECRET_KEYS

REGION = "eu-west-1"
STACKS = ("production", "staging")


class Recording(list[Resource]):
    """Resources registered by one run, with lookups for assertions."""

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self if r.urn == urn)


@pytest.fixture
def run_component() -> Callable[[Callable[[], Any]], Recording]:
    """Run a function declaring resources under mocks; return what it registered."""

    def run(fn: Callable[[], Any]) -> Recording:
        return Recording(run_program(fn, stack="test", config={}, region=REGION))

    return run


def stack_values(stack: str) -> dict[str, Any]:
    """A deep copy of the config values of ``Pulumi.<stack>.yaml``."""
    return copy.deepcopy(dict(load_stack_config(stack).values))


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set ``redisgw:cluster.nodeGroups.main.minSize``-style paths; ``...`` as value deletes the key."""
    key, *rest = path.split(".")
    target: Any = values
    for part in [key, *rest][:-1]:
        target = target[part]
    last = [key, *rest][-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value


def write_variant(tmp_path: Path, stack: str, changes: Iterable[tuple[str, Any]]) -> Path:
    """Write a copy of ``Pulumi.<stack>.yaml`` with ``changes`` applied; return its path."""
    values = stack_values(stack)
    for path, value in changes:
        set_path(values, path, value)
    out = tmp_path / f"Pulumi.{stack}.variant.yaml"
    out.write_text(yaml.safe_dump({"config": values}, sort_keys=False))
    return out


@pytest.fixture(scope="session")
def stack_run() -> Callable[[str], Recording]:
    """Run the real program for a stack file (cached per stack for the session)."""
    cache: dict[str, Recording] = {}

    def run(stack: str) -> Recording:
        if stack not in cache:
            cfg, _ = assume_secrets(load_stack_config(stack), [f"{NAMESPACE}:{k}" for k in SECRET_KEYS])
            cache[stack] = Recording(
                run_program(
                    ROOT / "__main__.py",
                    stack=stack,
                    config=cli_config(cfg),
                    secret_keys=cfg.secret_keys,
                    region=REGION,
                )
            )
        return cache[stack]

    return run
