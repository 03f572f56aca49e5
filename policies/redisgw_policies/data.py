"""Data protection on AWS: S3 buckets, KMS keys and AWS Backup vaults.

With provider v7 a bucket's settings are separate resources (versioning, encryption, public access
block, policy); the stack rules join them to their bucket through the ``bucket`` input's dependency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._policy import get, of_type, resource_policy, stack_policy

BUCKET = "aws:s3/bucket:Bucket"
_LOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _settings(args: StackValidationArgs, typ: str, input_name: str = "bucket") -> dict[str, PolicyResource]:
    """Bucket (or vault) URN -> the settings resource of type ``typ`` attached to it."""
    out = {}
    for r in of_type(args, typ):
        for dep in r.property_dependencies.get(input_name, []):
            out[dep.urn] = r
    return out


def _buckets(args: StackValidationArgs) -> Iterator[PolicyResource]:
    return of_type(args, BUCKET)


def versioning(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketVersioning:BucketVersioning")
    for b in _buckets(args):
        status = get(found[b.urn].props, "versioningConfiguration.status") if b.urn in found else None
        if status != "Enabled":
            yield f"Bucket {b.name} is not versioned.", b.urn


def kms_encryption(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    for b in _buckets(args):
        rules = found[b.urn].props.get("rules") or [] if b.urn in found else []
        if not any(
            get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") in ("aws:kms", "aws:kms:dsse") for r in rules
        ):
            yield f"Bucket {b.name} does not default to SSE-KMS.", b.urn


def public_access_block(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for b in _buckets(args):
        flags = found[b.urn].props if b.urn in found else {}
        missing = [f for f in _LOCK_FLAGS if flags.get(f) is not True]
        if missing:
            yield f"Bucket {b.name} does not block public access ({', '.join(missing)}).", b.urn


def _denies_insecure_transport(policy: Any) -> bool:
    try:
        doc = json.loads(policy) if isinstance(policy, str) else policy
    except json.JSONDecodeError:
        return False
    for s in (doc or {}).get("Statement") or []:
        if s.get("Effect") == "Deny" and get(s, "Condition.Bool", {}).get("aws:SecureTransport") in ("false", False):
            return True
    return False


def tls_only(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketPolicy:BucketPolicy")
    for b in _buckets(args):
        if b.urn not in found or not _denies_insecure_transport(found[b.urn].props.get("policy")):
            yield f"Bucket {b.name} accepts requests without TLS.", b.urn


def key_rotation(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return
    if props.get("enableKeyRotation") is not True:
        yield "Automatic key rotation is off."


def vault_lock(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    locks = _settings(args, "aws:backup/vaultLockConfiguration:VaultLockConfiguration", "backupVaultName")
    minimum = int(config.get("minRetentionDays", 7))
    for vault in of_type(args, "aws:backup/vault:Vault"):
        lock = locks.get(vault.urn)
        if lock is None:
            yield f"Backup vault {vault.name} has no Vault Lock: recovery points can be deleted.", vault.urn
        elif int(lock.props.get("minRetentionDays") or 0) < minimum:
            yield f"Backup vault {vault.name} locks recovery points for less than {minimum} days.", vault.urn


POLICIES = [
    stack_policy(
        name="s3-bucket-require-versioning",
        description="S3 buckets keep object versions.",
        rule=versioning,
        severity=Severity.MEDIUM,
        remediation="Add aws.s3.BucketVersioning with status Enabled.",
    ),
    stack_policy(
        name="s3-bucket-require-kms-encryption",
        description="S3 buckets encrypt objects with KMS by default.",
        rule=kms_encryption,
        severity=Severity.HIGH,
        remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and a rotating key.",
    ),
    stack_policy(
        name="s3-bucket-require-public-access-block",
        description="S3 buckets block every form of public access.",
        rule=public_access_block,
        severity=Severity.CRITICAL,
        remediation="Add aws.s3.BucketPublicAccessBlock with all four flags true.",
    ),
    stack_policy(
        name="s3-bucket-require-tls-only-policy",
        description="S3 bucket policies deny requests that do not use TLS.",
        rule=tls_only,
        severity=Severity.HIGH,
        remediation="Add a bucket policy statement denying s3:* when aws:SecureTransport is false.",
    ),
    resource_policy(
        name="kms-key-require-rotation",
        description="Symmetric KMS keys rotate automatically.",
        types=("aws:kms/key:Key",),
        rule=key_rotation,
        severity=Severity.MEDIUM,
        remediation="Set enable_key_rotation=True on the key.",
    ),
    stack_policy(
        name="backup-vault-require-lock",
        description="AWS Backup vaults are locked so recovery points cannot be deleted early.",
        rule=vault_lock,
        severity=Severity.HIGH,
        remediation="Enable redisgw:backup.vaultLock (aws.backup.VaultLockConfiguration).",
        config={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 7}},
    ),
]
