"""Restore and the drill.

restore checks the manifest and the target first (reachable, a primary, enough ``databases``, able
to read the RDB version, room for the data, empty of keys and functions unless ``--force``), then
writes a verified RDB for a stopped server (``--target-rdb``) or has a running Redis replicate it
from a one-shot, token-authenticated primary (``--target-url``). An empty target loads while the
backup downloads, gated behind the checker (:class:`~ops.runtime.backup_segments.GatedFeed`); a
target that holds data gets the backup only once it is fully verified. The loaded key count is
compared with the manifest before the target is detached, and its replication settings are put back.

drill restores the latest backup into a scratch ``redis-server`` and reports the measured RTO
(download, verification and load) and RPO (age of the backup); non-zero exit if anything fails.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis

from ops.errors import OpsError, describe, register_secret
from ops.runtime import pod_limits
from ops.runtime.backup_segments import GatedFeed, fetch_verified, work_directory
from ops.runtime.backup_source import as_text, keyspace, redis_client, redis_info
from ops.runtime.backup_store import Location, get_manifest
from ops.runtime.manifest import Manifest
from ops.runtime.rdbcheck import RdbFacts
from ops.runtime.replication import Endpoint, RdbMaster, wait_until

# The newest RDB format each Redis release reads (rdb.h RDB_VERSION).
_RDB_VERSIONS = [((2, 6), 6), ((3, 2), 7), ((4, 0), 8), ((5, 0), 9), ((7, 0), 10), ((7, 2), 11), ((7, 4), 12)]


def max_rdb_version(redis_version: str) -> int | None:
    """The newest RDB format a Redis release reads; None when the release is newer than the table."""
    try:
        major, minor = (int(p) for p in redis_version.split(".")[:2])
    except ValueError:
        return None
    best = None
    for (ma, mi), rdb in _RDB_VERSIONS:
        if (major, minor) >= (ma, mi):
            best = rdb
    if (major, minor) > _RDB_VERSIONS[-1][0]:
        return None
    return best


@dataclass
class TargetState:
    """What a restore changes on the target, to put back afterwards, and whether it is empty."""

    masterauth: str
    diskless_load: str
    keys: int = 0
    functions: int = 0

    @property
    def empty(self) -> bool:
        return not self.keys and not self.functions


def _config(client: redis.Redis, name: str) -> str:
    value = cast(dict[str, Any], client.config_get(name))
    if name not in value:
        raise OpsError(f"the restore target does not know the setting {name!r}")
    return as_text(value[name])


def inspect_target(
    client: redis.Redis, target: Endpoint, manifest: Manifest, facts: RdbFacts, force: bool
) -> TargetState:
    """Every reason not to touch the target, checked before anything changes on it."""
    where = f"the restore target {target.address}"
    try:
        replication = redis_info(client, "replication")
        server = redis_info(client, "server")
        memory = redis_info(client, "memory")
        keys = sum(keyspace(client).values())
        try:
            functions = len(client.execute_command("FUNCTION", "LIST"))
        except redis.ResponseError:
            functions = 0  # before Redis 7: no functions to lose
        databases = int(_config(client, "databases"))
        state = TargetState(_config(client, "masterauth"), _config(client, "repl-diskless-load"))
        maxmemory = int(_config(client, "maxmemory"))
    except redis.AuthenticationError as exc:
        raise OpsError(f"{where} refused authentication ({describe(exc)})") from None
    except redis.ResponseError as exc:
        raise OpsError(
            f"{where} refused a command the restore needs ({describe(exc)}); see the restore user's ACL in "
            "docs/runbooks/backup-restore.md"
        ) from None
    except redis.RedisError as exc:
        raise OpsError(f"cannot reach {where}: {describe(exc)}") from None
    register_secret(state.masterauth)
    if replication.get("role") != "master":
        raise OpsError(
            f"{where} is a replica of {replication.get('master_host')}:{replication.get('master_port')}: restoring "
            "into it would cut it off from its primary (split brain); restore into the primary"
        )
    needed = max(facts.databases, default=0) + 1
    if databases < needed:
        raise OpsError(
            f"{where} has {databases} databases but the backup uses database {needed - 1}: "
            f"set `databases {needed}` (or more) on the target first"
        )
    readable = max_rdb_version(str(server.get("redis_version", "")))
    if readable is not None and facts.rdb_version > readable:
        raise OpsError(
            f"{where} runs Redis {server.get('redis_version')}, which cannot read RDB format {facts.rdb_version} "
            f"(written by Redis {manifest.redis_version}); restore into Redis {manifest.redis_version} or newer"
        )
    used = int(facts.aux.get("used-mem", "0") or 0)
    if maxmemory and used > maxmemory and not force:
        raise OpsError(
            f"{where} has maxmemory {maxmemory} bytes, less than the {used} bytes the data used when it was backed "
            "up: it would evict keys after the restore (use --force to accept that)"
        )
    if (keys or functions) and not force:
        held = " and ".join(
            p for p in (f"{keys} keys" * bool(keys), f"{functions} function libraries" * bool(functions)) if p
        )
        raise OpsError(f"{where} holds {held}: refusing to replace them without --force")
    if int(memory.get("loading", 0) or 0):
        raise OpsError(f"{where} is still loading a dataset; try again when it has finished")
    state.keys, state.functions = keys, functions
    return state


@contextlib.contextmanager
def _replicating(
    client: redis.Redis, where: str, master: RdbMaster, state: TargetState, *, diskless: bool
) -> Iterator[None]:
    """The target replicates from ``master`` (its token as ``masterauth``) for the duration; then it
    is detached and its settings are put back, whatever happened."""
    register_secret(master.token)
    try:
        client.config_set("masterauth", master.token)
        if diskless:  # load straight from the socket: nothing on the target to keep while it loads
            client.config_set("repl-diskless-load", "on-empty-db")
        client.execute_command("REPLICAOF", *master.address)
    except redis.RedisError as exc:
        _put_back(client, state)
        raise OpsError(f"{where} refused to start the restore ({describe(exc)})") from None
    try:
        yield
    finally:
        with contextlib.suppress(redis.RedisError):
            client.execute_command("REPLICAOF", "NO", "ONE")
        _put_back(client, state)


def _loaded_keys(client: redis.Redis, where: str, master: RdbMaster, timeout: float) -> int:
    """Wait until the target has fetched and loaded the payload; its key count while still a replica
    (so keys past their TTL are counted, as in the snapshot)."""
    wait_until(master.served.is_set, timeout, f"{where} to fetch the backup")

    def loaded() -> bool:
        info = redis_info(client, "replication")
        return bool(info.get("master_link_status") == "up" and not redis_info(client, "persistence").get("loading"))

    wait_until(loaded, timeout, f"{where} to load the backup")
    return sum(keyspace(client).values())


def load_into(
    client: redis.Redis,
    target: Endpoint,
    rdb: Path,
    advertise: str,
    state: TargetState,
    expected_keys: int | None,
    empty: bool,
    timeout: float = 600.0,
) -> int:
    """Make the running Redis at ``target`` load the verified ``rdb`` by replicating from a one-shot
    primary that only it can authenticate to; compare its key count with ``expected_keys``."""
    where = f"the restore target {target.address}"
    with (
        RdbMaster(rdb, advertise=advertise, timeout=timeout) as master,
        _replicating(client, where, master, state, diskless=empty),
    ):
        try:
            keys = _loaded_keys(client, where, master, timeout)
        except OpsError as exc:
            note = f" ({master.rejected} connection(s) without the token were refused)" if master.rejected else ""
            raise OpsError(f"{exc.message}{note}; the target's data may be partly replaced") from None
        except redis.RedisError as exc:
            raise OpsError(
                f"{where} failed during the load ({describe(exc)}); its data may be partly replaced"
            ) from None
    if expected_keys is not None and keys != expected_keys:
        raise OpsError(f"{where} loaded {keys} keys but the backup holds {expected_keys}")
    return keys


def load_streaming(
    client: redis.Redis,
    target: Endpoint,
    location: Location,
    manifest: Manifest,
    advertise: str,
    state: TargetState,
    progress: Callable[[int], None],
    timeout: float = 600.0,
) -> tuple[int, RdbFacts]:
    """Restore into an empty target while the backup downloads, never ahead of its verification
    (:class:`GatedFeed`): the target loads straight from the socket as the backup arrives, and
    receives the RDB's last chunk only once everything has been checked. If a check fails, the
    connection is cut; Redis drops a payload cut short and stays up and empty."""
    where = f"the restore target {target.address}"
    feed = GatedFeed(manifest.rdb_size)
    with (
        RdbMaster(None, advertise=advertise, timeout=timeout, feed=feed) as master,
        _replicating(client, where, master, state, diskless=True),
    ):
        try:
            _, facts = fetch_verified(location, manifest, None, progress, forward=feed)
            feed.release()
            keys = _loaded_keys(client, where, master, timeout)
        except BaseException as exc:
            feed.abort()
            with contextlib.suppress(OpsError):  # the target drops the cut payload and stays empty
                wait_until(lambda: not redis_info(client, "persistence").get("loading"), 30, f"{where} to stop")
            if isinstance(exc, redis.RedisError):
                raise OpsError(f"{where} failed during the load ({describe(exc)})") from None
            raise
    if keys != facts.keys:
        raise OpsError(f"{where} loaded {keys} keys but the backup holds {facts.keys}")
    return keys, facts


def _put_back(client: redis.Redis, state: TargetState) -> None:
    with contextlib.suppress(redis.RedisError):
        client.config_set("masterauth", state.masterauth)
        client.config_set("repl-diskless-load", state.diskless_load)


def restore(
    location: Location,
    backup_id: str,
    work_dir: Path,
    *,
    target_rdb: Path | None = None,
    target_url: Endpoint | None = None,
    force: bool = False,
    advertise: str = "127.0.0.1",
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    if (target_rdb is None) == (target_url is None):
        raise OpsError("restore needs exactly one of --target-rdb or --target-url", code=2)
    work_directory(work_dir)
    if target_rdb is not None:
        if target_rdb.is_dir():
            raise OpsError(
                f"--target-rdb {target_rdb}: is a directory; name the RDB file (e.g. {target_rdb}/dump.rdb)", code=2
            )
        if not target_rdb.parent.is_dir():
            raise OpsError(f"--target-rdb {target_rdb}: directory {target_rdb.parent} does not exist", code=2)
        if target_rdb.exists() and target_rdb.stat().st_size > 0 and not force:
            raise OpsError(
                f"--target-rdb {target_rdb}: exists and is not empty; refusing to overwrite it without --force", code=2
            )
    manifest = get_manifest(location, backup_id)
    client = None
    state: TargetState | None = None
    if target_url is not None:
        client = redis_client(target_url, 30.0)
        try:
            client.ping()
        except redis.AuthenticationError as exc:
            raise OpsError(
                f"the restore target {target_url.address} refused authentication ({describe(exc)})"
            ) from None
        except redis.RedisError as exc:
            raise OpsError(f"cannot reach the restore target {target_url.address}: {describe(exc)}") from None
        # Refuse early what the manifest already tells (a replica, a full target, too few databases),
        # before a long download; the same checks run again on the verified RDB just before the load.
        aux = {"used-mem": str(manifest.used_memory)} if manifest.used_memory is not None else {}
        promised = RdbFacts(manifest.rdb_version or 0, manifest.key_count, 0, list(manifest.databases or []), aux)
        state = inspect_target(client, target_url, manifest, promised, force)
    t0 = time.monotonic()
    if (
        client is not None
        and target_url is not None
        and state is not None
        and state.empty
        and manifest.counts_comparable
    ):
        keys, facts = load_streaming(client, target_url, location, manifest, advertise, state, progress)
        return _restored(manifest, f"redis://{target_url.address}", keys, facts, t0)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        rdb, facts = fetch_verified(location, manifest, Path(tmp), progress)
        assert rdb is not None
        if target_rdb is not None:
            staged = target_rdb.with_name(target_rdb.name + ".restoring")
            try:
                shutil.move(rdb, staged)
                os.replace(staged, target_rdb)
            except OSError as exc:
                staged.unlink(missing_ok=True)
                raise OpsError(f"--target-rdb {target_rdb}: cannot write it ({describe(exc)})") from None
            keys = facts.keys
        else:
            assert target_url is not None and client is not None
            state = inspect_target(client, target_url, manifest, facts, force)
            keys = load_into(client, target_url, rdb, advertise, state, facts.keys, empty=not state.keys)
    restored_to = str(target_rdb) if target_rdb is not None else f"redis://{target_url.address}"  # type: ignore[union-attr]
    return _restored(manifest, restored_to, keys, facts, t0)


def _restored(manifest: Manifest, restored_to: str, keys: int, facts: RdbFacts, t0: float) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "restored_to": restored_to,
        "keys": keys,
        "keys_with_ttl": facts.expires,
        "databases": facts.databases,
        "seconds": round(time.monotonic() - t0, 3),
    }


# -- scratch servers and the drill ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis_server(
    work_dir: Path, *extra: str, password: str | None = None, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``redis-server`` in ``work_dir`` on a free loopback port with persistence off (``extra``
    adds options); return it and its port once it answers and has finished loading."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise OpsError("redis-server is not on PATH (the ops image ships it; Debian: apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(work_dir), *extra, *(["--requirepass", password] if password else [])]
    proc = subprocess.Popen(args, cwd=work_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, password=password)

    def ready() -> bool:
        try:
            return bool(client.ping()) and not redis_info(client, "persistence").get("loading")
        except redis.RedisError:
            return False

    try:
        wait_until(ready, timeout, f"redis-server on port {port} to start")
    except OpsError:
        proc.terminate()
        raise
    return proc, port


@contextlib.contextmanager
def scratch_redis(work_dir: Path) -> Iterator[Endpoint]:
    """A throw-away ``redis-server`` on a free loopback port, persistence off."""
    proc, port = start_redis_server(work_dir)
    try:
        yield Endpoint("127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def drill(location: Location, work_dir: Path) -> dict[str, Any]:
    """Restore the latest backup into a scratch Redis; measure RTO and RPO. A backup this pod cannot
    hold (memory limit, spool) is refused before anything starts (:func:`pod_limits.check_drill`)."""
    t0 = time.monotonic()
    manifest = get_manifest(location, "latest")
    pod_limits.check_drill(manifest, work_dir)  # the manifest it loads: one read, no race with a newer backup
    with tempfile.TemporaryDirectory(dir=work_directory(work_dir)) as tmp, scratch_redis(Path(tmp)) as target:
        result = restore(location, manifest.id, Path(tmp), target_url=target)
    return {
        "id": manifest.id,
        "keys": result["keys"],
        "rto_seconds": round(time.monotonic() - t0, 3),
        "rpo_seconds": round((datetime.datetime.now(datetime.UTC) - manifest.completed_at).total_seconds(), 3),
        "restore_seconds": result["seconds"],
        "ok": True,
    }
