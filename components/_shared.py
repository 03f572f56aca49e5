"""Building blocks shared by the components: encryption keys, IAM roles and Helm releases.

Private to ``components``: each helper declares resources under the parent it is given, so the
resource tree stays the one the component describes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s


def caller(opts: pulumi.ResourceOptions) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The (partition, account id) that the provider inherited through ``opts.parent`` works in."""
    invoke = pulumi.InvokeOutputOptions(parent=opts.parent)
    return (
        aws.get_partition_output(opts=invoke).partition,
        aws.get_caller_identity_output(opts=invoke).account_id,
    )


def encryption_key(
    name: str,
    *,
    description: str,
    region: str,
    service_principals: Sequence[str] = (),
    opts: pulumi.ResourceOptions,
) -> aws.kms.Key:
    """A customer-managed KMS key with yearly rotation and a 30-day deletion window.

    The key policy keeps the account root as administrator (so IAM policies can grant use) and lets
    the named AWS services in ``region`` (e.g. ``logs``) use the key for their own encryption; a
    name that is already a principal (``cloudwatch.amazonaws.com``, a global one) is used as it is.
    """
    partition, account = caller(opts)
    service_statements = [
        {
            "Sid": f"Allow{svc.split('.')[0].capitalize()}Service",
            "Effect": "Allow",
            "Principal": {"Service": svc if svc.endswith(".amazonaws.com") else f"{svc}.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
        for svc in service_principals
    ]
    policy = pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": pulumi.Output.format("arn:{0}:iam::{1}:root", partition, account)},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                *service_statements,
            ],
        }
    )
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        opts=opts,
    )
    aws.kms.Alias(f"{name}-alias", name=f"alias/{name}", target_key_id=key.key_id, opts=opts)
    return key


def irsa_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
    policy_arns: Sequence[str] = (),
    inline_policy: Mapping[str, Any] | None = None,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """An IAM role only the given Kubernetes service account can assume (IAM Roles for Service Accounts).

    ``oidc_issuer`` is the cluster's issuer without ``https://``. The trust policy pins both the
    ``sub`` (namespace and service account) and the ``aud`` claims.
    """
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    claims = pulumi.Output.from_input(oidc_issuer).apply(
        lambda issuer: {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
    )
    trust = pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": claims},
                }
            ],
        }
    )
    role = aws.iam.Role(name, assume_role_policy=trust, opts=opts)
    partition, _ = caller(opts)
    for arn in policy_arns:
        short = arn.rsplit("/", 1)[-1]
        aws.iam.RolePolicyAttachment(
            f"{name}-{short}",
            role=role.name,
            policy_arn=pulumi.Output.format("arn:{0}:iam::aws:policy/{1}", partition, arn),
            opts=opts,
        )
    if inline_policy is not None:
        aws.iam.RolePolicy(f"{name}-inline", role=role.id, policy=pulumi.Output.json_dumps(inline_policy), opts=opts)
    return role


def service_role(name: str, *, service: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """An IAM role that only the AWS service ``service`` (e.g. ``backup.amazonaws.com``) can assume."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    return aws.iam.Role(name, assume_role_policy=pulumi.Output.json_dumps(trust), opts=opts)


def helm_release(
    name: str,
    chart: tuple[str, str, str],
    *,
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    create_namespace: bool = False,
    timeout: int | None = None,
) -> k8s.helm.v3.Release:
    """A pinned chart ``(name, version, repository)``, installed atomically: a failed install or
    upgrade rolls back and fails the update."""
    chart_name, version, repo = chart
    return k8s.helm.v3.Release(
        name,
        name=chart_name,
        chart=chart_name,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
        namespace=namespace,
        create_namespace=create_namespace,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        values=values,
        opts=opts,
    )


def _bucket_policy(bucket_arn: pulumi.Output[str], statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                *statements,
            ],
        }
    )


def private_bucket(
    name: str,
    *,
    key: aws.kms.Key | None,
    opts: pulumi.ResourceOptions,
    object_lock: tuple[str, int] | None = None,
    policy_statements: Callable[[pulumi.Output[str]], Sequence[Mapping[str, Any]]] = lambda arn: (),
) -> aws.s3.Bucket:
    """A private, versioned, TLS-only bucket owned by its account.

    Encrypted with ``key`` (SSE-KMS, bucket keys on), or with SSE-S3 where ``key`` is None (load
    balancer access logs cannot be written to SSE-KMS buckets). ``object_lock`` is (mode, days) of
    the default retention. ``policy_statements(bucket_arn)`` adds statements to the bucket policy.
    ``opts`` (parent, provider, protect) applies to the bucket; its settings share parent and provider.
    """
    bucket = aws.s3.Bucket(name, object_lock_enabled=object_lock is not None, force_destroy=False, opts=opts)
    plain = pulumi.ResourceOptions(parent=opts.parent, provider=opts.provider)
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=plain,
    )
    block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=plain,
    )
    aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=plain,
    )
    default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="aws:kms" if key is not None else "AES256",
        kms_master_key_id=key.arn if key is not None else None,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=default, bucket_key_enabled=key is not None
            )
        ],
        opts=plain,
    )
    aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=_bucket_policy(bucket.arn, policy_statements(bucket.arn)),
        # S3 rejects a bucket policy while the public access block is being applied.
        opts=pulumi.ResourceOptions(parent=opts.parent, provider=opts.provider, depends_on=[block]),
    )
    if object_lock is not None:
        mode, days = object_lock
        aws.s3.BucketObjectLockConfiguration(
            name,
            bucket=bucket.id,
            object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(mode=mode, days=days)
            ),
            opts=plain,
        )
    return bucket


NON_ROOT_POD: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Pod security context of the gateway and the ops jobs: uid and gid 10001, never root, RuntimeDefault."""
RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Container security context of the restricted Pod Security Standard (add the root-filesystem and user fields)."""

SERVING_PRIORITY_CLASS = "redis-gateway-serving"
"""PriorityClass of the serving tier: the gateway, Redis and Sentinel pods (see :func:`priority_classes`)."""
BATCH_PRIORITY_CLASS = "redis-gateway-batch"
"""PriorityClass of the batch jobs: backup, restore drill, readiness scorecard, rollout smoke test."""
SERVING_PRIORITY = 1_000_000
"""Far above the default 0 (monitoring, anything without a class), far below the system classes
(``system-cluster-critical`` 2000000000, ``system-node-critical`` 2000001000): the serving pods displace
the former when a zone is lost or the autoscaler lags, and never kube-system's DNS, CNI or CSI pods."""
BATCH_PRIORITY = 0
"""The default pods' value, not below it: the Cluster Autoscaler scales up for no pod under its
``expendable-pods-priority-cutoff`` (-10) and evicts such pods freely, so a negative class could leave a
backup Pending for good. With ``preemptionPolicy: Never`` a job never displaces anything; the serving
class displaces it."""


def priority_classes() -> dict[str, dict[str, Any]]:
    """``scheduling.k8s.io/v1`` PriorityClass fields by class name (cluster-scoped, one set per cluster).

    Neither is the global default: pods that name no class (monitoring, the operators) keep priority 0."""
    return {
        SERVING_PRIORITY_CLASS: {
            "value": SERVING_PRIORITY,
            "preemption_policy": "PreemptLowerPriority",
            "global_default": False,
            "description": "Gateway serving tier (gateway, Redis, Sentinel): displaces default and batch pods.",
        },
        BATCH_PRIORITY_CLASS: {
            "value": BATCH_PRIORITY,
            "preemption_policy": "Never",
            "global_default": False,
            "description": "Gateway batch jobs (backup, drill, readiness, smoke): never preempt; serving pods win.",
        },
    }


def ops_pod(
    *,
    service_account: str,
    image: str,
    args: Sequence[Any],
    env: Sequence[Mapping[str, Any]],
    resources: Mapping[str, Any],
    volumes: Sequence[Mapping[str, Any]],
    mounts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Pod spec of a job of the ops image: one container, non-root (uid 10001), read-only root, every
    capability dropped, RuntimeDefault seccomp, on the general node group, never restarted in place,
    in the batch PriorityClass (:data:`BATCH_PRIORITY_CLASS`)."""
    return {
        "serviceAccountName": service_account,
        "priorityClassName": BATCH_PRIORITY_CLASS,
        "restartPolicy": "Never",
        "nodeSelector": {"role": "general"},
        "securityContext": dict(NON_ROOT_POD),
        "containers": [
            {
                "name": "ops",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": list(args),
                "env": list(env),
                "resources": dict(resources),
                "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True, "runAsNonRoot": True},
                "volumeMounts": list(mounts),
            }
        ],
        "volumes": list(volumes),
    }


def ops_cronjob(
    schedule: str,
    *,
    pod: Mapping[str, Any],
    labels: Mapping[str, str],
    deadline_seconds: int,
    backoff_limit: int,
    starting_deadline_seconds: int,
) -> dict[str, Any]:
    """CronJob spec of a job of the ops image: UTC schedule, never two runs at once, three successful
    and three failed Jobs kept for their logs."""
    return {
        "schedule": schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": starting_deadline_seconds,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "spec": {
                "backoffLimit": backoff_limit,
                "activeDeadlineSeconds": deadline_seconds,
                "template": {"metadata": {"labels": dict(labels)}, "spec": dict(pod)},
            }
        },
    }


PROGRAM_LABELS = {"app.kubernetes.io/part-of": "redis-gateway", "app.kubernetes.io/managed-by": "pulumi"}
"""What every Kubernetes object of the program says of itself. pulumi-kubernetes v4 sets
``managed-by`` only under client-side apply; under server-side apply (its default) it sets none, so
the program sets both labels itself; ``ops readiness`` finds the stack's objects by ``part-of``."""


UNLABELLED_TYPES = ("kubernetes:helm.sh/", "kubernetes:redis.redis.opstreelabs.in/")
"""Left as declared: Helm releases and charts have no metadata of their own; the redis-operator
(v0.25.0, ``GetRedisLabels``) copies its custom resources' labels into the selectors of the Services
it makes and into its pod templates, so a label added there would re-point ``redis-sentinel``,
``redis-master`` and the rest at pods that do not carry it until the StatefulSets roll. They keep the
``part-of`` label the program gives them, which is all the scorecard reads."""


def label_kubernetes_objects(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A stack transformation: every Kubernetes object the program declares carries :data:`PROGRAM_LABELS`
    in its desired state, so server-side apply keeps them, whatever the provider's apply mode.

    It runs in the program's process, so it reaches the objects our components declare and not the
    children a Helm chart renders inside the provider (those keep the chart's own labels). The types
    of :data:`UNLABELLED_TYPES` are left alone. Metadata must be a dict
    (``{"name": ..., "labels": ...}``): an ``ObjectMetaArgs`` here is a program error, named."""
    if not args.type_.startswith("kubernetes:") or args.type_.startswith(UNLABELLED_TYPES):
        return None
    metadata = args.props.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise TypeError(
            f"{args.type_} {args.name}: metadata must be a dict to be labelled, got {type(metadata).__name__}"
        )
    labels = metadata.get("labels")
    if labels is None or isinstance(labels, dict):
        merged: Any = {**(labels or {}), **PROGRAM_LABELS}
    else:  # an Output of labels
        merged = pulumi.Output.from_input(labels).apply(lambda found: {**(found or {}), **PROGRAM_LABELS})
    return pulumi.ResourceTransformationResult({**args.props, "metadata": {**metadata, "labels": merged}}, args.opts)
