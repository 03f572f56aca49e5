"""Backup and restore against a real redis-server and a moto S3/KMS server: round trips, corruption,
hostile manifests, listing and retention.

Round trips are judged by ``DEBUG DIGEST`` (a hash over every key, value and expiry); every
corruption case must be refused with a clear message and a non-zero exit, before the target is
touched.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops.offline.engine import ROOT
from ops.runtime import backups
from tests.conftest import REGION, RedisServer

PASSWORD = "correct-horse-battery-staple"


def populate(r: Any) -> None:
    """Every Redis data type, TTLs, binary and large values, several databases, a function library."""
    r.set("string", "hello")
    r.set(b"binary\x00key", os.urandom(4096))
    r.set("large", os.urandom(5 << 20))
    r.rpush("list", *[f"item-{i}" for i in range(1000)])
    r.sadd("set", *[f"member-{i}" for i in range(500)])
    r.zadd("zset", {f"player-{i}": i * 1.5 for i in range(500)})
    r.hset("hash", mapping={f"field-{i}": f"value-{i}" for i in range(300)})
    for i in range(50):
        r.xadd("stream", {"n": i, "payload": "x" * 20})
    r.xgroup_create("stream", "readers", id="0")
    r.xreadgroup("readers", "alice", {"stream": ">"}, count=10)
    r.pfadd("hll", *[f"visitor-{i}" for i in range(2000)])
    r.setex("expiring", 3600, "soon gone")
    r.hset("expiring-hash", "f", "v")
    r.pexpire("expiring-hash", 7_200_000)
    r.execute_command("SELECT", 2)
    r.set("in-db-2", "elsewhere")
    r.execute_command("SELECT", 0)
    r.execute_command("FUNCTION", "LOAD", "#!lua name=gw\nredis.register_function('gw_ping', function() return 1 end)")


def ops(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def source(redis_server: Callable[..., RedisServer]) -> RedisServer:
    server = redis_server(password=PASSWORD)
    populate(server.client)
    return server


def location(bucket: tuple[str, str]) -> backups.Location:
    return backups.Location(bucket[0], "redis/", REGION)


def take_backup(server: RedisServer, bucket: tuple[str, str], compression: Any = "auto") -> dict[str, Any]:
    return backups.backup(server.endpoint, location(bucket), bucket[1], compression=compression)


def test_round_trip_of_every_type_is_exact(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    manifest = take_backup(source, bucket)
    assert (manifest["key_count"], manifest["expires_count"], manifest["databases"]) == (12, 2, [0, 2])
    assert manifest["format_version"] == 2 and manifest["rdb_version"] >= 9
    assert manifest["rdb_size"] > 5 << 20 and manifest["redis_version"]
    target = redis_server()
    result = ops(
        "restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path), "--json", "-"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["keys"] == 12 and report["databases"] == [0, 2]
    assert target.digest() == source.digest() != "0" * 40
    assert 0 < target.client.pttl("expiring-hash") <= 7_200_000
    assert target.client.fcall("gw_ping", 0) == 1  # functions come back too
    assert target.client.info("replication")["role"] == "master"
    assert target.client.config_get("masterauth")["masterauth"] == ""  # the one-time token is gone


def test_restore_to_an_rdb_file_for_a_stopped_server(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    take_backup(source, bucket)
    data = tmp_path / "data"
    data.mkdir()
    result = ops("restore", "--bucket", bucket[0], "--target-rdb", str(data / "dump.rdb"), "--work-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "12 keys" in result.stdout
    started = redis_server(extra=("--dir", str(data), "--dbfilename", "dump.rdb"))
    assert started.digest() == source.digest()
    assert sorted(p.name for p in data.iterdir()) == ["dump.rdb"]  # no *.restoring left behind


def test_empty_database_round_trips(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    empty = redis_server()
    manifest = take_backup(empty, bucket)
    assert manifest["key_count"] == 0 and manifest["databases"] == []
    target = redis_server()
    backups.restore(location(bucket), "latest", tmp_path, target_url=target.endpoint)
    assert target.digest() == empty.digest() == "0" * 40


def _replace_object(bucket: str, key: str, change: Callable[[bytes], bytes]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=change(body))


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def _edit_manifest(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    def edit(body: bytes) -> bytes:
        data = json.loads(body)
        out = change(data)
        return (json.dumps(data if out is None else out)).encode()

    return edit


@pytest.mark.parametrize("compression", ["zstd", "none"])
@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda m: ("data", lambda d: d[: len(d) // 2]), "object size does not match the manifest"),
        (lambda m: ("data", _flip), {"zstd": "the data object is corrupt", "none": "object SHA-256 does not match"}),
        (
            lambda m: ("data", lambda d: d + b"trailing"),
            {"zstd": "the data object is corrupt", "none": "object size does not match"},
        ),
        (
            lambda m: ("manifest", _edit_manifest(lambda d: d.update(rdb_sha256="0" * 64))),
            "RDB SHA-256 does not match the manifest",
        ),
        (
            lambda m: ("manifest", _edit_manifest(lambda d: d.update(key_count=d["key_count"] + 1))),
            "key count does not match the manifest (expected 13, got 12)",
        ),
    ],
    ids=["truncated", "flipped-byte", "trailing-bytes", "rdb-checksum", "key-count"],
)
def test_corrupt_backups_are_refused_before_the_target_is_touched(
    corrupt: Callable[[dict[str, Any]], tuple[str, Callable[[bytes], bytes]]],
    message: str | dict[str, str],
    compression: str,
    source: RedisServer,
    redis_server: Callable[..., RedisServer],
    bucket: tuple[str, str],
    tmp_path: Path,
) -> None:
    manifest = take_backup(source, bucket, compression)
    assert manifest["compression"] == compression
    message = message[compression] if isinstance(message, dict) else message
    which, change = corrupt(manifest)
    last = f"{manifest['object_key']}{manifest['object_segments']:06d}"
    key = last if which == "data" else f"redis/{manifest['id']}/manifest.json"
    _replace_object(bucket[0], key, change)
    work = tmp_path / "work"
    work.mkdir()
    verify = ops("verify", "--bucket", bucket[0], "--work-dir", str(work))
    assert verify.returncode == 1 and message in verify.stderr and "Traceback" not in verify.stderr
    target = redis_server()
    target.client.set("untouched", "yes")
    with pytest.raises(backups.OpsError, match=re.escape(message)):
        backups.restore(location(bucket), "latest", work, target_url=target.endpoint, force=True)
    assert target.client.get("untouched") == b"yes"  # nothing was loaded
    assert list(work.iterdir()) == []  # no half-written RDB left behind
    empty = redis_server()  # an empty target loads while the backup downloads: the cut must leave it intact
    with pytest.raises(backups.OpsError, match=re.escape(message)):
        backups.restore(location(bucket), "latest", work, target_url=empty.endpoint)
    assert empty.proc.poll() is None and empty.client.dbsize() == 0
    assert empty.client.info("replication")["role"] == "master"


@pytest.mark.parametrize("where", ["early", "middle", "checksum"])
@pytest.mark.parametrize("target_holds_data", [False, True])
def test_an_rdb_that_redis_check_rdb_rejects_is_never_restored(
    where: str,
    target_holds_data: bool,
    source: RedisServer,
    redis_server: Callable[..., RedisServer],
    bucket: tuple[str, str],
    tmp_path: Path,
) -> None:
    import hashlib

    import zstandard

    manifest = take_backup(source, bucket, "zstd")
    # A consistent forgery: the RDB is damaged inside, and the manifest's checksums describe it.
    s3 = boto3.client("s3", region_name=REGION)
    rdb = zstandard.ZstdDecompressor().decompress(
        s3.get_object(Bucket=bucket[0], Key=manifest["object_key"] + "000001")["Body"].read(),
        max_output_size=1 << 30,
    )
    spot = {"early": 120, "middle": len(rdb) // 2, "checksum": len(rdb) - 3}[where]
    bad = rdb[:spot] + bytes([rdb[spot] ^ 0x5A]) + rdb[spot + 1 :]
    body = zstandard.ZstdCompressor().compress(bad)
    assert manifest["object_segments"] == 1
    s3.put_object(Bucket=bucket[0], Key=manifest["object_key"] + "000001", Body=body)
    forged = {
        **manifest,
        "rdb_sha256": hashlib.sha256(bad).hexdigest(),
        "object_sha256": hashlib.sha256(body).hexdigest(),
        "object_size": len(body),
    }
    s3.put_object(Bucket=bucket[0], Key=f"redis/{manifest['id']}/manifest.json", Body=json.dumps(forged).encode())
    target = redis_server()
    if target_holds_data:
        target.client.set("kept", "yes")
    force = ["--force"] if target_holds_data else []  # with data: verify first; empty: stream behind the checker
    result = ops("restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path), *force)
    assert result.returncode == 1 and "redis-check-rdb rejects the RDB" in result.stderr, result.stderr
    assert target.proc.poll() is None and target.client.ping()  # the target never saw a faulty payload
    assert target.client.dbsize() == int(target_holds_data)
    assert target.client.info("replication")["role"] == "master"
    assert target.client.config_get("masterauth")["masterauth"] == ""


HOSTILE_MANIFESTS: list[tuple[str, Callable[[dict[str, Any]], bytes], str]] = [
    ("garbage", lambda m: b"\x00\xffnot json{", "is not valid JSON"),
    ("array", lambda m: b"[1, 2, 3]", "is a JSON list, not an object"),
    ("null", lambda m: b"null", "is a JSON NoneType, not an object"),
    ("string", lambda m: b'"manifest"', "is a JSON str, not an object"),
    ("empty", lambda m: b"", "is not valid JSON"),
    ("missing-field", lambda m: json.dumps({k: v for k, v in m.items() if k != "rdb_sha256"}).encode(), "rdb_sha256"),
    ("future-version", lambda m: json.dumps({**m, "format_version": 3}).encode(), "format version 3"),
    ("unknown-compression", lambda m: json.dumps({**m, "compression": "gzip"}).encode(), "compression"),
    ("negative-size", lambda m: json.dumps({**m, "rdb_size": -1}).encode(), "rdb_size"),
    ("not-a-hash", lambda m: json.dumps({**m, "object_sha256": "x" * 64}).encode(), "object_sha256"),
    ("wrong-type", lambda m: json.dumps({**m, "key_count": "many"}).encode(), "key_count"),
    ("other-backup", lambda m: json.dumps({**m, "id": "20200101T000000.000000Z"}).encode(), "names another backup"),
    ("escaping-key", lambda m: json.dumps({**m, "object_key": "elsewhere/secret.rdb"}).encode(), "points outside"),
    ("v2-without-counts", lambda m: json.dumps({**m, "databases": None}).encode(), "requires databases"),
    ("huge-number", lambda m: json.dumps({**m, "rdb_size": 10**400}).encode(), "rdb_size"),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in HOSTILE_MANIFESTS], ids=[i for i, _, _ in HOSTILE_MANIFESTS]
)
def test_hostile_manifests_are_refused_with_one_line_and_listed_as_invalid(
    change: Callable[[dict[str, Any]], bytes],
    message: str,
    redis_server: Callable[..., RedisServer],
    bucket: tuple[str, str],
    tmp_path: Path,
) -> None:
    server = redis_server()
    server.client.set("k", "v")
    manifest = take_backup(server, bucket)
    key = f"redis/{manifest['id']}/manifest.json"
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket[0], Key=key, Body=change(manifest))
    result = ops("verify", "--backup", manifest["id"], "--bucket", bucket[0], "--work-dir", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for refused in (
        lambda: backups.get_manifest(location(bucket), "latest"),
        lambda: backups.drill(location(bucket), tmp_path),
    ):
        with pytest.raises(backups.OpsError, match=re.escape(message)):
            refused()
    listed = backups.list_backups(location(bucket))
    assert [(e.id, e.status) for e in listed] == [(manifest["id"], "invalid")]
    assert message in (listed[0].problem or "")


def test_latest_skips_an_incomplete_backup_but_not_an_invalid_one(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    server = redis_server()
    server.client.set("k", "v")
    good = take_backup(server, bucket)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=bucket[0], Key="redis/20991231T000000.000000Z/data/000001", Body=b"in progress")
    assert backups.get_manifest(location(bucket), "latest").id == good["id"]
    s3.put_object(Bucket=bucket[0], Key="redis/20991231T000000.000000Z/manifest.json", Body=b"{}")
    result = ops("verify", "--bucket", bucket[0], "--work-dir", str(tmp_path))
    assert result.returncode == 1 and "newest backup is unusable" in result.stderr
    statuses = {e.id: e.status for e in backups.list_backups(location(bucket))}
    assert statuses == {good["id"]: "complete", "20991231T000000.000000Z": "invalid"}


def test_objects_are_encrypted_with_the_backup_key(source: RedisServer, bucket: tuple[str, str]) -> None:
    manifest = take_backup(source, bucket)
    s3 = boto3.client("s3", region_name=REGION)
    for key in (manifest["object_key"] + "000001", f"redis/{manifest['id']}/manifest.json"):
        head = s3.head_object(Bucket=bucket[0], Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith(bucket[1].rsplit("/", 1)[-1])


def test_cli_backup_json_verify_and_the_password_never_printed(
    source: RedisServer, bucket: tuple[str, str], tmp_path: Path
) -> None:
    result = ops(
        "backup",
        "--redis-url",
        source.url,
        "--bucket",
        bucket[0],
        "--kms-key-id",
        bucket[1],
        "--verify",
        "--work-dir",
        str(tmp_path),
        "--json",
        "-",
        env={"REDIS_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["verified"] is True and manifest["key_count"] == 12
    assert PASSWORD not in result.stdout + result.stderr


def test_drill_reports_rto_and_rpo(source: RedisServer, bucket: tuple[str, str], tmp_path: Path) -> None:
    take_backup(source, bucket)
    result = ops("drill", "--bucket", bucket[0], "--work-dir", str(tmp_path), "--json", "-")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["keys"] == 12
    assert 0 < report["rto_seconds"] < 120 and report["rpo_seconds"] >= 0


def test_drill_without_backups_fails_clearly(bucket: tuple[str, str], tmp_path: Path) -> None:
    result = ops("drill", "--bucket", bucket[0], "--work-dir", str(tmp_path))
    assert result.returncode == 1 and "no complete backup" in result.stderr


def test_retention_tiers() -> None:
    now = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
    ids = [
        (now - datetime.timedelta(minutes=15 * i)).strftime("%Y%m%dT%H%M%S.%fZ") for i in range(0, 4 * 24 * 400)
    ]  # every 15 minutes for 400 days
    keep = backups.retained(ids, now)
    day = [
        i
        for i in ids
        if now - datetime.datetime.strptime(i, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=datetime.UTC)
        <= datetime.timedelta(hours=24)
    ]
    assert set(day) <= keep  # everything of the last day
    # then one per hour for 6 more days, one per day to day 30, one per ISO week to week 52
    assert 96 + 6 * 24 - 2 <= len(keep) <= 96 + 6 * 24 + 23 + 52 + 2
    assert min(keep) > (now - datetime.timedelta(weeks=53)).strftime("%Y%m%dT%H%M%S.%fZ")


def _old_backup(bucket: str, manifest: dict[str, Any], old_id: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    folder = f"redis/{old_id}/data/"
    s3.put_object(Bucket=bucket, Key=folder + "000001", Body=b"old")
    body = json.dumps({**manifest, "id": old_id, "object_key": folder}).encode()
    s3.put_object(Bucket=bucket, Key=f"redis/{old_id}/manifest.json", Body=body)


def test_prune_deletes_every_version_outside_the_tiers(source: RedisServer, bucket: tuple[str, str]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=bucket[0], VersioningConfiguration={"Status": "Enabled"})
    manifest = take_backup(source, bucket)
    old_id = "20240101T000000.000000Z"
    _old_backup(bucket[0], manifest, old_id)
    dry = backups.prune(location(bucket), dry_run=True)
    assert dry["would_delete"] == [old_id] and dry["deleted"] == []
    assert len(backups.list_backups(location(bucket))) == 2
    done = backups.prune(location(bucket), dry_run=False)
    assert done["deleted"] == [old_id] and done["failed"] == [] and done["retained"] == []
    assert [e.id for e in backups.list_backups(location(bucket))] == [manifest["id"]]
    versions = s3.list_object_versions(Bucket=bucket[0], Prefix=f"redis/{old_id}/")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []  # gone, not hidden


def test_prune_reports_what_object_lock_retains(source: RedisServer, moto_endpoint: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    name = f"locked-{os.getpid()}-{tmp_path.name[-8:]}".lower().replace("_", "-")
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True
    )
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
        },
    )
    manifest = backups.backup(source.endpoint, backups.Location(name, "redis/", REGION), None)
    old_id = "20240101T000000.000000Z"
    _old_backup(name, manifest, old_id)
    result = ops("prune", "--bucket", name)
    assert result.returncode == 0, result.stderr
    assert "deleted 0" in result.stdout and "retained by Object Lock" in result.stdout and old_id in result.stdout
    assert {e.id for e in backups.list_backups(backups.Location(name, "redis/", REGION))} == {old_id, manifest["id"]}


def test_a_missing_segment_is_named(source: RedisServer, bucket: tuple[str, str], tmp_path: Path) -> None:
    manifest = take_backup(source, bucket, "none")
    assert manifest["object_segments"] >= 1
    boto3.client("s3", region_name=REGION).delete_object(Bucket=bucket[0], Key=manifest["object_key"] + "000001")
    result = ops("verify", "--bucket", bucket[0], "--work-dir", str(tmp_path))
    assert result.returncode == 1 and "cannot read" in result.stderr and "000001" in result.stderr


def test_a_format_1_backup_still_restores(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    import hashlib

    import zstandard

    manifest = take_backup(source, bucket, "zstd")
    s3 = boto3.client("s3", region_name=REGION)
    data = s3.get_object(Bucket=bucket[0], Key=manifest["object_key"] + "000001")["Body"].read()
    old_id = "20250101T000000.000000Z"
    key = f"redis/{old_id}/dump.rdb.zst"
    s3.put_object(Bucket=bucket[0], Key=key, Body=data)
    legacy = {  # the shape the first release wrote: one object, key count from INFO
        "format_version": 1,
        "id": old_id,
        "started_at": "2025-01-01T00:00:00+00:00",
        "completed_at": "2025-01-01T00:00:05+00:00",
        "duration_seconds": 5.0,
        "source": {"host": "10.0.0.1", "port": 6379, "role": "slave"},
        "redis_version": "7.0.15",
        "key_count": 999,
        "rdb_size": manifest["rdb_size"],
        "rdb_sha256": manifest["rdb_sha256"],
        "object_key": key,
        "object_size": len(data),
        "object_sha256": hashlib.sha256(data).hexdigest(),
        "compression": "zstd",
    }
    assert zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 30)
    s3.put_object(Bucket=bucket[0], Key=f"redis/{old_id}/manifest.json", Body=json.dumps(legacy).encode())
    target = redis_server()
    backups.restore(location(bucket), old_id, tmp_path, target_url=target.endpoint)
    assert target.digest() == source.digest()
