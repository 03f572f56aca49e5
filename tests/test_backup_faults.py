"""Backups under real conditions, against real redis-servers, Sentinel and moto: a writer at full
speed, a cache whose keys expire, targets that must not be touched, peers that die or stop
answering, least-privilege users, and secrets that must not leak through any error path."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
import redis

from ops.errors import OpsError
from ops.runtime import backup_segments, backups
from tests.conftest import REGION, RedisServer, Topology, free_port
from tests.test_backups import location, ops, take_backup

SECRET = "Zq9-s3cr3t/p@ss:w%rd"  # recognisable, and needs percent-encoding in a URL


def restore_args(bucket: tuple[str, str], work: Path, *extra: str) -> list[str]:
    return ["restore", "--bucket", bucket[0], "--work-dir", str(work), *extra]


# -- consistency under writes and expiry -----------------------------------------------------------


@pytest.fixture
def writer(redis_server: Callable[..., RedisServer]) -> Iterator[RedisServer]:
    """A server with a writer running at full speed: each transaction adds ``k:<n>`` and sets
    ``last`` to ``n``, so a consistent snapshot holds exactly ``k:0`` .. ``k:<last>``."""
    server = redis_server()
    stop = threading.Event()

    def write() -> None:
        client = redis.Redis(port=server.port)
        n = 0
        while not stop.is_set():
            pipe = client.pipeline(transaction=True)
            for _ in range(50):
                pipe.set(f"k:{n}", os.urandom(64).hex())
                pipe.set("last", n)
                n += 1
            pipe.execute()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    while server.client.dbsize() < 20_000:
        time.sleep(0.05)
    yield server
    stop.set()
    thread.join(timeout=10)


def assert_point_in_time(client: redis.Redis) -> int:
    last = int(client.get("last") or -1)
    keys = client.dbsize()
    assert keys == last + 2, f"{keys} keys but last={last}: not one point in time"
    assert client.exists(f"k:{last}") and not client.exists(f"k:{last + 1}")
    return keys


def test_a_backup_under_full_write_load_restores_to_one_point_in_time(
    writer: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    manifest = take_backup(writer, bucket)
    assert manifest["key_count"] > 20_000
    target = redis_server()
    result = ops(*restore_args(bucket, tmp_path, "--target-url", target.url, "--json", "-"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["keys"] == manifest["key_count"] == assert_point_in_time(target.client)
    data = tmp_path / "rdb"
    data.mkdir()
    assert ops(*restore_args(bucket, tmp_path, "--target-rdb", str(data / "dump.rdb"))).returncode == 0
    started = redis_server(extra=("--dir", str(data), "--dbfilename", "dump.rdb"))
    assert started.digest() == target.digest()
    drill = ops("drill", "--bucket", bucket[0], "--work-dir", str(tmp_path), "--json", "-")
    assert drill.returncode == 0, drill.stderr
    assert json.loads(drill.stdout)["keys"] == manifest["key_count"]


def test_a_cache_whose_keys_expire_within_seconds_restores_through_every_path(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    cache = redis_server()
    pipe = cache.client.pipeline(transaction=False)
    for i in range(100_000):
        pipe.set(f"session:{i}", "x" * 32, px=300 + i % 2700)
    pipe.set("config", "kept")
    pipe.execute()
    manifest = take_backup(cache, bucket)
    assert manifest["expires_count"] >= manifest["key_count"] - 1 > 0
    time.sleep(3.2)  # every session key is past its TTL now: the restore must still agree with itself
    target = redis_server()
    result = ops(*restore_args(bucket, tmp_path, "--target-url", target.url, "--json", "-"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["keys"] == manifest["key_count"]
    assert target.client.get("config") == b"kept" and target.client.get("session:5") is None
    data = tmp_path / "rdb"
    data.mkdir()
    assert ops(*restore_args(bucket, tmp_path, "--target-rdb", str(data / "dump.rdb"))).returncode == 0
    started = redis_server(extra=("--dir", str(data), "--dbfilename", "dump.rdb"))
    assert started.client.get("config") == b"kept" and started.client.dbsize() <= 1
    drill = ops("drill", "--bucket", bucket[0], "--work-dir", str(tmp_path))
    assert drill.returncode == 0, drill.stderr


def test_the_source_streams_from_memory_and_writes_no_dump_of_its_own(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    workdir = tmp_path / "source-dir"
    workdir.mkdir()
    source = redis_server(extra=("--dir", str(workdir)))
    source.client.set("k", "v" * 1000)
    take_backup(source, bucket)
    assert list(workdir.iterdir()) == []  # a disk-based sync would have left dump.rdb (or temp-*.rdb)


# -- the restore target ----------------------------------------------------------------------------


@pytest.fixture
def one_backup(redis_server: Callable[..., RedisServer], bucket: tuple[str, str]) -> RedisServer:
    source = redis_server()
    source.client.set("k", "v")
    source.client.execute_command("SELECT", 5)
    source.client.set("in-db-5", "v")
    source.client.execute_command("SELECT", 0)
    take_backup(source, bucket)
    return source


def test_a_replica_is_refused_and_keeps_following_its_primary(
    one_backup: RedisServer, topology: Callable[..., Topology], bucket: tuple[str, str], tmp_path: Path
) -> None:
    topo = topology(replicas=1)
    replica = topo.replicas[0]
    result = ops(*restore_args(bucket, tmp_path, "--target-url", replica.url, "--force"))
    assert result.returncode == 1 and "is a replica of 127.0.0.1:" in result.stderr and "split brain" in result.stderr
    info = replica.client.info("replication")
    assert info["role"] == "slave" and info["master_port"] == topo.primary.port


def test_a_target_with_too_few_databases_is_refused_and_stays_up(
    one_backup: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    small = redis_server(extra=("--databases", "4"))
    result = ops(*restore_args(bucket, tmp_path, "--target-url", small.url))
    assert result.returncode == 1 and "has 4 databases but the backup uses database 5" in result.stderr
    assert small.client.ping() and small.proc.poll() is None


def test_a_target_holding_only_functions_is_not_empty(
    one_backup: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    target = redis_server()
    target.client.execute_command(
        "FUNCTION", "LOAD", "#!lua name=precious\nredis.register_function('p', function() return 1 end)"
    )
    refused = ops(*restore_args(bucket, tmp_path, "--target-url", target.url))
    assert refused.returncode == 1 and "1 function libraries" in refused.stderr
    assert target.client.fcall("p", 0) == 1
    forced = ops(*restore_args(bucket, tmp_path, "--target-url", target.url, "--force"))
    assert forced.returncode == 0, forced.stderr
    assert target.client.get("k") == b"v"


def test_a_target_too_small_for_the_data_is_refused(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    source = redis_server()
    source.client.set("big", os.urandom(8 << 20))
    take_backup(source, bucket)
    small = redis_server(extra=("--maxmemory", "4mb"))
    result = ops(*restore_args(bucket, tmp_path, "--target-url", small.url))
    assert result.returncode == 1 and "would evict keys" in result.stderr
    assert small.client.dbsize() == 0


def test_restore_keeps_the_targets_replication_settings(
    one_backup: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    target = redis_server(extra=("--masterauth", "cluster-secret", "--repl-diskless-load", "swapdb"))
    result = ops(*restore_args(bucket, tmp_path, "--target-url", target.url))
    assert result.returncode == 0, result.stderr
    config = target.client.config_get("masterauth") | target.client.config_get("repl-diskless-load")
    assert config == {"masterauth": "cluster-secret", "repl-diskless-load": "swapdb"}
    assert "cluster-secret" not in result.stdout + result.stderr


# -- the source --------------------------------------------------------------------------------------


def _break_link(replica: RedisServer) -> None:
    replica.client.config_set("masterauth", "wrong")
    replica.client.execute_command("CLIENT", "KILL", "TYPE", "master")

    def down() -> bool:
        return bool(replica.client.info("replication")["master_link_status"] == "down")

    backups.wait_until(down, 20, "the replica's link to go down")


def test_sentinel_picks_a_replica_whose_link_is_up(
    topology: Callable[..., Topology], bucket: tuple[str, str], tmp_path: Path
) -> None:
    topo = topology(replicas=2, password=SECRET)
    topo.primary.client.set("k", "v")
    first, second = sorted(topo.replicas, key=lambda r: r.port, reverse=True)  # the one preferred on a tie
    _break_link(first)
    env = {"REDIS_PASSWORD": SECRET}
    result = ops("backup", "--sentinel", topo.sentinel, "--bucket", bucket[0], "--json", "-", env=env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["source"] == {"host": "127.0.0.1", "port": second.port, "role": "slave"}
    _break_link(second)
    refused = ops("backup", "--sentinel", topo.sentinel, "--bucket", bucket[0], env=env)
    assert refused.returncode == 1 and "--allow-primary" in refused.stderr
    primary = ops(
        "backup", "--sentinel", topo.sentinel, "--allow-primary", "--bucket", bucket[0], "--json", "-", env=env
    )
    assert primary.returncode == 0, primary.stderr
    assert json.loads(primary.stdout)["source"]["port"] == topo.primary.port
    for out in (result, refused, primary):
        assert SECRET not in out.stdout + out.stderr


def test_an_unknown_master_name_is_named(topology: Callable[..., Topology], bucket: tuple[str, str]) -> None:
    topo = topology(replicas=1)
    result = ops("backup", "--sentinel", topo.sentinel, "--master-name", "nosuch", "--bucket", bucket[0])
    assert result.returncode == 1 and "'nosuch' (--master-name)" in result.stderr


BACKUP_ACL = "on >{password} -@all +ping +info +replconf +sync +psync"


def test_a_least_privilege_acl_user_with_an_encoded_password_can_back_up(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    server = redis_server(password="admin-password")
    server.client.set("k", "v")
    server.client.execute_command("ACL", "SETUSER", "backup", *BACKUP_ACL.format(password=SECRET).split())
    url = f"redis://backup:{quote(SECRET, safe='')}@127.0.0.1:{server.port}"
    result = ops("backup", "--redis-url", url, "--bucket", bucket[0], "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["key_count"] == 1
    env = {"REDIS_USERNAME": "backup", "REDIS_PASSWORD": SECRET}
    assert ops("backup", "--redis-url", server.url, "--bucket", bucket[0], env=env).returncode == 0
    for out in (result,):
        assert SECRET not in out.stdout + out.stderr and quote(SECRET, safe="") not in out.stdout + out.stderr


RESTORE_ACL = "on >{password} -@all +ping +info +config|get +config|set +replicaof +function|list"


def test_a_least_privilege_restore_user_can_restore(
    one_backup: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    target = redis_server(password="admin-password")
    target.client.execute_command("ACL", "SETUSER", "restore", *RESTORE_ACL.format(password=SECRET).split())
    url = f"redis://restore:{quote(SECRET, safe='')}@127.0.0.1:{target.port}"
    result = ops(*restore_args(bucket, tmp_path, "--target-url", url))
    assert result.returncode == 0, result.stderr
    assert target.client.get("k") == b"v"


def test_the_documented_acls_are_the_ones_tested() -> None:
    from ops.offline.engine import ROOT

    runbook = (ROOT / "docs/runbooks/backup-restore.md").read_text()
    for acl in (BACKUP_ACL, RESTORE_ACL):
        assert acl.replace("{password}", "<password>") in runbook


# -- peers that die or stop answering ------------------------------------------------------------


def _nothing_left(bucket: str) -> bool:
    s3 = boto3.client("s3", region_name=REGION)
    return not s3.list_objects_v2(Bucket=bucket).get("Contents") and not s3.list_multipart_uploads(Bucket=bucket).get(
        "Uploads"
    )


@pytest.fixture
def incompressible(redis_server: Callable[..., RedisServer]) -> RedisServer:
    server = redis_server()
    for i in range(24):
        server.client.set(f"random-{i}", os.urandom(1 << 20))
    return server


def test_a_source_frozen_mid_transfer_is_named_and_the_upload_aborted(
    incompressible: RedisServer, bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_segments, "SEGMENT_SIZE", 1 << 20)
    frozen: list[int] = []

    def freeze(n: int) -> None:
        if not frozen:
            frozen.append(n)
            os.kill(incompressible.proc.pid, signal.SIGSTOP)

    start = time.monotonic()
    try:
        with pytest.raises(OpsError) as info:
            backups.backup(incompressible.endpoint, location(bucket), None, freeze, idle_timeout=1.5)
    finally:
        os.kill(incompressible.proc.pid, signal.SIGCONT)
    assert frozen and time.monotonic() - start < 20
    assert "source Redis" in info.value.message and "stopped sending" in info.value.message
    assert "S3" not in info.value.message and "what was stored was deleted" in info.value.message
    assert _nothing_left(bucket[0]) and backups.list_backups(location(bucket)) == []


def test_a_source_killed_mid_transfer_leaves_no_upload_behind(
    incompressible: RedisServer, bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_segments, "SEGMENT_SIZE", 1 << 20)

    def kill(n: int) -> None:
        incompressible.proc.kill()

    with pytest.raises(OpsError) as info:
        backups.backup(incompressible.endpoint, location(bucket), None, kill)
    assert "source Redis" in info.value.message
    assert _nothing_left(bucket[0]) and backups.list_backups(location(bucket)) == []


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_an_s3_endpoint_that_never_answers_cannot_outlive_the_deadline(
    one_backup: RedisServer, black_hole: str, moto_endpoint: str
) -> None:
    start = time.monotonic()
    result = ops(
        "backup",
        "--redis-url",
        one_backup.url,
        "--bucket",
        "any-bucket",
        "--deadline",
        "4",
        "--io-timeout",
        "2",
        env={"AWS_ENDPOINT_URL": black_hole},
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "S3" in result.stderr and "deadline" in result.stderr, result.stderr
    assert elapsed < 15, elapsed


# -- inputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backup", "--redis-url", "127.0.0.1:6391"], "--redis-url: expected redis://host:port, got no scheme"),
        (["backup", "--redis-url", "http://127.0.0.1:6379"], "--redis-url: expected redis://host:port, got http://"),
        (["backup", "--redis-url", "redis://"], "the URL names no host"),
        (["backup", "--redis-url", "redis://h:99999"], "--redis-url"),
        (["backup", "--redis-url", "redis://h:6379/2"], "a database number"),
        (["backup", "--sentinel", "nohostport"], "--sentinel: expected host:port"),
        (["backup", "--sentinel", "h:port"], "--sentinel: port must be a number"),
        (["backup", "--redis-url", "redis://h", "--deadline", "-1"], "--deadline: must be more than 0"),
        (["backup", "--redis-url", "redis://h", "--io-timeout", "soon"], "--io-timeout: expected a number"),
        (["restore", "--target-url", "localhost"], "--target-url: expected redis://host:port"),
        (["verify", "--backup", "../../etc"], "--backup '../../etc': expected 'latest' or an id"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, bucket: tuple[str, str]) -> None:
    result = ops(*args, "--bucket", bucket[0])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("case", ["missing-dir", "dir-target", "missing-work-dir", "file-work-dir"])
def test_bad_local_paths_are_refused_before_anything_is_downloaded(
    case: str, one_backup: RedisServer, bucket: tuple[str, str], tmp_path: Path
) -> None:
    work, target = tmp_path, tmp_path / "dump.rdb"
    if case == "missing-dir":
        target = tmp_path / "nowhere" / "dump.rdb"
    elif case == "dir-target":
        target = tmp_path
    elif case == "missing-work-dir":
        work = tmp_path / "nowhere"
    else:
        work = tmp_path / "a-file"
        work.write_text("x")
    before = sorted(tmp_path.rglob("*"))
    result = ops(*restore_args(bucket, work, "--target-rdb", str(target), "--force"))
    assert result.returncode == 2, result.stderr
    assert ("--target-rdb" in result.stderr or "--work-dir" in result.stderr) and "Traceback" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before  # nothing left behind


# -- secrets -------------------------------------------------------------------------------------------


def test_no_error_path_prints_a_secret(
    redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path, black_hole: str
) -> None:
    guarded = redis_server(password=SECRET)
    encoded = quote(SECRET, safe="")
    dead = free_port()
    env = {"REDIS_PASSWORD": SECRET, "REDIS_SENTINEL_PASSWORD": SECRET}
    runs: list[tuple[list[str], dict[str, str]]] = [
        (["backup", "--sentinel", f"127.0.0.1:{dead}", "--bucket", bucket[0]], env),
        (["backup", "--sentinel", f"127.0.0.1:{guarded.port}", "--bucket", bucket[0]], env),
        (["backup", "--redis-url", f"redis://127.0.0.1:{dead}", "--bucket", bucket[0]], env),
        (["backup", "--redis-url", f"redis://u:{encoded}@127.0.0.1:{dead}", "--bucket", bucket[0]], {}),
        (["backup", "--redis-url", f"redis://:{encoded}@127.0.0.1:{guarded.port}", "--bucket", "no-such-bucket"], {}),
        (["backup", "--redis-url", guarded.url, "--bucket", bucket[0]], {"REDIS_PASSWORD": SECRET + "x"}),
        (
            ["backup", "--redis-url", guarded.url, "--bucket", bucket[0], "--deadline", "3", "--io-timeout", "1"],
            {**env, "AWS_ENDPOINT_URL": black_hole},
        ),
        (restore_args(bucket, tmp_path, "--target-url", f"redis://:{encoded}@127.0.0.1:{dead}"), {}),
        (restore_args(bucket, tmp_path, "--target-url", f"redis://:{encoded}x@127.0.0.1:{guarded.port}"), {}),
        (["drill", "--bucket", bucket[0], "--work-dir", str(tmp_path)], env),
    ]
    for args, extra in runs:
        result = ops(*args, env=extra, timeout=60)
        out = result.stdout + result.stderr
        assert result.returncode != 0, args
        assert "Traceback" not in out, (args, out)
        assert SECRET not in out and encoded not in out, (args, out)
        assert len(result.stderr.strip().splitlines()) == 1, (args, out)


def test_redaction_covers_library_messages() -> None:
    from ops.errors import describe, redact, register_secret

    register_secret(SECRET)
    assert SECRET not in redact(f"AuthenticationError: {SECRET} and {quote(SECRET, safe='')}")
    assert redact("connecting to redis://admin:hunter22@10.0.0.1:6379 failed") == (
        "connecting to redis://***@10.0.0.1:6379 failed"
    )
    long = describe(RuntimeError("x" * 900 + "\nsecond line"))
    assert len(long) <= 160 and "second line" not in long
