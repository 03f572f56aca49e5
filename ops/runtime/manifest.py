"""The backup manifest: one schema, validated before anything it points to is downloaded.

A manifest is written last, after the data object is complete, so a backup folder without one is an
incomplete backup (in progress, or failed and aborted). A folder whose manifest cannot be read or
does not match this schema is an **invalid** backup: it is reported, never silently skipped, and
never restored.

Format versions:

* 2 (written now): ``key_count``, ``expires_count``, ``databases`` and ``rdb_version`` are what the
  snapshot itself holds, counted by ``redis-check-rdb`` while it streamed; a restore compares them
  with what the target loaded.
  The data is stored as segments ``<id>/data/000001`` ... of 8 MiB (``object_segments``), and
  ``compression`` is ``zstd`` or ``none``.
* 1 (read only): one data object ``<id>/dump.rdb.zst``; ``key_count`` was read from ``INFO`` before
  the snapshot and is not comparable, so a restore of such a backup relies on the checksums and
  ``redis-check-rdb`` alone.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ops.errors import OpsError

FORMAT_VERSION: Literal[2] = 2
BACKUP_ID = r"^\d{8}T\d{6}\.\d{6}Z$"
BACKUP_ID_RE = re.compile(BACKUP_ID)
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=2**63)]


class Source(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    role: str | None = None


class Manifest(BaseModel):
    """What a backup holds and how to check it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format_version: Literal[1, 2]
    id: Annotated[str, StringConstraints(pattern=BACKUP_ID)]
    started_at: datetime.datetime
    completed_at: datetime.datetime
    duration_seconds: Annotated[float, Field(ge=0)] = 0.0
    source: Source
    redis_version: str | None = None
    rdb_version: Annotated[int, Field(ge=1, le=99)] | None = None
    key_count: Count
    expires_count: Count | None = None
    databases: list[Annotated[int, Field(ge=0, le=1_000_000)]] | None = None
    used_memory: Count | None = None
    """The source's ``used_memory`` when the snapshot was taken (the RDB's ``used-mem`` field)."""
    rdb_size: Count
    rdb_sha256: Sha256
    object_key: str
    """Format 2: the folder of the data segments (``<id>/data/``); format 1: the one data object."""
    object_segments: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """Format 2: how many segments (``000001`` ...) the data is split into."""
    object_size: Count
    object_sha256: Sha256
    compression: Literal["zstd", "none"]

    @model_validator(mode="after")
    def _version_2_is_complete(self) -> Manifest:
        if self.format_version >= 2:
            missing = [
                name
                for name in ("rdb_version", "expires_count", "databases", "object_segments")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"format version 2 requires {', '.join(missing)}")
        if self.completed_at.tzinfo is None or self.started_at.tzinfo is None:
            raise ValueError("started_at and completed_at need a time zone")
        return self

    @property
    def counts_comparable(self) -> bool:
        """Whether ``key_count`` is the snapshot's own count (format 2), comparable after a load."""
        return self.format_version >= 2

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse(body: bytes, backup_id: str, object_keys: dict[int, str]) -> Manifest:
    """Validate a manifest's bytes; :class:`OpsError` names the backup and the first problem.
    ``object_keys`` maps each format version to the only data location it may name."""
    where = f"manifest of backup {backup_id}"
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OpsError(
            f"{where} is not valid JSON ({exc.__class__.__name__} at byte {getattr(exc, 'pos', 0)})"
        ) from None
    if not isinstance(data, dict):
        raise OpsError(f"{where} is a JSON {type(data).__name__}, not an object")
    version = data.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise OpsError(f"{where} has format version {version}; this tool reads versions 1 to {FORMAT_VERSION}")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise OpsError(f"{where} is invalid: {path}: {first['msg']}") from None
    if manifest.id != backup_id:
        raise OpsError(f"{where} names another backup ({manifest.id})")
    if manifest.object_key != object_keys[manifest.format_version]:
        raise OpsError(f"{where} points outside its backup ({manifest.object_key!r})")
    return manifest
