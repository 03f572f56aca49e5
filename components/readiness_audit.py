"""ReadinessAudit: the live production-readiness scorecard (``python -m ops readiness``) as a daily
CronJob of the ops image, with what it needs and nothing more.

* the ConfigMap ``redis-gateway-readiness`` names what the scorecard checks outside Kubernetes (the
  backup and replica buckets, the vaults, the certificate, the web ACL, the health check, the cluster,
  Prometheus) with the objectives it judges them against, so the cluster describes itself and an
  operator's run (``--kubeconfig``) reads the same document;
* read-only Kubernetes access: a Role in each of the stack's namespaces (list and get on the kinds the
  scorecard reads, never Secrets) and a ClusterRole for the cluster-scoped kinds;
* an IRSA role limited to the reads of the AWS items (its bucket prefixes and keys, the vaults, the
  certificate, the health check, the cluster; load balancer and web ACL lookups, which IAM cannot
  scope to a resource);
* egress to HTTPS (the Kubernetes and AWS APIs) and to Prometheus only.

A failed run (exit 1: an item failed; exit 2: the scorecard could not be built) fails the Job, and
MonitoringStack's ``RedisReadinessCheckFailed`` alert fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components._shared import caller, irsa_role, ops_cronjob, ops_pod
from ops.readiness.kube import KINDS

CRONJOB = "redis-readiness"
SERVICE_ACCOUNT = "redis-readiness"
CONFIGMAP = "redis-gateway-readiness"
TARGETS_KEY = "targets.json"
PART_OF = {"app.kubernetes.io/part-of": "redis-gateway"}
DEADLINE_SECONDS = 900


@dataclass(frozen=True, kw_only=True)
class ReadinessAuditArgs:
    """Inputs of :class:`ReadinessAudit`."""

    stack: str
    """The stack whose pack config judges the live objects (``policies/config/<stack>.json``)."""
    namespace: str
    """Namespace of the CronJob (the gateway's)."""
    namespaces: tuple[str, ...]
    """The stack's namespaces: the scorecard reads its namespaced objects there."""
    ops_image: str
    schedule: str = "17 6 * * *"
    region: str
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    prometheus_url: str
    prometheus_namespace: str
    availability_slo: float
    backup_bucket: pulumi.Input[str]
    backup_bucket_arn: pulumi.Input[str]
    backup_key_arn: pulumi.Input[str]
    backup_prefix: str
    backup_max_age_seconds: int
    """The backup alert's threshold: the schedule's longest gap plus one job's deadline."""
    replica_bucket: pulumi.Input[str] | None = None
    replica_bucket_arn: pulumi.Input[str] | None = None
    replica_key_arn: pulumi.Input[str] | None = None
    replica_region: str | None = None
    replica_max_age_seconds: int | None = None
    """The backup objective plus S3 Replication Time Control's 15 minutes."""
    vault_name: pulumi.Input[str]
    vault_arn: pulumi.Input[str]
    dr_vault_name: pulumi.Input[str] | None = None
    dr_vault_arn: pulumi.Input[str] | None = None
    vault_max_age_seconds: int
    """The snapshot plan's interval plus its start and completion windows."""
    hostname: str
    certificate_arn: pulumi.Input[str]
    web_acl_arn: pulumi.Input[str]
    health_check_id: pulumi.Input[str] | None = None
    dr_lag_max_seconds: int | None = None
    redis_replication: str = "redis"
    """Name of the RedisReplication (and of the RedisSentinel, where the region runs one)."""
    redis_replicas: int = 3
    """The RedisReplication's ``clusterSize``."""
    redis_sentinels: int | None = 3
    """The RedisSentinel's size, or None where the region runs none."""
    redis_quorum: int = 2
    redis_standby_replicas: int = 0
    """Replicas in the DR region that replicate from this primary."""
    kubernetes: Mapping[str, Any] | None = None
    """The cluster's declared versions (``EksCluster.declared_versions``): node groups and add-ons
    the scorecard compares with EKS."""


def role_rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(namespaced rules, cluster rules): get and list on exactly the kinds the scorecard reads,
    Secrets excepted (the scorecard lists them as metadata when it may; this role may not)."""
    namespaced: dict[str, list[str]] = {}
    cluster: dict[str, list[str]] = {}
    for group_version, kind, plural, is_namespaced in KINDS:
        if kind == "Secret":
            continue
        group = group_version.split("/")[0] if "/" in group_version else ""
        (namespaced if is_namespaced else cluster).setdefault(group, []).append(plural)
    rules = lambda by_group: [  # noqa: E731
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": ["get", "list"]}
        for group, plurals in sorted(by_group.items())
    ]
    return rules(namespaced), rules(cluster)


def _cluster_parts(cluster_arn: pulumi.Input[str], kind: str) -> pulumi.Output[str]:
    """``arn:aws:eks:<region>:<account>:<kind>/<cluster>/*``: the cluster's node groups or add-ons
    (their ARNs end in ``/<name>/<uuid>``, Service Authorization Reference, Amazon EKS)."""
    return pulumi.Output.from_input(cluster_arn).apply(lambda arn: arn.replace(":cluster/", f":{kind}/", 1) + "/*")


def audit_policy(args: ReadinessAuditArgs, cluster_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The IRSA role's policy: the reads of the AWS items, each scoped as far as IAM allows."""
    buckets = [b for b in (args.backup_bucket_arn, args.replica_bucket_arn) if b is not None]
    keys = [k for k in (args.backup_key_arn, args.replica_key_arn) if k is not None]
    vaults = [v for v in (args.vault_arn, args.dr_vault_arn) if v is not None]
    statements: list[dict[str, Any]] = [
        {"Sid": "ListBackupBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": buckets},
        {
            "Sid": "ReadBackupManifests",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [pulumi.Output.concat(b, f"/{args.backup_prefix}*") for b in buckets],
        },
        {"Sid": "DecryptManifests", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": keys},
        {
            "Sid": "RecoveryPoints",
            "Effect": "Allow",
            "Action": ["backup:ListRecoveryPointsByBackupVault"],
            "Resource": vaults,
        },
        {
            "Sid": "Certificate",
            "Effect": "Allow",
            "Action": ["acm:DescribeCertificate"],
            "Resource": [args.certificate_arn],
        },
        {
            "Sid": "Cluster",
            "Effect": "Allow",
            "Action": ["eks:DescribeCluster", *(["eks:ListNodegroups"] if args.kubernetes is not None else [])],
            "Resource": [cluster_arn],
        },
        *(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": [f"eks:{action}"],
                "Resource": [_cluster_parts(cluster_arn, kind)],
            }
            for sid, action, kind in (
                ("NodeGroups", "DescribeNodegroup", "nodegroup"),
                ("AddOns", "DescribeAddon", "addon"),
            )
            if args.kubernetes is not None
        ),
        {
            # Neither action supports resource-level permissions.
            "Sid": "EdgeLookups",
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:DescribeLoadBalancers", "wafv2:GetWebACLForResource"],
            "Resource": ["*"],
        },
    ]
    if args.health_check_id is not None:
        statements.append(
            {
                "Sid": "HealthCheck",
                "Effect": "Allow",
                "Action": ["route53:GetHealthCheck", "route53:GetHealthCheckStatus"],
                "Resource": [pulumi.Output.concat("arn:aws:route53:::healthcheck/", args.health_check_id)],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def targets(args: ReadinessAuditArgs) -> pulumi.Output[str]:
    """The ``targets.json`` document (``ops.readiness.targets.Targets``)."""

    def backups(bucket: Any, region: str, max_age: int) -> dict[str, Any]:
        return {"bucket": bucket, "prefix": args.backup_prefix, "region": region, "max_age_seconds": max_age}

    document: dict[str, Any] = {
        "stack": args.stack,
        "region": args.region,
        "cluster_name": args.cluster_name,
        "namespaces": list(args.namespaces),
        "prometheus_url": args.prometheus_url,
        "availability_slo": args.availability_slo,
        "backups": backups(args.backup_bucket, args.region, args.backup_max_age_seconds),
        "vault": {"name": args.vault_name, "region": args.region, "max_age_seconds": args.vault_max_age_seconds},
        "edge": {
            "hostname": args.hostname,
            "certificate_arn": args.certificate_arn,
            "web_acl_arn": args.web_acl_arn,
            "health_check_ids": [args.health_check_id] if args.health_check_id is not None else [],
        },
    }
    if args.replica_bucket is not None and args.replica_region and args.replica_max_age_seconds:
        document["replica"] = backups(args.replica_bucket, args.replica_region, args.replica_max_age_seconds)
    if args.dr_vault_name is not None and args.replica_region:
        document["dr_vault"] = {
            "name": args.dr_vault_name,
            "region": args.replica_region,
            "max_age_seconds": args.vault_max_age_seconds,
        }
    if args.dr_lag_max_seconds is not None:
        document["dr_lag_max_seconds"] = args.dr_lag_max_seconds
    document["redis"] = {
        "replication": args.redis_replication,
        "replicas": args.redis_replicas,
        "standby_replicas": args.redis_standby_replicas,
        **(
            {"sentinel": args.redis_replication, "sentinels": args.redis_sentinels, "quorum": args.redis_quorum}
            if args.redis_sentinels is not None
            else {}
        ),
    }
    if args.kubernetes is not None:
        document["kubernetes"] = dict(args.kubernetes)
    return pulumi.Output.json_dumps(document)


def command(args: ReadinessAuditArgs) -> list[str]:
    namespaces: Sequence[str] = [a for ns in args.namespaces for a in ("--namespace", ns)]
    return ["readiness", "--stack", args.stack, "--in-cluster", *namespaces, "--docs", "/app/docs", "--json", "-"]


class ReadinessAudit(pulumi.ComponentResource):
    """The daily live readiness scorecard of one cluster (see the module's docstring)."""

    role_arn: pulumi.Output[str]
    """IAM role the CronJob's ServiceAccount assumes."""

    def __init__(self, name: str, args: ReadinessAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:ReadinessAudit", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition, account = caller(child)
        cluster_arn = pulumi.Output.concat(
            "arn:", partition, ":eks:", args.region, ":", account, ":cluster/", args.cluster_name
        )
        role = irsa_role(
            f"{name}-role",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_issuer=args.oidc_issuer,
            namespace=args.namespace,
            service_account=SERVICE_ACCOUNT,
            inline_policy=audit_policy(args, cluster_arn),
            opts=child,
        )
        meta: dict[str, Any] = {"namespace": args.namespace, "labels": dict(PART_OF)}
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={**meta, "name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
            opts=child,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-targets", metadata={**meta, "name": CONFIGMAP}, data={TARGETS_KEY: targets(args)}, opts=child
        )
        namespaced, cluster = role_rules()
        subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": args.namespace}]
        for ns in args.namespaces:
            scoped = {"namespace": ns, "labels": dict(PART_OF), "name": CRONJOB}
            k8s.rbac.v1.Role(f"{name}-role-{ns}", metadata=scoped, rules=namespaced, opts=child)
            k8s.rbac.v1.RoleBinding(
                f"{name}-rolebinding-{ns}",
                metadata=scoped,
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CRONJOB},
                subjects=subject,
                opts=child,
            )
        cluster_meta = {"name": CRONJOB, "labels": dict(PART_OF)}
        k8s.rbac.v1.ClusterRole(f"{name}-clusterrole", metadata=cluster_meta, rules=cluster, opts=child)
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-clusterrolebinding",
            metadata=cluster_meta,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CRONJOB},
            subjects=subject,
            opts=child,
        )
        pod_labels = {"app": CRONJOB}
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={**meta, "name": CRONJOB},
            spec=ops_cronjob(
                args.schedule,
                pod=_pod(args),
                labels=pod_labels,
                deadline_seconds=DEADLINE_SECONDS,
                backoff_limit=0,  # a failing scorecard is a finding, not a flake: no retry hides it
                starting_deadline_seconds=3600,
            ),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol-egress",
            metadata={**meta, "name": "redis-readiness-egress"},
            spec={
                "podSelector": {"matchLabels": pod_labels},
                "policyTypes": ["Egress"],
                "egress": [
                    # The Kubernetes API and the AWS APIs, over TLS.
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": args.prometheus_namespace}
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": 9090}],
                    },
                ],
            },
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})


def _pod(args: ReadinessAuditArgs) -> dict[str, Any]:
    return ops_pod(
        service_account=SERVICE_ACCOUNT,
        image=args.ops_image,
        args=command(args),
        env=[{"name": "AWS_REGION", "value": args.region}],
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        volumes=[{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        mounts=[{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    )
