"""``redis-check-rdb`` over a stream: the structure check and the key count of a snapshot, in C, on
another core, while the snapshot streams past.

The checker reads the RDB from a pipe (``/dev/stdin``) as it arrives, so a backup learns what its
snapshot holds (keys, keys with a TTL, databases, functions' presence is in the format) without a
second pass and without a copy on disk. Its verdict is the one Redis itself would give when it loads
the file: a backup whose RDB it rejects is never recorded, and a restore never touches a target with
one. The count it reports is of the snapshot itself, so it is exact however busy the source was and
however many keys were expiring.

The checker never holds a large value: the RDB reaches it through :class:`~ops.runtime.rdbslim.Slimmer`,
which replaces long strings with placeholders and caps each collection at 1,024 elements (walking,
with bounded buffers, what it leaves out), so its memory stays at a few MiB whatever the values'
sizes. Queued chunks are at most 1 MiB each, so the backlog is about 16 MiB whatever the caller's
chunk size.

The RDB's own header (``REDIS0010``...) gives the format version, which a restore compares with what
the target can load.
"""

from __future__ import annotations

import contextlib
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from typing import IO

from ops.errors import OpsError, describe
from ops.runtime.rdbslim import Slimmer

_KEYS = re.compile(rb"^\[info\] (\d+) keys read$", re.M)
_EXPIRES = re.compile(rb"^\[info\] (\d+) expires$", re.M)
_DB = re.compile(rb"Selecting DB ID (\d+)")
_AUX = re.compile(rb"AUX FIELD ([\w-]+) = '([^']*)'")
_BACKLOG = 16  # chunks (about 16 MiB) queued for the checker before the stream waits for it
_PIECE = 1 << 20  # the most one queued chunk holds


@dataclass
class RdbFacts:
    """What ``redis-check-rdb`` found in a snapshot."""

    rdb_version: int
    keys: int
    expires: int
    databases: list[int] = field(default_factory=list)
    aux: dict[str, str] = field(default_factory=dict)


def checker_path() -> str:
    found = shutil.which("redis-check-rdb")
    if found is None:
        raise OpsError(
            "redis-check-rdb is not on PATH: it checks every snapshot before it is recorded or restored "
            "(the ops image ships it; Debian: apt-get install redis-tools)"
        )
    return found


class StreamingCheck:
    """Feed chunks with :meth:`feed`, then :meth:`result`. A background thread writes to the checker,
    so the caller is not slowed down by it unless it falls more than about 16 MiB behind."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in result()/close()
        self.proc = subprocess.Popen(
            [checker_path(), "/dev/stdin"], stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT
        )
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=_BACKLOG)
        self._head = b""
        self._broken = False
        self._failure: str | None = None
        self._slimmer = Slimmer(self._next, self._write)
        self.passed = threading.Event()
        """Set once the checker has accepted the whole RDB."""
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        """How far into the RDB the checker has been given it, give or take the pipe's 64 KiB buffer."""
        return self._slimmer.offset

    def _next(self) -> bytes | memoryview | None:
        return self._queue.get()

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        if self._broken:
            return
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            self._broken = True  # the checker stopped reading: it has rejected the RDB

    def _pump(self) -> None:
        try:
            self._slimmer.run()
        except Exception as exc:  # a fault of the walk itself: no verdict, never a false one
            self._failure = describe(exc)
            self.proc.kill()
            while not self._slimmer.ended and self._queue.get() is not None:  # keep the feeding side moving
                pass
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def feed(self, chunk: bytes | memoryview) -> None:
        if len(self._head) < 9:
            self._head += bytes(chunk[: 9 - len(self._head)])
        view = memoryview(chunk)
        for start in range(0, len(view), _PIECE):
            self._queue.put(view[start : start + _PIECE])

    def close(self) -> None:
        """Stop the checker without a verdict (the stream failed)."""
        self._queue.put(None)
        self.proc.kill()
        self.proc.wait()
        self._out.close()

    def result(self, timeout: float = 600.0) -> RdbFacts:
        """Wait for the checker; raise :class:`OpsError` naming ``what`` when it rejects the RDB."""
        self._queue.put(None)
        self._thread.join(timeout)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise OpsError(f"{self.what}: redis-check-rdb did not finish in {timeout:.0f}s") from None
        self._out.seek(0)
        output = self._out.read()
        self._out.close()
        if self._failure is not None:
            raise OpsError(f"{self.what}: the RDB could not be walked for the checker ({self._failure})")
        keys, expires = _KEYS.search(output), _EXPIRES.search(output)
        if self.proc.returncode != 0 or keys is None or expires is None:
            lines = [ln for ln in output.decode(errors="replace").splitlines() if ln.strip()]
            reason = next((ln for ln in lines if "--- RDB ERROR DETECTED ---" not in ln and "[offset" in ln), "")
            for ln in lines:
                if "Error" in ln or "error" in ln or "Can't" in ln or "Unexpected" in ln:
                    reason = ln
                    break
            raise OpsError(f"{self.what}: redis-check-rdb rejects the RDB ({reason.strip()[:200] or 'no output'})")
        if not self._head.startswith(b"REDIS") or not self._head[5:9].isdigit():
            raise OpsError(f"{self.what}: the RDB does not start with a Redis header")
        self.passed.set()
        return RdbFacts(
            rdb_version=int(self._head[5:9]),
            keys=int(keys.group(1)),
            expires=int(expires.group(1)),
            databases=sorted({int(m) for m in _DB.findall(output)}),
            aux={k.decode(): v.decode(errors="replace") for k, v in _AUX.findall(output)},
        )
