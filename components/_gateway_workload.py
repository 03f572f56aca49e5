"""Part: the gateway workload and its delivery.

The gateway runs as an Argo ``Rollout`` (controller from its Helm chart, with an IRSA role to verify
ALB target groups): non-root, read-only root filesystem, no capabilities, probes on ``/healthz`` and
``/readyz`` (8080), metrics on 9090, spread across zones, with its own ServiceAccount and RBAC, an
HPA, a PDB consistent with the HPA minimum, a ServiceMonitor, configuration from a ConfigMap and the
Redis password from the Secret. The strategy (blue-green, canary or rolling) and its analysis come
from :func:`components._tier.rollout_strategy` and :func:`components._tier.analysis_templates`;
``pulumi.com/waitFor`` makes ``pulumi up`` wait for a healthy rollout.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components._shared import NON_ROOT_POD, SERVING_PRIORITY_CLASS, helm_release, irsa_role
from components._tier import (
    _RESTRICTED_CONTAINER,
    _TARGET_GROUP_READ,
    ARGO_ROLLOUTS_CHART,
    CANARY_SERVICE,
    GATEWAY,
    GATEWAY_LABELS,
    HTTP_PORT,
    MASTER_GROUP,
    METRICS_PORT,
    PREVIEW_SERVICE,
    REDIS_AUTH_SECRET,
    SENTINEL,
    SENTINEL_PORT,
    SMOKE,
    WAIT_FOR_HEALTHY,
    RedisGatewayArgs,
    analysis_templates,
    meta,
    pdb_min_available,
    rollout_strategy,
)
from components.eks_cluster import MAIN_NODE_LABELS


def gateway_workload(
    name: str,
    args: RedisGatewayArgs,
    parent: pulumi.Resource,
    ns: k8s.core.v1.Namespace,
    redis_secret: k8s.core.v1.Secret,
) -> k8s.core.v1.Service:
    """Declare the Argo Rollouts controller and the gateway; return its Service (the edge's backend)."""
    child = pulumi.ResourceOptions(parent=parent)
    in_ns = pulumi.ResourceOptions(parent=parent, depends_on=[ns])
    ns_name = args.namespace
    rollouts_role = irsa_role(
        f"{name}-argo-rollouts",
        oidc_provider_arn=args.oidc_provider_arn,
        oidc_issuer=args.oidc_issuer,
        namespace="argo-rollouts",
        service_account="argo-rollouts",
        inline_policy=_TARGET_GROUP_READ,
        opts=child,
    )
    rollouts_release = helm_release(
        f"{name}-argo-rollouts",
        ARGO_ROLLOUTS_CHART,
        namespace="argo-rollouts",
        create_namespace=True,
        opts=child,
        values={
            "installCRDs": True,
            "controller": {
                "replicas": 2,
                "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
                # Blue-green: before switching, check the ALB target group holds the new pods.
                "extraArgs": ["--aws-verify-target-group"],
            },
            "serviceAccount": {
                "name": "argo-rollouts",
                "annotations": {"eks.amazonaws.com/role-arn": rollouts_role.arn},
            },
            "dashboard": {"enabled": False},
        },
    )

    sa = k8s.core.v1.ServiceAccount(
        f"{name}-sa", metadata=meta(args, GATEWAY), automount_service_account_token=False, opts=in_ns
    )
    config = k8s.core.v1.ConfigMap(
        f"{name}-config",
        metadata=meta(args, GATEWAY),
        data={
            "LISTEN_ADDR": f":{HTTP_PORT}",
            "METRICS_ADDR": f":{METRICS_PORT}",
            "LOG_LEVEL": args.log_level,
            "ENVIRONMENT": args.environment,
            "REDIS_SENTINEL_ADDRS": f"{SENTINEL}.{ns_name}.svc.cluster.local:{SENTINEL_PORT}",
            "REDIS_MASTER_NAME": MASTER_GROUP,
        },
        opts=in_ns,
    )
    role = k8s.rbac.v1.Role(
        f"{name}-role",
        metadata=meta(args, GATEWAY),
        rules=[{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [GATEWAY], "verbs": ["get", "watch"]}],
        opts=in_ns,
    )
    k8s.rbac.v1.RoleBinding(
        f"{name}-rolebinding",
        metadata=meta(args, GATEWAY),
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": GATEWAY},
        subjects=[{"kind": "ServiceAccount", "name": GATEWAY, "namespace": ns_name}],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[ns, role, sa]),
    )
    service = k8s.core.v1.Service(
        f"{name}-svc",
        metadata=meta(args, GATEWAY, **{"app.kubernetes.io/name": GATEWAY}),
        spec={
            "type": "ClusterIP",
            "selector": {"app": GATEWAY},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
        opts=in_ns,
    )
    roles = {"blue-green": {"preview": PREVIEW_SERVICE}, "canary": {"canary": CANARY_SERVICE}}
    extra_services = [
        k8s.core.v1.Service(
            f"{name}-svc-{role}",
            # No app.kubernetes.io/name label: the ServiceMonitor must not scrape a pod twice.
            metadata=meta(args, svc_name),
            spec={
                "type": "ClusterIP",
                "selector": {"app": GATEWAY},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                    {"name": "probe-metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                ],
            },
            opts=in_ns,
        )
        for role, svc_name in roles.get(args.delivery.strategy, {}).items()
    ]
    k8s.core.v1.ServiceAccount(
        f"{name}-smoke-sa", metadata=meta(args, SMOKE), automount_service_account_token=False, opts=in_ns
    )
    templates = [
        k8s.apiextensions.CustomResource(
            f"{name}-analysis-{template}",
            api_version="argoproj.io/v1alpha1",
            kind="AnalysisTemplate",
            metadata=meta(args, template),
            spec=spec,
            # The AnalysisTemplate CRD comes with the Argo Rollouts chart.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[rollouts_release, ns]),
        )
        for template, spec in analysis_templates(args).items()
    ]
    pod_spec = gateway_pod(args, GATEWAY_LABELS)
    rollout = k8s.apiextensions.CustomResource(
        f"{name}-rollout",
        api_version="argoproj.io/v1alpha1",
        kind="Rollout",
        metadata={**meta(args, GATEWAY), "annotations": {"pulumi.com/waitFor": WAIT_FOR_HEALTHY}},
        spec={
            "replicas": args.min_replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app": GATEWAY}},
            "template": {"metadata": {"labels": GATEWAY_LABELS}, "spec": pod_spec},
            "strategy": rollout_strategy(args),
        },
        # The Rollout CRD comes with the chart; the pods mount the ConfigMap and Secret; the
        # strategy names the preview or canary Service and the analysis templates.
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=[rollouts_release, config, redis_secret, sa, *extra_services, *templates],
            # The HPA owns spec.replicas once the Rollout exists.
            ignore_changes=["spec.replicas"],
        ),
    )
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-hpa",
        metadata=meta(args, GATEWAY),
        spec={
            "scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": GATEWAY},
            "minReplicas": args.min_replicas,
            "maxReplicas": args.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": args.target_cpu_utilization},
                    },
                }
            ],
            "behavior": {
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
                },
            },
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[rollout]),
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-pdb",
        metadata=meta(args, GATEWAY),
        spec={"minAvailable": pdb_min_available(args.min_replicas), "selector": {"matchLabels": {"app": GATEWAY}}},
        opts=in_ns,
    )
    k8s.apiextensions.CustomResource(
        f"{name}-servicemonitor",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=meta(args, GATEWAY),
        spec={
            "selector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}},
            "namespaceSelector": {"matchNames": [ns_name]},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
            # The analysis tells versions apart by this label (rollouts_pod_template_hash).
            "podTargetLabels": ["rollouts-pod-template-hash"],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[service]),
    )
    return service


def gateway_pod(args: RedisGatewayArgs, labels: dict[str, str]) -> dict[str, Any]:
    """The gateway pod: non-root, read-only root filesystem, no capabilities, probes, spread across zones."""
    probe = lambda path, period, threshold: {  # noqa: E731
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": threshold,
    }
    return {
        "serviceAccountName": GATEWAY,
        "priorityClassName": SERVING_PRIORITY_CLASS,
        "automountServiceAccountToken": False,
        "nodeSelector": dict(MAIN_NODE_LABELS),
        "terminationGracePeriodSeconds": 45,
        "securityContext": dict(NON_ROOT_POD),
        "containers": [
            {
                "name": "gateway",
                "image": args.image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [
                    {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                ],
                "envFrom": [{"configMapRef": {"name": GATEWAY}}],
                "env": [
                    {
                        "name": "REDIS_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": REDIS_AUTH_SECRET, "key": "password"}},
                    }
                ],
                "resources": args.resources.spec(),
                "startupProbe": probe("/healthz", 2, 30),
                "livenessProbe": probe("/healthz", 10, 3),
                "readinessProbe": probe("/readyz", 5, 2),
                # Let the ALB deregister the pod before it stops accepting connections.
                "lifecycle": {"preStop": {"sleep": {"seconds": 15}}},
                "securityContext": {**_RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True, "runAsNonRoot": True},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - private emptyDir
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": GATEWAY}},
            }
        ],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": GATEWAY}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    }
