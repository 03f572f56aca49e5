"""Redis HTTP Gateway platform: settings -> providers -> components -> exports."""

from dataclasses import replace
from pathlib import Path

import pulumi
import pulumi_aws as aws

import settings
from components._shared import label_kubernetes_objects
from components.backup_vault import (
    BACKUP_DEADLINE,
    BACKUP_PREFIX,
    REPLICATION_TIME_MINUTES,
    SNAPSHOT_MAX_AGE_SECONDS,
    BackupVault,
    BackupVaultArgs,
)
from components.deploy_runner import DeployRunner, DeployRunnerArgs
from components.dr_region import DrRegion, DrRegionArgs
from components.eks_cluster import DEFAULT_STORAGE_CLASS, EksCluster, EksClusterArgs, NodeGroupSpec
from components.monitoring_stack import MonitoringStack, MonitoringStackArgs, standby_lag_threshold_seconds
from components.readiness_audit import ReadinessAudit, ReadinessAuditArgs
from components.redis_gateway import (
    MASTER_GROUP,
    PROMETHEUS_URL,
    REDIS,
    REDIS_AUTH_SECRET,
    SENTINEL,
    SENTINEL_PORT,
    Delivery,
    HealthCheck,
    RedisGateway,
    RedisGatewayArgs,
    Resources,
    sentinel_quorum,
)
from components.vpc import Vpc, VpcArgs

cfg = settings.from_pulumi_config()
# Every Kubernetes object says it is managed by Pulumi, in its desired state (server-side apply keeps it).
pulumi.runtime.register_stack_transformation(label_kubernetes_objects)
secrets = settings.secrets_from_pulumi_config(cfg)
stack = pulumi.get_stack()
cluster_name = f"redisgw-{stack}"

default_tags = aws.ProviderDefaultTagsArgs(tags=dict(cfg.tags))
primary = aws.Provider("primary", region=cfg.region, default_tags=default_tags)
dr = aws.Provider("dr", region=cfg.dr.region, default_tags=default_tags) if cfg.dr.enabled else None
in_primary = pulumi.ResourceOptions(providers={"aws": primary})

vpc_args = VpcArgs(
    cidr=cfg.network.cidr,
    availability_zones=cfg.network.availability_zones,
    region=cfg.region,
    cluster_name=cluster_name,
    nat_gateways=cfg.network.nat_gateways,
    flow_log_retention_days=cfg.network.flow_log_retention_days,
    protect=cfg.protect_stateful_resources,
)
vpc = Vpc("primary", vpc_args, opts=in_primary)

control_plane_version, node_version = settings.cluster_versions(cfg)
cluster_args = EksClusterArgs(
    cluster_name=cluster_name,
    version=control_plane_version,
    node_version=node_version,
    region=cfg.region,
    vpc_id=vpc.vpc_id,
    private_subnet_ids=vpc.private_subnet_ids,
    public_subnet_ids=vpc.public_subnet_ids,
    main_node_group=NodeGroupSpec(**cfg.cluster.node_groups.main.model_dump()),
    redis_node_group=NodeGroupSpec(**cfg.cluster.node_groups.redis.model_dump()),
    endpoint_public_access=cfg.cluster.endpoint_public_access,
    public_access_cidrs=cfg.cluster.public_access_cidrs,
    admin_role_arns=cfg.cluster.admin_role_arns,
    view_role_arns=(cfg.delivery.runner.preview_role_arn,) if cfg.delivery.runner else (),
    log_retention_days=cfg.cluster.log_retention_days,
    deletion_protection=cfg.cluster.deletion_protection,
    protect=cfg.protect_stateful_resources,
    tags=cfg.tags,
)
cluster = EksCluster("primary", cluster_args, opts=in_primary)

if cfg.delivery.runner is not None:
    DeployRunner(
        "ci",
        DeployRunnerArgs(
            stack=stack,
            repository=cfg.delivery.runner.repository,
            deploy_ref=cfg.delivery.runner.deploy_ref,
            deploy_role_arn=cfg.delivery.runner.deploy_role_arn,
            preview_role_arn=cfg.delivery.runner.preview_role_arn,
            compute_type=cfg.delivery.runner.compute_type,
            region=cfg.region,
            vpc_id=vpc.vpc_id,
            subnet_ids=vpc.private_subnet_ids,
            cluster_security_group_id=cluster.cluster_security_group_id,
            log_retention_days=cfg.cluster.log_retention_days,
            protect=cfg.protect_stateful_resources,
        ),
        opts=in_primary,
    )

in_cluster = pulumi.ResourceOptions(providers={"aws": primary, "kubernetes": cluster.provider})

monitoring_args = MonitoringStackArgs(
    prometheus_retention=cfg.monitoring.prometheus_retention,
    prometheus_storage_size=cfg.monitoring.prometheus_storage_size,
    storage_class=DEFAULT_STORAGE_CLASS,
    slack_channel=cfg.monitoring.slack_channel,
    slack_webhook_url=secrets.alert_slack_webhook_url,
    pagerduty_routing_key=secrets.alert_pagerduty_routing_key,
    heartbeat_url=secrets.alert_heartbeat_url,
    runbook_base_url=cfg.monitoring.runbook_base_url,
    gateway_namespace=cfg.gateway.namespace,
    redis_replicas=cfg.redis.replicas,
    availability_slo=cfg.monitoring.availability_slo,
    latency_p99_seconds=cfg.monitoring.latency_p99_seconds,
    backup_max_age_seconds=settings.backup_max_age_seconds(cfg, BACKUP_DEADLINE),
    rpo_seconds=cfg.dr.rpo_seconds,
)
monitoring = MonitoringStack("monitoring", monitoring_args, opts=in_cluster)

standby_link = cfg.dr.enabled and cfg.dr.replication == "replica"
# The drill's pod holds the dataset: the quota and the CronJob take the same figure.
drill_memory = settings.drill_memory(cfg, Path(__file__).parent)
gateway_args = RedisGatewayArgs(
    namespace=cfg.gateway.namespace,
    image=cfg.gateway.image,
    hostname=cfg.gateway.hostname,
    hosted_zone_id=cfg.gateway.hosted_zone_id,
    min_replicas=cfg.gateway.replicas.min,
    max_replicas=cfg.gateway.replicas.max,
    target_cpu_utilization=cfg.gateway.replicas.target_cpu_utilization,
    resources=Resources(**cfg.gateway.resources.model_dump()),
    rate_limit=cfg.gateway.rate_limit,
    log_level=cfg.gateway.log_level,
    vpc_cidr=cfg.network.cidr,
    storage_class=DEFAULT_STORAGE_CLASS,
    monitoring_namespace="monitoring",
    redis_image=cfg.redis.image,
    redis_sentinel_image=cfg.redis.sentinel_image,
    redis_exporter_image=cfg.redis.exporter_image,
    redis_replicas=cfg.redis.replicas,
    redis_sentinels=cfg.redis.sentinels,
    redis_storage_size=cfg.redis.storage_size,
    redis_resources=Resources(**cfg.redis.resources.model_dump()),
    redis_maxmemory_percent=cfg.redis.maxmemory_percent,
    redis_replication=settings.redis_replication_config(cfg),
    environment=stack,
    region=cfg.region,
    edge_log_retention_days=cfg.cluster.log_retention_days,
    protect=cfg.protect_stateful_resources,
    delivery=Delivery(
        strategy=cfg.delivery.strategy,
        min_success_rate=cfg.delivery.analysis.min_success_rate,
        max_latency_p99_seconds=cfg.delivery.analysis.max_latency_p99_seconds,
        interval=cfg.delivery.analysis.interval,
        count=cfg.delivery.analysis.count,
        failure_limit=cfg.delivery.analysis.failure_limit,
        canary_steps=tuple((step.weight, step.pause) for step in cfg.delivery.canary_steps),
        scale_down_delay_seconds=cfg.delivery.scale_down_delay_seconds,
        max_surge=cfg.delivery.max_surge,
        max_unavailable=cfg.delivery.max_unavailable,
        smoke_image=cfg.delivery.smoke_image or cfg.backup.ops_image,
    ),
    oidc_provider_arn=cluster.oidc_provider_arn,
    oidc_issuer=cluster.oidc_issuer,
    failover="PRIMARY" if cfg.dr.enabled else None,
    health_check=HealthCheck(**cfg.dr.health_check.model_dump()),
    redis_peer_cidr=cfg.dr.vpc_cidr if standby_link else None,
    capacity=settings.capacity_record(cfg, Path(__file__).parent),
    drill_memory=drill_memory,
)
gateway = RedisGateway(
    "gateway",
    gateway_args,
    # ServiceMonitor, PodMonitor and PrometheusRule CRDs come with the monitoring chart.
    opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[monitoring])),
)

backup_args = BackupVaultArgs(
    region=cfg.region,
    namespace=cfg.gateway.namespace,
    ops_image=cfg.backup.ops_image,
    schedule=cfg.backup.schedule,
    drill_schedule=cfg.backup.drill_schedule,
    scratch_size=cfg.backup.scratch_size,
    drill_memory=drill_memory,
    storage_class=DEFAULT_STORAGE_CLASS,
    infrequent_access_after_days=cfg.backup.infrequent_access_after_days,
    glacier_after_days=cfg.backup.glacier_after_days,
    expire_after_days=cfg.backup.expire_after_days,
    snapshot_retention_days=cfg.backup.snapshot_retention_days,
    object_lock_days=cfg.backup.object_lock.days if cfg.backup.object_lock.enabled else None,
    object_lock_mode=cfg.backup.object_lock.mode,
    vault_lock=cfg.backup.vault_lock.model_dump(exclude={"enabled"}) if cfg.backup.vault_lock.enabled else None,
    oidc_provider_arn=cluster.oidc_provider_arn,
    oidc_issuer=cluster.oidc_issuer,
    sentinel_address=f"{SENTINEL}.{cfg.gateway.namespace}.svc.cluster.local:{SENTINEL_PORT}",
    master_name=MASTER_GROUP,
    redis_password_secret=REDIS_AUTH_SECRET,
    redis_app_label=REDIS,
    dr_provider=dr,
    dr_region=cfg.dr.region if cfg.dr.enabled else None,
    runbook_base_url=cfg.monitoring.runbook_base_url,
    ops_repository_name=f"{cluster_name}/ops",
    image_pull_role_arns=(cluster.node_role_arn,),
    protect=cfg.protect_stateful_resources,
)
backups = BackupVault(
    "backups",
    # The jobs run in the gateway's namespace and read its Redis password Secret.
    replace(backup_args, jobs_after=(gateway,)),
    opts=in_cluster,
)

backup_max_age = settings.backup_max_age_seconds(cfg, BACKUP_DEADLINE)
ReadinessAudit(
    "readiness",
    ReadinessAuditArgs(
        stack=stack,
        namespace=cfg.gateway.namespace,
        namespaces=(cfg.gateway.namespace, monitoring_args.namespace),
        ops_image=cfg.backup.ops_image,
        schedule=cfg.monitoring.readiness_schedule,
        region=cfg.region,
        cluster_name=cluster.cluster_name,
        kubernetes=cluster.declared_versions,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        prometheus_url=PROMETHEUS_URL,
        prometheus_namespace=monitoring_args.namespace,
        availability_slo=cfg.monitoring.availability_slo,
        backup_bucket=backups.bucket_name,
        backup_bucket_arn=backups.bucket_arn,
        backup_key_arn=backups.key_arn,
        backup_prefix=BACKUP_PREFIX,
        backup_max_age_seconds=backup_max_age,
        replica_bucket=backups.replica_bucket_name.apply(str) if dr is not None else None,
        replica_bucket_arn=backups.replica_bucket_arn.apply(str) if dr is not None else None,
        replica_key_arn=backups.dr_key_arn.apply(str) if dr is not None else None,
        replica_region=cfg.dr.region,
        replica_max_age_seconds=backup_max_age + 60 * REPLICATION_TIME_MINUTES,
        vault_name=backups.vault_name,
        vault_arn=backups.vault_arn,
        dr_vault_name=backups.dr_vault_name.apply(str) if dr is not None else None,
        dr_vault_arn=backups.dr_vault_arn.apply(str) if dr is not None else None,
        vault_max_age_seconds=SNAPSHOT_MAX_AGE_SECONDS,
        hostname=cfg.gateway.hostname,
        certificate_arn=gateway.certificate_arn,
        web_acl_arn=gateway.web_acl_arn,
        health_check_id=gateway.health_check_id,
        dr_lag_max_seconds=standby_lag_threshold_seconds(cfg.dr.rpo_seconds) if standby_link else None,
        redis_replication=REDIS,
        redis_replicas=cfg.redis.replicas,
        redis_sentinels=cfg.redis.sentinels,
        redis_quorum=sentinel_quorum(cfg.redis.sentinels),
        # Every pod of the DR tier replicates from this region through the link (the same `replicaof`).
        redis_standby_replicas=cfg.redis.replicas if standby_link else 0,
    ),
    # The CronJob runs in the gateway's namespace, beside the backups it judges.
    opts=pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[backups])),
)

if dr is not None:
    assert cfg.dr.region is not None and cfg.dr.vpc_cidr is not None and cfg.dr.node_groups is not None
    dr_cluster_name = f"{cluster_name}-dr"
    dr_control_plane_version, dr_node_version = settings.cluster_versions(cfg, dr=True)
    dr_region = DrRegion(
        "dr",
        DrRegionArgs(
            stack=stack,
            region=cfg.dr.region,
            provider=dr,
            primary_provider=primary,
            vpc=replace(
                vpc_args,
                cidr=cfg.dr.vpc_cidr,
                availability_zones=cfg.dr.availability_zones,
                region=cfg.dr.region,
                cluster_name=dr_cluster_name,
            ),
            cluster=replace(
                cluster_args,
                cluster_name=dr_cluster_name,
                region=cfg.dr.region,
                version=dr_control_plane_version,
                node_version=dr_node_version,
                main_node_group=NodeGroupSpec(**cfg.dr.node_groups.main.model_dump()),
                redis_node_group=NodeGroupSpec(**cfg.dr.node_groups.redis.model_dump()),
            ),
            monitoring=replace(monitoring_args, heartbeat_url=secrets.alert_dr_heartbeat_url),
            gateway=replace(
                gateway_args,
                min_replicas=cfg.dr.gateway_min_replicas,
                vpc_cidr=cfg.dr.vpc_cidr,
                region=cfg.dr.region,
                failover="SECONDARY",
            ),
            primary_region=cfg.region,
            primary_vpc_id=vpc.vpc_id,
            primary_cidr=cfg.network.cidr,
            primary_zones=len(cfg.network.availability_zones),
            primary_route_table_ids=vpc.private_route_table_ids,
            primary_cluster_security_group_id=cluster.cluster_security_group_id,
            primary_redis_link=gateway.redis_link_hostname if standby_link else None,
            redis_password=gateway.redis_password,
            backup=replace(backup_args, dr_provider=None, dr_region=None),
            replica_bucket=backups.replica_bucket_name.apply(str),
            replica_bucket_arn=backups.replica_bucket_arn.apply(str),
            replica_key_arn=backups.dr_key_arn.apply(str),
            protect=cfg.protect_stateful_resources,
        ),
    )
    pulumi.export("drClusterName", dr_region.cluster_name)
    pulumi.export("drLoadBalancerHostname", dr_region.load_balancer_hostname)
    pulumi.export("drRedisAuthSecretArn", dr_region.redis_auth_secret_arn)

pulumi.export("region", cfg.region)
pulumi.export("vpcId", vpc.vpc_id)
pulumi.export("privateSubnetIds", vpc.private_subnet_ids)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("apiUrl", gateway.url)
pulumi.export("loadBalancerHostname", gateway.load_balancer_hostname)
pulumi.export("webAclArn", gateway.web_acl_arn)
pulumi.export("grafanaAdminSecret", monitoring.grafana_admin_secret)
pulumi.export("backupBucket", backups.bucket_name)
pulumi.export("backupReplicaBucket", backups.replica_bucket_name)
pulumi.export("backupVaultArn", backups.vault_arn)
pulumi.export("opsImageRepositoryUrl", backups.ops_repository_url)
