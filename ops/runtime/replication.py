"""Both ends of Redis's replication protocol, as far as backups need them.

* :func:`stream_rdb` plays the replica: it asks a Redis server for a full synchronisation and
  yields the RDB payload in chunks, the way ``redis-cli --rdb`` does, without ever holding it whole.
* :class:`RdbMaster` plays the primary: it serves an RDB file to a Redis server told to replicate
  from it, so a running, empty Redis loads a backup over the network (no access to its disk).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ops.errors import OpsError

CHUNK = 1 << 20


def _command(*parts: str | bytes) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Reader:
    """Buffered reads from a socket: lines and exact byte counts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(CHUNK)
        if not data:
            raise OpsError("Redis closed the connection during the transfer")
        self.buf += data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def chunks(self, size: int) -> Iterator[bytes]:
        remaining = size
        if self.buf:
            head, self.buf = self.buf[:remaining], self.buf[remaining:]
            remaining -= len(head)
            yield head
        while remaining:
            data = self.sock.recv(min(CHUNK, remaining))
            if not data:
                raise OpsError(f"Redis closed the connection with {remaining} bytes of the RDB still to come")
            remaining -= len(data)
            yield data

    def until_mark(self, mark: bytes) -> Iterator[bytes]:
        """Yield everything before ``mark`` (diskless transfers end with a 40-byte marker)."""
        tail = self.buf
        self.buf = b""
        while True:
            if len(tail) > len(mark):
                idx = tail.find(mark)
                if idx >= 0:
                    yield tail[:idx]
                    self.buf = tail[idx + len(mark) :]
                    return
                keep = len(mark) - 1
                yield tail[:-keep]
                tail = tail[-keep:]
            data = self.sock.recv(CHUNK)
            if not data:
                raise OpsError("Redis closed the connection before the end of the diskless RDB")
            tail += data


def stream_rdb(
    host: str, port: int, password: str | None, username: str | None = None, timeout: float = 60.0
) -> Iterator[bytes]:
    """Yield the RDB of ``host:port`` as the server sends it to a new replica."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise OpsError(f"cannot connect to Redis at {host}:{port}: {exc}") from None
    with sock:
        reader = _Reader(sock)
        if password:
            sock.sendall(_command("AUTH", *([username] if username else []), password))
            reply = reader.line()
            if not reply.startswith(b"+"):
                raise OpsError(f"Redis at {host}:{port} refused authentication: {reply.decode(errors='replace')}")
        # Redis >= 7: send only the RDB, no replication stream after it. Older servers answer -ERR.
        sock.sendall(_command("REPLCONF", "rdb-only", "1"))
        reader.line()
        sock.sendall(_command("SYNC"))
        while True:
            # While the server forks and writes its RDB it sends bare "\n" keep-alives before the header.
            header = reader.line().lstrip(b"\n")
            if header.startswith(b"$"):
                break
            if header.startswith(b"-"):
                raise OpsError(f"Redis at {host}:{port} refused SYNC: {header.decode(errors='replace')}")
        if header.startswith(b"$EOF:"):
            yield from reader.until_mark(header[5:])
        else:
            yield from reader.chunks(int(header[1:]))


class RdbMaster:
    """A one-shot primary that serves ``rdb`` to the first replica that asks for it."""

    def __init__(self, rdb: Path, host: str = "0.0.0.0", advertise: str = "127.0.0.1") -> None:  # noqa: S104
        self.rdb = rdb
        self.server = socket.create_server((host, 0))
        self.address = (advertise, self.server.getsockname()[1])
        self.served = threading.Event()
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RdbMaster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        try:
            self.server.settimeout(0.5)
            while not self._stop.is_set():
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                with conn:
                    self._handshake(conn)
                    self.served.set()
                    while not self._stop.wait(0.5):  # hold the link until the caller detaches the replica
                        try:
                            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
                        except OSError:
                            break
                return
        except Exception as exc:
            self.error = exc
            self.served.set()

    def _handshake(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
        while True:
            count = int(reader.line()[1:])
            args = []
            for _ in range(count):
                length = int(reader.line()[1:])
                args.append(b"".join(reader.chunks(length + 2))[:-2])
            name = args[0].upper()
            if name == b"PING":
                conn.sendall(b"+PONG\r\n")
            elif name in (b"REPLCONF", b"AUTH"):
                conn.sendall(b"+OK\r\n")
            elif name in (b"PSYNC", b"SYNC"):
                size = self.rdb.stat().st_size
                if name == b"PSYNC":
                    conn.sendall(b"+FULLRESYNC %s 0\r\n" % secrets.token_hex(20).encode())
                conn.sendall(b"$%d\r\n" % size)
                with self.rdb.open("rb") as f:
                    while block := f.read(CHUNK):
                        conn.sendall(block)
                return
            else:
                conn.sendall(b"-ERR unsupported\r\n")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise OpsError(f"timed out after {timeout:.0f}s waiting for {what}")
