"""The drill's check before it loads: the pod's memory limit as the kernel shows it, and the spool."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.runtime import pod_limits
from ops.runtime.manifest import Manifest

MIB = 1 << 20


def _manifest(used_memory: int | None, rdb_size: int = 10 * MIB) -> Manifest:
    now = datetime.datetime.now(datetime.UTC)
    return Manifest(
        format_version=2,
        id="20261205T120000.000000Z",
        started_at=now,
        completed_at=now,
        source={"host": "10.0.0.1", "port": 6379},
        rdb_version=11,
        key_count=1,
        expires_count=0,
        databases=[0],
        used_memory=used_memory,
        rdb_size=rdb_size,
        rdb_sha256="0" * 64,
        object_key="redis/20261205T120000.000000Z/data/",
        object_segments=1,
        object_size=rdb_size,
        object_sha256="0" * 64,
        compression="zstd",
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "536870912\n"}, 512 * MIB),  # cgroup v2
        ({"memory.max": "max\n"}, None),
        ({"memory/memory.limit_in_bytes": "268435456\n"}, 256 * MIB),  # cgroup v1
        ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1 "unlimited"
        ({}, None),  # no cgroup file system: nothing to check against
    ],
)
def test_memory_limit_as_the_kernel_shows_it(tmp_path: Path, files: dict[str, str], expected: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert pod_limits.memory_limit(tmp_path) == expected


def test_a_drill_that_fits_passes_and_one_byte_over_is_refused_naming_both_figures(tmp_path: Path) -> None:
    used = 300 * MIB
    need = pod_limits.drill_memory_need(used)
    pod_limits.check_drill(_manifest(used), tmp_path, limit=need)
    with pytest.raises(OpsError) as err:
        pod_limits.check_drill(_manifest(used), tmp_path, limit=need - 1)
    assert err.value.code == 1
    assert "20261205T120000.000000Z" in str(err.value) and "refusing before loading" in str(err.value)
    assert f"{(need - 1) / MIB:,.0f} MiB" in str(err.value) and "\n" not in str(err.value)


def test_without_used_memory_the_rdb_size_is_expanded_on_the_safe_side(tmp_path: Path) -> None:
    manifest = _manifest(None, rdb_size=100 * MIB)
    assert pod_limits.dataset_bytes(manifest) == int(100 * MIB * pod_limits.RDB_EXPANSION)
    with pytest.raises(OpsError, match=r"by 4 x the RDB size"):
        pod_limits.check_drill(manifest, tmp_path, limit=pod_limits.drill_memory_need(100 * MIB))


def test_a_spool_too_small_for_the_rdb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(pod_limits.os, "statvfs", lambda path: Full())
    with pytest.raises(OpsError, match=r"needs [\d,]+ MiB free on --work-dir .* refusing before loading"):
        pod_limits.check_drill(_manifest(MIB), tmp_path, limit=None)
