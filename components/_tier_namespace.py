"""Part: the tier's namespace and its guard rails (and the capacity record the capacity policy reads).

The cluster's PriorityClasses of the tier (:func:`components._shared.priority_classes`): serving for
the gateway, Redis and Sentinel, batch for the jobs; every region that builds the tier declares them
in its cluster. Pod Security ``baseline`` enforced (``restricted`` warned and audited), ALB pod readiness gates, a
ResourceQuota sized from the configured maxima (:func:`components._tier.quota`), a LimitRange, and
NetworkPolicies that deny everything but the flows the tier needs
(:func:`components._tier.network_policies`).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from components._shared import priority_classes
from components._tier import GATEWAY, PART_OF, RedisGatewayArgs, cpu_millis, mebibytes, meta, network_policies, quota


def tier_namespace(name: str, args: RedisGatewayArgs, parent: pulumi.Resource) -> k8s.core.v1.Namespace:
    """The namespace, once its quota, limits and NetworkPolicies are declared."""
    child = pulumi.ResourceOptions(parent=parent)
    ns_name = args.namespace
    part_of = PART_OF
    classes = [
        k8s.scheduling.v1.PriorityClass(
            f"{name}-priority-{class_name.removeprefix(GATEWAY + '-')}",
            metadata={"name": class_name, "labels": dict(part_of)},
            **fields,
            opts=child,
        )
        for class_name, fields in priority_classes().items()
    ]
    ns = k8s.core.v1.Namespace(
        f"{name}-ns",
        metadata={
            "name": ns_name,
            "labels": {
                **part_of,
                "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
        # Admission rejects a pod naming a missing class; everything of the tier waits for the namespace.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=classes),
    )
    in_ns = pulumi.ResourceOptions(parent=parent, depends_on=[ns])
    k8s.core.v1.ResourceQuota(
        f"{name}-quota", metadata=meta(args, "redis-gateway-quota"), spec={"hard": quota(args)}, opts=in_ns
    )
    biggest_cpu = max(args.resources.cpu_limit, args.redis_resources.cpu_limit, key=cpu_millis)
    biggest_mem = f"{max(mebibytes(args.resources.memory_limit), mebibytes(args.redis_resources.memory_limit))}Mi"
    k8s.core.v1.LimitRange(
        f"{name}-limits",
        metadata=meta(args, "redis-gateway-limits"),
        spec={
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    "max": {"cpu": biggest_cpu, "memory": biggest_mem},
                },
                {"type": "PersistentVolumeClaim", "max": {"storage": "1Ti"}},
            ]
        },
        opts=in_ns,
    )
    for policy_name, spec in network_policies(args, {"app": GATEWAY}).items():
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol-{policy_name}", metadata=meta(args, policy_name), spec=spec, opts=in_ns
        )

    if args.capacity is not None:
        k8s.core.v1.ConfigMap(
            f"{name}-capacity",
            metadata=meta(args, "redis-gateway-capacity"),
            data={"capacity.json": json.dumps(args.capacity, sort_keys=True)},
            opts=in_ns,
        )
    return ns
