"""Data protection on AWS: S3 buckets, KMS keys, CloudWatch log groups, EBS volumes, AWS Backup.

A bucket's settings can be written three ways, all still in pulumi-aws 7: as separate resources
(``BucketVersioning``, ``BucketServerSideEncryptionConfiguration``, ... and their deprecated
``...V2`` twins), joined to their bucket through the ``bucket`` input's dependency; inline on
``aws:s3/bucket:Bucket`` (deprecated inputs, one object each); or inline on the deprecated
``aws:s3/bucketV2:BucketV2`` (lists). The rules read all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._policy import (
    Finding,
    as_int,
    as_map,
    conditions,
    get,
    maps,
    of_type,
    policy_statements,
    principals,
    resource_policy,
    stack_policy,
    strings,
    truthy,
)

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
_LOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
_PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
_KMS = ("aws:kms", "aws:kms:dsse")
LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
"""Service principal that writes load balancer access logs (to SSE-S3 buckets only)."""


def _settings(args: StackValidationArgs, *types: str, input_name: str = "bucket") -> dict[str, PolicyResource]:
    """Bucket (or vault) URN -> the settings resource of one of ``types`` attached to it."""
    out = {}
    for r in of_type(args, *types):
        for dep in r.property_dependencies.get(input_name, []) or []:
            out[dep.urn] = r
    return out


def _buckets(args: StackValidationArgs) -> Iterator[PolicyResource]:
    return of_type(args, *BUCKET_TYPES)


def _inline(bucket: PolicyResource, key: str) -> list[Mapping[str, Any]]:
    """An inline bucket setting: ``key`` on Bucket (an object) or ``key + 's'`` on BucketV2 (a list)."""
    return maps(bucket.props.get(key)) + maps(bucket.props.get(f"{key}s"))


def versioning(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
    for b in _buckets(args):
        status = get(found[b.urn].props, "versioningConfiguration.status") if b.urn in found else None
        inline = any(truthy(v.get("enabled")) for v in _inline(b, "versioning"))
        if status != "Enabled" and not (b.urn not in found and inline):
            yield f"Bucket {b.name} is not versioned.", b.urn


def _encryption_rules(args: StackValidationArgs, b: PolicyResource, found: dict[str, PolicyResource]) -> list[Any]:
    if b.urn in found:
        return maps(found[b.urn].props.get("rules"))
    return [
        rule for c in _inline(b, "serverSideEncryptionConfiguration") for rule in maps(c.get("rule") or c.get("rules"))
    ]


def _log_delivery_bucket(args: StackValidationArgs, b: PolicyResource, policies: dict[str, PolicyResource]) -> bool:
    document = policies[b.urn].props.get("policy") if b.urn in policies else b.props.get("policy")
    return any(LOG_DELIVERY in principals(s) for s in policy_statements(document))


def kms_encryption(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(
        args,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    )
    policies = _settings(args, "aws:s3/bucketPolicy:BucketPolicy")
    for b in _buckets(args):
        algorithms = {
            get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") for r in _encryption_rules(args, b, found)
        }
        if algorithms & set(_KMS):
            continue
        if "AES256" in algorithms and _log_delivery_bucket(args, b, policies):
            continue  # load balancer access logs can only be written to SSE-S3 buckets
        yield f"Bucket {b.name} does not default to SSE-KMS.", b.urn


def lifecycle(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Versioned buckets expire what they no longer need, noncurrent versions included."""
    found = _settings(
        args,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    )
    for b in _buckets(args):
        rules = maps(found[b.urn].props.get("rules")) if b.urn in found else _inline(b, "lifecycleRule")
        enabled = [r for r in rules if r.get("status", "Enabled") == "Enabled" or truthy(r.get("enabled"))]
        if not any(r.get("expiration") or r.get("noncurrentVersionExpiration") for r in enabled):
            yield f"Bucket {b.name} has no lifecycle rule that expires objects or old versions.", b.urn


def public_access_block(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    account = [r for r in of_type(args, "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock")]
    found = _settings(args, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for b in _buckets(args):
        flags = found[b.urn].props if b.urn in found else {}
        missing = [
            f for f in _LOCK_FLAGS if flags.get(f) is not True and not any(a.props.get(f) is True for a in account)
        ]
        if missing:
            yield f"Bucket {b.name} does not block public access ({', '.join(missing)}).", b.urn


def _denies_insecure_transport(policy: Any) -> bool:
    for s in policy_statements(policy):
        if s.get("Effect") == "Deny" and "false" in conditions(s).get("aws:securetransport", []):
            return True
    return False


def tls_only(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    found = _settings(args, "aws:s3/bucketPolicy:BucketPolicy")
    for b in _buckets(args):
        document = found[b.urn].props.get("policy") if b.urn in found else b.props.get("policy")
        if not _denies_insecure_transport(document):
            yield f"Bucket {b.name} accepts requests without TLS.", b.urn


def public_grants(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """No ACL or bucket policy grants access to everyone."""
    acls = _settings(args, "aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
    policies = _settings(args, "aws:s3/bucketPolicy:BucketPolicy")
    for b in _buckets(args):
        acl_props = acls[b.urn].props if b.urn in acls else {}
        canned = {a for a in (b.props.get("acl"), acl_props.get("acl")) if isinstance(a, str)}
        grants = maps(get(acl_props, "accessControlPolicy.grants")) + maps(b.props.get("grants"))
        uris = {str(get(g, "grantee.uri") or g.get("uri") or "") for g in grants}
        if canned & _PUBLIC_ACLS or any(u.endswith(("/global/AllUsers", "/global/AuthenticatedUsers")) for u in uris):
            yield f"Bucket {b.name} grants access to everyone through its ACL.", b.urn
        document = policies[b.urn].props.get("policy") if b.urn in policies else b.props.get("policy")
        for s in policy_statements(document):
            if s.get("Effect") == "Allow" and "*" in principals(s) and not conditions(s):
                yield f"Bucket {b.name}'s policy allows anyone (Principal '*') without a condition.", b.urn


def object_lock(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Buckets are immutable for a minimum time (Object Lock with a default retention)."""
    minimum = as_int(config.get("minRetentionDays"), 1) or 1
    found = _settings(
        args,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
    )
    for b in _buckets(args):
        enabled = (
            truthy(b.props.get("objectLockEnabled"))
            or get(b.props, "objectLockConfiguration.objectLockEnabled") == "Enabled"
        )
        retention = (
            get(found[b.urn].props, "rule.defaultRetention")
            if b.urn in found
            else get(b.props, "objectLockConfiguration.rule.defaultRetention")
        )
        retention = as_map(retention)
        days = (as_int(retention.get("days"), 0) or 0) + 365 * (as_int(retention.get("years"), 0) or 0)
        if not enabled:
            yield (
                Finding(f"Bucket {b.name} has no Object Lock: its objects can be deleted at once.", field="objectLock"),
                b.urn,
            )
        elif days < minimum:
            yield (
                Finding(
                    f"Bucket {b.name} locks objects for {days} days; at least {minimum} are required.",
                    field="objectLock",
                ),
                b.urn,
            )


def replication(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Immutable (recovery) buckets are replicated to another region, unless they are the replica."""
    found = _settings(args, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    destinations = {
        str(get(rule, "destination.bucket"))
        for r in of_type(args, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        for rule in maps(r.props.get("rules"))
    }
    for b in _buckets(args):
        locked = truthy(b.props.get("objectLockEnabled"))
        arn = b.props.get("arn")
        is_replica = any(d in destinations for d in (arn, f"arn:aws:s3:::{b.props.get('bucket')}") if d)
        is_replica = is_replica or any(
            b.urn in {dep.urn for dep in r.property_dependencies.get("rules", []) or []}
            for r in of_type(args, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        )
        if not locked or is_replica:
            continue
        rules = maps(found[b.urn].props.get("rules")) if b.urn in found else _inline(b, "replicationConfiguration")
        if not any(r.get("status", "Enabled") == "Enabled" for r in rules):
            yield f"Bucket {b.name} holds recovery data but is not replicated to another region.", b.urn


def key_rotation(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") not in ("SYMMETRIC_DEFAULT", None):
        return
    if props.get("keyUsage") not in (None, "ENCRYPT_DECRYPT"):
        return
    if not truthy(props.get("enableKeyRotation")):
        yield "Automatic key rotation is off."
    minimum = as_int(config.get("minDeletionWindowDays"), 7) or 7
    window = as_int(props.get("deletionWindowInDays"), 30)
    if window is None or window < minimum:
        yield f"The key can be deleted after {props.get('deletionWindowInDays')} days; at least {minimum} are required."


def key_policy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    for s in policy_statements(props.get("policy")):
        if s.get("Effect") != "Allow":
            continue
        if "*" in principals(s) and not conditions(s):
            yield "The key policy allows anyone (Principal '*') without a condition."


ALLOWED_RETENTION = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for retentionInDays."""


def log_group(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not props.get("kmsKeyId"):
        yield "The log group is not encrypted with a KMS key."
    minimum = as_int(config.get("minRetentionDays"), 1) or 1
    days = as_int(props.get("retentionInDays"), 0) or 0
    if days and days not in ALLOWED_RETENTION:
        yield f"retentionInDays {days} is not a value CloudWatch Logs accepts."
    elif days and days < minimum:
        yield f"The log group keeps events for {days} days; at least {minimum} are required."
    elif not days and not config.get("allowNeverExpire", True):
        yield "The log group keeps events forever."
    if props.get("logGroupClass") == "DELIVERY":
        yield "The log group uses the DELIVERY class, which cannot be queried or alarmed on."


def storage_class_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    ebs = str(props.get("provisioner") or "") in ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")
    if ebs and not truthy(as_map(props.get("parameters")).get("encrypted")):
        yield "The EBS StorageClass does not encrypt its volumes (parameters.encrypted)."


def launch_template_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    for mapping in maps(props.get("blockDeviceMappings")):
        ebs = as_map(mapping.get("ebs"))
        if ebs and not truthy(ebs.get("encrypted")):
            yield f"Launch template volume {mapping.get('deviceName')} is not encrypted."


def volume_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not truthy(props.get("encrypted")):
        yield "The EBS volume is not encrypted."


def instance_encryption(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not truthy(get(props, "rootBlockDevice.encrypted")):
        yield "The instance's root volume is not encrypted."
    for device in maps(props.get("ebsBlockDevices")):
        if not truthy(device.get("encrypted")):
            yield f"The instance's volume {device.get('deviceName')} is not encrypted."


def vault_lock(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    locks = _settings(args, "aws:backup/vaultLockConfiguration:VaultLockConfiguration", input_name="backupVaultName")
    minimum = as_int(config.get("minRetentionDays"), 7) or 7
    for vault in of_type(args, "aws:backup/vault:Vault"):
        lock = locks.get(vault.urn)
        if lock is None:
            yield f"Backup vault {vault.name} has no Vault Lock: recovery points can be deleted.", vault.urn
        else:
            if (as_int(lock.props.get("minRetentionDays"), 0) or 0) < minimum:
                yield f"Backup vault {vault.name} locks recovery points for less than {minimum} days.", vault.urn
            if as_int(lock.props.get("changeableForDays"), None) is None:
                yield (
                    f"Backup vault {vault.name}'s Vault Lock is in governance mode (no changeableForDays): an "
                    "administrator can remove it and delete recovery points early; set changeableForDays for "
                    "compliance mode.",
                    vault.urn,
                )
        if not vault.props.get("kmsKeyArn"):
            yield f"Backup vault {vault.name} is not encrypted with a customer-managed KMS key.", vault.urn


DR_SENTINEL_CONFIGMAP = "redis-dr-sentinel"
"""Holds (key ``sentinel.json``) the RedisSentinel ``ops dr failover`` applies in the DR region."""


def replication_size(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """A primary and at least two replicas: one replica lost (a drain, a zone) still leaves one to
    promote, and the PodDisruptionBudget the operator sets can be met during a drain."""
    minimum = as_int(config.get("minClusterSize"), 3) or 3
    size = as_int(get(props, "spec.clusterSize"), None)
    if size is None or size < minimum:
        yield (
            f"RedisReplication {get(props, 'metadata.name')} runs {size if size is not None else 'an unset number of'} "
            f"pod(s); at least {minimum} (a primary and {minimum - 1} replicas) keep a replica to promote when one "
            "is lost and let a drain evict a pod."
        )


def _sentinel_findings(spec: Mapping[str, Any], label: str, minimum: int) -> Iterable[str]:
    size = as_int(spec.get("clusterSize"), None)
    # The operator's CRD defaults quorum to "2" (+kubebuilder:default:="2", v1beta2 RedisSentinel).
    quorum = as_int(get(spec, "redisSentinelConfig.quorum", "2"), None)
    if size is None or size < minimum or size % 2 == 0:
        yield f"{label} runs {size} Sentinel(s); an odd count of at least {minimum} is required for a clear majority."
        return
    if quorum is None or quorum > size - 1:
        yield (
            f"{label} has quorum {quorum} of {size}: losing one Sentinel leaves too few to agree a primary is down, "
            "so failover stops; the quorum must be at most the count minus one."
        )
    elif quorum < 1:
        yield f"{label} has quorum {quorum}: no Sentinel agreement marks the primary down."


def sentinel_quorum(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """An odd Sentinel count of at least three whose quorum survives the loss of one Sentinel; the DR
    region's Sentinel (kept in a ConfigMap until a failover applies it) is judged the same way."""
    minimum = as_int(config.get("minSentinels"), 3) or 3
    if props.get("kind") == "ConfigMap" or "data" in props:
        if get(props, "metadata.name") != DR_SENTINEL_CONFIGMAP:
            return
        import json

        try:
            manifest = json.loads(str(as_map(props.get("data")).get("sentinel.json")))
            spec = as_map(manifest.get("spec"))
        except (ValueError, AttributeError):
            yield f"ConfigMap {DR_SENTINEL_CONFIGMAP} holds no RedisSentinel manifest under sentinel.json."
            return
        yield from _sentinel_findings(spec, f"The DR RedisSentinel (ConfigMap {DR_SENTINEL_CONFIGMAP})", minimum)
        return
    yield from _sentinel_findings(as_map(props.get("spec")), f"RedisSentinel {get(props, 'metadata.name')}", minimum)


def backup_plan(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Backup plans run, keep recovery points long enough, copy them to another region and select something."""
    minimum = as_int(config.get("minRetentionDays"), 7) or 7
    selections = _settings(args, "aws:backup/selection:Selection", input_name="planId")
    for plan in of_type(args, "aws:backup/plan:Plan"):
        rules = maps(plan.props.get("rules"))
        if not rules:
            yield f"Backup plan {plan.name} has no rule: it never runs.", plan.urn
        for rule in rules:
            label = f"Backup plan {plan.name} rule {rule.get('ruleName')}"
            if not rule.get("schedule"):
                yield f"{label} has no schedule.", plan.urn
            keep = as_int(get(rule, "lifecycle.deleteAfter"), None)
            if keep is not None and keep < minimum:
                yield f"{label} deletes recovery points after {keep} days; at least {minimum} are required.", plan.urn
            if config.get("requireCopy", False) and not maps(rule.get("copyActions")):
                yield f"{label} does not copy recovery points to another region.", plan.urn
        if plan.urn not in selections:
            yield f"Backup plan {plan.name} selects no resource.", plan.urn
    for selection in of_type(args, "aws:backup/selection:Selection"):
        if (
            not strings(selection.props.get("resources"))
            and not maps(selection.props.get("selectionTags"))
            and not selection.props.get("conditions")
        ):
            yield f"Backup selection {selection.name} selects nothing.", selection.urn


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
        description="S3 buckets encrypt objects with KMS by default (SSE-S3 only where load balancers write logs).",
        rule=kms_encryption,
        severity=Severity.HIGH,
        remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and a rotating key.",
    ),
    stack_policy(
        name="s3-bucket-require-lifecycle",
        description="S3 buckets expire objects or noncurrent versions by lifecycle rules.",
        rule=lifecycle,
        severity=Severity.LOW,
        remediation="Add aws.s3.BucketLifecycleConfiguration with expiration and noncurrent_version_expiration.",
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
    stack_policy(
        name="s3-bucket-disallow-public-grants",
        description="No bucket ACL or policy grants access to everyone.",
        rule=public_grants,
        severity=Severity.CRITICAL,
        remediation="Remove public canned ACLs and AllUsers grants; give policies named principals or conditions.",
    ),
    stack_policy(
        name="s3-bucket-require-object-lock",
        description="S3 buckets are immutable for a minimum retention (Object Lock).",
        rule=object_lock,
        severity=Severity.HIGH,
        remediation="Create the bucket with object_lock_enabled and add a BucketObjectLockConfiguration.",
        config={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 1}},
    ),
    stack_policy(
        name="s3-bucket-require-cross-region-replication",
        description="Buckets that hold recovery data are replicated to another region.",
        rule=replication,
        severity=Severity.HIGH,
        remediation="Enable redisgw:dr and replicate the backup bucket (aws.s3.BucketReplicationConfig).",
    ),
    resource_policy(
        name="kms-key-require-rotation",
        description="Symmetric KMS keys rotate automatically and cannot be deleted at short notice.",
        types=("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"),
        rule=key_rotation,
        severity=Severity.MEDIUM,
        remediation="Set enable_key_rotation=True and deletion_window_in_days=30 on the key.",
        config={"minDeletionWindowDays": {"type": "integer", "minimum": 7, "maximum": 30, "default": 7}},
    ),
    resource_policy(
        name="kms-key-disallow-public-policy",
        description="KMS key policies never allow everyone.",
        types=("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy", "aws:kms/replicaKey:ReplicaKey"),
        rule=key_policy,
        severity=Severity.CRITICAL,
        remediation="Name the principals (account root, service roles) or add a condition such as kms:CallerAccount.",
    ),
    resource_policy(
        name="cloudwatch-log-group-require-encryption-and-retention",
        description="Log groups are KMS-encrypted and keep events for a valid, minimum retention.",
        types=("aws:cloudwatch/logGroup:LogGroup",),
        rule=log_group,
        severity=Severity.MEDIUM,
        remediation="Set kms_key_id and retention_in_days (a value CloudWatch accepts, at least the minimum).",
        config={
            "minRetentionDays": {"type": "integer", "minimum": 1, "default": 1},
            "allowNeverExpire": {"type": "boolean", "default": True},
        },
    ),
    resource_policy(
        name="ec2-volume-require-encryption",
        description="EBS volumes, launch template volumes and EBS StorageClasses are encrypted.",
        types=("aws:ebs/volume:Volume", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"),
        kinds=("StorageClass",),
        rule={
            "aws:ebs/volume:Volume": volume_encryption,
            "aws:ec2/launchTemplate:LaunchTemplate": launch_template_encryption,
            "aws:ec2/instance:Instance": instance_encryption,
            "StorageClass": storage_class_encryption,
        },
        severity=Severity.HIGH,
        remediation="Set encrypted=true (parameters.encrypted: 'true' on StorageClasses), with a KMS key.",
    ),
    stack_policy(
        name="backup-vault-require-lock",
        description="AWS Backup vaults are KMS-encrypted and locked so recovery points cannot be deleted early.",
        rule=vault_lock,
        severity=Severity.HIGH,
        remediation="Enable redisgw:backup.vaultLock (aws.backup.VaultLockConfiguration) and a KMS key.",
        config={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 7}},
    ),
    resource_policy(
        name="redis-replication-require-two-replicas",
        description="A RedisReplication runs a primary and at least two replicas.",
        kinds=("RedisReplication",),
        rule=replication_size,
        severity=Severity.HIGH,
        remediation="Set redisgw:redis.replicas to 3 or more (RedisReplication spec.clusterSize).",
        config={"minClusterSize": {"type": "integer", "minimum": 2, "default": 3}},
    ),
    resource_policy(
        name="redis-sentinel-require-surviving-quorum",
        description="Sentinels are an odd count of at least three with a quorum that survives losing one.",
        kinds=("RedisSentinel", "ConfigMap"),
        rule=sentinel_quorum,
        severity=Severity.HIGH,
        remediation="Set redisgw:redis.sentinels to an odd number of 3 or more; the quorum at most one less.",
        config={"minSentinels": {"type": "integer", "minimum": 3, "default": 3}},
    ),
    stack_policy(
        name="backup-plan-require-schedule-retention-and-copy",
        description="AWS Backup plans run on a schedule, keep points long enough, copy them away and select resources.",
        rule=backup_plan,
        severity=Severity.HIGH,
        remediation="Give every rule a schedule, lifecycle.delete_after and a copy action to the DR vault.",
        config={
            "minRetentionDays": {"type": "integer", "minimum": 1, "default": 7},
            "requireCopy": {"type": "boolean", "default": False},
        },
    ),
]
