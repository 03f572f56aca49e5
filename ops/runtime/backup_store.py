"""Where backups live in S3, and S3 with deadlines: the bucket layout, the S3 client, calls bounded by
a deadline, the catalog (every backup folder with its status), the manifest's lookup, and retention.

Layout under ``s3://<bucket>/<prefix>``: one folder per backup, named by its UTC start time
(sortable), holding ``data/000001``, ``data/000002``, ... (the RDB, zstd-compressed when that pays,
in segment objects, SSE-KMS; :mod:`ops.runtime.backup_segments`) and ``manifest.json``
(:mod:`ops.runtime.manifest`). The manifest is written last, so **a backup without a manifest is
incomplete by definition**; one whose manifest does not validate is **invalid**, and both are
reported by ``list`` and never restored.

prune keeps everything of the last day, then one backup per hour for a week, per day for a month,
per week for a year (grandfather-father-son), and deletes the rest, and incomplete backups older
than a day, every version of each object; objects that Object Lock retains are reported as
retained, not as deleted.

AWS clients honour the standard environment (``AWS_ENDPOINT_URL``, ``AWS_REGION``, profiles).
"""

from __future__ import annotations

import datetime
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError, describe
from ops.runtime import manifest as manifests
from ops.runtime.manifest import Manifest

DATA_FOLDER = "data/"
"""Segments of the (compressed) RDB under the backup's folder: ``data/000001``, ``data/000002``, ..."""
MANIFEST_NAME = "manifest.json"
MAX_IN_FLIGHT = 6
DEFAULT_DEADLINE = 1800.0
T = TypeVar("T")


# -- where backups live ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """``s3://<bucket>/<prefix>``, the backups' home, and the region its client uses."""

    bucket: str
    prefix: str
    region: str | None = None

    def key(self, backup_id: str, name: str) -> str:
        return f"{self.prefix}{backup_id}/{name}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


# -- S3 with deadlines ----------------------------------------------------------------------------


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


def s3_error(exc: Exception) -> str:
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


# -- the catalog ---------------------------------------------------------------------------------


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


def folders(location: Location, s3: Any) -> dict[str, dict[str, int]]:
    """Each backup folder's objects and their sizes."""
    found: dict[str, dict[str, int]] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix):
            for obj in page.get("Contents", []):
                backup_id, _, name = obj["Key"][len(location.prefix) :].partition("/")
                if name:
                    found.setdefault(backup_id, {})[name] = int(obj.get("Size", 0))
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot list {location.url}: {s3_error(exc)}") from None
    return found


def read_manifest(location: Location, backup_id: str, s3: Any) -> Manifest:
    key = location.key(backup_id, MANIFEST_NAME)
    try:
        obj = s3.get_object(Bucket=location.bucket, Key=key)
        if int(obj.get("ContentLength", 0)) > 1 << 20:
            raise OpsError(f"manifest of backup {backup_id} is larger than 1 MiB: not a manifest")
        body = obj["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"backup {backup_id} has no readable manifest ({location.url}): {s3_error(exc)}") from None
    return manifests.parse(
        body, backup_id, {1: location.key(backup_id, "dump.rdb.zst"), 2: location.key(backup_id, DATA_FOLDER)}
    )


def list_backups(location: Location) -> list[Entry]:
    """Every backup folder, oldest first, with its status."""
    s3 = s3_client(location.region)
    entries = []
    for backup_id, names in sorted(folders(location, s3).items()):
        if MANIFEST_NAME not in names:
            problem = (
                f"no manifest: {len(names)} object(s), {sum(names.values())} bytes left by a backup in progress "
                "or one that failed; `ops prune` deletes it once it is a day old"
            )
            entries.append(Entry(backup_id, "incomplete", problem=problem))
            continue
        try:
            entries.append(Entry(backup_id, "complete", read_manifest(location, backup_id, s3)))
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
        return read_manifest(location, backup_id, s3)
    with_manifest = [i for i, names in sorted(folders(location, s3).items()) if MANIFEST_NAME in names]
    if not with_manifest:
        raise OpsError(f"no complete backup under {location.url}")
    newest = with_manifest[-1]
    try:
        return read_manifest(location, newest, s3)
    except OpsError as exc:
        raise OpsError(
            f"the newest backup is unusable: {exc.message}; name an older one with --backup (see `ops list`)"
        ) from None


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
                failed.append(f"{backup_id}: {s3_error(exc)}")
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
                        failed.append(f"{backup_id}/{name}: {s3_error(exc)}")
                except BotoCoreError as exc:
                    problems += 1
                    failed.append(f"{backup_id}/{name}: {s3_error(exc)}")
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
