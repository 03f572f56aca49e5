"""Both ends of Redis's replication protocol, as far as backups need them.

* :func:`stream_rdb` plays the replica, exactly as ``redis-cli --rdb`` does: it announces
  ``REPLCONF capa eof`` (so the source streams a diskless snapshot from memory instead of writing
  a ``dump.rdb`` to its own disk first) and ``REPLCONF rdb-only 1`` (no replication stream after
  the snapshot), sends ``SYNC`` and yields the payload in chunks without ever holding it whole.
  It handles both payload framings: ``$<length>`` (disk-based sync, older servers) and
  ``$EOF:<40-byte mark>`` (diskless), where the payload ends with the mark.
* :class:`RdbMaster` plays the primary: it serves an RDB file to a Redis server told to replicate
  from it, so a running Redis loads a backup over the network (no access to its disk). It listens
  only on the address it advertises, serves only a client that authenticates with a one-time
  token, serves once, and closes.

Every socket operation has a timeout; a source that stops sending is reported as the source (not as
a storage failure).
"""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ops.errors import OpsError, describe

CHUNK = 1 << 20
MARK_LEN = 40


@dataclass(frozen=True)
class Endpoint:
    """Where a Redis server listens and how to log in (``username`` is an ACL user, else ``default``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def address(self) -> str:
        """``host:port``, for messages (never the credentials)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _command(*parts: str | bytes) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Reader:
    """Buffered reads from a socket: lines and exact byte counts. ``who`` names the peer in errors."""

    def __init__(self, sock: socket.socket, who: str, deadline: float | None = None, idle: float = 60.0) -> None:
        self.sock = sock
        self.who = who
        self.buf = b""
        self.deadline = deadline
        self.idle = idle

    def recv(self, size: int = CHUNK) -> bytes:
        timeout = self.idle
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise OpsError(f"{self.who} did not finish before the deadline")
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(size)
        except TimeoutError:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise OpsError(f"{self.who} did not finish before the deadline") from None
            raise OpsError(f"{self.who} stopped sending (nothing for {timeout:.0f}s)") from None
        except OSError as exc:
            raise OpsError(f"{self.who}: connection failed ({describe(exc)})") from None

    def _fill(self) -> None:
        data = self.recv()
        if not data:
            raise OpsError(f"{self.who} closed the connection")
        self.buf += data

    def line(self, limit: int = 1 << 16) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise OpsError(f"{self.who} sent a line longer than {limit} bytes: not the Redis protocol")
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
            data = self.recv(min(CHUNK, remaining))
            if not data:
                raise OpsError(f"{self.who} closed the connection with {remaining} bytes of the RDB still to come")
            remaining -= len(data)
            yield data

    def until_mark(self, mark: bytes) -> Iterator[bytes | memoryview]:
        """Yield everything before ``mark``, which ends a diskless payload. As ``redis-cli`` does, the
        mark is looked for only at the end of what has arrived: the last ``len(mark)`` bytes are held
        back until more data shows they are payload."""
        n = len(mark)
        held = b""
        data, self.buf = self.buf, b""
        while True:
            if data:
                if len(data) >= n:
                    if held:
                        yield held
                    body, held = memoryview(data)[:-n], data[-n:]
                    if body:
                        yield body
                else:
                    joined = held + data
                    if len(joined) > n:
                        yield joined[:-n]
                    held = joined[-n:]
                if held == mark:
                    return
            data = self.recv()
            if not data:
                raise OpsError(f"{self.who} closed the connection before the end of the snapshot")


def stream_rdb(
    source: Endpoint,
    *,
    idle_timeout: float = 60.0,
    deadline: float | None = None,
) -> Iterator[bytes | memoryview]:
    """Yield the RDB snapshot of ``source`` as the server sends it to a new replica.

    ``idle_timeout`` bounds each wait for data (the server sends keep-alives while it forks), and
    ``deadline`` (a :func:`time.monotonic` value) bounds the whole transfer.
    """
    who = f"the source Redis at {source.address}"
    try:
        sock = socket.create_connection((source.host, source.port), timeout=min(idle_timeout, 10.0))
    except OSError as exc:
        raise OpsError(f"cannot connect to {who}: {describe(exc)}") from None
    with sock:
        reader = _Reader(sock, who, deadline, idle_timeout)
        if source.password:
            credentials = [source.username] if source.username else []
            sock.sendall(_command("AUTH", *credentials, source.password))
            reply = reader.line()
            if not reply.startswith(b"+"):
                raise OpsError(f"{who} refused authentication: {reply[1:].decode(errors='replace')[:120]}")
        # As redis-cli --rdb: a diskless snapshot streamed from memory, and only the snapshot.
        for capability in (("capa", "eof"), ("rdb-only", "1")):
            sock.sendall(_command("REPLCONF", *capability))
            reply = reader.line()
            if reply.startswith(b"-NOAUTH") or reply.startswith(b"-NOPERM"):
                raise OpsError(f"{who} refused REPLCONF: {reply[1:].decode(errors='replace')[:120]}")
            # Other errors: servers before 7.0 do not know rdb-only; they send the snapshot all the same.
        sock.sendall(_command("SYNC"))
        while True:
            # While the server forks (and waits repl-diskless-sync-delay) it sends bare "\n" keep-alives.
            header = reader.line().lstrip(b"\n")
            if header.startswith(b"$"):
                break
            if header.startswith(b"-"):
                raise OpsError(f"{who} refused SYNC: {header[1:].decode(errors='replace')[:120]}")
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            if len(mark) != MARK_LEN:
                raise OpsError(f"{who} sent a malformed end-of-snapshot mark")
            yield from reader.until_mark(mark)
        else:
            try:
                size = int(header[1:])
            except ValueError:
                raise OpsError(f"{who} sent a malformed snapshot header") from None
            yield from reader.chunks(size)


class Feed(Protocol):
    """An RDB served while it is still arriving: ``size`` bytes in all, from :meth:`chunks`."""

    size: int

    def chunks(self) -> Iterator[bytes | memoryview]: ...


class RdbMaster:
    """A one-shot primary that serves ``rdb`` to the first replica that authenticates with ``token``.

    It listens on ``advertise`` only (the address the target is told to replicate from), answers
    ``PING`` to anyone (Redis replicas ping before they authenticate), drops a client that sends
    anything but ``AUTH <token>`` next, serves one authenticated client once, then stops listening.
    """

    def __init__(
        self, rdb: Path | None, advertise: str = "127.0.0.1", timeout: float = 600.0, *, feed: Feed | None = None
    ) -> None:
        self.rdb = rdb
        self.feed = feed
        self.token = secrets.token_urlsafe(32)
        try:
            self.server = socket.create_server((advertise, 0))
        except OSError as exc:
            raise OpsError(
                f"--advertise {advertise}: cannot listen on that address ({describe(exc)})", code=2
            ) from None
        self.address = (advertise, self.server.getsockname()[1])
        self.served = threading.Event()
        self.rejected = 0
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RdbMaster:
        # Before the thread starts: a caller that exits at once closes the socket under it.
        self.server.settimeout(0.5)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    authenticated = self._handshake(conn)
                except (OSError, OpsError, ValueError):
                    authenticated = False  # a client that breaks the protocol is turned away like one without the token
                if not authenticated:
                    self.rejected += 1
                    continue
                self.served.set()
                while not self._stop.wait(0.5):  # hold the link until the caller detaches the replica
                    try:
                        conn.sendall(b"*1\r\n$4\r\nPING\r\n")
                    except OSError:
                        break
                return

    def _handshake(self, conn: socket.socket) -> bool:
        """Serve the RDB to an authenticated replica; False (and the connection dropped) otherwise."""
        reader = _Reader(conn, "the restore target", idle=30.0)
        authenticated = False
        while True:
            head = reader.line()
            if not head.startswith(b"*"):
                return False
            count = int(head[1:])
            if not 0 < count <= 8:
                return False
            args = []
            for _ in range(count):
                length = int(reader.line()[1:])
                if not 0 <= length <= 4096:
                    return False
                args.append(b"".join(reader.chunks(length + 2))[:-2])
            name = args[0].upper()
            if name == b"PING":
                conn.sendall(b"+PONG\r\n")
            elif name == b"AUTH" and len(args) in (2, 3):
                if not hmac.compare_digest(args[-1], self.token.encode()):
                    conn.sendall(b"-WRONGPASS invalid password\r\n")
                    return False
                authenticated = True
                self.server.close()  # one client, once: nobody else can connect from now on
                conn.sendall(b"+OK\r\n")
            elif not authenticated:
                conn.sendall(b"-NOAUTH Authentication required.\r\n")
                return False
            elif name == b"REPLCONF":
                conn.sendall(b"+OK\r\n")
            elif name in (b"PSYNC", b"SYNC"):
                size = self.feed.size if self.feed is not None else self.rdb.stat().st_size  # type: ignore[union-attr]
                if name == b"PSYNC":
                    conn.sendall(b"+FULLRESYNC %s 0\r\n" % secrets.token_hex(20).encode())
                conn.sendall(b"$%d\r\n" % size)
                conn.settimeout(self.timeout)
                if self.feed is not None:
                    for chunk in self.feed.chunks():  # raises when the restore is aborted: the target sees a short read
                        conn.sendall(chunk)
                    return True
                assert self.rdb is not None
                with self.rdb.open("rb") as f:
                    conn.sendfile(f)
                return True
            else:
                conn.sendall(b"-ERR unsupported\r\n")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise OpsError(f"timed out after {timeout:.0f}s waiting for {what}")
