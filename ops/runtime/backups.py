"""Redis backups to S3: backup, verify, restore, list, prune and the restore drill.

Layout under ``s3://<bucket>/<prefix>``: one folder per backup, named by its UTC start time
(sortable), holding ``dump.rdb.zst`` (the RDB, zstd-compressed, SSE-KMS) and ``manifest.json``.
The manifest is written last, so **a backup without a manifest is incomplete by definition** and
every reader ignores it.

* backup: streams the RDB from a replica over the replication protocol (found through Sentinel, or
  a given URL), hashes it (SHA-256) and compresses it (zstd level 1, two worker threads) while
  streaming, and uploads it as a multipart upload in 8 MiB parts (up to 8 in flight): memory stays
  flat whatever the dataset size (about 160 MiB peak at 256 MiB and at 1 GiB, see ``bench/``).
  A failed upload is aborted and leaves no manifest.
* verify: re-reads a backup, checks the object's and the RDB's size and SHA-256 against the
  manifest and runs ``redis-check-rdb``; it touches no Redis server.
* restore: verifies first, then writes the RDB for a stopped server (``--target-rdb``) or loads it
  into a running, empty Redis by replicating it from a one-shot primary (``--target-url``). It
  refuses a non-empty target unless ``--force``.
* prune: keeps everything of the last day, then one backup per hour for a week, per day for a
  month, per week for a year (grandfather-father-son), and deletes the rest (``--dry-run`` shows).
* drill: restores the latest backup into a scratch ``redis-server`` and reports the measured RTO
  (download, verification and load) and RPO (age of the backup); non-zero exit if anything fails.

AWS clients honour the standard environment (``AWS_ENDPOINT_URL``, ``AWS_REGION``, profiles).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlparse

import boto3
import redis
import redis.sentinel
import zstandard
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError
from ops.runtime.replication import RdbMaster, stream_rdb, wait_until

DATA_NAME = "dump.rdb.zst"
MANIFEST_NAME = "manifest.json"
PART_SIZE = 8 << 20
MAX_IN_FLIGHT = 8
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str
    region: str | None = None

    def key(self, backup_id: str, name: str) -> str:
        return f"{self.prefix}{backup_id}/{name}"


def s3_client(region: str | None) -> Any:
    return boto3.client("s3", region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _s3_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip()
    return str(exc)


# -- upload --------------------------------------------------------------------------------------


class MultipartWriter:
    """A write-only stream into an S3 multipart upload with SSE-KMS; parts upload in the background."""

    def __init__(self, s3: Any, bucket: str, key: str, kms_key_id: str | None, on_bytes: Callable[[int], None]) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        extra = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {})}
        self.upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
        self.buffer = bytearray()
        self.parts: list[Future[dict[str, Any]]] = []
        self.slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.on_bytes = on_bytes

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.sha256.update(data)
        self.size += len(data)
        while len(self.buffer) >= PART_SIZE:
            self._submit(bytes(self.buffer[:PART_SIZE]))
            del self.buffer[:PART_SIZE]
        return len(data)

    def flush(self) -> None:
        """Parts are flushed when full or at :meth:`complete`."""

    def _submit(self, body: bytes) -> None:
        for done in [f for f in self.parts if f.done()]:
            done.result()  # surface a failed part early
        self.slots.acquire()
        number = len(self.parts) + 1
        future = self.pool.submit(self._upload, number, body)
        future.add_done_callback(lambda _: self.slots.release())
        self.parts.append(future)

    def _upload(self, number: int, body: bytes) -> dict[str, Any]:
        for attempt in range(3):
            try:
                etag = self.s3.upload_part(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
                )["ETag"]
                self.on_bytes(len(body))
                return {"PartNumber": number, "ETag": etag}
            except (ClientError, BotoCoreError):
                if attempt == 2:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def complete(self) -> None:
        if self.buffer or not self.parts:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        parts = [f.result() for f in self.parts]
        self.pool.shutdown()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(ClientError, BotoCoreError):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


# -- sources -------------------------------------------------------------------------------------


def _connect(url: str, password: str | None) -> tuple[str, int, redis.Redis]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "localhost", parsed.port or 6379
    return host, port, redis.Redis(host=host, port=port, password=password or parsed.password, socket_timeout=30)


def find_replica(sentinel: str, master_name: str, password: str | None) -> str:
    """``redis://host:port`` of a healthy replica (the primary if it has none), asked from Sentinel."""
    host, _, port = sentinel.rpartition(":")
    s = redis.sentinel.Sentinel([(host, int(port))], socket_timeout=5, sentinel_kwargs={"password": password})
    try:
        replicas = s.discover_slaves(master_name)
        chosen = replicas[0] if replicas else s.discover_master(master_name)
    except redis.RedisError as exc:
        raise OpsError(f"Sentinel {sentinel} could not name a replica of {master_name}: {exc}") from None
    return f"redis://{chosen[0]}:{chosen[1]}"


def redis_info(client: redis.Redis, section: str) -> dict[str, Any]:
    """``INFO <section>`` as a dict (redis-py types it for its async client too)."""
    return cast(dict[str, Any], client.info(section))


def _key_count(client: redis.Redis) -> int:
    return sum(int(v["keys"]) for v in redis_info(client, "keyspace").values() if isinstance(v, dict))


# -- commands ------------------------------------------------------------------------------------


def backup(
    source_url: str,
    password: str | None,
    location: Location,
    kms_key_id: str | None,
    progress: Callable[[int], None] = lambda n: None,
    level: int = 1,
) -> dict[str, Any]:
    """Stream, compress, hash and upload one backup; write its manifest last. Returns the manifest."""
    host, port, client = _connect(source_url, password)
    try:
        server = redis_info(client, "server")
        replication = redis_info(client, "replication")
        keys = _key_count(client)
    except redis.RedisError as exc:
        raise OpsError(f"cannot read INFO from Redis at {host}:{port}: {exc}") from None
    started = datetime.datetime.now(datetime.UTC)
    backup_id = started.strftime("%Y%m%dT%H%M%S.%fZ")
    s3 = s3_client(location.region)
    data_key = location.key(backup_id, DATA_NAME)
    try:
        writer = MultipartWriter(s3, location.bucket, data_key, kms_key_id, progress)
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"S3 refused the upload to s3://{location.bucket}/{data_key}: {_s3_error(exc)}") from None
    rdb_hash, rdb_size = hashlib.sha256(), 0
    t0 = time.monotonic()
    try:
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=2).stream_writer(
            cast(IO[bytes], writer), closefd=False
        )
        for chunk in stream_rdb(host, port, password or urlparse(source_url).password):
            rdb_hash.update(chunk)
            rdb_size += len(chunk)
            compressor.write(chunk)
        compressor.flush(zstandard.FLUSH_FRAME)
        writer.complete()
    except OpsError:
        writer.abort()
        raise
    except (ClientError, BotoCoreError, OSError) as exc:
        writer.abort()
        raise OpsError(
            f"upload to s3://{location.bucket}/{data_key} failed ({_s3_error(exc)}); the upload was aborted "
            "and no manifest was written, so this backup does not exist"
        ) from None
    manifest = {
        "format_version": FORMAT_VERSION,
        "id": backup_id,
        "started_at": started.isoformat(),
        "completed_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "duration_seconds": round(time.monotonic() - t0, 3),
        "source": {"host": host, "port": port, "role": replication.get("role")},
        "redis_version": server.get("redis_version"),
        "key_count": keys,
        "rdb_size": rdb_size,
        "rdb_sha256": rdb_hash.hexdigest(),
        "object_key": data_key,
        "object_size": writer.size,
        "object_sha256": writer.sha256.hexdigest(),
        "compression": "zstd",
    }
    try:
        s3.put_object(
            Bucket=location.bucket,
            Key=location.key(backup_id, MANIFEST_NAME),
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            **({"SSEKMSKeyId": kms_key_id} if kms_key_id else {}),
        )
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(
            f"the data was uploaded but the manifest was not ({_s3_error(exc)}): backup {backup_id} is incomplete"
        ) from None
    return manifest


def list_backups(location: Location) -> list[dict[str, Any]]:
    """Manifests of complete backups, oldest first."""
    s3 = s3_client(location.region)
    ids: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.prefix, Delimiter="/"
        ):
            ids.extend(p["Prefix"][len(location.prefix) :].rstrip("/") for p in page.get("CommonPrefixes", []))
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"cannot list s3://{location.bucket}/{location.prefix}: {_s3_error(exc)}") from None
    manifests = []
    for backup_id in sorted(ids):
        with contextlib.suppress(OpsError):
            manifests.append(get_manifest(location, backup_id))
    return manifests


def get_manifest(location: Location, backup_id: str) -> dict[str, Any]:
    s3 = s3_client(location.region)
    if backup_id == "latest":
        complete = list_backups(location)
        if not complete:
            raise OpsError(f"no complete backup under s3://{location.bucket}/{location.prefix}")
        return complete[-1]
    key = location.key(backup_id, MANIFEST_NAME)
    try:
        body = s3.get_object(Bucket=location.bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(
            f"backup {backup_id} has no readable manifest (s3://{location.bucket}/{key}): {_s3_error(exc)}"
        ) from None
    try:
        manifest = json.loads(body)
    except json.JSONDecodeError:
        raise OpsError(f"manifest of backup {backup_id} is not valid JSON") from None
    if manifest.get("id") != backup_id:
        raise OpsError(f"manifest of backup {backup_id} names another backup ({manifest.get('id')})")
    return dict(manifest)


def fetch_verified(
    location: Location, manifest: dict[str, Any], work_dir: Path, progress: Callable[[int], None] = lambda n: None
) -> Path:
    """Download and decompress a backup into ``work_dir``, checking everything the manifest promises.

    Returns the path of the RDB. Raises :class:`OpsError` naming the first check that failed.
    """
    s3 = s3_client(location.region)
    backup_id = manifest["id"]
    try:
        body = s3.get_object(Bucket=location.bucket, Key=manifest["object_key"])["Body"]
    except (ClientError, BotoCoreError) as exc:
        raise OpsError(f"backup {backup_id}: cannot read its data object: {_s3_error(exc)}") from None
    work_dir.mkdir(parents=True, exist_ok=True)
    rdb_path = work_dir / f"{backup_id}.rdb"
    object_hash, object_size = hashlib.sha256(), 0
    rdb_hash = hashlib.sha256()

    class _Hashing:
        def read(self, n: int = -1) -> bytes:
            nonlocal object_size
            data = body.read(n)
            object_hash.update(data)
            object_size += len(data)
            progress(len(data))
            return bytes(data)

    try:
        with (
            rdb_path.open("wb") as out,
            zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], _Hashing()), closefd=False) as reader,
        ):
            while chunk := reader.read(1 << 20):
                rdb_hash.update(chunk)
                out.write(chunk)
        while body.read(1 << 20):  # anything after the frame still counts toward the object checksum
            pass
    except zstandard.ZstdError as exc:
        rdb_path.unlink(missing_ok=True)
        raise OpsError(f"backup {backup_id}: the data object is corrupt or truncated ({exc})") from None
    checks = [
        ("object size", object_size, manifest["object_size"]),
        ("object SHA-256", object_hash.hexdigest(), manifest["object_sha256"]),
        ("RDB size", rdb_path.stat().st_size, manifest["rdb_size"]),
        ("RDB SHA-256", rdb_hash.hexdigest(), manifest["rdb_sha256"]),
    ]
    for what, actual, expected in checks:
        if actual != expected:
            rdb_path.unlink(missing_ok=True)
            raise OpsError(
                f"backup {backup_id}: {what} does not match the manifest (expected {expected}, got {actual})"
            )
    checker = shutil.which("redis-check-rdb")
    if checker is not None and manifest["rdb_size"] > 0:
        result = subprocess.run([checker, str(rdb_path)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            rdb_path.unlink(missing_ok=True)
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise OpsError(f"backup {backup_id}: redis-check-rdb rejects the RDB ({tail[0]})")
    return rdb_path


def verify(location: Location, backup_id: str, work_dir: Path) -> dict[str, Any]:
    manifest = get_manifest(location, backup_id)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        fetch_verified(location, manifest, Path(tmp))
    return {"id": manifest["id"], "verified": True, "rdb_check": shutil.which("redis-check-rdb") is not None}


def _keyspace_empty(client: redis.Redis) -> bool:
    return _key_count(client) == 0


def load_into(target_url: str, password: str | None, rdb: Path, advertise: str, timeout: float = 600.0) -> None:
    """Make the running Redis at ``target_url`` load ``rdb`` by replicating from a one-shot primary."""
    _, _, client = _connect(target_url, password)
    with RdbMaster(rdb, advertise=advertise) as master:
        client.execute_command("REPLICAOF", *master.address)
        try:
            wait_until(master.served.is_set, timeout, "the target to request the backup")
            if master.error is not None:
                raise OpsError(f"serving the backup failed: {master.error}")

            def loaded() -> bool:
                info = redis_info(client, "replication")
                return bool(
                    info.get("master_link_status") == "up" and not redis_info(client, "persistence").get("loading")
                )

            wait_until(loaded, timeout, "the target to load the backup")
        finally:
            client.execute_command("REPLICAOF", "NO", "ONE")


def restore(
    location: Location,
    backup_id: str,
    work_dir: Path,
    *,
    target_rdb: Path | None = None,
    target_url: str | None = None,
    password: str | None = None,
    force: bool = False,
    advertise: str = "127.0.0.1",
) -> dict[str, Any]:
    if (target_rdb is None) == (target_url is None):
        raise OpsError("restore needs exactly one of --target-rdb or --target-url", code=2)
    manifest = get_manifest(location, backup_id)
    if target_rdb is not None and target_rdb.exists() and target_rdb.stat().st_size > 0 and not force:
        raise OpsError(f"{target_rdb} exists and is not empty: refusing to overwrite it without --force")
    client = None
    if target_url is not None:
        _, _, client = _connect(target_url, password)
        try:
            empty = _keyspace_empty(client)
        except redis.RedisError as exc:
            raise OpsError(f"cannot reach the restore target {target_url}: {exc}") from None
        if not empty and not force:
            raise OpsError(f"the target Redis at {target_url} holds data: refusing to replace it without --force")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        rdb = fetch_verified(location, manifest, Path(tmp))
        if target_rdb is not None:
            staged = target_rdb.with_name(target_rdb.name + ".restoring")
            shutil.move(rdb, staged)
            os.replace(staged, target_rdb)
        else:
            assert target_url is not None and client is not None
            load_into(target_url, password, rdb, advertise)
            keys = _key_count(client)
            if keys != manifest["key_count"]:
                raise OpsError(f"restored {keys} keys but the backup recorded {manifest['key_count']}")
    return {
        "id": manifest["id"],
        "restored_to": str(target_rdb or target_url),
        "seconds": round(time.monotonic() - t0, 3),
    }


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
    s3 = s3_client(location.region)
    ids = [m["id"] for m in list_backups(location)]
    keep = retained(ids, now or datetime.datetime.now(datetime.UTC))
    doomed = [i for i in ids if i not in keep]
    failed = []
    if not dry_run:
        for backup_id in doomed:
            for name in (MANIFEST_NAME, DATA_NAME):  # manifest first: a half-deleted backup reads as incomplete
                try:
                    s3.delete_object(Bucket=location.bucket, Key=location.key(backup_id, name))
                except (ClientError, BotoCoreError) as exc:
                    failed.append(f"{backup_id}/{name}: {_s3_error(exc)}")
    return {
        "kept": sorted(keep),
        "deleted": [] if dry_run else doomed,
        "would_delete": doomed if dry_run else [],
        "failed": failed,
    }


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis_server(
    work_dir: Path, *extra: str, password: str | None = None, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``redis-server`` on a free loopback port with persistence off (``extra`` adds options);
    return it and its port once it answers and has finished loading any RDB in ``work_dir``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise OpsError("redis-server is not on PATH (the ops image ships it; Debian: apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(work_dir), *extra, *(["--requirepass", password] if password else [])]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
def scratch_redis(work_dir: Path) -> Iterator[str]:
    """A throw-away ``redis-server`` on a free loopback port, persistence off."""
    proc, port = start_redis_server(work_dir)
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def drill(location: Location, work_dir: Path) -> dict[str, Any]:
    """Restore the latest backup into a scratch Redis; measure RTO and RPO."""
    t0 = time.monotonic()
    manifest = get_manifest(location, "latest")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp, scratch_redis(Path(tmp)) as url:
        result = restore(location, manifest["id"], Path(tmp), target_url=url)
    completed = datetime.datetime.fromisoformat(manifest["completed_at"])
    return {
        "id": manifest["id"],
        "keys": manifest["key_count"],
        "rto_seconds": round(time.monotonic() - t0, 3),
        "rpo_seconds": round((datetime.datetime.now(datetime.UTC) - completed).total_seconds(), 3),
        "restore_seconds": result["seconds"],
        "ok": True,
    }
