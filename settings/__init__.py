"""Typed, validated stack settings, read once before any resource is declared.

Every difference between stacks is a value in ``Pulumi.<stack>.yaml``; this package turns those values
into one frozen :class:`StackSettings` object. Unknown keys are rejected, ranges and relations are
checked, and a broken file produces :class:`SettingsError` whose lines each name the file, the key
path and the rule that was broken, e.g.::

    Pulumi.production.yaml: redisgw:cluster.nodeGroups.main: minSize (4) must not exceed desiredSize (3)

Values are never echoed back, so a misplaced secret cannot leak through an error message.

One module per ``redisgw:`` key that ``Pulumi.yaml`` declares, named after it, so the config a reader
looks up and the code that validates it sit together (each section module states its key as ``KEY``):

=====================  ===================================================================
``network.py``         ``redisgw:network``
``cluster.py``         ``redisgw:cluster`` (and the Kubernetes versions the program supports)
``capacity.py``        ``redisgw:capacity``
``dr.py``              ``redisgw:dr``
``gateway.py``         ``redisgw:gateway``
``redis.py``           ``redisgw:redis`` (and the replication directives derived from it)
``monitoring.py``      ``redisgw:monitoring``
``backup.py``          ``redisgw:backup``
``delivery.py``        ``redisgw:delivery``
``tags.py``            ``redisgw:tags``
``stack.py``           :class:`StackSettings` (with ``aws:region`` and
                       ``redisgw:protectStatefulResources``), :func:`load_settings`
``secrets.py``         the alerting secrets (:data:`SECRET_KEYS`), read as secret Outputs
``_base.py``           the base model, :class:`SettingsError`, validators several sections share
=====================  ===================================================================

This module re-exports the public API, so callers keep to ``import settings`` and ``settings.X``.
"""

from settings._base import (
    LOG_RETENTION_DAYS,
    NAMESPACE,
    ResourcesSettings,
    SettingsError,
    cpu_millis,
    cron_schedule,
    log_retention,
    quantity_bytes,
)
from settings.backup import (
    OPS_IMAGE_RE,
    BackupSettings,
    ObjectLockSettings,
    VaultLockSettings,
    backup_max_age_seconds,
    ops_image,
    schedule_max_gap_seconds,
)
from settings.capacity import (
    BACKUP_BENCHMARK,
    DRILL_MEMORY_DEFAULT,
    CapacitySettings,
    ValueSizeSettings,
    capacity_record,
    drill_memory,
)
from settings.cluster import (
    SUPPORTED_KUBERNETES_MINORS,
    ClusterSettings,
    NodeGroupSettings,
    NodeGroupsSettings,
    cluster_versions,
)
from settings.delivery import AnalysisSettings, CanaryStep, DeliverySettings, RunnerSettings
from settings.dr import EKS_SERVICE_RANGES, DrSettings, HealthCheckSettings
from settings.gateway import GatewayReplicasSettings, GatewaySettings
from settings.monitoring import MonitoringSettings
from settings.network import NetworkSettings
from settings.redis import (
    MIB,
    REPL_BACKLOG_FLOOR_BYTES,
    REPL_BACKLOG_MAX_SHARE,
    REPL_PING_REPLICA_PERIOD,
    REPL_TIMEOUT_BOUNDS,
    REPL_WRITE_OVERHEAD_BYTES,
    RedisSettings,
    redis_replication_config,
)
from settings.secrets import (
    DR_ONLY_SECRET_KEYS,
    SECRET_KEYS,
    StackSecrets,
    _field,
    required_secret_keys,
    secrets_from_pulumi_config,
)
from settings.stack import KNOWN_NAMESPACES, StackSettings, from_pulumi_config, load_settings

__all__ = [
    "BACKUP_BENCHMARK",
    "DRILL_MEMORY_DEFAULT",
    "DR_ONLY_SECRET_KEYS",
    "EKS_SERVICE_RANGES",
    "KNOWN_NAMESPACES",
    "LOG_RETENTION_DAYS",
    "MIB",
    "NAMESPACE",
    "OPS_IMAGE_RE",
    "REPL_BACKLOG_FLOOR_BYTES",
    "REPL_BACKLOG_MAX_SHARE",
    "REPL_PING_REPLICA_PERIOD",
    "REPL_TIMEOUT_BOUNDS",
    "REPL_WRITE_OVERHEAD_BYTES",
    "SECRET_KEYS",
    "SUPPORTED_KUBERNETES_MINORS",
    "AnalysisSettings",
    "BackupSettings",
    "CanaryStep",
    "CapacitySettings",
    "ClusterSettings",
    "DeliverySettings",
    "DrSettings",
    "GatewayReplicasSettings",
    "GatewaySettings",
    "HealthCheckSettings",
    "MonitoringSettings",
    "NetworkSettings",
    "NodeGroupSettings",
    "NodeGroupsSettings",
    "ObjectLockSettings",
    "RedisSettings",
    "ResourcesSettings",
    "RunnerSettings",
    "SettingsError",
    "StackSecrets",
    "StackSettings",
    "ValueSizeSettings",
    "VaultLockSettings",
    "_field",
    "backup_max_age_seconds",
    "capacity_record",
    "cluster_versions",
    "cpu_millis",
    "cron_schedule",
    "drill_memory",
    "from_pulumi_config",
    "load_settings",
    "log_retention",
    "ops_image",
    "quantity_bytes",
    "redis_replication_config",
    "required_secret_keys",
    "schedule_max_gap_seconds",
    "secrets_from_pulumi_config",
]
