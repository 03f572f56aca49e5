"""RedisGateway: the gateway workload, its Redis data tier and its public entry point, in one region.

It composes four parts, each readable and tested alone, which the DR region's
:class:`components.dr_region.DrRegion` composes too:

* the namespace and its guard rails (:mod:`components._tier_namespace`): Pod Security, quota,
  limits, default-deny NetworkPolicies with only the flows the tier needs;
* the Redis data tier (:mod:`components._redis_tier`): the redis-operator, a ``RedisReplication``
  with Sentinel, the password Secret and, with DR on, the cross-region link;
* the gateway workload and its delivery (:mod:`components._gateway_workload`): Argo Rollouts, the
  ``Rollout`` with its analysis, HPA, PDB, ServiceMonitor;
* the edge (:mod:`components._edge`): ACM certificate, WAF, ALB, access logs and the Route 53
  record (a failover record with DR on).

The arguments and the pure spec functions live in :mod:`components._tier` and are re-exported here.
"""

from __future__ import annotations

import pulumi

from components._edge import edge
from components._gateway_workload import gateway_workload
from components._redis_tier import redis_tier
from components._tier import (
    ARGO_ROLLOUTS_CHART,
    CANARY_SERVICE,
    EXPORTER_PORT,
    GATEWAY,
    HTTP_PORT,
    MASTER_GROUP,
    METRICS_PORT,
    PREVIEW_SERVICE,
    PROMETHEUS_URL,
    REDIS,
    REDIS_AUTH_SECRET,
    REDIS_OPERATOR_CHART,
    REDIS_PORT,
    SENTINEL,
    SENTINEL_PORT,
    SMOKE,
    WAIT_FOR_HEALTHY,
    Delivery,
    HealthCheck,
    RedisGatewayArgs,
    Resources,
    analysis_templates,
    cpu_millis,
    mebibytes,
    network_policies,
    pdb_min_available,
    quota,
    redis_placement,
    rollout_strategy,
    rollout_surge,
    sentinel_quorum,
)
from components._tier_namespace import tier_namespace

__all__ = [
    "ARGO_ROLLOUTS_CHART",
    "CANARY_SERVICE",
    "EXPORTER_PORT",
    "GATEWAY",
    "HTTP_PORT",
    "MASTER_GROUP",
    "METRICS_PORT",
    "PREVIEW_SERVICE",
    "PROMETHEUS_URL",
    "REDIS",
    "REDIS_AUTH_SECRET",
    "REDIS_OPERATOR_CHART",
    "REDIS_PORT",
    "SENTINEL",
    "SENTINEL_PORT",
    "SMOKE",
    "WAIT_FOR_HEALTHY",
    "Delivery",
    "HealthCheck",
    "RedisGateway",
    "RedisGatewayArgs",
    "Resources",
    "analysis_templates",
    "cpu_millis",
    "mebibytes",
    "network_policies",
    "pdb_min_available",
    "quota",
    "redis_placement",
    "rollout_strategy",
    "rollout_surge",
    "sentinel_quorum",
]


class Tier:
    """The four parts declared under ``parent``, and what the owning component exports of them."""

    def __init__(self, name: str, args: RedisGatewayArgs, parent: pulumi.Resource) -> None:
        ns = tier_namespace(name, args, parent)
        data = redis_tier(name, args, parent, ns)
        service = gateway_workload(name, args, parent, ns, data.secret)
        entry = edge(name, args, parent, service)
        self.namespace: pulumi.Output[str] = ns.metadata.name
        self.redis_password_secret: pulumi.Output[str] = data.secret.metadata.name
        self.redis_password = data.password
        self.redis_link_hostname = data.link_hostname
        self.load_balancer_hostname = entry.load_balancer_hostname
        self.web_acl_arn = entry.web_acl_arn
        self.health_check_id = entry.health_check_id
        self.certificate_arn = entry.certificate_arn


class RedisGateway(pulumi.ComponentResource):
    """The gateway, Redis with Sentinel, and the ALB/WAF/TLS/DNS entry point of the primary region."""

    namespace: pulumi.Output[str]
    """Namespace of the tier."""
    url: pulumi.Output[str]
    """Public HTTPS URL of the API."""
    load_balancer_hostname: pulumi.Output[str]
    """DNS name of the ALB the controller created."""
    web_acl_arn: pulumi.Output[str]
    """WAFv2 web ACL attached to the ALB."""
    redis_password_secret: pulumi.Output[str]
    """Name of the Secret with the Redis password (key ``password``)."""
    redis_password: pulumi.Output[str]
    """The Redis password (a secret Output), for the DR region's replicated store."""
    redis_link_hostname: pulumi.Output[str] | None
    """Internal NLB the DR region replicates through (DR on)."""
    certificate_arn: pulumi.Output[str]
    """ACM certificate of the API hostname."""
    health_check_id: pulumi.Output[str] | None
    """Route 53 health check of the PRIMARY failover record (DR on)."""

    def __init__(self, name: str, args: RedisGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:RedisGateway", name, None, opts)
        tier = Tier(name, args, self)
        self.namespace = tier.namespace
        self.url = pulumi.Output.from_input(f"https://{args.hostname}")
        self.load_balancer_hostname = tier.load_balancer_hostname
        self.web_acl_arn = tier.web_acl_arn
        self.redis_password_secret = tier.redis_password_secret
        self.redis_password = tier.redis_password
        self.redis_link_hostname = tier.redis_link_hostname
        self.certificate_arn = tier.certificate_arn
        self.health_check_id = tier.health_check_id
        self.register_outputs(
            {
                "namespace": self.namespace,
                "url": self.url,
                "load_balancer_hostname": self.load_balancer_hostname,
                "web_acl_arn": self.web_acl_arn,
                "redis_password_secret": self.redis_password_secret,
            }
        )
