"""Both ends of the replication protocol, with the edge cases a small real Redis rarely shows:
keep-alives, both framings, a mark split across reads, a silent peer, and a listener that strangers
try to read a backup from."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.runtime.replication import Endpoint, RdbMaster, _command, stream_rdb, wait_until

MARK = b"a" * 40


def fake_primary(reply: list[bytes], pause: float = 0.0) -> Iterator[tuple[int, list[list[bytes]]]]:
    """A server that parses commands, answers AUTH/REPLCONF with +OK and SYNC with ``reply`` (the
    pieces sent ``pause`` seconds apart), then closes. Yields its port and the commands it received."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[list[bytes]] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            buf = b""
            while True:
                while buf.count(b"\r\n") < 1 or not _complete(buf):
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                args, buf = _parse(buf)
                received.append(args)
                if args[0].upper() == b"SYNC":
                    for piece in reply:
                        try:
                            conn.sendall(piece)
                        except OSError:  # the client gave up, as it should
                            return
                        time.sleep(pause)
                    return
                conn.sendall(b"+OK\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    thread.join(timeout=5)
    server.close()


def _complete(buf: bytes) -> bool:
    try:
        _parse(buf)
        return True
    except (ValueError, IndexError):
        return False


def _parse(buf: bytes) -> tuple[list[bytes], bytes]:
    head, _, rest = buf.partition(b"\r\n")
    args = []
    for _ in range(int(head[1:])):
        length_line, _, rest = rest.partition(b"\r\n")
        n = int(length_line[1:])
        if len(rest) < n + 2:
            raise ValueError("incomplete")
        args.append(rest[:n])
        rest = rest[n + 2 :]
    return args, rest


def local(port: int, password: str | None = None, username: str | None = None) -> Endpoint:
    return Endpoint("127.0.0.1", port, username, password)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ([b"\n\n\n$11\r\nREDIS0011xy"], b"REDIS0011xy"),  # keep-alives while the server forks
        ([b"$11\r\nREDIS\r\n11xy"], b"REDIS\r\n11xy"),  # payload containing CRLF
        ([b"\n$EOF:" + MARK + b"\r\nREDIS0011\r\n$payload" + MARK], b"REDIS0011\r\n$payload"),  # diskless
        ([b"$EOF:" + MARK + b"\r\nREDIS0011", b"xyz" + MARK[:17], MARK[17:]], b"REDIS0011xyz"),  # mark split
        ([b"$EOF:" + MARK + b"\r\nR", b"E", b"D", MARK], b"RED"),  # payload shorter than the mark per read
        ([b"$EOF:" + MARK + b"\r\n" + b"a" * 39 + b"b", MARK], b"a" * 39 + b"b"),  # payload ending like the mark
    ],
    ids=["keepalives", "crlf-in-payload", "diskless-eof-mark", "mark-split", "tiny-reads", "mark-lookalike"],
)
def test_stream_rdb_framing(reply: list[bytes], expected: bytes) -> None:
    for port, _ in fake_primary(reply, pause=0.05):
        assert b"".join(bytes(c) for c in stream_rdb(local(port))) == expected


def test_asks_for_a_diskless_rdb_only_transfer_and_authenticates_as_the_acl_user() -> None:
    received: list[list[bytes]] = []
    for port, commands in fake_primary([b"$EOF:" + MARK + b"\r\nREDIS" + MARK]):
        b"".join(bytes(c) for c in stream_rdb(local(port, "p@ss word", "backup")))
        received = commands
    assert received[0] == [b"AUTH", b"backup", b"p@ss word"]
    assert [b"REPLCONF", b"capa", b"eof"] in received and [b"REPLCONF", b"rdb-only", b"1"] in received
    assert received[-1] == [b"SYNC"]


def test_truncated_transfers_are_errors() -> None:
    for port, _ in fake_primary([b"$100\r\nREDIS0011"]):
        with pytest.raises(OpsError, match="still to come"):
            b"".join(stream_rdb(local(port)))
    for port, _ in fake_primary([b"$EOF:" + MARK + b"\r\nREDIS0011 and then nothing"]):
        with pytest.raises(OpsError, match="before the end of the snapshot"):
            b"".join(bytes(c) for c in stream_rdb(local(port)))


def test_refused_sync_names_the_source() -> None:
    for port, _ in fake_primary([b"-NOPERM this user has no permissions\r\n"]):
        with pytest.raises(OpsError, match=r"source Redis at 127\.0\.0\.1:\d+ refused SYNC: NOPERM"):
            b"".join(stream_rdb(local(port)))


def test_a_silent_source_is_reported_as_the_source_within_the_idle_timeout() -> None:
    for port, _ in fake_primary([b"$1000\r\nREDIS", b""], pause=3.0):
        start = time.monotonic()
        with pytest.raises(OpsError, match=r"the source Redis at .* stopped sending"):
            b"".join(stream_rdb(local(port), idle_timeout=0.5))
        assert time.monotonic() - start < 2.5


def test_the_deadline_bounds_a_source_that_trickles() -> None:
    pieces = [b"\n"] * 40  # keep-alives forever: each read is quick, the whole never ends
    for port, _ in fake_primary(pieces, pause=0.1):
        start = time.monotonic()
        with pytest.raises(OpsError, match="before the deadline"):
            b"".join(stream_rdb(local(port), idle_timeout=5, deadline=time.monotonic() + 1.0))
        assert time.monotonic() - start < 2.0


# -- the one-shot primary ------------------------------------------------------------------------


def _talk(port: int, *commands: list[str]) -> list[bytes]:
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        for cmd in commands:
            conn.sendall(_command(*cmd))
            try:
                replies.append(conn.recv(1 << 16))
            except OSError:
                replies.append(b"")
    return replies


@pytest.fixture
def rdb(tmp_path: Path) -> Path:
    path = tmp_path / "backup.rdb"
    path.write_bytes(b"REDIS0010" + b"secret data " * 100)
    return path


def test_the_restore_primary_listens_only_where_it_advertises(rdb: Path) -> None:
    with RdbMaster(rdb, advertise="127.0.0.1") as master:
        assert master.server.getsockname()[0] == "127.0.0.1"
        with pytest.raises(OSError):  # not on every interface: another loopback address finds nothing
            socket.create_connection(("127.0.0.2", master.address[1]), timeout=1).close()


@pytest.mark.parametrize(
    "commands",
    [
        [["SYNC"]],
        [["PING"], ["PSYNC", "?", "-1"]],
        [["PING"], ["AUTH", "guess"], ["PSYNC", "?", "-1"]],
        [["AUTH", "default", "guess"], ["SYNC"]],
        [["REPLCONF", "listening-port", "1"], ["SYNC"]],
    ],
    ids=["no-auth", "ping-then-psync", "wrong-token", "wrong-token-acl-form", "replconf-first"],
)
def test_a_client_without_the_token_gets_nothing(rdb: Path, commands: list[list[str]]) -> None:
    with RdbMaster(rdb) as master:
        replies = _talk(master.address[1], *commands)
        assert not any(b"secret data" in r for r in replies)
        wait_until(lambda: master.rejected == 1, 5, "the client to be turned away")
        assert not master.served.is_set()


def test_the_token_holder_is_served_once_and_the_listener_closes(rdb: Path) -> None:
    with RdbMaster(rdb) as master:
        port = master.address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(_command("PING") + _command("AUTH", "default", master.token) + _command("SYNC"))
            data = b""
            while len(data) < rdb.stat().st_size:
                data += conn.recv(1 << 16)
            assert b"secret data" in data
            assert master.served.wait(5)
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
