"""What a job can hold in its pod, and the restore drill's check before it loads anything.

The drill loads the whole backup into a scratch ``redis-server`` inside its own pod (a restore that
is never loaded proves nothing). Everything in that pod shares one memory limit, so the drill needs

    used_memory * LOAD_FACTOR + SCRATCH_SERVER_BYTES + JOB_PROCESS_BYTES

where ``used_memory`` is the source's own figure, recorded in the backup's manifest (the RDB's
``used-mem`` field; when a backup lacks it, ``rdb_size * RDB_EXPANSION``). It also needs the RDB's size
on its spool, where the scratch server receives the snapshot before loading it.

The same constants size the jobs in the plan (``policies/redisgw_policies/capacity_model.py``, which
a test holds equal), so the pod the plan declares holds the dataset the stack declares; this check
covers what the plan cannot know: a dataset that outgrew its declaration. A drill that would not fit
is refused before it starts, with one line naming both figures, instead of being killed by the
kernel half way (an OOM kill reads as a crash and says nothing about the backup).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ops.errors import OpsError
from ops.runtime.manifest import Manifest

MIB = 1 << 20
JOB_PROCESS_BYTES = 200 * MIB
"""Peak memory of the ops process tree in a backup or restore, whatever the value sizes (measured)."""
SCRATCH_SERVER_BYTES = 64 * MIB
"""An empty ``redis-server`` and its buffers while it receives and loads a snapshot."""
LOAD_FACTOR = 1.15
"""The scratch server's memory after a load over the source's ``used_memory`` (allocator
fragmentation of a fresh load; measured at 1.0 to 1.1 in the image test)."""
RDB_EXPANSION = 4.0
"""For a backup without ``used_memory``: memory per byte of RDB, on the safe side."""
SPOOL_MARGIN_BYTES = 64 * MIB

CGROUP = Path("/sys/fs/cgroup")
UNLIMITED = 1 << 60


def memory_limit(root: Path = CGROUP) -> int | None:
    """The memory limit of this process's pod (cgroup v2 ``memory.max`` or v1
    ``memory/memory.limit_in_bytes``), or None when there is none or no cgroup to read."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max" or not text.isdigit():
            return None
        value = int(text)
        return None if value >= UNLIMITED else value
    return None


def dataset_bytes(manifest: Manifest) -> int:
    """What the source held in memory when the backup was taken (or its safe estimate)."""
    if manifest.used_memory is not None:
        return int(manifest.used_memory)
    return int(manifest.rdb_size * RDB_EXPANSION)


def drill_memory_need(used_memory: float) -> int:
    """Memory a drill pod needs to load a dataset of ``used_memory`` bytes."""
    return math.ceil(used_memory * LOAD_FACTOR) + SCRATCH_SERVER_BYTES + JOB_PROCESS_BYTES


def _mib(n: float) -> str:
    return f"{n / MIB:,.0f} MiB"


def check_drill(manifest: Manifest, work_dir: Path, limit: int | None = None) -> None:
    """Refuse (exit 1, before anything starts) a drill that this pod cannot hold in memory or on its
    spool. ``limit`` defaults to the pod's own memory limit; none means no memory check."""
    limit = memory_limit() if limit is None else limit
    held = dataset_bytes(manifest)
    need = drill_memory_need(held)
    basis = "used_memory" if manifest.used_memory is not None else f"{RDB_EXPANSION:g} x the RDB size"
    if limit is not None and need > limit:
        raise OpsError(
            f"drill: backup {manifest.id} needs about {_mib(need)} of memory to load (dataset {_mib(held)} by "
            f"{basis}, x{LOAD_FACTOR} for the load, plus {_mib(SCRATCH_SERVER_BYTES + JOB_PROCESS_BYTES)} for "
            f"the scratch server and this job) but this pod's memory limit is {_mib(limit)}; refusing before "
            "loading. Raise the drill job's memory: it follows redisgw:capacity (keys, valueBytes)"
        )
    try:
        stat = os.statvfs(work_dir)
    except OSError:
        return  # work_directory() names a missing or unwritable spool itself
    free = stat.f_bavail * stat.f_frsize
    spool_need = manifest.rdb_size + SPOOL_MARGIN_BYTES
    if free < spool_need:
        raise OpsError(
            f"drill: backup {manifest.id} needs {_mib(spool_need)} free on --work-dir {work_dir} (the RDB is "
            f"{_mib(manifest.rdb_size)}) but {_mib(free)} is free; refusing before loading. Raise the drill's "
            "spool (redisgw:backup.scratchSize)"
        )
