"""Backup and restore against a real redis-server and a moto S3/KMS server.

Round trips are judged by ``DEBUG DIGEST`` (a hash over every key, value and expiry); every
corruption case must be refused with a clear message and a non-zero exit.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ops.offline.engine import ROOT
from ops.runtime import backups
from tests.conftest import REGION, RedisServer, free_port

PASSWORD = "correct-horse-battery-staple"


def populate(r: Any) -> None:
    """Every Redis data type, TTLs, binary and large values, several databases."""
    r.set("string", "hello")
    r.set(b"binary\x00key", os.urandom(4096))
    r.set("large", os.urandom(5 << 20))
    r.rpush("list", *[f"item-{i}" for i in range(1000)])
    r.sadd("set", *[f"member-{i}" for i in range(500)])
    r.zadd("zset", {f"player-{i}": i * 1.5 for i in range(500)})
    r.hset("hash", mapping={f"field-{i}": f"value-{i}" for i in range(300)})
    for i in range(50):
        r.xadd("stream", {"n": i, "payload": "x" * 20})
    r.pfadd("hll", *[f"visitor-{i}" for i in range(2000)])
    r.setex("expiring", 3600, "soon gone")
    r.hset("expiring-hash", "f", "v")
    r.pexpire("expiring-hash", 7_200_000)
    r.execute_command("SELECT", 2)
    r.set("in-db-2", "elsewhere")
    r.execute_command("SELECT", 0)


def ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def source(redis_server: Callable[..., RedisServer]) -> RedisServer:
    server = redis_server(password=PASSWORD)
    populate(server.client)
    return server


def take_backup(server: RedisServer, bucket: tuple[str, str]) -> dict[str, Any]:
    name, key = bucket
    return backups.backup(server.url, server.password, backups.Location(name, "redis/", REGION), key)


def test_round_trip_of_every_type_is_exact(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    manifest = take_backup(source, bucket)
    assert manifest["key_count"] == 12
    assert manifest["rdb_size"] > 5 << 20 and manifest["redis_version"]
    target = redis_server()
    result = ops("restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert target.digest() == source.digest() != "0" * 40
    assert 0 < target.client.pttl("expiring-hash") <= 7_200_000


def test_restore_to_an_rdb_file_for_a_stopped_server(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    take_backup(source, bucket)
    data = tmp_path / "data"
    data.mkdir()
    result = ops("restore", "--bucket", bucket[0], "--target-rdb", str(data / "dump.rdb"), "--work-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    started = redis_server(extra=("--dir", str(data), "--dbfilename", "dump.rdb"))
    assert started.digest() == source.digest()


def test_empty_database_round_trips(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    empty = redis_server()
    manifest = take_backup(empty, bucket)
    assert manifest["key_count"] == 0
    target = redis_server()
    location = backups.Location(bucket[0], "redis/", REGION)
    backups.restore(location, "latest", tmp_path, target_url=target.url)
    assert target.digest() == empty.digest() == "0" * 40


def _replace_object(bucket: str, key: str, change: Callable[[bytes], bytes]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=change(body))


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("what", "corrupt", "message"),
    [
        (
            "truncated",
            lambda b, m: _replace_object(b, m["object_key"], lambda d: d[: len(d) // 2]),
            "object size does not match the manifest",
        ),
        ("flipped-byte", lambda b, m: _replace_object(b, m["object_key"], _flip), "the data object is corrupt"),
        (
            "manifest-mismatch",
            lambda b, m: _replace_object(
                b,
                f"redis/{m['id']}/manifest.json",
                lambda d: json.dumps({**json.loads(d), "rdb_sha256": "0" * 64}).encode(),
            ),
            "RDB SHA-256 does not match the manifest",
        ),
    ],
)
def test_corrupt_backups_are_refused(
    what: str,
    corrupt: Callable[[str, dict[str, Any]], None],
    message: str,
    source: RedisServer,
    redis_server: Callable[..., RedisServer],
    bucket: tuple[str, str],
    tmp_path: Path,
) -> None:
    manifest = take_backup(source, bucket)
    corrupt(bucket[0], manifest)
    work = tmp_path / "work"
    work.mkdir()
    verify = ops("verify", "--bucket", bucket[0], "--work-dir", str(work))
    assert verify.returncode == 1 and message in verify.stderr and "Traceback" not in verify.stderr
    target = redis_server()
    target.client.execute_command("SELECT", 0)
    restore = ops("restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(work))
    assert restore.returncode == 1 and message in restore.stderr
    assert target.digest() == "0" * 40  # nothing was loaded
    assert list(work.iterdir()) == []  # no half-written RDB left behind


def test_s3_unavailable_mid_upload_leaves_no_manifest(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = redis_server()
    server.client.execute_command("DEBUG", "POPULATE", 4000, "k", 1024)
    for i in range(40):
        server.client.set(f"random-{i}", os.urandom(256 << 10))  # incompressible: several parts
    flaky = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    flaky.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{flaky._port}")
    monkeypatch.setattr(backups, "PART_SIZE", 1 << 20)
    uploaded = []

    def cut_after_first_part(n: int) -> None:
        uploaded.append(n)
        if len(uploaded) == 1:
            flaky.stop()  # the endpoint goes away mid-upload

    with pytest.raises(backups.OpsError) as info:
        backups.backup(server.url, None, backups.Location(bucket[0], "redis/", REGION), bucket[1], cut_after_first_part)
    assert "no manifest was written" in info.value.message
    monkeypatch.undo()  # back to the session's moto server (same in-process state)
    assert backups.list_backups(backups.Location(bucket[0], "redis/", REGION)) == []
    keys = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket[0]).get("KeyCount", 0)
    assert keys == 0


def test_restore_onto_a_non_empty_target_is_refused(
    source: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    take_backup(source, bucket)
    target = redis_server()
    target.client.set("precious", "do not lose")
    refused = ops("restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path))
    assert refused.returncode == 1
    assert "holds data: refusing to replace it without --force" in refused.stderr
    assert target.client.get("precious") == b"do not lose"
    forced = ops("restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.digest() == source.digest()


def test_restore_never_overwrites_an_rdb_file_silently(
    source: RedisServer, bucket: tuple[str, str], tmp_path: Path
) -> None:
    take_backup(source, bucket)
    existing = tmp_path / "dump.rdb"
    existing.write_bytes(b"REDIS0009 existing data")
    refused = ops("restore", "--bucket", bucket[0], "--target-rdb", str(existing), "--work-dir", str(tmp_path))
    assert refused.returncode == 1 and "refusing to overwrite it without --force" in refused.stderr
    assert existing.read_bytes() == b"REDIS0009 existing data"


def test_backup_without_manifest_is_not_listed(source: RedisServer, bucket: tuple[str, str]) -> None:
    manifest = take_backup(source, bucket)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket[0], Key="redis/20991231T000000.000000Z/dump.rdb.zst", Body=b"x"
    )
    listed = backups.list_backups(backups.Location(bucket[0], "redis/", REGION))
    assert [m["id"] for m in listed] == [manifest["id"]]


def test_objects_are_encrypted_with_the_backup_key(source: RedisServer, bucket: tuple[str, str]) -> None:
    manifest = take_backup(source, bucket)
    s3 = boto3.client("s3", region_name=REGION)
    for key in (manifest["object_key"], f"redis/{manifest['id']}/manifest.json"):
        head = s3.head_object(Bucket=bucket[0], Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith(bucket[1].rsplit("/", 1)[-1])


def test_cli_backup_json_and_password_never_printed(
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
        env={"REDIS_PASSWORD": PASSWORD},
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["verified"] is True and manifest["key_count"] == 12
    assert PASSWORD not in result.stdout + result.stderr
    wrong = ops("backup", "--redis-url", source.url, "--bucket", bucket[0], env={"REDIS_PASSWORD": "nope"})
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr and "nope" not in wrong.stderr


def test_drill_reports_rto_and_rpo(source: RedisServer, bucket: tuple[str, str], tmp_path: Path) -> None:
    take_backup(source, bucket)
    result = ops("drill", "--bucket", bucket[0], "--work-dir", str(tmp_path), "--json")
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


def test_prune_deletes_only_outside_the_tiers(source: RedisServer, bucket: tuple[str, str]) -> None:
    manifest = take_backup(source, bucket)
    s3 = boto3.client("s3", region_name=REGION)
    old_id = "20240101T000000.000000Z"
    s3.put_object(
        Bucket=bucket[0], Key=f"redis/{old_id}/manifest.json", Body=json.dumps({**manifest, "id": old_id}).encode()
    )
    s3.put_object(Bucket=bucket[0], Key=f"redis/{old_id}/dump.rdb.zst", Body=b"old")
    location = backups.Location(bucket[0], "redis/", REGION)
    dry = backups.prune(location, dry_run=True)
    assert dry["would_delete"] == [old_id] and dry["deleted"] == []
    assert len(backups.list_backups(location)) == 2
    done = backups.prune(location, dry_run=False)
    assert done["deleted"] == [old_id]
    assert [m["id"] for m in backups.list_backups(location)] == [manifest["id"]]
