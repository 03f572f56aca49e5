"""DrRegion: the warm standby in the disaster-recovery region.

Built from the same building blocks as the primary, through the DR provider, at standby size:

* a :class:`~components.vpc.Vpc` and an :class:`~components.eks_cluster.EksCluster` (same Kubernetes
  version as the primary, node groups from ``redisgw:dr.nodeGroups``);
* a :class:`~components.monitoring_stack.MonitoringStack` whose Redis alerts are those of a standby
  (the link to the primary down, behind or resyncing, with the lag threshold derived from the RPO);
* the tier's parts (:class:`components.redis_gateway.Tier`): namespace guard rails, the Redis data
  tier as a **standby** replicating from the primary's Redis link, the gateway workload at
  ``redisgw:dr.gatewayMinReplicas`` pods, and an edge that mirrors the primary's (ACM certificate,
  ALB, WAF, access logs) behind the SECONDARY failover record of the API hostname.

Between the regions:

* **Inter-region VPC peering** (requested from the primary, accepted in DR), with routes from every
  private route table of each VPC to the other's range, and the cluster security groups opened for
  the Redis port only from the other range (and the DR cluster's API port from the primary range, for
  the deploy runner). AWS encrypts inter-region peering traffic; it never crosses the internet.
  Peering rather than Transit Gateway: two VPCs, one flow, no transitive routing needed, no hourly
  attachment charge, and no extra hop in the replication path.
* The Redis password reaches the DR region through **Secrets Manager**: a secret in the primary
  region, encrypted with its own KMS key and replicated to the DR region under a DR key. The DR tier
  reads the DR replica (so a failover with the primary region gone still has it), never a copy in
  clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pulumi
import pulumi_aws as aws

from components._shared import encryption_key
from components.backup_vault import BackupVaultArgs, backup_jobs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.monitoring_stack import MonitoringStack, MonitoringStackArgs
from components.redis_gateway import REDIS, REDIS_PORT, RedisGatewayArgs, Tier
from components.vpc import Vpc, VpcArgs

KUBERNETES_API_PORT = 443


@dataclass(frozen=True, kw_only=True)
class DrRegionArgs:
    """Inputs of :class:`DrRegion`: the standby's own building blocks, and what it needs of the primary."""

    stack: str
    region: str
    provider: aws.Provider
    """AWS provider of the DR region."""
    primary_provider: aws.Provider
    """AWS provider of the primary region (peering request, routes, the password's store)."""
    vpc: VpcArgs
    cluster: EksClusterArgs
    """The standby cluster; its VPC and subnet fields are filled in from the DR VPC."""
    monitoring: MonitoringStackArgs
    gateway: RedisGatewayArgs
    """The standby tier (DR sizes, region, ``failover="SECONDARY"``); Redis fields are filled in here."""
    primary_region: str
    primary_vpc_id: pulumi.Input[str]
    primary_cidr: str
    primary_zones: int
    """Zones (so private route tables) of the primary VPC."""
    primary_route_table_ids: pulumi.Input[list[str]]
    primary_cluster_security_group_id: pulumi.Input[str]
    primary_redis_link: pulumi.Input[str] | None
    """DNS name of the primary's Redis link; ``None`` (replication ``backups-only``): no standby link."""
    redis_password: pulumi.Input[str]
    """The primary's Redis password (secret), stored for the DR region."""
    backup: BackupVaultArgs
    """The primary's backup jobs; the standby runs the same into the replica bucket."""
    replica_bucket: pulumi.Input[str]
    replica_bucket_arn: pulumi.Input[str]
    replica_key_arn: pulumi.Input[str]
    protect: bool = True


class _Standby(pulumi.ComponentResource):
    """Scope of the standby's in-cluster parts: the DR AWS provider and the DR cluster's Kubernetes one."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("redisgw:index:DrStandby", name, None, opts)


class DrRegion(pulumi.ComponentResource):
    """The warm standby: VPC, cluster, monitoring, Redis standby, edge, peering and password store."""

    vpc_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    load_balancer_hostname: pulumi.Output[str]
    """The DR region's ALB (the SECONDARY record's target)."""
    peering_connection_id: pulumi.Output[str]
    redis_auth_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DrRegionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:DrRegion", name, None, opts)
        in_dr = pulumi.ResourceOptions(parent=self, providers={"aws": args.provider})
        in_primary = pulumi.ResourceOptions(parent=self, provider=args.primary_provider)
        dr_only = pulumi.ResourceOptions(parent=self, provider=args.provider)

        vpc = Vpc(name, args.vpc, opts=in_dr)
        cluster = EksCluster(
            name,
            replace(
                args.cluster,
                vpc_id=vpc.vpc_id,
                private_subnet_ids=vpc.private_subnet_ids,
                public_subnet_ids=vpc.public_subnet_ids,
            ),
            opts=in_dr,
        )
        peering = self._peering(name, args, vpc, cluster, in_primary, dr_only)
        password = self._password_store(name, args, in_primary, dr_only)

        in_cluster = pulumi.ResourceOptions(
            parent=self, providers={"aws": args.provider, "kubernetes": cluster.provider}
        )
        monitoring = MonitoringStack(f"{name}-monitoring", replace(args.monitoring, standby=True), opts=in_cluster)
        standby = _Standby(
            f"{name}-standby",
            # ServiceMonitor, PodMonitor and PrometheusRule CRDs come with the monitoring chart.
            pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[monitoring])),
        )
        tier = Tier(
            f"{name}-gateway",
            replace(
                args.gateway,
                redis_password=password,
                redis_upstream=args.primary_redis_link,
                redis_peer_cidr=args.primary_cidr if args.primary_redis_link is not None else None,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
            ),
            standby,
        )
        # Backups from the standby into the DR bucket, restore-drilled weekly there: independent of the
        # primary region, and already running when a failover makes the standby the primary.
        backup_jobs(
            f"{name}-backups",
            replace(
                args.backup,
                region=args.region,
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
            ),
            bucket=args.replica_bucket,
            bucket_arn=args.replica_bucket_arn,
            key_arn=args.replica_key_arn,
            source=["--redis-url", f"redis://{REDIS}.{args.gateway.namespace}.svc.cluster.local:{REDIS_PORT}"],
            parent=standby,
        )

        self.vpc_id = vpc.vpc_id
        self.cluster_name = cluster.cluster_name
        self.kubeconfig = cluster.kubeconfig
        self.load_balancer_hostname = tier.load_balancer_hostname
        self.peering_connection_id = peering.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "cluster_name": self.cluster_name,
                "load_balancer_hostname": self.load_balancer_hostname,
                "peering_connection_id": self.peering_connection_id,
                "redis_auth_secret_arn": self.redis_auth_secret_arn,
            }
        )

    def _peering(
        self,
        name: str,
        args: DrRegionArgs,
        vpc: Vpc,
        cluster: EksCluster,
        in_primary: pulumi.ResourceOptions,
        in_dr: pulumi.ResourceOptions,
    ) -> aws.ec2.VpcPeeringConnection:
        """Peering, routes both ways, and the cluster security groups opened for the Redis port only."""
        peering = aws.ec2.VpcPeeringConnection(
            f"{name}-peering",
            vpc_id=args.primary_vpc_id,
            peer_vpc_id=vpc.vpc_id,
            peer_region=args.region,
            auto_accept=False,  # cross-region: accepted by the accepter resource in the DR region
            tags={"Name": f"redisgw-{args.stack}-to-dr"},
            opts=in_primary,
        )
        accepter = aws.ec2.VpcPeeringConnectionAccepter(
            f"{name}-peering",
            vpc_peering_connection_id=peering.id,
            auto_accept=True,
            tags={"Name": f"redisgw-{args.stack}-from-primary"},
            opts=in_dr,
        )
        after = pulumi.ResourceOptions(depends_on=[accepter])

        def routes(
            side: str, tables: pulumi.Input[list[str]], zones: int, cidr: str, opts: pulumi.ResourceOptions
        ) -> None:
            all_ids: pulumi.Output[list[str]] = pulumi.Output.from_input(tables)
            for i in range(zones):
                aws.ec2.Route(
                    f"{name}-{side}-to-peer-{i}",
                    route_table_id=all_ids[i],
                    destination_cidr_block=cidr,
                    vpc_peering_connection_id=peering.id,
                    opts=pulumi.ResourceOptions.merge(opts, after),
                )

        routes("primary", args.primary_route_table_ids, args.primary_zones, args.vpc.cidr, in_primary)
        routes("dr", vpc.private_route_table_ids, len(args.vpc.availability_zones), args.primary_cidr, in_dr)

        def ingress(
            rule: str, group: pulumi.Input[str], cidr: str, port: int, what: str, opts: pulumi.ResourceOptions
        ) -> None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}",
                security_group_id=group,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=what,
                opts=opts,
            )

        if args.primary_redis_link is not None:
            ingress(
                "primary-redis-from-dr",
                args.primary_cluster_security_group_id,
                args.vpc.cidr,
                REDIS_PORT,
                "Redis replication from the DR region",
                in_primary,
            )
            ingress(
                "dr-redis-from-primary",
                cluster.cluster_security_group_id,
                args.primary_cidr,
                REDIS_PORT,
                "Redis replication from the primary region (failback)",
                in_dr,
            )
        ingress(
            "dr-api-from-primary",
            cluster.cluster_security_group_id,
            args.primary_cidr,
            KUBERNETES_API_PORT,
            "The DR cluster's private API endpoint, for the deploy runner in the primary VPC",
            in_dr,
        )
        return peering

    def _password_store(
        self, name: str, args: DrRegionArgs, in_primary: pulumi.ResourceOptions, in_dr: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """The password in Secrets Manager, replicated to the DR region; returned as the DR replica reads it."""
        stateful = pulumi.ResourceOptions(protect=args.protect)
        primary_key = encryption_key(
            f"{name}-redis-auth-key",
            description="Encrypts the Redis password in Secrets Manager (primary region)",
            region=args.primary_region,
            opts=pulumi.ResourceOptions.merge(in_primary, stateful),
        )
        dr_key = encryption_key(
            f"{name}-redis-auth-dr-key",
            description="Encrypts the Redis password in Secrets Manager (DR region)",
            region=args.region,
            opts=pulumi.ResourceOptions.merge(in_dr, stateful),
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-redis-auth",
            name=f"redisgw/{args.stack}/redis-auth",
            description="Password of the gateway's Redis, shared by the primary and DR tiers",
            kms_key_id=primary_key.arn,
            recovery_window_in_days=30,
            replicas=[aws.secretsmanager.SecretReplicaArgs(region=args.region, kms_key_id=dr_key.arn)],
            opts=pulumi.ResourceOptions.merge(in_primary, stateful),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-redis-auth",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(args.redis_password).apply(lambda p: json.dumps({"password": p})),
            opts=in_primary,
        )
        self.redis_auth_secret_arn = secret.arn
        replica = aws.secretsmanager.get_secret_version_output(
            secret_id=secret.name,
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider, depends_on=[version]),
        )
        return pulumi.Output.secret(replica.secret_string).apply(lambda text: str(json.loads(str(text))["password"]))
