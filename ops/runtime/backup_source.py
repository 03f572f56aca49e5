"""Where a backup comes from and how it is taken: Redis endpoints and clients, the replica Sentinel
offers, and ``backup`` itself.

``backup`` picks a replica through Sentinel (link up, smallest lag; the primary only with
``--allow-primary``) or takes ``--redis-url``, streams a diskless snapshot over the replication
protocol (:mod:`ops.runtime.replication`), and while it streams hashes it (SHA-256), has
``redis-check-rdb`` check and count it (:mod:`ops.runtime.rdbcheck`), compresses it when the first
4 MiB show that pays, and stores it as segments (:mod:`ops.runtime.backup_segments`). The manifest
records what the snapshot itself holds, so it is exact on a busy server. Every network step has a
timeout and the whole backup a deadline; errors name the party that stopped answering (source or
S3). A failed backup deletes the segments it stored, and says what it could not.

Credentials come from the environment (``REDIS_USERNAME``, ``REDIS_PASSWORD``,
``REDIS_SENTINEL_PASSWORD``) or the URL's userinfo, never from a flag's value shown in a process
list.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, Literal, cast
from urllib.parse import unquote, urlsplit

import redis
import zstandard
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError, describe, register_secret
from ops.runtime import backup_store as store
from ops.runtime.backup_segments import SegmentWriter, left_behind
from ops.runtime.backup_store import DATA_FOLDER, DEFAULT_DEADLINE, MANIFEST_NAME, Location, bounded, prefetch, s3_error
from ops.runtime.manifest import FORMAT_VERSION, Manifest, Source
from ops.runtime.rdbcheck import StreamingCheck
from ops.runtime.replication import Endpoint, stream_rdb

SAMPLE_SIZE = 4 << 20
WORTH_COMPRESSING = 0.85
"""``auto`` compresses when zstd shrinks the first 4 MiB of the snapshot below 85% (Redis already
LZF-compresses large strings, so many datasets gain little, and the CPU is better spent uploading)."""


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


def keyspace(client: redis.Redis) -> dict[int, int]:
    return {
        int(db[2:]): int(v["keys"])
        for db, v in redis_info(client, "keyspace").items()
        if db.startswith("db") and isinstance(v, dict)
    }


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
            return Endpoint(as_text(primary[0]), int(primary[1]), credentials.username, credentials.password)
        raise OpsError(
            f"{where}: no replica of {master_name} has a working link to the primary; "
            "back up the primary with --allow-primary, or repair replication"
        )
    raise OpsError("no Sentinel answered: " + "; ".join(errors))


def as_text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _pairs(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {as_text(k): as_text(v) for k, v in raw.items()}
    items = [as_text(v) for v in raw]
    return dict(zip(items[::2], items[1::2], strict=False))


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
    s3 = store.s3_client(location.region, min(idle_timeout, 60.0))
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
                f"{where}: storing the backup failed ({s3_error(exc)}); {left_behind(location, backup_id, left)}"
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
        reason = exc.message if isinstance(exc, OpsError) else s3_error(exc)
        left = writer.abort()  # a backup without its manifest is of no use: take the segments back
        raise OpsError(
            f"the data was uploaded but the manifest was not ({reason}); "
            + (left_behind(location, backup_id, left) if left else f"backup {backup_id}: its segments were deleted")
        ) from None
    return manifest.as_dict()
