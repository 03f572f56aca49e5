"""Peak memory of a backup job, counting every process it starts (the Python process, redis-check-rdb,
...), for a dataset of one 300 MiB value: the worst case, since one value spans the whole stream.

Each process's own high-water mark (``VmHWM``: the kernel's record of its largest resident set, so
no peak falls between two samples) is read while it runs, and the marks are summed: an upper bound
of the tree's peak, whatever overlapped when. The job runs with a 512 MiB pod limit; the target is
below 200 MiB."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ops.offline.engine import ROOT
from tests.conftest import RedisServer

MIB = 1 << 20
LIMIT_MIB = 200
VALUE_MIB = 300


def _high_water(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(*args: str) -> tuple[int, str, dict[str, int]]:
    """Run ``python -m ops <args>``; return its exit code, stdout and each process's peak RSS (bytes)."""
    with tempfile.TemporaryFile() as out:
        proc = psutil.Popen([sys.executable, "-m", "ops", *args], cwd=ROOT, stdout=out, stderr=out, env=os.environ)
        peaks: dict[int, tuple[str, int]] = {}
        while proc.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for p in tree:
                with_name = peaks.get(p.pid, ("", 0))
                try:
                    name = p.name()
                except psutil.Error:
                    name = with_name[0]
                peaks[p.pid] = (name, max(with_name[1], _high_water(p.pid)))
            time.sleep(0.005)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return proc.returncode, text, peaks_named(peaks)


def peaks_named(peaks: dict[int, tuple[str, int]]) -> dict[str, int]:
    return {f"{name}[{pid}]": peak for pid, (name, peak) in peaks.items()}


@pytest.fixture
def one_big_value(redis_server: Callable[..., RedisServer]) -> RedisServer:
    """One value of 300 MiB that LZF cannot shrink (a 256 KiB random block, repeated: the RDB carries
    all 300 MiB, while zstd's window sees the repeats, so the upload stays small and the test fast)."""
    server = redis_server()
    block = os.urandom(256 << 10)
    pipe = server.client.pipeline(transaction=False)
    for _ in range(VALUE_MIB * 4):
        pipe.append("big", block)
    pipe.set("small", "kept")
    pipe.execute()
    assert server.client.strlen("big") == VALUE_MIB * MIB
    return server


@pytest.mark.timing
def test_backup_verify_and_restore_of_one_300_mib_value_stay_under_200_mib(
    one_big_value: RedisServer, redis_server: Callable[..., RedisServer], bucket: tuple[str, str], tmp_path: Path
) -> None:
    code, out, backup_peaks = run_measured(
        "backup", "--redis-url", one_big_value.url, "--bucket", bucket[0], "--verify", "--json", "-",
        "--work-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out
    manifest, _ = json.JSONDecoder().raw_decode(out, out.index("{"))
    assert manifest["rdb_size"] > VALUE_MIB * MIB and manifest["verified"] is True
    assert sum(backup_peaks.values()) < LIMIT_MIB * MIB, backup_peaks
    assert any("redis-check-rdb" in name for name in backup_peaks), backup_peaks  # the checker was counted

    target = redis_server()
    code, out, restore_peaks = run_measured(
        "restore", "--bucket", bucket[0], "--target-url", target.url, "--work-dir", str(tmp_path), "--json", "-"
    )
    assert code == 0, out
    assert target.client.strlen("big") == VALUE_MIB * MIB and target.client.get("small") == b"kept"
    assert sum(restore_peaks.values()) < LIMIT_MIB * MIB, restore_peaks
    assert any("redis-check-rdb" in name for name in restore_peaks), restore_peaks
