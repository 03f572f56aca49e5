"""Part: the Redis data tier.

Redis from the OT-Container-Kit redis-operator (Helm chart and CRDs): a ``RedisReplication`` of one
primary and N-1 replicas with AOF ``everysec`` on encrypted gp3 volumes, on the tainted ``redis``
node group only, one pod per node and spread across zones, exporter on (and a PodMonitor), the
password in a Secret; and a ``RedisSentinel`` quorum on the general nodes for failover within the
region. The operator project's own images (``quay.io/opstree``) are used, pinned; never Bitnami.

With DR on, the tier of each region is reachable from the other region's VPC range only, through an
internal Network Load Balancer (Service ``redis-link``, IP targets, client IPs preserved so that the
NetworkPolicy and the load balancer's source ranges can name the peer range). A **standby** tier
(``args.redis_upstream`` set) replicates from the primary region's link (``replicaof`` in its
configuration; ``masterauth`` is the shared password the operator already sets) and runs no
Sentinel: Sentinel would take a primary that reports itself a replica for a failed one and promote a
pod, cutting the link. The Sentinel manifest is kept in the ConfigMap ``redis-dr-sentinel`` instead;
``ops dr failover`` creates it from there once the standby is promoted, and failback removes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components._shared import SERVING_PRIORITY_CLASS, helm_release
from components._tier import (
    _RESTRICTED_CONTAINER,
    EXPORTER_PORT,
    MASTER_GROUP,
    REDIS,
    REDIS_AUTH_SECRET,
    REDIS_OPERATOR_CHART,
    REDIS_PORT,
    REDIS_SERVICE_ACCOUNT,
    SENTINEL,
    RedisGatewayArgs,
    Resources,
    _selector,
    meta,
    redis_placement,
    sentinel_quorum,
)
from components.eks_cluster import MAIN_NODE_LABELS

LINK_SERVICE = "redis-link"
"""The internal NLB Service the other region replicates through."""
DR_SENTINEL_CONFIGMAP = "redis-dr-sentinel"
"""Holds (key ``sentinel.json``) the RedisSentinel a promoted standby needs; ``ops dr failover`` applies it."""
BASE_CONFIG = (
    "appendonly yes",
    "appendfsync everysec",
    "aof-use-rdb-preamble yes",
    "maxmemory-policy noeviction",
    "save 900 1 300 100 60 10000",
    "repl-diskless-sync yes",
)
"""``redis-additional.conf`` of every tier, before the plan's replication directives
(``args.redis_replication``). A standby adds ``replicaof``."""


POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Pod security context of the Redis and Sentinel pods (the opstree images run as UID 1000)."""


@dataclass(frozen=True)
class RedisTier:
    secret: k8s.core.v1.Secret
    """The Secret ``redis-auth`` (key ``password``) the gateway and the jobs read."""
    password: pulumi.Output[str]
    """The Redis password (secret), for the DR region's store."""
    link_hostname: pulumi.Output[str] | None
    """DNS name of the internal NLB the other region replicates through (DR on)."""


def redis_config(args: RedisGatewayArgs) -> pulumi.Output[str]:
    """The tier's ``redis-additional.conf``: the base, the plan's replication directives (the same in
    both regions: every pod's backlog lets its replicas resume, and a promoted standby serves the
    old primary from its own), and for a standby ``replicaof`` the primary region's link."""
    lines = [*BASE_CONFIG, *(f"{directive} {value}" for directive, value in args.redis_replication.items())]
    if args.redis_upstream is None:
        return pulumi.Output.from_input("\n".join(lines) + "\n")
    return pulumi.Output.from_input(args.redis_upstream).apply(
        lambda host: "\n".join([*lines, f"replicaof {host} {REDIS_PORT}"]) + "\n"
    )


# ``spec.priorityClassName`` (a string the operator copies into the StatefulSet's pod template) is in
# both CRDs at the pinned chart: OT-CONTAINER-KIT/redis-operator charts/redis-operator/crds/crds.yaml at
# chart 0.25.0 (commit 715ee3b0), RedisReplication and RedisSentinel v1beta2,
# openAPIV3Schema.properties.spec.properties.priorityClassName {type: string}. (The Sentinel CRD has a
# second one under redisSentinelConfig; that is not the pods'.)
PRIORITY_CLASS_FIELD = "priorityClassName"


def sentinel_spec(args: RedisGatewayArgs) -> dict[str, Any]:
    """``spec`` of the RedisSentinel: a quorum on the general nodes, spread across zones."""
    secret_ref = {"name": REDIS_AUTH_SECRET, "key": "password"}
    return {
        "clusterSize": args.redis_sentinels,
        "kubernetesConfig": {
            "image": args.redis_sentinel_image,
            "imagePullPolicy": "IfNotPresent",
            "resources": Resources(
                cpu_request="100m", memory_request="128Mi", cpu_limit="200m", memory_limit="256Mi"
            ).spec(),
            "redisSecret": secret_ref,
        },
        "redisSentinelConfig": {
            "redisReplicationName": REDIS,
            "redisReplicationPassword": {"secretKeyRef": secret_ref},
            "masterGroupName": MASTER_GROUP,
            "redisPort": str(REDIS_PORT),
            "quorum": str(sentinel_quorum(args.redis_sentinels)),
            "downAfterMilliseconds": "5000",
            "failoverTimeout": "60000",
            "parallelSyncs": "1",
        },
        "podSecurityContext": POD_SECURITY,
        "securityContext": _RESTRICTED_CONTAINER,
        "serviceAccountName": REDIS_SERVICE_ACCOUNT,
        PRIORITY_CLASS_FIELD: SERVING_PRIORITY_CLASS,
        "pdb": {"enabled": True, "minAvailable": sentinel_quorum(args.redis_sentinels)},
        "nodeSelector": dict(MAIN_NODE_LABELS),
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": _selector(SENTINEL),
            }
        ],
    }


def redis_tier(name: str, args: RedisGatewayArgs, parent: pulumi.Resource, ns: k8s.core.v1.Namespace) -> RedisTier:
    """Declare the operator, the password Secret, the configuration, Redis and (serving) Sentinel."""
    child = pulumi.ResourceOptions(parent=parent)
    in_ns = pulumi.ResourceOptions(parent=parent, depends_on=[ns])
    ns_name = args.namespace
    operator_release = helm_release(
        f"{name}-redis-operator",
        REDIS_OPERATOR_CHART,
        namespace="redis-operator",
        create_namespace=True,
        opts=child,
        values={
            "redisOperator": {"watchNamespace": ns_name},
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "256Mi"},
            },
        },
    )
    if args.redis_password is None:
        password: pulumi.Output[str] = random.RandomPassword(
            f"{name}-redis-password", length=40, special=False, opts=child
        ).result
    else:
        password = pulumi.Output.secret(args.redis_password)
    redis_secret = k8s.core.v1.Secret(
        f"{name}-redis-auth",
        metadata=meta(args, REDIS_AUTH_SECRET),
        type="Opaque",
        string_data={"password": password},
        opts=in_ns,
    )
    config = k8s.core.v1.ConfigMap(
        f"{name}-redis-config",
        metadata=meta(args, "redis-extra-config"),
        data={"redis-additional.conf": redis_config(args)},
        opts=in_ns,
    )
    account = k8s.core.v1.ServiceAccount(
        f"{name}-redis-sa",
        metadata=meta(args, REDIS_SERVICE_ACCOUNT),
        automount_service_account_token=False,
        opts=in_ns,
    )
    secret_ref = {"name": REDIS_AUTH_SECRET, "key": "password"}
    # The CRDs come with the operator chart; the password Secret, config and account are read at start.
    with_operator = pulumi.ResourceOptions(parent=parent, depends_on=[operator_release, redis_secret, config, account])
    k8s.apiextensions.CustomResource(
        f"{name}-redis",
        api_version="redis.redis.opstreelabs.in/v1beta2",
        kind="RedisReplication",
        metadata=meta(args, REDIS),
        spec={
            "clusterSize": args.redis_replicas,
            "kubernetesConfig": {
                "image": args.redis_image,
                "imagePullPolicy": "IfNotPresent",
                "resources": args.redis_resources.spec(),
                "redisSecret": secret_ref,
            },
            "redisConfig": {
                "additionalRedisConfig": "redis-extra-config",
                "maxMemoryPercentOfLimit": args.redis_maxmemory_percent,
            },
            "redisExporter": {
                "enabled": True,
                "image": args.redis_exporter_image,
                "port": EXPORTER_PORT,
                "resources": Resources(
                    cpu_request="100m", memory_request="128Mi", cpu_limit="100m", memory_limit="128Mi"
                ).spec(),
                "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True, "runAsNonRoot": True},
            },
            "storage": {
                "keepAfterDelete": True,
                "volumeClaimTemplate": {
                    "spec": {
                        "storageClassName": args.storage_class,
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": args.redis_storage_size}},
                    }
                },
            },
            "podSecurityContext": POD_SECURITY,
            "securityContext": _RESTRICTED_CONTAINER,
            "serviceAccountName": REDIS_SERVICE_ACCOUNT,
            PRIORITY_CLASS_FIELD: SERVING_PRIORITY_CLASS,
            "pdb": {"enabled": True, "minAvailable": args.redis_replicas - 1},
            **redis_placement(args),
        },
        # Deleting the resource deletes the Redis pods and, with them, the data tier.
        opts=pulumi.ResourceOptions.merge(with_operator, pulumi.ResourceOptions(protect=args.protect)),
    )
    sentinel = {
        "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
        "kind": "RedisSentinel",
        "metadata": meta(args, REDIS),
        "spec": sentinel_spec(args),
    }
    if args.redis_upstream is None:
        k8s.apiextensions.CustomResource(
            f"{name}-sentinel",
            api_version=sentinel["apiVersion"],
            kind=sentinel["kind"],
            metadata=sentinel["metadata"],
            spec=sentinel["spec"],
            opts=with_operator,
        )
    else:
        k8s.core.v1.ConfigMap(
            f"{name}-dr-sentinel",
            metadata=meta(args, DR_SENTINEL_CONFIGMAP),
            data={"sentinel.json": json.dumps(sentinel, sort_keys=True)},
            opts=in_ns,
        )
    k8s.apiextensions.CustomResource(
        f"{name}-redis-podmonitor",
        api_version="monitoring.coreos.com/v1",
        kind="PodMonitor",
        metadata=meta(args, REDIS),
        spec={
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [REDIS]}]},
            "namespaceSelector": {"matchNames": [ns_name]},
            # The DR standby's every 5 s: its lag alert must see the link within half the RPO.
            "podMetricsEndpoints": [
                {"port": "redis-exporter", "interval": "5s" if args.redis_upstream is not None else "15s"}
            ],
        },
        opts=in_ns,
    )

    link_hostname = _link(name, args, parent, ns) if args.redis_peer_cidr else None
    return RedisTier(secret=redis_secret, password=password, link_hostname=link_hostname)


def _link(name: str, args: RedisGatewayArgs, parent: pulumi.Resource, ns: k8s.core.v1.Namespace) -> pulumi.Output[str]:
    """The Redis port, for the other region's range only: internal NLB and the NetworkPolicies."""
    assert args.redis_peer_cidr is not None
    in_ns = pulumi.ResourceOptions(parent=parent, depends_on=[ns])
    peer = {"ipBlock": {"cidr": args.redis_peer_cidr}}
    port = {"protocol": "TCP", "port": REDIS_PORT}
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-redis-from-peer-region",
        metadata=meta(args, "redis-from-peer-region"),
        spec={
            "podSelector": _selector(REDIS),
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [peer], "ports": [port]}],
        },
        opts=in_ns,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-redis-to-peer-region",
        metadata=meta(args, "redis-to-peer-region"),
        spec={"podSelector": _selector(REDIS), "policyTypes": ["Egress"], "egress": [{"to": [peer], "ports": [port]}]},
        opts=in_ns,
    )
    service = k8s.core.v1.Service(
        f"{name}-redis-link",
        metadata={
            **meta(args, LINK_SERVICE),
            "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                # A pod that leaves the target group (promoted to primary: its redis-role label
                # changes) has its connections closed after 10 s, so the standby reconnects to a replica
                # instead of staying on the primary (an NLB keeps established flows by default).
                "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": (
                    "preserve_client_ip.enabled=true,deregistration_delay.timeout_seconds=10,"
                    "deregistration_delay.connection_termination.enabled=true"
                ),
                "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
            },
        },
        spec={
            "type": "LoadBalancer",
            "loadBalancerClass": "service.k8s.aws/nlb",
            "allocateLoadBalancerNodePorts": False,  # IP targets: no node ports (the quota allows none)
            # Replicas only: the standby replicates from an in-region replica, which keeps the
            # cross-region stream off the primary. The redis-operator (v0.25.0,
            # internal/controller/common/redis/heal.go UpdateRedisRoleLabel) moves `redis-role:
            # master|slave` as roles change, on its 30 s reconcile: right after a local failover the
            # standby may reconnect to the promoted pod until its label moves and the connection is
            # closed (above). The alerts count local replicas from the replicas' side either way.
            "selector": {"app": REDIS, "redis-role": "slave"},
            "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": REDIS_PORT, "protocol": "TCP"}],
            "loadBalancerSourceRanges": [args.redis_peer_cidr],
        },
        opts=in_ns,
    )
    return service.status.apply(lambda s: s.load_balancer.ingress[0].hostname)
