"""A backup's data as segment objects, written and read back: the write side stores a stream as
numbered segments while it is produced; the read side fetches them in order (several at once),
decompresses, and checks everything the manifest promises while the bytes stream past (sizes, both
SHA-256, ``redis-check-rdb`` and the key count), optionally feeding a restore target behind the
checker (:class:`GatedFeed`). ``verify`` is that read, touching no Redis server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

import zstandard
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError, describe
from ops.runtime import backup_store as store
from ops.runtime.backup_store import (
    DEFAULT_DEADLINE,
    MAX_IN_FLIGHT,
    Location,
    bounded,
    get_manifest,
    prefetch,
    s3_error,
    started,
)
from ops.runtime.manifest import Manifest
from ops.runtime.rdbcheck import RdbFacts, StreamingCheck

SEGMENT_SIZE = 8 << 20
FETCH_IN_FLIGHT = 4
READ_SIZE = 4 << 20
ABORT_GRACE = 8.0


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
            self.failure = s3_error(exc)
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


def fetch_in_order(
    s3: Any, bucket: str, keys: list[str], deadline: float, backup_id: str, *, segmented: bool
) -> Iterator[bytes]:
    """The bodies of ``keys`` in order: segments up to :data:`FETCH_IN_FLIGHT` at once; the one object
    of a format-1 backup (of any size) streamed in :data:`READ_SIZE` pieces."""
    where = f"S3 (s3://{bucket})"

    def missing(key: str, exc: Exception) -> OpsError:
        return OpsError(f"backup {backup_id}: cannot read {key.rsplit('/', 2)[-2:]}: {s3_error(exc)}")

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
    s3 = store.s3_client(location.region)
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
        for data in fetch_in_order(s3, location.bucket, keys, until, backup_id, segmented=segmented):
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
        raise OpsError(f"backup {backup_id}: reading it failed ({s3_error(exc)})") from None
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
        self.queue: queue.Queue[tuple[bytes, int]] = queue.Queue(maxsize=2)  # 16 MiB ahead of the target
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
