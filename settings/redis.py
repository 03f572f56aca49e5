"""``redisgw:redis``: the in-cluster Redis tier (images, replicas, Sentinels, storage, resources,
``maxmemoryPercent``, ``linkOutageSeconds``), and the replication directives the plan derives from it,
``redisgw:capacity`` and ``redisgw:dr`` (:func:`redis_replication_config`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from settings._base import ResourcesSettings, SettingsError, _config_key, _image, _Model, quantity_bytes

if TYPE_CHECKING:
    from settings.stack import StackSettings

KEY = "redisgw:redis"
"""The config key this module validates (:attr:`StackSettings.redis <settings.StackSettings.redis>`)."""


class RedisSettings(_Model):
    """The in-cluster Redis tier (replication with Sentinel)."""

    image: str
    sentinel_image: str
    exporter_image: str
    replicas: int = Field(default=3, ge=3, le=9)
    """Pods in the replication group: one primary, the rest replicas (at least two)."""
    sentinels: int = Field(default=3, ge=3, le=7)
    """Sentinel pods; an odd number so a quorum always exists."""
    storage_size: str = "20Gi"
    """Volume per Redis pod (encrypted gp3, AOF everysec)."""
    resources: ResourcesSettings
    maxmemory_percent: int = Field(default=70, ge=10, le=75)
    """``maxmemory`` as a share of the memory limit; at most 75 (25% reserve for fork copy-on-write)."""
    link_outage_seconds: int = Field(default=300, ge=30, le=3600)
    """How long a replication link (the cross-region one above all) may be broken while writes go on
    and the replica still resumes with a partial resynchronisation: the replication backlog of every
    Redis pod is sized to hold the declared write rate for this long (see
    :func:`redis_replication_config`). Longer outages end in a full resync."""

    @field_validator("image", "sentinel_image", "exporter_image")
    @classmethod
    def _img(cls, v: str) -> str:
        return _image(v, "image")

    @field_validator("storage_size")
    @classmethod
    def _size(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @field_validator("sentinels")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"sentinels must be odd for a clear quorum, got {v}")
        return v


MIB = 2**20
REPL_WRITE_OVERHEAD_BYTES = 64
"""Bytes one write adds to the replication stream besides its value: the key (a few tens of bytes) and
the RESP framing the primary propagates it in (``*3``, ``$3 SET`` and two length headers with their
CRLFs: about 25 bytes), rounded up. The pack keeps the same figure
(``redisgw_policies.capacity_model.REPL_WRITE_OVERHEAD_BYTES``; a test holds them equal)."""
REPL_BACKLOG_FLOOR_BYTES = 64 * MIB
"""The smallest replication backlog the plan sets, 64 MiB (Redis' default is 1 MB): a stack without a
declared capacity, or a small one, still rides out a reconnect or a burst of writes."""
REPL_BACKLOG_MAX_SHARE = 0.10
"""The largest share of a Redis pod's memory limit the backlog may take. It is held beside the dataset,
in the part of the limit ``maxmemoryPercent`` leaves for the fork's copy-on-write and client buffers."""
REPL_TIMEOUT_BOUNDS = (6, 60)
"""``repl-timeout`` is a quarter of the RPO, within these seconds: never so short that a slow
cross-region round trip drops a healthy link, never longer than Redis' own default."""
REPL_PING_REPLICA_PERIOD = 2
"""Seconds between the primary's pings to its replicas: below the smallest ``repl-timeout``, as Redis
requires, so an idle link is never taken for a dead one."""


def _replication_backlog(cfg: StackSettings) -> tuple[int, float | None]:
    """(backlog bytes the plan sets, bytes the declared write rate needs for the ride-out or None
    without a declared capacity)."""
    cap = cfg.capacity
    if cap is None:
        return REPL_BACKLOG_FLOOR_BYTES, None
    writes_per_second = cap.peak_requests_per_second * (1 - cap.read_share)
    stream_bytes_per_second = writes_per_second * (cap.value_bytes.mean + REPL_WRITE_OVERHEAD_BYTES)
    needed = stream_bytes_per_second * cfg.redis.link_outage_seconds * (1 + cap.headroom)
    return max(REPL_BACKLOG_FLOOR_BYTES, math.ceil(needed / MIB) * MIB), needed


def _repl_timeout(cfg: StackSettings) -> int:
    low, high = REPL_TIMEOUT_BOUNDS
    return min(max(cfg.dr.rpo_seconds // 4, low), high)


def _replication_problem(cfg: StackSettings) -> tuple[tuple[str, ...], str] | None:
    """(key path, what is wrong) when the plan's replication settings cannot be built, else None."""
    backlog, needed = _replication_backlog(cfg)
    ceiling = int(quantity_bytes(cfg.redis.resources.memory_limit) * REPL_BACKLOG_MAX_SHARE)
    share = f"{REPL_BACKLOG_MAX_SHARE:.0%}"
    if backlog > ceiling and needed is not None and needed > REPL_BACKLOG_FLOOR_BYTES:
        return (
            ("redis", "linkOutageSeconds"),
            f"the replication backlog that rides out {cfg.redis.link_outage_seconds} s of link outage at the "
            f"declared write rate (capacity.peakRequestsPerSecond x (1 - readShare) x (valueBytes.mean + "
            f"{REPL_WRITE_OVERHEAD_BYTES} B) x (1 + headroom)) is {backlog // MIB} MiB, above {share} of "
            f"redis.resources.memoryLimit ({ceiling // MIB} MiB): shorten linkOutageSeconds, lower the declared "
            "write rate or raise memoryLimit",
        )
    if backlog > ceiling:
        return (
            ("redis", "resources", "memoryLimit"),
            f"{share} of it ({ceiling // MIB} MiB) cannot hold the smallest replication backlog "
            f"({REPL_BACKLOG_FLOOR_BYTES // MIB} MiB)",
        )
    timeout = _repl_timeout(cfg)
    if timeout >= cfg.dr.rpo_seconds:
        return (
            ("dr", "rpoSeconds"),
            f"({cfg.dr.rpo_seconds}) must exceed Redis' repl-timeout ({timeout} s, at least "
            f"{REPL_TIMEOUT_BOUNDS[0]} s): a broken link could not be noticed within the RPO",
        )
    return None


def redis_replication_config(cfg: StackSettings) -> dict[str, str]:
    """The replication directives of the Redis tiers of both regions (``redis.conf`` name -> value),
    in the order they are written. Pure: no Pulumi call; the ops tooling reads it too.

    * ``min-replicas-to-write 1`` and ``min-replicas-max-lag 10``: the primary refuses writes unless
      a replica acknowledged the stream within 10 s, so an isolated primary stops accepting writes
      that only it would hold.
    * ``repl-backlog-size``: what a replica (the standby across regions above all) needs to resume
      with a partial resync after a broken link: the replication stream's rate times the outage to
      ride out, with the capacity headroom, rounded up to a whole MiB, at least
      :data:`REPL_BACKLOG_FLOOR_BYTES`::

          peakRequestsPerSecond x (1 - readShare) x (valueBytes.mean + REPL_WRITE_OVERHEAD_BYTES)
              x redis.linkOutageSeconds x (1 + headroom)

      Every pod of a tier carries it: a replica keeps a backlog too (the standby may replicate from
      one, and a promoted pod serves its former peers from it). It must stay within
      :data:`REPL_BACKLOG_MAX_SHARE` of the pod's memory limit, else :class:`SettingsError`. Without a
      declared capacity the floor is used.
    * ``repl-timeout``: a quarter of ``dr.rpoSeconds`` within :data:`REPL_TIMEOUT_BOUNDS`, so a dead
      link is noticed (and alerted on) well within the RPO instead of after Redis' default 60 s.
    * ``repl-ping-replica-period``: :data:`REPL_PING_REPLICA_PERIOD`, below ``repl-timeout``.

    Production (``Pulumi.production.yaml``): 3000 req/s x 0.2 writes = 600 writes/s x (512 + 64) B =
    345,600 B/s; x 300 s x 1.3 = 134,784,000 B = 128.5 MiB, so 129 MiB (135,266,304 bytes, 0.6% of
    the 20 GiB limit); RPO 60 s: ``repl-timeout`` 15, ping every 2 s. Staging: 200 req/s gives
    8,985,600 B (8.6 MiB), so the 64 MiB floor (67,108,864 bytes); ``repl-timeout`` 15.
    """
    problem = _replication_problem(cfg)
    if problem is not None:
        loc, message = problem
        raise SettingsError([f"{_config_key(loc)}: {message}"])
    backlog, _ = _replication_backlog(cfg)
    return {
        "min-replicas-to-write": "1",
        "min-replicas-max-lag": "10",
        "repl-backlog-size": str(backlog),
        "repl-timeout": str(_repl_timeout(cfg)),
        "repl-ping-replica-period": str(REPL_PING_REPLICA_PERIOD),
    }
