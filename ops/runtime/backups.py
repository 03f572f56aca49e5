"""Redis backups to S3: backup, verify, restore, list, prune and the restore drill, by concern:

* :mod:`ops.runtime.backup_store`: the bucket layout, S3 with deadlines, the catalog (``list``,
  ``latest``) and retention (``prune``);
* :mod:`ops.runtime.backup_segments`: a backup's data as segment objects, written, and read back
  with every check the manifest promises (``verify``);
* :mod:`ops.runtime.backup_source`: Redis endpoints, the replica Sentinel offers, ``backup``;
* :mod:`ops.runtime.backup_restore`: the target's checks, ``restore``, scratch servers and ``drill``.

This module gathers their public names for the CLI and the tools that use them.
"""

from __future__ import annotations

from ops.errors import OpsError
from ops.runtime import manifest as manifests
from ops.runtime.backup_restore import drill, free_port, restore, scratch_redis, start_redis_server
from ops.runtime.backup_segments import SEGMENT_SIZE, fetch_verified, verify, work_directory
from ops.runtime.backup_source import (
    SAMPLE_SIZE,
    WORTH_COMPRESSING,
    backup,
    find_replica,
    host_port,
    redis_client,
    redis_endpoint,
    redis_info,
)
from ops.runtime.backup_store import (
    DATA_FOLDER,
    DEFAULT_DEADLINE,
    MANIFEST_NAME,
    MAX_IN_FLIGHT,
    Entry,
    Location,
    get_manifest,
    list_backups,
    prune,
    retained,
)
from ops.runtime.replication import wait_until

__all__ = [
    "DATA_FOLDER",
    "DEFAULT_DEADLINE",
    "MANIFEST_NAME",
    "MAX_IN_FLIGHT",
    "SAMPLE_SIZE",
    "SEGMENT_SIZE",
    "WORTH_COMPRESSING",
    "Entry",
    "Location",
    "OpsError",
    "backup",
    "drill",
    "fetch_verified",
    "find_replica",
    "free_port",
    "get_manifest",
    "host_port",
    "list_backups",
    "manifests",
    "prune",
    "redis_client",
    "redis_endpoint",
    "redis_info",
    "restore",
    "retained",
    "scratch_redis",
    "start_redis_server",
    "verify",
    "wait_until",
    "work_directory",
]
