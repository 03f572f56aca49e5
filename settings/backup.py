"""``redisgw:backup``: Redis backups (the ops image, schedules, scratch volume, S3 tiers, EBS snapshot
retention, Object Lock, Vault Lock), and the backup age the alert and the RPO are held to."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from settings._base import _Model, cron_schedule, quantity_bytes

if TYPE_CHECKING:
    from settings.stack import StackSettings

KEY = "redisgw:backup"
"""The config key this module validates (:attr:`StackSettings.backup <settings.StackSettings.backup>`)."""


OPS_IMAGE_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d)\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?@sha256:(?P<digest>[a-f0-9]{64})$"
)
"""The ops image as the stacks pin it: from an ECR repository, by digest (a tag beside it is a label).
The pipeline builds, scans and signs one image and pushes it to the stack's repository; a digest
names exactly those bytes, where a tag names whatever was pushed last under it."""


def ops_image(value: str, key: str) -> str:
    """``value`` if it names an image in an ECR repository by digest, else ValueError naming ``key``."""
    if not OPS_IMAGE_RE.fullmatch(value):
        raise ValueError(
            f"{key} {value!r} must be an ECR image pinned by digest: "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag]@sha256:<64 hex>"
        )
    return value


class ObjectLockSettings(_Model):
    enabled: bool = False
    """S3 Object Lock on the backup bucket (set at creation; cannot be turned off)."""
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    days: int = Field(default=14, ge=1, le=3650)


class VaultLockSettings(_Model):
    enabled: bool = False
    """AWS Backup Vault Lock: recovery points cannot be deleted before ``minRetentionDays``."""
    min_retention_days: int = Field(default=7, ge=1, le=36500)
    max_retention_days: int = Field(default=35, ge=1, le=36500)
    changeable_for_days: int = Field(default=3, ge=3, le=36500)
    """Grace period before the lock becomes immutable (AWS minimum: 3)."""

    @model_validator(mode="after")
    def _order(self) -> VaultLockSettings:
        if self.min_retention_days > self.max_retention_days:
            raise ValueError(
                f"minRetentionDays ({self.min_retention_days}) exceeds maxRetentionDays ({self.max_retention_days})"
            )
        return self


class BackupSettings(_Model):
    """Redis backups: S3 (RDB streams), AWS Backup (EBS snapshots), schedules and retention tiers."""

    ops_image: str
    """The ops image the backup, drill, readiness and smoke jobs run (built from ``Dockerfile`` by the
    pipeline and pushed to the stack's own ECR repository): pinned by digest, see :data:`OPS_IMAGE_RE`."""
    schedule: str = "*/15 * * * *"
    drill_schedule: str = "0 4 * * 1"
    scratch_size: str = "20Gi"
    """``backup-storage`` PVC of the CronJob (spool when S3 is slow)."""
    infrequent_access_after_days: int = Field(default=30, ge=30)
    glacier_after_days: int = Field(default=90, ge=31)
    expire_after_days: int = Field(default=365, ge=32)
    snapshot_retention_days: int = Field(default=7, ge=1, le=35)
    """Retention of the hourly EBS snapshots (and their DR copies)."""
    object_lock: ObjectLockSettings = ObjectLockSettings()
    vault_lock: VaultLockSettings = VaultLockSettings()

    @field_validator("ops_image")
    @classmethod
    def _img(cls, v: str) -> str:
        return ops_image(v, "opsImage")

    @field_validator("schedule", "drill_schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        return cron_schedule(v, "schedule")

    @field_validator("scratch_size")
    @classmethod
    def _scratch(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @model_validator(mode="after")
    def _tiers(self) -> BackupSettings:
        if not self.infrequent_access_after_days < self.glacier_after_days < self.expire_after_days:
            raise ValueError("tiers must grow: infrequentAccessAfterDays < glacierAfterDays < expireAfterDays")
        if self.object_lock.enabled and self.object_lock.days >= self.expire_after_days:
            raise ValueError(f"objectLock.days ({self.object_lock.days}) must be shorter than expireAfterDays")
        lock = self.vault_lock
        if lock.enabled and not lock.min_retention_days <= self.snapshot_retention_days <= lock.max_retention_days:
            raise ValueError(
                f"snapshotRetentionDays ({self.snapshot_retention_days}) must lie within the vault lock's "
                f"{lock.min_retention_days}..{lock.max_retention_days} days"
            )
        return self


def schedule_max_gap_seconds(schedule: str, runs: int = 1000) -> int:
    """The longest interval between two runs of a (valid) cron schedule over its next ``runs`` runs."""
    import datetime

    it = croniter(schedule, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    previous = it.get_next(float)
    gap = 0.0
    for _ in range(runs):
        current = it.get_next(float)
        gap = max(gap, current - previous)
        previous = current
    return int(gap)


def backup_max_age_seconds(cfg: StackSettings, job_deadline_seconds: int) -> int:
    """Age of the newest backup past which a backup was missed: the schedule's longest gap plus the
    time one backup may take. The backup alert fires there, so a missed RPO pages within minutes."""
    return schedule_max_gap_seconds(cfg.backup.schedule) + job_deadline_seconds
