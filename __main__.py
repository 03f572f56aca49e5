"""Redis HTTP Gateway platform: settings -> providers -> components -> exports."""

import pulumi
import pulumi_aws as aws

import settings
from components.eks_cluster import EksCluster, EksClusterArgs, NodeGroupSpec
from components.vpc import Vpc, VpcArgs

cfg = settings.from_pulumi_config()
stack = pulumi.get_stack()
cluster_name = f"redisgw-{stack}"

primary = aws.Provider("primary", region=cfg.region, default_tags=aws.ProviderDefaultTagsArgs(tags=dict(cfg.tags)))
in_primary = pulumi.ResourceOptions(providers={"aws": primary})

vpc = Vpc(
    "primary",
    VpcArgs(
        cidr=cfg.network.cidr,
        availability_zones=cfg.network.availability_zones,
        region=cfg.region,
        cluster_name=cluster_name,
        nat_gateways=cfg.network.nat_gateways,
        flow_log_retention_days=cfg.network.flow_log_retention_days,
        protect=cfg.protect_stateful_resources,
    ),
    opts=in_primary,
)

cluster = EksCluster(
    "primary",
    EksClusterArgs(
        cluster_name=cluster_name,
        version=cfg.cluster.version,
        region=cfg.region,
        vpc_id=vpc.vpc_id,
        private_subnet_ids=vpc.private_subnet_ids,
        public_subnet_ids=vpc.public_subnet_ids,
        main_node_group=NodeGroupSpec(**cfg.cluster.node_groups.main.model_dump()),
        redis_node_group=NodeGroupSpec(**cfg.cluster.node_groups.redis.model_dump()),
        endpoint_public_access=cfg.cluster.endpoint_public_access,
        public_access_cidrs=cfg.cluster.public_access_cidrs,
        admin_role_arns=cfg.cluster.admin_role_arns,
        log_retention_days=cfg.cluster.log_retention_days,
        deletion_protection=cfg.cluster.deletion_protection,
        protect=cfg.protect_stateful_resources,
        tags=cfg.tags,
    ),
    opts=in_primary,
)

pulumi.export("region", cfg.region)
pulumi.export("vpcId", vpc.vpc_id)
pulumi.export("privateSubnetIds", vpc.private_subnet_ids)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("kubeconfig", cluster.kubeconfig)
