"""``redisgw:capacity``: what the service must carry (peak rate, read share, keys, value sizes, growth,
headroom, restore objective, measured baseline), and what the plan sizes from it: the record the
capacity policies judge (:func:`capacity_record`) and the restore drill's memory (:func:`drill_memory`)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from settings._base import SettingsError, _Model

if TYPE_CHECKING:
    from settings.stack import StackSettings

KEY = "redisgw:capacity"
"""The config key this module validates (:attr:`StackSettings.capacity <settings.StackSettings.capacity>`)."""


class ValueSizeSettings(_Model):
    """Sizes of the values the service stores, in bytes."""

    mean: int = Field(ge=1, le=512 * 2**20)
    max: int = Field(ge=1, le=512 * 2**20)

    @model_validator(mode="after")
    def _order(self) -> ValueSizeSettings:
        if self.max < self.mean:
            raise ValueError(f"max ({self.max}) must not be below mean ({self.mean})")
        return self


class CapacitySettings(_Model):
    """What the service must carry: the inputs of ``ops capacity`` and of the capacity policy."""

    peak_requests_per_second: float = Field(gt=0, le=10_000_000)
    read_share: float = Field(ge=0, le=1)
    """Share of requests that read (GET); the rest write."""
    keys: int = Field(ge=0, le=10**11)
    value_bytes: ValueSizeSettings
    growth_per_month: float = Field(default=0.05, ge=0, le=10)
    """Growth of the key count per month (0.05: 5%)."""
    headroom: float = Field(default=0.3, ge=0, le=10)
    """Margin kept above the peak and the dataset (0.3: 30%)."""
    restore_objective_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    """How long a restore of the whole dataset may take."""
    baseline: str = "docs/capacity/baseline.json"
    """Measured baselines (``ops bench ... --save``), relative to the project."""

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/") or not v.endswith(".json"):
            raise ValueError(f"baseline {v!r} must be a .json path inside the project")
        return v


BACKUP_BENCHMARK = "docs/capacity/backup-benchmark.json"


def capacity_record(cfg: StackSettings, root: Any) -> dict[str, Any] | None:
    """What the capacity policies judge the plan against: the declared demand (``redisgw:capacity``), the
    zones, the measured baselines as the files hold them (the baseline's gateway and Redis figures,
    the backup benchmark's rows), and what the replication link must ride out (``redis.linkOutageSeconds``,
    ``dr.rpoSeconds``). ``None`` when the stack declares no capacity."""
    cap = cfg.capacity
    if cap is None:
        return None
    documents = {}
    for key, name in (("baseline", cap.baseline), ("backup", BACKUP_BENCHMARK)):
        try:
            documents[key] = json.loads((root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError([f"{name}: cannot be read as JSON for redisgw:capacity ({exc})"]) from None
    baseline = documents["baseline"] if isinstance(documents["baseline"], dict) else {}
    return {
        "demand": {
            "peak_rps": cap.peak_requests_per_second,
            "read_share": cap.read_share,
            "keys": cap.keys,
            "value_bytes": float(cap.value_bytes.mean),
            "growth_per_month": cap.growth_per_month,
            "headroom": cap.headroom,
            "restore_objective_seconds": float(cap.restore_objective_seconds),
        },
        "zones": len(cfg.network.availability_zones),
        "baseline": {k: baseline.get(k) for k in ("gateway", "redis")},
        "backup": documents["backup"],
        "replication": {"link_outage_seconds": cfg.redis.link_outage_seconds, "rpo_seconds": cfg.dr.rpo_seconds},
    }


DRILL_MEMORY_DEFAULT = "512Mi"
"""The drill pod's memory where the stack declares no capacity to size it from."""


def drill_memory(cfg: StackSettings, root: Any) -> str:
    """Memory (request and limit) of the restore drill's pod. The drill loads the whole dataset into a
    scratch Redis beside the job, so its pod holds the declared dataset, ``keys * (valueBytes.mean +
    the measured overhead per key) * (1 + headroom)`` (the capacity model's Redis memory), plus what
    :func:`ops.runtime.pod_limits.drill_memory_need` adds for the load and the job, rounded up to
    256 MiB. The drill itself refuses, before loading, a backup that outgrew this."""
    record = capacity_record(cfg, root)
    if record is None:
        return DRILL_MEMORY_DEFAULT
    from ops.runtime.pod_limits import drill_memory_need

    demand = record["demand"]
    redis = record["baseline"].get("redis") or {}
    overhead = redis.get("overhead_bytes_per_key")
    if not isinstance(overhead, int | float) or overhead < 0:
        raise SettingsError(["docs/capacity/baseline.json: redis.overhead_bytes_per_key is missing (ops bench redis)"])
    dataset = demand["keys"] * (demand["value_bytes"] + overhead) * (1 + demand["headroom"])
    step = 256 << 20
    return f"{math.ceil(drill_memory_need(dataset) / step) * 256}Mi"
