"""BackupVault: where Redis backups live, how they get there, and how they are proven restorable.

Two independent backup paths, so one failure mode never takes both:

* **Logical (RDB) backups** every 15 minutes: the ``redis-backup`` CronJob runs ``python -m ops
  backup`` from the ops image, which streams an RDB from a Redis replica, compresses and checksums
  it and uploads it to the backup bucket under its prefix. The bucket is versioned, SSE-KMS with a
  rotating key, public access blocked, TLS-only, Object Lock where configured, with lifecycle tiers
  (Standard -> Standard-IA -> Glacier Instant Retrieval -> expiry) and, with DR on, replicated with
  Replication Time Control to a bucket in the DR region under its own key. The job's IRSA role can
  only touch its prefix. A weekly ``redis-restore-drill`` CronJob restores the latest backup into a
  scratch Redis and fails loudly if it cannot.
* **Volume snapshots** every hour: an AWS Backup plan snapshots the Redis EBS volumes (selected by
  the PVC-namespace tag the EBS CSI driver sets) into a vault with Vault Lock where configured, and
  copies each recovery point to a vault in the DR region.

The component also owns the **ops image repository** (ECR), because the jobs it declares are what
that image exists for: the backup and restore-drill CronJobs here, and beside them the readiness
CronJob and the rollout's smoke-test Job, which run the same image. The repository is part of the
recovery path (a restore runs the image), so it lives and is protected with the backups rather than
with the cluster: ``EksCluster`` is instantiated a second time for the DR region, and a second
repository there would hold nothing the pipeline pushed. The repository is ``redisgw-<stack>/ops``:
tags immutable, scanned on push, encrypted with its own customer-managed key, pull granted to the
nodes' role by the repository policy, and a lifecycle that keeps the last release images, expires
untagged images and keeps a bounded history of branch builds. The pipeline pushes one image per
deployment and pins its digest in the stack (README, "The ops image").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._shared import caller, encryption_key, irsa_role, ops_cronjob, ops_pod, private_bucket, service_role

BACKUP_PREFIX = "redis/"
"""Key prefix of RDB backups in the bucket; the job's IAM role is limited to it."""
SERVICE_ACCOUNT = "redis-backup"
BACKUP_DEADLINE = 840
BACKUP_JOB_MEMORY = ("256Mi", "512Mi")
"""Request and limit of the backup job's pod: it streams, its process tree stays under 200 MiB whatever
the value sizes, and the rest is page cache of the spool."""
"""activeDeadlineSeconds of a backup Job: inside the 15-minute schedule."""
SPOOL_CLAIM = "backup-storage"
SNAPSHOT_INTERVAL_SECONDS = 3600
SNAPSHOT_START_WINDOW_MINUTES = 60
SNAPSHOT_COMPLETION_WINDOW_MINUTES = 180
SNAPSHOT_MAX_AGE_SECONDS = SNAPSHOT_INTERVAL_SECONDS + 60 * (
    SNAPSHOT_START_WINDOW_MINUTES + SNAPSHOT_COMPLETION_WINDOW_MINUTES
)
"""Age past which the newest snapshot shows a missed one: the hourly interval, plus the windows AWS
Backup may take to start and to complete it."""


@dataclass(frozen=True, kw_only=True)
class BackupVaultArgs:
    """Inputs of :class:`BackupVault`."""

    region: str
    namespace: str
    """Namespace of Redis and the backup jobs."""
    ops_image: str
    schedule: str = "*/15 * * * *"
    drill_schedule: str = "0 4 * * 1"
    scratch_size: str = "20Gi"
    drill_memory: str = "512Mi"
    """Memory (request and limit) of the restore drill's pod, which loads the whole dataset into a
    scratch Redis beside the job: ``settings.drill_memory`` sizes it from ``redisgw:capacity``."""
    storage_class: str
    infrequent_access_after_days: int = 30
    glacier_after_days: int = 90
    expire_after_days: int = 365
    snapshot_retention_days: int = 7
    object_lock_days: int | None = None
    """Default Object Lock retention; ``None`` creates the bucket without Object Lock."""
    object_lock_mode: str = "COMPLIANCE"
    vault_lock: Mapping[str, int] | None = None
    """``min_retention_days``, ``max_retention_days``, ``changeable_for_days``; ``None``: no Vault Lock."""
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    sentinel_address: str
    """``host:port`` of Sentinel, which names a replica to stream from."""
    master_name: str
    redis_password_secret: str
    """Secret (key ``password``) with the Redis password."""
    redis_app_label: str
    """``app`` label of the Redis pods (NetworkPolicy allow)."""
    dr_provider: aws.Provider | None = None
    """Provider of the DR region; with it, the bucket replicates and snapshots are copied there."""
    dr_region: str | None = None
    runbook_base_url: str = ""
    """``docs/runbooks`` as users browse it: the replication alarms link their runbook section."""
    ops_repository_name: str = "redisgw/ops"
    """Name of the ECR repository of the ops image (the program passes ``redisgw-<stack>/ops``)."""
    image_pull_role_arns: Sequence[pulumi.Input[str]] = ()
    """Roles that pull the ops image (the nodes' role); the repository policy grants them pull only."""
    ops_releases_kept: int = 30
    """Release images (tags ``v*``) the repository keeps; older releases expire."""
    ops_builds_kept: int = 50
    """Other tagged images (branch builds) the repository keeps; older ones expire."""
    ops_untagged_days: int = 14
    """Days after which an untagged image (a layer of an aborted push, an untagged rebuild) expires."""
    protect: bool = True
    jobs_after: Sequence[pulumi.Resource] = ()
    """What the jobs' Kubernetes objects need first (the gateway: its namespace and Redis password
    Secret). Only they wait for it: the buckets, keys, vaults and the ops image repository do not
    depend on anything in the cluster, so the first ``pulumi up`` of a stack from a workstation,
    which leaves the Kubernetes objects out (``ops first-deploy``), creates them."""


OPS_IMAGE_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
"""What a node needs to pull an image from the ops repository (``GetAuthorizationToken`` is registry-wide)."""


def ops_repository_lifecycle(releases_kept: int, builds_kept: int, untagged_days: int) -> str:
    """The ECR lifecycle policy of the ops repository. Rules apply in priority order and an image
    that matches a rule's tag selection is never expired by a later rule, so releases are counted
    only against ``releases_kept``."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"Keep the last {releases_kept} release images (v* tags)",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["v*"],
                "countType": "imageCountMoreThan",
                "countNumber": releases_kept,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Expire untagged images {untagged_days} days after their push",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": untagged_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": f"Keep the last {builds_kept} other images (branch builds)",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": builds_kept},
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules})


class BackupVault(pulumi.ComponentResource):
    """Backup bucket, AWS Backup vault and plan, and the backup and drill CronJobs."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    """KMS key of backups in the primary region."""
    vault_arn: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    dr_vault_arn: pulumi.Output[str | None]
    dr_vault_name: pulumi.Output[str | None]
    job_role_arn: pulumi.Output[str]
    """IRSA role of the backup and drill jobs."""
    replica_bucket_name: pulumi.Output[str | None]
    """DR replica bucket, when DR is on."""
    replica_bucket_arn: pulumi.Output[str | None]
    dr_key_arn: pulumi.Output[str | None]
    """KMS key of backups in the DR region, when DR is on."""
    ops_repository_url: pulumi.Output[str]
    """``<account>.dkr.ecr.<region>.amazonaws.com/<name>``: where the pipeline pushes the ops image."""
    ops_repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:BackupVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        _, account = caller(child)

        key = encryption_key(f"{name}-key", description="Encrypts Redis backups", region=args.region, opts=stateful)
        lock = (args.object_lock_mode, args.object_lock_days) if args.object_lock_days is not None else None
        bucket = private_bucket(f"{name}-bucket", key=key, object_lock=lock, opts=stateful)
        self._tiers(f"{name}-bucket-lifecycle", bucket, args, child)

        replica_bucket: aws.s3.Bucket | None = None
        dr_key: aws.kms.Key | None = None
        dr_vault: aws.backup.Vault | None = None
        if args.dr_provider is not None and args.dr_region is not None:
            in_dr = pulumi.ResourceOptions(parent=self, provider=args.dr_provider, protect=args.protect)
            dr_key = encryption_key(
                f"{name}-dr-key",
                description="Encrypts Redis backups in the DR region",
                region=args.dr_region,
                opts=in_dr,
            )
            # Replicating Object Lock retention requires the destination to have Object Lock too.
            replica_bucket = private_bucket(f"{name}-replica", key=dr_key, object_lock=lock, opts=in_dr)
            # Replicas expire on the same tiers; without a rule the DR copy would grow forever.
            self._tiers(
                f"{name}-replica-lifecycle",
                replica_bucket,
                args,
                pulumi.ResourceOptions(parent=self, provider=args.dr_provider),
            )
            dr_vault = aws.backup.Vault(f"{name}-dr-vault", kms_key_arn=dr_key.arn, opts=in_dr)
            self._lock(f"{name}-dr-vault-lock", dr_vault, args, in_dr)
            self._replication(name, bucket, key, replica_bucket, dr_key, child)
            self._replication_alarms(name, bucket, replica_bucket, args, child)

        # -- AWS Backup: hourly EBS snapshots of the Redis volumes --------------------------------
        vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=key.arn, opts=stateful)
        self._lock(f"{name}-vault-lock", vault, args, stateful)
        plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="hourly-redis-volumes",
                    target_vault_name=vault.name,
                    schedule="cron(0 * ? * * *)",
                    start_window=SNAPSHOT_START_WINDOW_MINUTES,
                    completion_window=SNAPSHOT_COMPLETION_WINDOW_MINUTES,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.snapshot_retention_days),
                    copy_actions=[
                        aws.backup.PlanRuleCopyActionArgs(
                            destination_vault_arn=dr_vault.arn,
                            lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                                delete_after=args.snapshot_retention_days
                            ),
                        )
                    ]
                    if dr_vault is not None
                    else None,
                )
            ],
            opts=child,
        )
        backup_role = service_role(f"{name}-aws-backup", service="backup.amazonaws.com", opts=child)
        for policy in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
            aws.iam.RolePolicyAttachment(
                f"{name}-aws-backup-{policy}",
                role=backup_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/service-role/{policy}",
                opts=child,
            )
        aws.backup.Selection(
            f"{name}-redis-volumes",
            plan_id=plan.id,
            iam_role_arn=backup_role.arn,
            resources=[pulumi.Output.format("arn:aws:ec2:{0}:{1}:volume/*", args.region, account)],
            conditions=[
                aws.backup.SelectionConditionArgs(
                    string_equals=[
                        aws.backup.SelectionConditionStringEqualArgs(
                            key="aws:ResourceTag/kubernetes.io/created-for/pvc/namespace", value=args.namespace
                        )
                    ]
                )
            ],
            opts=child,
        )

        repository = self._ops_repository(name, args, stateful)

        # -- the jobs, in the cluster ------------------------------------------------------------
        job_role_arn = backup_jobs(
            name,
            args,
            bucket=bucket.bucket,
            bucket_arn=bucket.arn,
            key_arn=key.arn,
            source=["--sentinel", args.sentinel_address, "--master-name", args.master_name],
            parent=self,
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.vault_arn = vault.arn
        self.vault_name = vault.name
        self.job_role_arn = job_role_arn
        none: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.replica_bucket_name = replica_bucket.bucket if replica_bucket is not None else none
        self.replica_bucket_arn = replica_bucket.arn if replica_bucket is not None else none
        self.dr_key_arn = dr_key.arn if dr_key is not None else none
        self.dr_vault_arn = dr_vault.arn if dr_vault is not None else none
        self.dr_vault_name = dr_vault.name if dr_vault is not None else none
        self.ops_repository_url = repository.repository_url
        self.ops_repository_arn = repository.arn
        self.register_outputs(
            {
                "ops_repository_url": self.ops_repository_url,
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key_arn": self.key_arn,
                "vault_arn": self.vault_arn,
                "job_role_arn": self.job_role_arn,
                "replica_bucket_name": self.replica_bucket_name,
            }
        )

    @staticmethod
    def _ops_repository(name: str, args: BackupVaultArgs, stateful: pulumi.ResourceOptions) -> aws.ecr.Repository:
        """The ECR repository of the ops image, with its key, lifecycle and pull policy."""
        child = pulumi.ResourceOptions(parent=stateful.parent)
        key = encryption_key(
            f"{name}-ops-image-key", description="Encrypts the ops image repository", region=args.region, opts=stateful
        )
        repository = aws.ecr.Repository(
            f"{name}-ops-image",
            name=args.ops_repository_name,
            # A tag names one image forever; the stacks pin digests anyway (settings.OPS_IMAGE_RE).
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
            ],
            # An unprotected stack (staging) tears down with its images; a protected one keeps them.
            force_delete=not args.protect,
            opts=stateful,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-ops-image-lifecycle",
            repository=repository.name,
            policy=ops_repository_lifecycle(args.ops_releases_kept, args.ops_builds_kept, args.ops_untagged_days),
            opts=child,
        )
        if args.image_pull_role_arns:
            aws.ecr.RepositoryPolicy(
                f"{name}-ops-image-pull",
                repository=repository.name,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "NodesPull",
                                "Effect": "Allow",
                                "Principal": {"AWS": list(args.image_pull_role_arns)},
                                "Action": list(OPS_IMAGE_PULL_ACTIONS),
                            }
                        ],
                    }
                ),
                opts=child,
            )
        return repository

    @staticmethod
    def _lock(name: str, vault: aws.backup.Vault, args: BackupVaultArgs, opts: pulumi.ResourceOptions) -> None:
        if args.vault_lock is not None:
            aws.backup.VaultLockConfiguration(
                name,
                backup_vault_name=vault.name,
                min_retention_days=args.vault_lock["min_retention_days"],
                max_retention_days=args.vault_lock["max_retention_days"],
                changeable_for_days=args.vault_lock["changeable_for_days"],
                opts=opts,
            )

    @staticmethod
    def _tiers(name: str, bucket: aws.s3.Bucket, args: BackupVaultArgs, opts: pulumi.ResourceOptions) -> None:
        """Backups move to Infrequent Access, then Glacier IR, then expire; old versions after 30 days."""
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="tiers",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=BACKUP_PREFIX),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=args.infrequent_access_after_days, storage_class="STANDARD_IA"
                        ),
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=args.glacier_after_days, storage_class="GLACIER_IR"
                        ),
                    ],
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_after_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=30
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=opts,
        )

    def _replication_alarms(
        self,
        name: str,
        source: aws.s3.Bucket,
        replica: aws.s3.Bucket,
        args: BackupVaultArgs,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """CloudWatch alarms on S3's replication metrics (reported in the source region): any failed
        replication, and the oldest pending object past the Replication Time Control window. They
        notify an encrypted SNS topic (subscribe the on-call to it)."""
        key = encryption_key(
            f"{name}-alarms-key",
            description="Encrypts the backup replication alarm topic",
            region=args.region,
            service_principals=("cloudwatch.amazonaws.com",),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=args.protect)),
        )
        topic = aws.sns.Topic(f"{name}-replication-alarms", kms_master_key_id=key.arn, opts=opts)
        runbook = f"{args.runbook_base_url}/disaster-recovery.md#{REPLICATION_RUNBOOK_ANCHOR}"
        dimensions = {"SourceBucket": source.bucket, "DestinationBucket": replica.bucket, "RuleId": REPLICATION_RULE}
        for alarm, metric, statistic, threshold, periods, what in (
            ("failed", "OperationsFailedReplication", "Sum", 0, 1, "Backups failed to replicate to the DR region"),
            (
                "late",
                "ReplicationLatency",
                "Maximum",
                REPLICATION_TIME_MINUTES * 60,
                2,
                f"Backups take more than {REPLICATION_TIME_MINUTES} minutes to reach the DR region",
            ),
        ):
            aws.cloudwatch.MetricAlarm(
                f"{name}-replication-{alarm}",
                alarm_description=f"{what}. Runbook: {runbook}",
                namespace="AWS/S3",
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=300,
                evaluation_periods=periods,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                opts=opts,
            )

    def _replication(
        self,
        name: str,
        source: aws.s3.Bucket,
        source_key: aws.kms.Key,
        replica: aws.s3.Bucket,
        replica_key: aws.kms.Key,
        opts: pulumi.ResourceOptions,
    ) -> None:
        role = service_role(f"{name}-replication", service="s3.amazonaws.com", opts=opts)
        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": source.arn,
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                                "s3:GetObjectRetention",
                                "s3:GetObjectLegalHold",
                            ],
                            "Resource": pulumi.Output.concat(source.arn, "/*"),
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                            "Resource": pulumi.Output.concat(replica.arn, "/*"),
                        },
                        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": source_key.arn},
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": replica_key.arn,
                        },
                    ],
                }
            ),
            opts=opts,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id=REPLICATION_RULE,
                    status="Enabled",
                    priority=1,
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=BACKUP_PREFIX),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Disabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=replica.arn,
                        storage_class="STANDARD",
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=replica_key.arn
                        ),
                        replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                            status="Enabled",
                            time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(
                                minutes=REPLICATION_TIME_MINUTES
                            ),
                        ),
                        metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                            status="Enabled",
                            event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                                minutes=REPLICATION_TIME_MINUTES
                            ),
                        ),
                    ),
                )
            ],
            opts=opts,
        )


REPLICATION_RULE = "to-dr-region"
REPLICATION_TIME_MINUTES = 15
"""S3 Replication Time Control: 99.99% of objects within 15 minutes, with metrics and events."""
REPLICATION_RUNBOOK_ANCHOR = "backup-replication-failing"


def backup_jobs(
    name: str,
    args: BackupVaultArgs,
    *,
    bucket: pulumi.Input[str],
    bucket_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    source: list[Any],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """The backup and restore-drill CronJobs of one cluster, their IRSA role (limited to the bucket's
    prefix and its key), ServiceAccount, spool volume and NetworkPolicies; returns the role's ARN.

    ``source`` names the Redis to stream from (``--sentinel``/``--master-name``, or ``--redis-url``).
    The primary region backs up into the backup bucket; the DR region, from its standby, into the
    replica bucket, so backups continue there after a failover without a change."""
    child = pulumi.ResourceOptions(parent=parent)
    job_role = irsa_role(
        f"{name}-job",
        oidc_provider_arn=args.oidc_provider_arn,
        oidc_issuer=args.oidc_issuer,
        namespace=args.namespace,
        service_account=SERVICE_ACCOUNT,
        inline_policy=job_policy(bucket_arn, key_arn),
        opts=child,
    )

    # The Kubernetes objects, after what they need in the cluster.
    child = pulumi.ResourceOptions(parent=parent, depends_on=list(args.jobs_after))
    stateful = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect))
    meta: dict[str, Any] = {"namespace": args.namespace, "labels": {"app.kubernetes.io/part-of": "redis-gateway"}}
    k8s.core.v1.ServiceAccount(
        f"{name}-sa",
        metadata={**meta, "name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": job_role.arn}},
        # The jobs call AWS through IRSA (its own projected token), never the Kubernetes API.
        automount_service_account_token=False,
        opts=child,
    )
    claim_spec = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": args.storage_class,
        "resources": {"requests": {"storage": args.scratch_size}},
    }
    k8s.core.v1.PersistentVolumeClaim(
        f"{name}-spool",
        # WaitForFirstConsumer keeps the claim Pending until the first job: do not wait for Bound.
        metadata={**meta, "name": SPOOL_CLAIM, "annotations": {"pulumi.com/skipAwait": "true"}},
        spec=claim_spec,
        opts=stateful,
    )
    common = [
        "--bucket",
        bucket,
        "--prefix",
        BACKUP_PREFIX,
        "--region",
        args.region,
        "--json",
        "-",
    ]
    backup_args = [
        "backup",
        *source,
        "--kms-key-id",
        key_arn,
        "--verify",  # read the upload back and check it, in the scratch volume
        "--deadline",
        str(BACKUP_DEADLINE - 60),  # give up (and abort the upload) a minute before the Job is killed
        "--work-dir",
        "/spool",
        *common,
    ]
    drill_args = ["drill", "--work-dir", "/spool", *common]
    # The drill gets its own throw-away volume: it may overlap a backup on another node.
    jobs = {
        "redis-backup": (
            args.schedule,
            backup_args,
            BACKUP_DEADLINE,
            {"persistentVolumeClaim": {"claimName": SPOOL_CLAIM}},
        ),
        "redis-restore-drill": (
            args.drill_schedule,
            drill_args,
            3600,
            {"ephemeral": {"volumeClaimTemplate": {"spec": claim_spec}}},
        ),
    }
    # The backup streams (its process tree stays under 200 MiB whatever the value sizes); the drill
    # holds the dataset, with request = limit so that it is never the pod evicted under memory pressure.
    memory = {"redis-backup": BACKUP_JOB_MEMORY, "redis-restore-drill": (args.drill_memory, args.drill_memory)}
    for job_name, (schedule, cmd, deadline, spool) in jobs.items():
        request, limit = memory[job_name]
        cron_spec = ops_cronjob(
            schedule,
            pod=job_pod(args, cmd, spool, memory_request=request, memory_limit=limit),
            labels={"app": "redis-backup", "job": job_name},
            deadline_seconds=deadline,
            backoff_limit=2,
            starting_deadline_seconds=300,
        )
        k8s.batch.v1.CronJob(f"{name}-{job_name}", metadata={**meta, "name": job_name}, spec=cron_spec, opts=child)
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-egress",
        metadata={**meta, "name": "redis-backup-egress"},
        spec={
            "podSelector": {"matchLabels": {"app": "redis-backup"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"app": args.redis_app_label}}}],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                },
                {
                    "to": [{"podSelector": {"matchLabels": {"app": f"{args.redis_app_label}-sentinel"}}}],
                    "ports": [{"protocol": "TCP", "port": 26379}],
                },
                # S3 (gateway endpoint prefix list), STS and KMS over TLS.
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
        opts=child,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-redis",
        metadata={**meta, "name": "redis-from-backup"},
        spec={
            "podSelector": {"matchLabels": {"app": args.redis_app_label}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "redis-backup"}}}],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                }
            ],
        },
        opts=child,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-sentinel",
        metadata={**meta, "name": "sentinel-from-backup"},
        spec={
            "podSelector": {"matchLabels": {"app": f"{args.redis_app_label}-sentinel"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "redis-backup"}}}],
                    "ports": [{"protocol": "TCP", "port": 26379}],
                }
            ],
        },
        opts=child,
    )

    return job_role.arn


def job_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> dict[str, Any]:
    """What the backup and drill jobs may do: objects under their prefix, listing it, their key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ObjectsUnderPrefix",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": pulumi.Output.concat(bucket_arn, f"/{BACKUP_PREFIX}*"),
            },
            {
                "Sid": "ListPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{BACKUP_PREFIX}*"]}},
            },
            {
                "Sid": "BackupKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"],
                "Resource": key_arn,
            },
        ],
    }


def job_pod(
    args: BackupVaultArgs,
    command_args: list[Any],
    spool: dict[str, Any],
    memory_request: str = "256Mi",
    memory_limit: str = "512Mi",
) -> dict[str, Any]:
    """Pod spec of the backup and drill jobs: the ops image with the Redis password and a spool volume.
    A job that asks Sentinel for its source gets the Sentinel's password too (``REDIS_SENTINEL_PASSWORD``):
    the RedisSentinel takes the same Secret as its ``requirepass`` (``kubernetesConfig.redisSecret``)."""
    password = {"secretKeyRef": {"name": args.redis_password_secret, "key": "password"}}
    env = [{"name": "REDIS_PASSWORD", "valueFrom": password}]
    if "--sentinel" in command_args:
        env.append({"name": "REDIS_SENTINEL_PASSWORD", "valueFrom": password})
    return ops_pod(
        service_account=SERVICE_ACCOUNT,
        image=args.ops_image,
        args=command_args,
        env=[*env, {"name": "AWS_REGION", "value": args.region}],
        resources={
            "requests": {"cpu": "250m", "memory": memory_request},
            "limits": {"cpu": "1", "memory": memory_limit},
        },
        volumes=[{"name": "spool", **spool}, {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        mounts=[{"name": "spool", "mountPath": "/spool"}, {"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    )
