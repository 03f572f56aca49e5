"""The replication protocol edge cases a small real Redis rarely shows: keep-alives, diskless framing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ops.errors import OpsError
from ops.runtime.replication import stream_rdb


def fake_primary(reply: bytes) -> Iterator[int]:
    """A server that answers REPLCONF with +OK, then sends ``reply`` to SYNC and closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            received = b""
            while b"SYNC" not in received.replace(b"REPLCONF", b""):
                received += conn.recv(4096)
                if b"REPLCONF" in received and b"+OK" not in received and received.count(b"\r\n") >= 7:
                    conn.sendall(b"+OK\r\n")
                    received += b"+OK"
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    thread.join(timeout=5)
    server.close()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"\n\n\n$11\r\nREDIS0011xy", b"REDIS0011xy"),  # keep-alives while the server forks
        (b"$11\r\nREDIS\r\n11xy", b"REDIS\r\n11xy"),  # payload containing CRLF
        (b"\n$EOF:" + b"a" * 40 + b"\r\nREDIS0011\r\n$payload" + b"a" * 40, b"REDIS0011\r\n$payload"),  # diskless
    ],
    ids=["keepalives", "crlf-in-payload", "diskless-eof-mark"],
)
def test_stream_rdb_framing(reply: bytes, expected: bytes) -> None:
    for port in fake_primary(reply):
        assert b"".join(stream_rdb("127.0.0.1", port, None)) == expected


def test_truncated_transfer_is_an_error() -> None:
    for port in fake_primary(b"$100\r\nREDIS0011"):
        with pytest.raises(OpsError, match="still to come"):
            b"".join(stream_rdb("127.0.0.1", port, None))


def test_refused_sync_is_an_error() -> None:
    for port in fake_primary(b"-NOPERM this user has no permissions\r\n"):
        with pytest.raises(OpsError, match="refused SYNC: -NOPERM"):
            b"".join(stream_rdb("127.0.0.1", port, None))
