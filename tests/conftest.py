"""The one place that owns the mocks and the helpers to run code under them.

Components and whole stacks run under Pulumi's mock runtime with the same realistic mocks the
offline engine uses (:mod:`ops.offline.mocks`); every registered resource is recorded with its inputs,
parent and dependencies, and tests assert on those recordings.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import pickle
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import settings
from ops.offline.engine import ROOT, Resource, assume_secrets, cli_config, load_stack_config, run_program
from ops.runtime.backups import free_port, start_redis_server, wait_until
from ops.runtime.replication import Endpoint

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

    def _in_dr(self) -> set[str]:
        """URNs declared under the DR region's component (walking each resource's parents)."""
        by_urn = {x.urn: x for x in self}
        found = set()
        for r in self:
            node: Resource | None = r
            while node is not None and node.type != "redisgw:index:DrRegion":
                node = by_urn.get(node.parent or "")
            if node is not None:
                found.add(r.urn)
        return found

    def primary(self) -> Recording:
        """The primary region's resources (everything but the DR region's)."""
        dr = self._in_dr()
        return Recording(r for r in self if r.urn not in dr)

    def dr(self) -> Recording:
        """The DR region's resources."""
        dr = self._in_dr()
        return Recording(r for r in self if r.urn in dr)


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


def shared(factory: pytest.TempPathFactory, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per test session, whatever the number of xdist workers: the first worker to
    ask computes it under a file lock and leaves it pickled in the session's temporary directory; the
    others wait for it and read it. (Each offline run of the program costs seconds of CPU: computed
    once per worker, the same plan would be built six times on two cores.)"""
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's, not the user's
    path = root / f"shared-{key}.pickle"
    with open(root / f"shared-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return pickle.loads(path.read_bytes())
        value = compute()
        path.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def stack_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Recording]:
    """Run the real program for a stack file (once per stack for the whole session)."""
    cache: dict[str, Recording] = {}

    def compute(stack: str) -> Recording:
        loaded = load_stack_config(stack)
        checked = settings.load_settings(loaded.values, source=loaded.path.name, secret_keys=loaded.secret_keys)
        cfg, _ = assume_secrets(loaded, settings.required_secret_keys(checked))
        return Recording(
            run_program(
                ROOT / "__main__.py",
                stack=stack,
                config=cli_config(cfg),
                secret_keys=cfg.secret_keys,
                region=REGION,
            )
        )

    def run(stack: str) -> Recording:
        if stack not in cache:
            cache[stack] = shared(tmp_path_factory, f"stack-run-{stack}", lambda: compute(stack))
        return cache[stack]

    return run


@pytest.fixture(scope="session")
def preview_report(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """The report of ``ops preview --stack S --json`` (exit 0 asserted), once per stack for the whole
    session: several modules read the same clean preview."""
    from ops.cli import main

    cache: dict[str, dict[str, Any]] = {}

    def compute(stack: str) -> dict[str, Any]:
        out = tmp_path_factory.mktemp("preview") / f"preview-{stack}.json"
        assert main(["preview", "--stack", stack, "--json", str(out)]) == 0
        return dict(json.loads(out.read_text()))

    def report(stack: str) -> dict[str, Any]:
        if stack not in cache:
            cache[stack] = shared(tmp_path_factory, f"preview-{stack}", lambda: compute(stack))
        return cache[stack]

    return report


# -- real peers: redis-server and a moto S3/KMS server -------------------------------------------


class RedisServer:
    """A real ``redis-server`` on a loopback port, persistence off, DEBUG enabled (for DIGEST)."""

    def __init__(self, workdir: Path, password: str | None = None, extra: tuple[str, ...] = ()) -> None:
        import redis

        # No diskless-sync delay: a backup would otherwise wait 5 s for other replicas to join its snapshot.
        self.proc, self.port = start_redis_server(
            workdir, "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", *extra, password=password
        )
        self.password = password
        self.client = redis.Redis(port=self.port, password=password)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port, None, self.password)

    def digest(self) -> str:
        return str(self.client.execute_command("DEBUG", "DIGEST").decode())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterable[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def start(password: str | None = None, extra: tuple[str, ...] = ()) -> RedisServer:
        workdir = tmp_path / f"redis-{len(started)}"
        workdir.mkdir()
        server = RedisServer(workdir, password, extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass
class Topology:
    """A primary, its replicas and one Sentinel watching them (``mymaster``), all real processes."""

    primary: RedisServer
    replicas: list[RedisServer]
    sentinel_port: int

    @property
    def sentinel(self) -> str:
        return f"127.0.0.1:{self.sentinel_port}"


@pytest.fixture
def topology(redis_server: Callable[..., RedisServer], tmp_path: Path) -> Iterable[Callable[..., Topology]]:
    """Start a replicated set with Sentinel: ``topology(replicas=2, password=...)``."""
    import subprocess

    procs: list[subprocess.Popen[bytes]] = []

    def start(replicas: int = 2, password: str | None = None, sentinel_password: str | None = None) -> Topology:
        auth = ("--masterauth", password) if password else ()
        primary = redis_server(password=password, extra=("--repl-diskless-sync-delay", "0"))
        started = [
            redis_server(
                password=password,
                extra=("--replicaof", "127.0.0.1", str(primary.port), "--repl-diskless-sync-delay", "0", *auth),
            )
            for _ in range(replicas)
        ]
        for replica in started:
            wait_until(lambda r=replica: r.client.info("replication")["master_link_status"] == "up", 30, "replica sync")
        port = free_port()
        conf = tmp_path / f"sentinel-{port}.conf"
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {tmp_path}",
            f"sentinel monitor mymaster 127.0.0.1 {primary.port} 1",
            "sentinel down-after-milliseconds mymaster 60000",
        ]
        if password:
            lines.append(f"sentinel auth-pass mymaster {password}")
        if sentinel_password:  # the Sentinel's own password, as the RedisSentinel's redisSecret sets it
            lines.append(f"requirepass {sentinel_password}")
        conf.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        import redis

        sentinel = redis.Redis(port=port, socket_timeout=2, password=sentinel_password)

        def knows_replicas() -> bool:
            try:
                found = sentinel.execute_command("SENTINEL", "REPLICAS", "mymaster")
            except redis.RedisError:
                return False
            return len(found) == replicas

        wait_until(knows_replicas, 30, "Sentinel to discover the replicas")
        return Topology(primary, started, port)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterable[str]:
    """A moto server for S3, KMS and Route 53; the AWS environment of this process points at it."""
    from ops.runtime.dr_drill import moto_server

    with moto_server(REGION) as endpoint:
        yield endpoint


@pytest.fixture
def bucket(moto_endpoint: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """A fresh bucket and a KMS key, as (bucket, key ARN)."""
    import re
    import uuid

    import boto3

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = boto3.client("kms", region_name=REGION).create_key(Description="backups")["KeyMetadata"]["Arn"]
    return name, key
