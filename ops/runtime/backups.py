"""Redis backups to S3: backup, verify, restore, list, prune and the restore drill.

Layout under ``s3://<bucket>/<prefix>``: one folder per backup, named by its UTC start time
(sortable), holding ``data/000001``, ``data/000002``, ... (the RDB, zstd-compressed when that pays,
in 8 MiB segment objects, SSE-KMS) and ``manifest.json`` (:mod:`ops.runtime.manifest`). The
manifest is written last, so **a backup without a manifest is incomplete by definition**; one whose
manifest does not validate is **invalid**, and both are reported by ``list`` and never restored.

* backup: picks a replica through Sentinel (link up, smallest lag; the primary only with
  ``--allow-primary``) or takes ``--redis-url``, streams a diskless snapshot over the replication
  protocol (:mod:`ops.runtime.replication`), and while it streams hashes it (SHA-256), has
  ``redis-check-rdb`` check and count it (:mod:`ops.runtime.rdbcheck`), compresses it when the first
  4 MiB show that pays, and stores it as segments (six in flight). The manifest records what the
  snapshot itself holds, so it is exact on a busy server. Every network step has a timeout and the
  whole backup a deadline; errors name the party that stopped answering (source or S3). A failed
  backup deletes the segments it stored.
* verify: re-reads a backup, checks sizes and SHA-256 against the manifest and runs
  ``redis-check-rdb`` (required) and the key count; it touches no Redis server.
* restore: checks the manifest and the target first (reachable, a primary, enough ``databases``,
  able to read the RDB version, room for the data, empty of keys and functions unless ``--force``),
  then writes a verified RDB for a stopped server (``--target-rdb``) or has a running Redis
  replicate it from a one-shot, token-authenticated primary (``--target-url``). An empty target
  loads while the backup downloads, gated behind the checker (:class:`GatedFeed`); a target that
  holds data gets the backup only once it is fully verified. The loaded key count is compared with
  the manifest before the target is detached, and its replication settings are put back.
* prune: keeps everything of the last day, then one backup per hour for a week, per day for a
  month, per week for a year (grandfather-father-son), and deletes the rest, and incomplete
  backups older than a day, every version of each object; objects that Object Lock retains are
  reported as retained, not as deleted.
* drill: restores the latest backup into a scratch ``redis-server`` and reports the measured RTO
  (download, verification and load) and RPO (age of the backup); non-zero exit if anything fails.

Credentials come from the environment (``REDIS_USERNAME``, ``REDIS_PASSWORD``,
``REDIS_SENTINEL_PASSWORD``) or the URL's userinfo, never from a flag's value shown in a process
list; AWS clients honour the standard environment (``AWS_ENDPOINT_URL``, ``AWS_REGION``, profiles).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import itertools
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, cast
from urllib.parse import unquote, urlsplit

import boto3
import redis
import zstandard
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError, describe, register_secret
from ops.runtime import manifest as manifests
from ops.runtime.manifest import FORMAT_VERSION, Manifest, Source
from ops.runtime.rdbcheck import RdbFacts, StreamingCheck
from ops.runtime.replication import Endpoint, RdbMaster, stream_rdb, wait_until

DATA_FOLDER = "data/"
"""Segments of the (compressed) RDB under the backup's folder: ``data/000001``, ``data/000002``, ..."""
SAMPLE_SIZE = 4 << 20
WORTH_COMPRESSING = 0.85
"""``auto`` compresses when zstd shrinks the first 4 MiB of the snapshot below 85% (Redis already
LZF-compresses large strings, so many datasets gain little, and the CPU is better spent uploading)."""
MANIFEST_NAME = "manifest.json"
SEGMENT_SIZE = 8 << 20
MAX_IN_FLIGHT = 6
FETCH_IN_FLIGHT = 4
READ_SIZE = 4 << 20
DEFAULT_DEADLINE = 1800.0
ABORT_GRACE = 8.0
T = TypeVar("T")

# The newest RDB format each Redis release reads (rdb.h RDB_VERSION).
_RDB_VERSIONS = [((2, 6), 6), ((3, 2), 7), ((4, 0), 8), ((5, 0), 9), ((7, 0), 10), ((7, 2), 11), ((7, 4), 12)]


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str
    region: str | None = None

    def key(self, backup_id: str, name: str) -> str:
        return f"{self.prefix}{backup_id}/{name}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


# -- inputs --------------------------------------------------------------------------------------


def redis_endpoint(url: str, *, env: dict[str, str] | None = None) -> Endpoint:
    """A ``redis://[user[:password]@]host[:port]`` URL as an :class:`Endpoint`; anything else is refused.

    Userinfo is percent-decoded; without it, ``REDIS_USERNAME`` and ``REDIS_PASSWORD`` apply."""
    environ = os.environ if env is None else env
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a redis:// URL ({describe(exc)})") from None
    if parts.scheme != "redis":
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"expected redis://host:port, got {shown} (TLS and unix sockets are not supported)")
    if not parts.hostname:
        raise ValueError("expected redis://host:port: the URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("expected redis://host:port: a database number, path or query is not used by backups")
    username = unquote(parts.username) if parts.username else environ.get("REDIS_USERNAME") or None
    password = unquote(parts.password) if parts.password is not None else environ.get("REDIS_PASSWORD") or None
    register_secret(password)
    return Endpoint(parts.hostname, port, username, password)


def host_port(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a tuple; ValueError names what is wrong."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {value!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535, got {port!r}")
    return host, int(port)


def redis_client(endpoint: Endpoint, timeout: float = 10.0) -> redis.Redis:
    """A client of ``endpoint``; every socket operation gives up after ``timeout`` (connect: 5 s at most)."""
    return redis.Redis(
        host=endpoint.host,
        port=endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, 5.0),
    )


def redis_info(client: redis.Redis, section: str) -> dict[str, Any]:
    """``INFO <section>`` as a dict (redis-py types it for its async client too)."""
    return cast(dict[str, Any], client.info(section))


def _keyspace(client: redis.Redis) -> dict[int, int]:
    return {
        int(db[2:]): int(v["keys"])
        for db, v in redis_info(client, "keyspace").items()
        if db.startswith("db") and isinstance(v, dict)
    }


# -- S3 with deadlines ---------------------------------------------------------------------------


def s3_client(region: str | None, timeout: float = 30.0) -> Any:
    """One client per region, timeout and AWS environment for the process (clients are thread-safe,
    and creating one loads the S3 service model: a tenth of a second each time)."""
    environment = tuple(os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"))
    return _new_s3_client(region, timeout, environment)


@functools.cache
def _new_s3_client(region: str | None, timeout: float, environment: tuple[str | None, ...]) -> Any:
    return boto3.client(
        "s3",
        region_name=region,
        config=Config(
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=MAX_IN_FLIGHT + 2,
            # Uploads keep botocore's CRC32 (S3 requires a checksum header under Object Lock); downloads
            # skip its validation pass: our SHA-256 over every byte is checked end to end anyway.
            response_checksum_validation="when_required",
        ),
    )


def _s3_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip().rstrip(":")
    return describe(exc)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def started(fn: Callable[[], T]) -> Callable[[float, str], T]:
    """Start ``fn`` on a daemon thread now; the returned function waits for its result until a
    deadline (monotonic) and raises :class:`OpsError` with the given message past it. A call left
    behind that way does not keep the process from exiting; ``fn``'s own exceptions are re-raised."""
    box: queue.Queue[Any] = queue.Queue(maxsize=1)

    def call() -> None:
        try:
            box.put(fn())
        except BaseException as exc:  # handed to the waiting thread
            box.put(_Failure(exc))

    threading.Thread(target=call, daemon=True).start()

    def result(deadline: float, late: str) -> T:
        try:
            value = box.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise OpsError(late) from None
        if isinstance(value, _Failure):
            raise value.exc
        return cast(T, value)

    return result


def bounded(fn: Callable[[], T], deadline: float, who: str) -> T:
    """Run ``fn`` in a daemon thread and wait for it until ``deadline``; a call that hangs past it
    raises :class:`OpsError` naming ``who`` and is left behind (the process can still exit)."""
    return started(fn)(deadline, f"{who} did not answer before the deadline")


class SegmentWriter:
    """A write-only stream stored as numbered segment objects (``<folder>/data/000001``, ...) of
    :data:`SEGMENT_SIZE` bytes, each one PUT with SSE-KMS and a CRC32 checksum, at most
    :data:`MAX_IN_FLIGHT` at a time on daemon threads, so memory stays flat whatever the size.

    Segments instead of one multipart upload: nothing to complete or abort (no incomplete upload
    can be left behind), and a restore fetches several segments at once."""

    def __init__(
        self,
        s3: Any,
        location: Location,
        prefix: str,
        kms_key_id: str | None,
        on_bytes: Callable[[int], None],
        deadline: float,
        *,
        hashing: bool = True,
    ) -> None:
        self.s3, self.bucket, self.prefix, self.deadline = s3, location.bucket, prefix, deadline
        self.where = f"S3 (s3://{location.bucket}/{prefix})"
        self.extra = {
            "ServerSideEncryption": "aws:kms",
            "ChecksumAlgorithm": "CRC32",  # per-object integrity, and the header Object Lock requires
            **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {}),
        }
        self.buffer = bytearray()
        self.sha256 = hashlib.sha256()
        self.hashing = hashing
        self.size = 0
        self.on_bytes = on_bytes
        self.stored: list[str] = []
        self.failure: str | None = None
        self.slots = threading.Semaphore(MAX_IN_FLIGHT)
        self.lock = threading.Lock()
        self.segments = 0
        self.completed = False

    def write(self, data: bytes | memoryview) -> int:
        if self.hashing:
            self.sha256.update(data)
        self.size += len(data)
        view = memoryview(data)
        while view:
            room = SEGMENT_SIZE - len(self.buffer)
            self.buffer += view[:room]  # the only copy: into the segment that is sent as it is
            view = view[room:]
            if len(self.buffer) >= SEGMENT_SIZE:
                full, self.buffer = self.buffer, bytearray()
                self._submit(full)
        return len(data)

    def flush(self) -> None:
        """Segments are stored when full or at :meth:`complete`."""

    def _check(self) -> None:
        if self.failure is not None:
            raise OpsError(f"{self.where}: storing a segment failed ({self.failure})")

    def _acquire(self) -> None:
        while not self.slots.acquire(timeout=0.2):
            self._check()
            if time.monotonic() >= self.deadline:
                raise OpsError(f"{self.where} did not accept the data before the deadline")
        self._check()

    def _submit(self, body: bytearray) -> None:
        self._acquire()
        self.segments += 1
        key = segment_key(self.prefix, self.segments)
        threading.Thread(target=self._put, args=(key, body), daemon=True).start()

    def _put(self, key: str, body: bytearray) -> None:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **self.extra)
            with self.lock:
                self.stored.append(key)
            self.on_bytes(len(body))
        except Exception as exc:  # reported by the writing thread
            self.failure = _s3_error(exc)
        finally:
            self.slots.release()

    def complete(self) -> None:
        if self.buffer or not self.segments:
            last, self.buffer = self.buffer, bytearray()
            self._submit(last)
        for _ in range(MAX_IN_FLIGHT):  # every slot back: every segment stored
            self._acquire()
        self.completed = True

    def abort(self) -> list[str]:
        """Delete the segments stored so far (with its own short deadline); return the keys that
        remain (S3 unreachable, or Object Lock retains them): they form an incomplete backup, which
        ``list`` shows and ``prune`` removes once it may."""
        grace = time.monotonic() + ABORT_GRACE
        self.failure = self.failure or "aborted"  # nothing new is submitted from here on
        landing = time.monotonic() + ABORT_GRACE / 2
        for _ in range(0 if self.completed else MAX_IN_FLIGHT):  # let the segments in flight land, to delete them
            if not self.slots.acquire(timeout=max(0.0, landing - time.monotonic())):
                break
        with self.lock:
            stored = sorted(self.stored)
        if not stored:
            return []
        try:
            answer = bounded(
                lambda: self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in stored], "Quiet": True}
                ),
                grace,
                self.where,
            )
        except (ClientError, BotoCoreError, OpsError):
            return stored
        return sorted(e["Key"] for e in answer.get("Errors", []) if "Key" in e)


def left_behind(location: Location, backup_id: str, keys: list[str]) -> str:
    """What a failed backup leaves in the bucket, for its error message."""
    if not keys:
        return f"backup {backup_id}: nothing was left in {location.url}"
    return (
        f"backup {backup_id} is left incomplete in {location.url}{backup_id}/: {len(keys)} data segment(s) "
        f"and no manifest; `ops list` shows it as incomplete and `ops prune` deletes it once it is a day old"
    )


def segment_key(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}"


# -- sources -------------------------------------------------------------------------------------


def find_replica(
    sentinels: list[tuple[str, int]],
    master_name: str,
    credentials: Endpoint,
    *,
    sentinel_password: str | None = None,
    allow_primary: bool = False,
) -> Endpoint:
    """The replica to back up, asked from the first Sentinel that answers: its link to the primary is
    up, Sentinel does not flag it down or disconnected, and its replication offset is the highest
    (smallest lag). Each candidate is asked itself whether its link is up. The primary is used only
    with ``allow_primary`` (its fork costs the serving node memory and latency)."""
    register_secret(sentinel_password)
    errors = []
    for host, port in sentinels:
        where = f"Sentinel {host}:{port}"
        try:
            s = redis.Redis(
                host=host, port=port, password=sentinel_password, socket_timeout=5, socket_connect_timeout=5
            )
            replicas = s.execute_command("SENTINEL", "REPLICAS", master_name)
            primary = s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name)
        except redis.ResponseError as exc:
            if "no such master" in str(exc).lower():
                raise OpsError(f"{where} does not monitor a primary named {master_name!r} (--master-name)") from None
            errors.append(f"{where}: {describe(exc)}")
            continue
        except redis.RedisError as exc:
            errors.append(f"{where}: {describe(exc)}")
            continue
        if primary is None:
            raise OpsError(f"{where} does not monitor a primary named {master_name!r} (--master-name)")
        candidates = []
        for raw in replicas or []:
            fields = _pairs(raw)
            flags = set(fields.get("flags", "").split(","))
            if flags & {"s_down", "o_down", "disconnected"} or fields.get("master-link-status") != "ok":
                continue
            offset = int(fields.get("slave-repl-offset", "0") or 0)
            candidates.append((offset, fields.get("ip", ""), int(fields.get("port", "0") or 0)))
        for _, ip, rport in sorted(candidates, reverse=True):
            replica = Endpoint(ip, rport, credentials.username, credentials.password)
            with contextlib.suppress(redis.RedisError):
                if redis_info(redis_client(replica, 5.0), "replication").get("master_link_status") == "up":
                    return replica
        if allow_primary:
            return Endpoint(_text(primary[0]), int(primary[1]), credentials.username, credentials.password)
        raise OpsError(
            f"{where}: no replica of {master_name} has a working link to the primary; "
            "back up the primary with --allow-primary, or repair replication"
        )
    raise OpsError("no Sentinel answered: " + "; ".join(errors))


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _pairs(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    items = [_text(v) for v in raw]
    return dict(zip(items[::2], items[1::2], strict=False))


# -- backup --------------------------------------------------------------------------------------


_END = object()


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """Run ``items`` on a daemon thread, up to ``depth`` items ahead of the consumer, so that network
    reads overlap the consumer's work; the producer's exceptions are raised in the consumer."""
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))

    threading.Thread(target=produce, daemon=True).start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield cast(T, item)
    finally:
        stop.set()


def _worth_compressing(sample: bytes, level: int) -> Literal["zstd", "none"]:
    if not sample:
        return "zstd"
    size = len(zstandard.ZstdCompressor(level=level).compress(sample))
    return "zstd" if size <= len(sample) * WORTH_COMPRESSING else "none"


def backup(
    source: Endpoint,
    location: Location,
    kms_key_id: str | None,
    progress: Callable[[int], None] = lambda n: None,
    *,
    deadline_seconds: float = DEFAULT_DEADLINE,
    idle_timeout: float = 60.0,
    level: int = 1,
    compression: Literal["auto", "zstd", "none"] = "auto",
) -> dict[str, Any]:
    """Stream, check, compress, hash and upload one backup; write its manifest last. Returns it.

    ``compression`` is ``zstd``, ``none`` or ``auto`` (zstd when the first 4 MiB compress well)."""
    deadline = time.monotonic() + deadline_seconds
    who = f"the source Redis at {source.address}"
    client = redis_client(source, min(idle_timeout, 30.0))
    try:
        server = redis_info(client, "server")
        replication = redis_info(client, "replication")
    except redis.RedisError as exc:
        raise OpsError(f"cannot read INFO from {who}: {describe(exc)}") from None
    finally:
        client.close()
    started = datetime.datetime.now(datetime.UTC)
    backup_id = started.strftime("%Y%m%dT%H%M%S.%fZ")
    s3 = s3_client(location.region, min(idle_timeout, 60.0))
    check = StreamingCheck(f"the snapshot of {source.address}")
    rdb_hash, rdb_size = hashlib.sha256(), 0

    def hashed(chunks: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
        nonlocal rdb_size
        for chunk in chunks:  # on the receiving thread: hashing overlaps compression and upload
            rdb_hash.update(chunk)
            rdb_size += len(chunk)
            yield chunk

    t0 = time.monotonic()
    writer: SegmentWriter | None = None
    try:
        stream = prefetch(hashed(stream_rdb(source, idle_timeout=idle_timeout, deadline=deadline)), depth=8)
        head: list[bytes | memoryview] = []
        for chunk in stream:
            head.append(chunk)
            if sum(len(c) for c in head) >= SAMPLE_SIZE:
                break
        mode: Literal["zstd", "none"] = (
            compression if compression != "auto" else _worth_compressing(b"".join(bytes(c) for c in head), level)
        )
        data_key = location.key(backup_id, DATA_FOLDER)
        writer = SegmentWriter(s3, location, data_key, kms_key_id, progress, deadline, hashing=mode != "none")
        sink: Any = writer
        if mode == "zstd":
            sink = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=2).stream_writer(
                cast(IO[bytes], writer), closefd=False, write_size=1 << 20
            )
        for chunk in itertools.chain(head, stream):
            check.feed(chunk)
            sink.write(chunk)
        head.clear()
        facts = check.result(max(1.0, deadline - time.monotonic()))
        if mode == "zstd":
            sink.flush(zstandard.FLUSH_FRAME)
        writer.complete()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            check.close()
        left = writer.abort() if writer is not None else []
        if isinstance(exc, OpsError):
            tail = (
                "; what was stored was deleted and no manifest was written"
                if not left
                else f"; no manifest was written: {left_behind(location, backup_id, left)}"
            )
            raise OpsError(exc.message + tail, code=exc.code) from None
        if isinstance(exc, (ClientError, BotoCoreError)):
            where = writer.where if writer is not None else "S3"
            raise OpsError(
                f"{where}: storing the backup failed ({_s3_error(exc)}); {left_behind(location, backup_id, left)}"
            ) from None
        raise
    assert writer is not None
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        id=backup_id,
        started_at=started,
        completed_at=datetime.datetime.now(datetime.UTC),
        duration_seconds=round(time.monotonic() - t0, 3),
        source=Source(host=source.host, port=source.port, role=replication.get("role")),
        redis_version=server.get("redis_version"),
        rdb_version=facts.rdb_version,
        key_count=facts.keys,
        expires_count=facts.expires,
        databases=facts.databases,
        used_memory=int(facts.aux["used-mem"]) if facts.aux.get("used-mem", "").isdigit() else None,
        rdb_size=rdb_size,
        rdb_sha256=rdb_hash.hexdigest(),
        object_key=data_key,
        object_segments=writer.segments,
        object_size=writer.size,
        object_sha256=writer.sha256.hexdigest() if writer.hashing else rdb_hash.hexdigest(),
        compression=mode,
    )
    body = manifest.model_dump_json(indent=2).encode()
    try:
        bounded(
            lambda: s3.put_object(
                Bucket=location.bucket,
                Key=location.key(backup_id, MANIFEST_NAME),
                Body=body,
                ContentType="application/json",
                ServerSideEncryption="aws:kms",
                **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {}),
            ),
            deadline,
            f"S3 (s3://{location.bucket})",
        )
    except (ClientError, BotoCoreError, OpsError) as exc:
        reason = exc.message if isinstance(exc, OpsError) else _s3_error(exc)
        left = writer.abort()  # a backup without its manifest is of no use: take the segments back
        raise OpsError(
            f"the data was uploaded but the manifest was not ({reason}); "
            + (left_behind(location, backup_id, left) if left else f"backup {backup_id}: its segments were deleted")
        ) from None
    return manifest.as_dict()


# -- listing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One backup folder: ``complete`` (valid manifest), ``invalid`` (manifest unreadable) or
    ``incomplete`` (no manifest: in progress, or failed and aborted)."""

    id: str
    status: str
    manifest: Manifest | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.manifest is not None:
            out["manifest"] = self.manifest.as_dict()
        if self.problem is not None:
            out["problem"] = self.problem
        return out


def _folders(location: Location, s3: Any) -> dict[str, dict[str, int]]:
    """Each backup folder's objects and their sizes."""
    found: dict[str, dict[str, int]] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix):
            for obj in page.get("Contents", []):
                backup_id, _, name = obj["Key"][len(location.prefix) :].partition("/")
                if name:
                    found.setdefault(backup_id, {})[name] = int(obj.get("Size", 0))
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot list {location.url}: {_s3_error(exc)}") from None
    return found


def _read_manifest(location: Location, backup_id: str, s3: Any) -> Manifest:
    key = location.key(backup_id, MANIFEST_NAME)
    try:
        obj = s3.get_object(Bucket=location.bucket, Key=key)
        if int(obj.get("ContentLength", 0)) > 1 << 20:
            raise OpsError(f"manifest of backup {backup_id} is larger than 1 MiB: not a manifest")
        body = obj["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"backup {backup_id} has no readable manifest ({location.url}): {_s3_error(exc)}") from None
    return manifests.parse(
        body, backup_id, {1: location.key(backup_id, "dump.rdb.zst"), 2: location.key(backup_id, DATA_FOLDER)}
    )


def list_backups(location: Location) -> list[Entry]:
    """Every backup folder, oldest first, with its status."""
    s3 = s3_client(location.region)
    entries = []
    for backup_id, names in sorted(_folders(location, s3).items()):
        if MANIFEST_NAME not in names:
            problem = (
                f"no manifest: {len(names)} object(s), {sum(names.values())} bytes left by a backup in progress "
                "or one that failed; `ops prune` deletes it once it is a day old"
            )
            entries.append(Entry(backup_id, "incomplete", problem=problem))
            continue
        try:
            entries.append(Entry(backup_id, "complete", _read_manifest(location, backup_id, s3)))
        except OpsError as exc:
            entries.append(Entry(backup_id, "invalid", problem=exc.message))
    return entries


def get_manifest(location: Location, backup_id: str) -> Manifest:
    """The manifest of ``backup_id``, or of the newest backup that has one for ``latest``. A newest
    backup whose manifest is invalid is an error, not a reason to fall back to an older one."""
    s3 = s3_client(location.region)
    if backup_id != "latest":
        if not manifests.BACKUP_ID_RE.match(backup_id):
            raise OpsError(f"--backup {backup_id!r}: expected 'latest' or an id like 20261126T131500.000000Z", code=2)
        return _read_manifest(location, backup_id, s3)
    with_manifest = [i for i, names in sorted(_folders(location, s3).items()) if MANIFEST_NAME in names]
    if not with_manifest:
        raise OpsError(f"no complete backup under {location.url}")
    newest = with_manifest[-1]
    try:
        return _read_manifest(location, newest, s3)
    except OpsError as exc:
        raise OpsError(
            f"the newest backup is unusable: {exc.message}; name an older one with --backup (see `ops list`)"
        ) from None


# -- fetch and verify ----------------------------------------------------------------------------


def _fetch_in_order(
    s3: Any, bucket: str, keys: list[str], deadline: float, backup_id: str, *, segmented: bool
) -> Iterator[bytes]:
    """The bodies of ``keys`` in order: segments up to :data:`FETCH_IN_FLIGHT` at once; the one object
    of a format-1 backup (of any size) streamed in :data:`READ_SIZE` pieces."""
    where = f"S3 (s3://{bucket})"

    def missing(key: str, exc: Exception) -> OpsError:
        return OpsError(f"backup {backup_id}: cannot read {key.rsplit('/', 2)[-2:]}: {_s3_error(exc)}")

    if not segmented:
        try:
            body = bounded(lambda: s3.get_object(Bucket=bucket, Key=keys[0])["Body"], deadline, where)
        except (ClientError, BotoCoreError) as exc:
            raise missing(keys[0], exc) from None
        while data := bounded(lambda: body.read(READ_SIZE), deadline, where):
            yield data
        return

    def get(key: str) -> Callable[[], bytes]:
        waiting = started(lambda: bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))

        def result() -> bytes:
            try:
                return waiting(deadline, f"{where} did not deliver the backup before the deadline")
            except (ClientError, BotoCoreError) as exc:
                raise missing(key, exc) from None

        return result

    pending = [get(k) for k in keys[:FETCH_IN_FLIGHT]]
    following = iter(keys[FETCH_IN_FLIGHT:])
    while pending:
        data = pending.pop(0)()
        nxt = next(following, None)
        if nxt is not None:
            pending.append(get(nxt))
        yield data


def work_directory(path: Path) -> Path:
    """``path`` if it is a writable directory; otherwise :class:`OpsError` naming ``--work-dir``."""
    if not path.exists():
        raise OpsError(f"--work-dir {path}: no such directory", code=2)
    if not path.is_dir():
        raise OpsError(f"--work-dir {path}: not a directory", code=2)
    if not os.access(path, os.W_OK | os.X_OK):
        raise OpsError(f"--work-dir {path}: not writable", code=2)
    return path


def fetch_verified(
    location: Location,
    manifest: Manifest,
    work_dir: Path | None,
    progress: Callable[[int], None] = lambda n: None,
    deadline: float | None = None,
    forward: GatedFeed | None = None,
) -> tuple[Path | None, RdbFacts]:
    """Download and decompress a backup into ``work_dir``, checking everything the manifest promises
    while it streams (sizes, both SHA-256, ``redis-check-rdb`` and, for format 2, the key count).

    Returns the RDB's path and what the checker found. Raises :class:`OpsError` naming the first
    check that failed; nothing is left in ``work_dir`` then.
    """
    until = deadline if deadline is not None else time.monotonic() + DEFAULT_DEADLINE
    s3 = s3_client(location.region)
    backup_id = manifest.id
    if manifest.object_segments is None:  # format 1: one object
        keys = [manifest.object_key]
    else:
        keys = [segment_key(manifest.object_key, n) for n in range(1, manifest.object_segments + 1)]
    rdb_path = work_dir / f"{backup_id}.rdb" if work_dir is not None else None
    object_hash, object_size = hashlib.sha256(), 0
    rdb_hash, rdb_size = hashlib.sha256(), 0
    compressed = manifest.compression == "zstd"
    check = StreamingCheck(f"backup {backup_id}")
    if forward is not None:
        forward.attach(check)

    def received() -> Iterator[bytes]:
        nonlocal object_size
        # on the receiving threads: up to four objects at once, hashed in order, overlapping
        # decompression, checking and writing
        segmented = manifest.object_segments is not None
        for data in _fetch_in_order(s3, location.bucket, keys, until, backup_id, segmented=segmented):
            object_hash.update(data)
            object_size += len(data)
            progress(len(data))
            yield data

    chunks = prefetch(received(), depth=2)

    class _Pull:
        """The received chunks as a file for the decompressor."""

        pending = b""

        def read(self, n: int = -1) -> bytes:
            if not self.pending:
                self.pending = next(chunks, b"")
            data, self.pending = self.pending[:n], self.pending[n:]
            return data

    try:
        with rdb_path.open("wb") if rdb_path is not None else contextlib.nullcontext() as out:

            def deliver(chunk: bytes) -> None:
                check.feed(chunk)
                if out is not None:
                    out.write(chunk)
                if forward is not None:
                    forward.push(chunk, rdb_size)

            if compressed:
                with zstandard.ZstdDecompressor().stream_reader(
                    cast(IO[bytes], _Pull()), read_size=READ_SIZE, closefd=False
                ) as reader:
                    while chunk := reader.read(READ_SIZE):
                        rdb_hash.update(chunk)
                        rdb_size += len(chunk)
                        deliver(chunk)
                for _ in chunks:  # anything after the frame still counts toward the object size
                    pass
            else:
                for chunk in chunks:
                    rdb_size += len(chunk)
                    deliver(chunk)
                rdb_hash = object_hash
        try:
            facts: RdbFacts | OpsError = check.result(max(1.0, until - time.monotonic()))
        except OpsError as rejected:
            facts = rejected  # reported after the sizes and checksums, which name the cause more precisely
    except zstandard.ZstdError as exc:
        _discard(rdb_path)
        check.close()
        raise OpsError(f"backup {backup_id}: the data object is corrupt or truncated ({describe(exc)})") from None
    except (ClientError, BotoCoreError, OSError) as exc:
        _discard(rdb_path)
        check.close()
        raise OpsError(f"backup {backup_id}: reading it failed ({_s3_error(exc)})") from None
    except BaseException:
        _discard(rdb_path)
        with contextlib.suppress(Exception):
            check.close()
        raise
    checks: list[tuple[str, object, object]] = [
        ("object size", object_size, manifest.object_size),
        ("object SHA-256", object_hash.hexdigest(), manifest.object_sha256),
        ("RDB size", rdb_size, manifest.rdb_size),
        ("RDB SHA-256", rdb_hash.hexdigest(), manifest.rdb_sha256),
    ]
    if manifest.counts_comparable and isinstance(facts, RdbFacts):
        checks += [
            ("key count", facts.keys, manifest.key_count),
            ("RDB version", facts.rdb_version, manifest.rdb_version),
        ]
    for what, actual, expected in checks:
        if actual != expected:
            _discard(rdb_path)
            raise OpsError(
                f"backup {backup_id}: {what} does not match the manifest (expected {expected}, got {actual})"
            )
    if isinstance(facts, OpsError):
        _discard(rdb_path)
        raise facts
    return rdb_path, facts


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


GATE_MARGIN = 1 << 20


def _checked_past(check: StreamingCheck, offset: int) -> bool:
    return check.passed.is_set() or check.written >= offset


class GatedFeed:
    """The RDB for a target, passed on while it downloads but never ahead of ``redis-check-rdb``.

    A chunk is released to the target only once the checker has read at least
    :data:`GATE_MARGIN` bytes past it (it reads an RDB in order and stops at the first fault, so
    everything before that point is sound), and the last chunk, which holds the RDB's checksum,
    only once every check (sizes, SHA-256, checker verdict, key count) has passed. Until then the
    target has an incomplete payload; :meth:`abort` cuts the connection, and Redis discards a
    payload cut short without harm, while a faulty one would make it exit."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.check: StreamingCheck | None = None
        self.queue: queue.Queue[tuple[bytes, int]] = queue.Queue(maxsize=4)
        self.released = threading.Event()
        self.aborted = threading.Event()

    def attach(self, check: StreamingCheck) -> None:
        self.check = check

    def push(self, chunk: bytes, end: int) -> None:
        while not self.aborted.is_set():
            try:
                self.queue.put((chunk, end), timeout=0.2)
                return
            except queue.Full:
                continue

    def release(self) -> None:
        self.released.set()

    def abort(self) -> None:
        self.aborted.set()

    def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self.aborted.is_set():
                raise OpsError("the restore was stopped before the backup was fully verified")
            time.sleep(0.002)

    def chunks(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.size:
            item: tuple[bytes, int] | None = None
            while item is None:
                if self.aborted.is_set():
                    raise OpsError("the restore was stopped before the backup was fully verified")
                with contextlib.suppress(queue.Empty):
                    item = self.queue.get(timeout=0.2)
            chunk, end = item
            check = self.check
            assert check is not None
            self._wait(partial(_checked_past, check, end + GATE_MARGIN))
            if end >= self.size:
                self._wait(self.released.is_set)
            sent = end
            yield chunk


def verify(location: Location, backup_id: str, work_dir: Path) -> dict[str, Any]:
    manifest = get_manifest(location, backup_id)
    with tempfile.TemporaryDirectory(dir=work_directory(work_dir)) as tmp:
        _, facts = fetch_verified(location, manifest, Path(tmp))
    return {"id": manifest.id, "verified": True, "rdb_check": True, "keys": facts.keys, "databases": facts.databases}


# -- restore -------------------------------------------------------------------------------------


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
    return _text(value[name])


def inspect_target(
    client: redis.Redis, target: Endpoint, manifest: Manifest, facts: RdbFacts, force: bool
) -> TargetState:
    """Every reason not to touch the target, checked before anything changes on it."""
    where = f"the restore target {target.address}"
    try:
        replication = redis_info(client, "replication")
        server = redis_info(client, "server")
        memory = redis_info(client, "memory")
        keys = sum(_keyspace(client).values())
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
    return sum(_keyspace(client).values())


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


# -- retention -----------------------------------------------------------------------------------


def retained(ids: list[str], now: datetime.datetime) -> set[str]:
    """The backups a grandfather-father-son schedule keeps: all of the last 24 hours, the newest per
    hour for 7 days, per day for 30 days, per ISO week for 52 weeks."""
    keep: set[str] = set()
    buckets: dict[tuple[str, Any], str] = {}
    for backup_id in sorted(ids):
        t = datetime.datetime.strptime(backup_id, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=datetime.UTC)
        age = now - t
        if age <= datetime.timedelta(hours=24):
            keep.add(backup_id)
        elif age <= datetime.timedelta(days=7):
            buckets[("hour", t.strftime("%Y%m%d%H"))] = backup_id
        elif age <= datetime.timedelta(days=30):
            buckets[("day", t.date())] = backup_id
        elif age <= datetime.timedelta(weeks=52):
            buckets[("week", t.isocalendar()[:2])] = backup_id
    return keep | set(buckets.values())


def prune(location: Location, dry_run: bool, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Delete complete backups outside the retention tiers, and incomplete ones (no manifest) older
    than a day, every version of every object (a plain delete in a versioned bucket only adds a
    delete marker). Objects that Object Lock still retains are reported under ``retained``; other
    failures under ``failed``. Backups with an invalid manifest are left for a person to look at."""
    s3 = s3_client(location.region)
    now = now or datetime.datetime.now(datetime.UTC)
    entries = list_backups(location)
    ids = [e.id for e in entries if e.status == "complete"]
    keep = retained(ids, now)
    doomed = [i for i in ids if i not in keep]
    day_ago = (now - datetime.timedelta(days=1)).strftime("%Y%m%dT%H%M%S.%fZ")
    doomed += [e.id for e in entries if e.status == "incomplete" and e.id < day_ago]
    failed: list[str] = []
    locked: list[str] = []
    deleted: list[str] = []
    if not dry_run:
        for backup_id in sorted(doomed):
            folder = location.key(backup_id, "")
            try:
                listing = s3.list_object_versions(Bucket=location.bucket, Prefix=folder)
            except (ClientError, BotoCoreError) as exc:
                failed.append(f"{backup_id}: {_s3_error(exc)}")
                continue
            versions = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
            # the manifest first: a half-deleted backup reads as incomplete, never as complete
            versions.sort(key=lambda v: v["Key"] != folder + MANIFEST_NAME)
            problems = 0
            for v in versions:
                name = v["Key"][len(folder) :]
                try:
                    s3.delete_object(Bucket=location.bucket, Key=v["Key"], VersionId=v["VersionId"])
                except ClientError as exc:
                    problems += 1
                    if _locked(s3, location.bucket, v["Key"], v["VersionId"]):
                        locked.append(backup_id)
                    else:
                        failed.append(f"{backup_id}/{name}: {_s3_error(exc)}")
                except BotoCoreError as exc:
                    problems += 1
                    failed.append(f"{backup_id}/{name}: {_s3_error(exc)}")
            if not problems:
                deleted.append(backup_id)
    return {
        "kept": sorted(keep),
        "deleted": deleted,
        "would_delete": sorted(doomed) if dry_run else [],
        "retained": sorted(set(locked)),
        "failed": failed,
    }


def _locked(s3: Any, bucket: str, key: str, version: str | None) -> bool:
    """Whether Object Lock (a retention date still ahead, or a legal hold) protects this version."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except (ClientError, BotoCoreError):
        return False
    until = head.get("ObjectLockRetainUntilDate")
    return bool(
        (until is not None and until > datetime.datetime.now(datetime.UTC))
        or head.get("ObjectLockLegalHoldStatus") == "ON"
    )


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
    """Restore the latest backup into a scratch Redis; measure RTO and RPO."""
    t0 = time.monotonic()
    manifest = get_manifest(location, "latest")
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
