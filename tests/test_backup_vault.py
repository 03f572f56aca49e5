"""BackupVault component: bucket hardening, tiers, replication, vault lock, plan, IRSA and CronJobs."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.backup_vault import BACKUP_PREFIX, BackupVault, BackupVaultArgs
from ops.cli import _parser
from ops.offline.engine import run_program
from tests.conftest import Recording

NODE_ROLE = "arn:aws:iam::123456789012:role/primary-nodes"


def _declare(dr: bool = True, locks: bool = True, pull_roles: tuple[str, ...] = (NODE_ROLE,)) -> Any:
    def program() -> None:
        provider = aws.Provider("dr", region="eu-central-1") if dr else None
        BackupVault(
            "bk",
            BackupVaultArgs(
                region="eu-west-1",
                namespace="redis-system",
                ops_image=(
                    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
                    "@sha256:7edf7809dcfacef9d62cb22a4ed1003510960625b41abf4423d4a2da22bd1a79"
                ),
                storage_class="gp3-encrypted",
                scratch_size="30Gi",
                drill_memory="2Gi",
                object_lock_days=14 if locks else None,
                vault_lock={"min_retention_days": 7, "max_retention_days": 35, "changeable_for_days": 3}
                if locks
                else None,
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
                oidc_issuer="oidc.eks.eu-west-1.amazonaws.com/id/ABC",
                sentinel_address="redis-sentinel.redis-system.svc.cluster.local:26379",
                master_name="mymaster",
                redis_password_secret="redis-auth",
                redis_app_label="redis",
                dr_provider=provider,
                dr_region="eu-central-1" if dr else None,
                ops_repository_name="redisgw-test/ops",
                image_pull_role_arns=pull_roles,
            ),
            opts=pulumi.ResourceOptions(),
        )

    return program


@pytest.fixture(scope="module")
def rec() -> Recording:
    return Recording(run_program(_declare(), stack="test", config={}, region="eu-west-1"))


def _for_bucket(rec: Recording, typ: str, bucket_name: str) -> dict[str, Any]:
    (found,) = [r for r in rec.of_type(typ) if rec.by_urn(r.property_dependencies["bucket"][0]).name == bucket_name]
    return found.inputs


@pytest.mark.parametrize("bucket", ["bk-bucket", "bk-replica"])
def test_buckets_are_private_versioned_kms_encrypted_and_tls_only(rec: Recording, bucket: str) -> None:
    assert (
        _for_bucket(rec, "aws:s3/bucketVersioning:BucketVersioning", bucket)["versioningConfiguration"]["status"]
        == "Enabled"
    )
    sse = _for_bucket(
        rec, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
    )
    rule = sse["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "aws:kms" and rule["kmsMasterKeyId"].startswith("arn:aws:kms:")
    block = _for_bucket(rec, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (statement,) = json.loads(_for_bucket(rec, "aws:s3/bucketPolicy:BucketPolicy", bucket)["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_replica_lives_in_the_dr_region_under_its_own_key(rec: Recording) -> None:
    replica_key = rec.one("aws:kms/key:Key", "bk-dr-key")
    assert replica_key.provider and "::dr::" in replica_key.provider
    sse = _for_bucket(
        rec, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "bk-replica"
    )
    assert ":eu-central-1:" in sse["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]


def test_replication_has_time_control_and_kms(rec: Recording) -> None:
    (rule,) = rec.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs["rules"]
    dest = rule["destination"]
    assert dest["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert dest["metrics"]["status"] == "Enabled"
    assert ":eu-central-1:" in dest["encryptionConfiguration"]["replicaKmsKeyId"]
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"


def test_lifecycle_tiers_and_object_lock(rec: Recording) -> None:
    (rule,) = rec.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bk-bucket-lifecycle").inputs[
        "rules"
    ]
    (replica,) = rec.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bk-replica-lifecycle"
    ).inputs["rules"]
    assert replica == rule  # the DR copy expires on the same tiers
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]
    assert rule["expiration"]["days"] == 365 and rule["filter"]["prefix"] == BACKUP_PREFIX
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 1
    locks = rec.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert sorted(lock.name for lock in locks) == ["bk-bucket", "bk-replica"]
    for lock in locks:
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 14}
    # S3 replicates a locked object's retention only into a bucket that has Object Lock itself.
    assert rec.one("aws:s3/bucket:Bucket", "bk-bucket").inputs["objectLockEnabled"] is True
    assert rec.one("aws:s3/bucket:Bucket", "bk-replica").inputs["objectLockEnabled"] is True


def test_vault_lock_and_hourly_plan_copied_to_dr(rec: Recording) -> None:
    locks = rec.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert len(locks) == 2  # the primary vault and its DR copy
    for lock in locks:
        assert (lock.inputs["minRetentionDays"], lock.inputs["maxRetentionDays"], lock.inputs["changeableForDays"]) == (
            7,
            35,
            3,
        )
    (rule,) = rec.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["schedule"] == "cron(0 * ? * * *)"
    (copy,) = rule["copyActions"]
    dr_vault = rec.one("aws:backup/vault:Vault", "bk-dr-vault")
    assert copy["destinationVaultArn"].startswith("arn:aws:backup:")
    assert dr_vault.urn in rec.one("aws:backup/plan:Plan").property_dependencies["rules"]
    selection = rec.one("aws:backup/selection:Selection").inputs
    cond = selection["conditions"][0]["stringEquals"][0]
    assert cond == {"key": "aws:ResourceTag/kubernetes.io/created-for/pvc/namespace", "value": "redis-system"}


def test_without_dr_and_locks_nothing_is_replicated_or_locked(run_component: Any) -> None:
    rec = run_component(_declare(dr=False, locks=False))
    assert not rec.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert not rec.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert not rec.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert "copyActions" not in rec.one("aws:backup/plan:Plan").inputs["rules"][0]


def test_job_role_is_limited_to_its_prefix_and_key(rec: Recording) -> None:
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy", "bk-job-inline").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["ObjectsUnderPrefix"]["Resource"].endswith(f"/{BACKUP_PREFIX}*")
    assert "s3:DeleteObject" not in by_sid["ObjectsUnderPrefix"]["Action"]
    assert by_sid["ListPrefix"]["Condition"] == {"StringLike": {"s3:prefix": [f"{BACKUP_PREFIX}*"]}}
    assert by_sid["BackupKey"]["Resource"].startswith("arn:aws:kms:eu-west-1:")
    trust = json.loads(rec.one("aws:iam/role:Role", "bk-job").inputs["assumeRolePolicy"])
    (sub,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert sub == "system:serviceaccount:redis-system:redis-backup"


def test_backup_cronjob_every_15_minutes_without_overlap(rec: Recording) -> None:
    job = rec.one("kubernetes:batch/v1:CronJob", "bk-redis-backup").inputs["spec"]
    assert job["schedule"] == "*/15 * * * *"
    assert job["concurrencyPolicy"] == "Forbid"
    assert job["startingDeadlineSeconds"] == 300 and job["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 840
    assert (job["successfulJobsHistoryLimit"], job["failedJobsHistoryLimit"]) == (3, 3)
    pod = job["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"][:5] == [
        "backup",
        "--sentinel",
        "redis-sentinel.redis-system.svc.cluster.local:26379",
        "--master-name",
        "mymaster",
    ]
    assert {"name": "spool", "persistentVolumeClaim": {"claimName": "backup-storage"}} in pod["volumes"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # The Job's command line is one the CLI accepts, and it gives up before Kubernetes kills it.
    parsed = _parser().parse_args(in_scratch(c["args"]))
    assert parsed.sentinel == [("redis-sentinel.redis-system.svc.cluster.local", 26379)]
    assert 0 < parsed.deadline < job["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    claim = rec.one("kubernetes:core/v1:PersistentVolumeClaim").inputs
    assert claim["metadata"]["name"] == "backup-storage" and claim["spec"]["resources"]["requests"]["storage"] == "30Gi"


def in_scratch(args: list[str]) -> list[str]:
    """The Job's arguments with /spool (mounted in the pod, checked at parse time) pointed at a real directory."""
    return [tempfile.gettempdir() if a == "/spool" else a for a in args]


def test_weekly_restore_drill(rec: Recording) -> None:
    job = rec.one("kubernetes:batch/v1:CronJob", "bk-redis-restore-drill").inputs["spec"]
    assert job["schedule"] == "0 4 * * 1" and job["concurrencyPolicy"] == "Forbid"
    pod = job["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][0] == "drill"
    args = pod["containers"][0]["args"]
    assert args[args.index("--work-dir") + 1] == "/spool"  # the mounted volume
    assert _parser().parse_args(in_scratch(args)).command == "drill"
    spool = next(v for v in pod["volumes"] if v["name"] == "spool")
    assert "ephemeral" in spool


def test_the_job_asking_sentinel_has_the_sentinels_password(rec: Recording) -> None:
    """The RedisSentinel takes the Redis password Secret as its own ``requirepass``: a backup job that
    asks Sentinel without it fails with "Authentication required" (run for real in test_image_jobs)."""
    pod = rec.one("kubernetes:batch/v1:CronJob", "bk-redis-backup").inputs["spec"]["jobTemplate"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert "--sentinel" in container["args"]
    env = {e["name"]: e.get("valueFrom") for e in container["env"]}
    assert (
        env["REDIS_SENTINEL_PASSWORD"]
        == env["REDIS_PASSWORD"]
        == {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
    )
    drill = rec.one("kubernetes:batch/v1:CronJob", "bk-redis-restore-drill").inputs["spec"]["jobTemplate"]["spec"]
    drill_env = {e["name"] for e in drill["template"]["spec"]["containers"][0]["env"]}
    assert "REDIS_SENTINEL_PASSWORD" not in drill_env  # the drill asks no Sentinel


def test_the_drill_pod_gets_the_memory_it_is_given_request_equal_to_limit(rec: Recording) -> None:
    drill = rec.one("kubernetes:batch/v1:CronJob", "bk-redis-restore-drill").inputs["spec"]["jobTemplate"]["spec"]
    resources = drill["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "2Gi"


# -- the ops image repository ----------------------------------------------------------------------


def test_ops_repository_is_immutable_scanned_and_encrypted_with_its_own_key(rec: Recording) -> None:
    repository = rec.one("aws:ecr/repository:Repository")
    assert repository.name == "bk-ops-image" and repository.inputs["name"] == "redisgw-test/ops"
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    (encryption,) = repository.inputs["encryptionConfigurations"]
    assert encryption["encryptionType"] == "KMS"
    (key_urn,) = repository.property_dependencies["encryptionConfigurations"]
    key = rec.by_urn(key_urn)
    assert key.name == "bk-ops-image-key" and key.inputs["enableKeyRotation"] is True  # not the backups' key
    assert encryption["kmsKey"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")  # the primary region
    assert repository.protect and key.protect  # the stack's protection, like the backups
    assert repository.inputs["forceDelete"] is False


def test_ops_repository_lifecycle_keeps_releases_and_expires_untagged_images(rec: Recording) -> None:
    lifecycle = rec.one("aws:ecr/lifecyclePolicy:LifecyclePolicy", "bk-ops-image-lifecycle")
    assert lifecycle.inputs["repository"] == "redisgw-test/ops"
    rules = {r["rulePriority"]: r for r in json.loads(lifecycle.inputs["policy"])["rules"]}
    assert sorted(rules) == [1, 2, 3]
    assert rules[1]["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["v*"],
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }
    assert rules[2]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 14,
    }
    # ECR requires a rule on any tag status to come last; releases matched above are never expired by it.
    assert rules[3]["selection"]["tagStatus"] == "any" and max(rules) == 3
    assert all(r["action"] == {"type": "expire"} for r in rules.values())


def test_ops_repository_policy_lets_the_nodes_pull_and_nothing_else(rec: Recording) -> None:
    policy = rec.one("aws:ecr/repositoryPolicy:RepositoryPolicy", "bk-ops-image-pull")
    assert policy.inputs["repository"] == "redisgw-test/ops"
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": [NODE_ROLE]}
    assert sorted(statement["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]


def test_without_pull_roles_no_repository_policy_is_declared(run_component: Any) -> None:
    rec = run_component(_declare(dr=False, locks=False, pull_roles=()))
    assert rec.one("aws:ecr/repository:Repository").inputs["name"] == "redisgw-test/ops"
    assert not rec.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")


@pytest.mark.parametrize("job", ["bk-redis-backup", "bk-redis-restore-drill"])
def test_backup_jobs_run_in_the_batch_priority_class(rec: Recording, job: str) -> None:
    spec = rec.one("kubernetes:batch/v1:CronJob", job).inputs["spec"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["priorityClassName"] == "redis-gateway-batch"
