"""The RDB walk that keeps redis-check-rdb's memory bounded: values over 1 MiB of every type reach the
checker reframed, its counts stay the snapshot's, and a flipped bit inside a reframed value is still
caught by the RDB's own CRC-64, which the walk corrects for its framing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.runtime.rdbcheck import StreamingCheck
from ops.runtime.rdbslim import Slimmer, crc64
from tests.conftest import RedisServer

MIB = 1 << 20


@pytest.fixture
def big_values_rdb(redis_server: Callable[..., RedisServer], tmp_path: Path) -> tuple[bytes, int]:
    """An RDB whose every type holds a value of more than 1 MiB, and its key count."""
    server = redis_server()
    r = server.client
    r.setrange("zeros", 40 * MIB, b"x")  # LZF shrinks it to little: the expanded size decides
    r.set("random", os.urandom(3 * MIB))
    r.rpush("list", os.urandom(2 * MIB), b"small")
    r.sadd("set", *[os.urandom(1024) for _ in range(1500)])
    r.hset("hash", mapping={"big": os.urandom(2 * MIB), "small": "v"})
    r.zadd("zset", {os.urandom(2 * MIB): 1.5, b"small": 2})
    r.xadd("stream", {"payload": os.urandom(2 * MIB)})
    r.set("plain", "value", px=3_600_000)
    path = tmp_path / "big.rdb"
    cli = shutil.which("redis-cli") or "redis-cli"
    subprocess.run([cli, "-p", str(server.port), "--rdb", str(path)], check=True, capture_output=True)
    return path.read_bytes(), int(r.dbsize())


def check(rdb: bytes, piece: int) -> tuple[int, int]:
    """Keys the checker counts, and values the walk reframed, feeding ``piece`` bytes at a time."""
    checker = StreamingCheck("the test RDB")
    for start in range(0, len(rdb), piece):
        checker.feed(rdb[start : start + piece])
    return checker.result(60).keys, checker._slimmer.reframed


@pytest.mark.parametrize("piece", [1448, 4 * MIB])
def test_every_large_value_is_reframed_and_counted(big_values_rdb: tuple[bytes, int], piece: int) -> None:
    rdb, keys = big_values_rdb
    assert check(rdb, piece) == (keys, 7)  # all but "plain": each over 1 MiB, whatever its type


def test_a_flipped_bit_inside_a_reframed_value_is_caught(big_values_rdb: tuple[bytes, int]) -> None:
    rdb, _ = big_values_rdb
    spot = rdb.index(b"\x06random") + MIB  # inside the 3 MiB value of "random"
    bad = rdb[:spot] + bytes([rdb[spot] ^ 0x01]) + rdb[spot + 1 :]
    with pytest.raises(OpsError, match="redis-check-rdb rejects the RDB"):
        check(bad, MIB)


def test_the_walk_preserves_the_length_and_the_checksum_it_corrects_for() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # Redis's crc64.c test vector
    chunks = [b"REDIS0010\xff", b"\x00" * 8]
    out: list[bytes] = []
    Slimmer(lambda: chunks.pop(0) if chunks else None, lambda d: out.append(bytes(d))).run()
    assert b"".join(out) == b"REDIS0010\xff" + b"\x00" * 8  # nothing reframed: passed as it is
