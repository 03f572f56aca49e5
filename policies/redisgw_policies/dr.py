"""Disaster recovery: a warm standby that can take over, and the safeguards that make it work.

These policies look at both regions at once (``per_region=False``): which resources belong to the DR
region is read from the parent chain (:func:`redisgw_policies._policy.region_of`).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._policy import (
    DR_COMPONENT,
    as_map,
    get,
    k8s_kind,
    maps,
    of_type,
    region_of,
    stack_policy,
    strings,
)
from redisgw_policies.data import _buckets, _inline, _settings

Findings = Iterable[tuple[str, str | None]]
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
REDIS_CONFIG = "redis-extra-config"
"""ConfigMap of the data tier's ``redis-additional.conf``."""


def _in(args: StackValidationArgs, region: str) -> list[PolicyResource]:
    return [r for r in args.resources if region_of(r) == region]


def _has_dr(args: StackValidationArgs) -> bool:
    return any(r.resource_type == DR_COMPONENT for r in args.resources)


def _waived(config: Mapping[str, Any]) -> bool:
    waiver = as_map(config.get("waiver"))
    if len(str(waiver.get("reason", ""))) < 30:
        return False
    expires = waiver.get("expires")
    try:
        return not expires or datetime.date.fromisoformat(str(expires)) >= datetime.date.today()
    except ValueError:
        return False


def warm_standby(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """A DR region exists and its Redis replicates continuously from the primary's."""
    if _waived(config):
        return
    if not _has_dr(args):
        yield "The stack has no DR region: a regional outage means rebuilding from backups (hours of RTO).", None
        return
    dr_configs = [
        r
        for r in _in(args, "dr")
        if k8s_kind(r.resource_type) == "ConfigMap" and get(r.props, "metadata.name") == REDIS_CONFIG
    ]
    if not dr_configs:
        yield "The DR region runs no Redis data tier: there is nothing to fail over to.", None
        return
    for cm in dr_configs:
        conf = str(as_map(cm.props.get("data")).get("redis-additional.conf", ""))
        if not any(line.strip().startswith(("replicaof ", "slaveof ")) for line in conf.splitlines()):
            yield (
                "The DR region's Redis does not replicate from the primary (no replicaof): a failover loses "
                "everything since the last replicated backup.",
                cm.urn,
            )


def _cidr(vpc: PolicyResource) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(vpc.props.get("cidrBlock")))
    except ValueError:
        return None


def disjoint_ranges(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The DR VPC's range overlaps no primary VPC's, and the two are peered."""
    if not _has_dr(args):
        return
    primary = [(v, _cidr(v)) for v in of_type(args, "aws:ec2/vpc:Vpc") if region_of(v) == "primary"]
    dr = [(v, _cidr(v)) for v in of_type(args, "aws:ec2/vpc:Vpc") if region_of(v) == "dr"]
    for v, net in dr:
        for p, other in primary:
            if net is not None and other is not None and net.overlaps(other):
                yield (
                    f"DR VPC {v.name} ({net}) overlaps VPC {p.name} ({other}): peered ranges must be disjoint.",
                    v.urn,
                )
    if dr and not any(of_type(args, "aws:ec2/vpcPeeringConnection:VpcPeeringConnection")):
        yield "The DR VPC is not peered with the primary: the standby cannot replicate privately.", dr[0][0].urn


def _versions(args: StackValidationArgs, region: str) -> dict[str, PolicyResource]:
    out = {}
    for c in of_type(args, "eks:index:Cluster", "aws:eks/cluster:Cluster"):
        if region_of(c) == region and c.props.get("version") is not None:
            out[str(c.props.get("version"))] = c
    return out


def _minor(version: str) -> int | None:
    match = re.fullmatch(r"1\.(\d+)", version)
    return int(match.group(1)) if match else None


def matching_versions(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The DR cluster runs the primary's Kubernetes version: a failover must not change the platform.

    During an upgrade the standby moves after the primary (``redisgw:dr.clusterVersion``), so that a
    failover while the primary is new lands on the platform known to work: until the date
    ``allowTrailingUntil`` names, the DR cluster may run exactly one minor behind the primary."""
    primary, dr = _versions(args, "primary"), _versions(args, "dr")
    until = _date(config.get("allowTrailingUntil"))
    trailing = until is not None and until >= datetime.date.today()
    for version, cluster in dr.items():
        if not primary or version in primary:
            continue
        behind = [(_minor(p) or 0) - (_minor(version) or 0) for p in primary]
        if trailing and _minor(version) is not None and behind == [1] * len(primary):
            continue
        lapsed = f" (allowTrailingUntil {until} has passed)" if until is not None and not trailing else ""
        yield (
            f"DR cluster {cluster.name} runs Kubernetes {version}, the primary {', '.join(sorted(primary))}{lapsed}.",
            cluster.urn,
        )


def _date(value: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _failover(record: PolicyResource) -> str | None:
    for policy in maps(record.props.get("failoverRoutingPolicies")) + maps(record.props.get("failoverRoutingPolicy")):
        if policy.get("type"):
            return str(policy.get("type"))
    return None


def failover_records(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The API hostname is a PRIMARY/SECONDARY failover pair, the PRIMARY one health-checked."""
    if not _has_dr(args):
        return
    records = list(of_type(args, "aws:route53/record:Record"))
    by_name: dict[str, dict[str, PolicyResource]] = {}
    for r in records:
        role = _failover(r)
        if role:
            by_name.setdefault(str(r.props.get("name", "")).rstrip("."), {})[role] = r
    if not by_name:
        yield "A DR region exists but no record fails over to it: DNS keeps sending users to the lost region.", None
        return
    declared = {h.urn for h in of_type(args, "aws:route53/healthCheck:HealthCheck")}
    for name, roles in sorted(by_name.items()):
        for missing in ("PRIMARY", "SECONDARY"):
            if missing not in roles:
                other = next(iter(roles.values()))
                yield f"Record {name} has no {missing} failover record beside its {_failover(other)}.", other.urn
        primary = roles.get("PRIMARY")
        if primary is not None:
            linked = primary.property_dependencies.get("healthCheckId") or []
            if not primary.props.get("healthCheckId"):
                yield (
                    f"The PRIMARY record of {name} has no health check: Route 53 never fails it over.",
                    primary.urn,
                )
            elif linked and not any(h.urn in declared for h in linked):
                yield f"The PRIMARY record of {name} names a health check this stack does not declare.", primary.urn
        plain = [r for r in records if str(r.props.get("name", "")).rstrip(".") == name and not _failover(r)]
        for r in plain:
            yield f"Record {r.name} answers for {name} outside the failover pair.", r.urn


def _replicas(args: StackValidationArgs) -> Iterator[PolicyResource]:
    """Buckets that are the destination of a replication rule (by dependency, or by ARN)."""
    destinations = {
        str(get(rule, "destination.bucket")) for r in of_type(args, REPLICATION) for rule in maps(r.props.get("rules"))
    }
    depends = {dep.urn for r in of_type(args, REPLICATION) for dep in (r.property_dependencies.get("rules") or [])}
    sources = {dep.urn for r in of_type(args, REPLICATION) for dep in (r.property_dependencies.get("bucket") or [])}
    for b in _buckets(args):
        by_arn = str(b.props.get("arn")) in destinations
        if (by_arn or b.urn in depends) and b.urn not in sources:
            yield b


def replica_bucket(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """The replica bucket keeps Object Lock and moves through the same storage tiers as the source."""
    locks = _settings(
        args,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
    )
    lifecycles = _settings(
        args,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    )
    for b in _replicas(args):
        locked = str(b.props.get("objectLockEnabled")).lower() == "true" or (
            get(b.props, "objectLockConfiguration.objectLockEnabled") == "Enabled"
        )
        if not locked or (b.urn not in locks and not get(b.props, "objectLockConfiguration.rule")):
            yield (
                f"Replica bucket {b.name} has no Object Lock retention: S3 refuses to replicate locked backups "
                "into it, and its copies could be deleted.",
                b.urn,
            )
        rules = maps(lifecycles[b.urn].props.get("rules")) if b.urn in lifecycles else _inline(b, "lifecycleRule")
        enabled = [r for r in rules if r.get("status", "Enabled") == "Enabled"]
        tiers = [t for r in enabled for t in maps(r.get("transitions")) + maps(r.get("transition"))]
        if not tiers or not any(r.get("expiration") for r in enabled):
            yield (
                f"Replica bucket {b.name} has no lifecycle tiers and expiry: every copy stays in the standard class "
                "forever.",
                b.urn,
            )


def replication_alarm(args: StackValidationArgs, config: Mapping[str, Any]) -> Findings:
    """Failed replication raises a CloudWatch alarm that notifies someone."""
    if not any(of_type(args, REPLICATION)):
        return
    alarms = [
        a
        for a in of_type(args, "aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.props.get("namespace") == "AWS/S3" and a.props.get("metricName") == "OperationsFailedReplication"
    ]
    if not alarms:
        yield "Bucket replication has no alarm on OperationsFailedReplication: the DR copy can stop silently.", None
    for a in alarms:
        if not strings(a.props.get("alarmActions")):
            yield f"Alarm {a.name} notifies nobody (no alarmActions).", a.urn


WAIVER = {
    "waiver": {
        "type": "object",
        "description": "Run without a replicating standby for a stated reason (until an optional date).",
        "properties": {
            "reason": {"type": "string", "minLength": 30},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        },
        "required": ["reason"],
        "additionalProperties": False,
    }
}

POLICIES = [
    stack_policy(
        name="dr-require-warm-standby",
        description="A DR region runs a Redis standby that replicates continuously from the primary.",
        rule=warm_standby,
        severity=Severity.HIGH,
        remediation="Enable redisgw:dr with replication: replica, or set a waiver with its reason in the pack config.",
        config=WAIVER,
        per_region=False,
    ),
    stack_policy(
        name="dr-require-disjoint-peered-ranges",
        description="The DR VPC's range overlaps no primary range, and the two VPCs are peered.",
        rule=disjoint_ranges,
        severity=Severity.HIGH,
        remediation="Choose a redisgw:dr.vpcCidr disjoint from every primary range; keep the DrRegion peering.",
        per_region=False,
    ),
    stack_policy(
        name="dr-require-matching-cluster-version",
        description="The DR cluster runs the primary's Kubernetes version.",
        rule=matching_versions,
        severity=Severity.MEDIUM,
        remediation=(
            "Let the DR cluster take redisgw:cluster.version; while it trails by one minor during an upgrade "
            "(redisgw:dr.clusterVersion), set allowTrailingUntil to the window's end (docs/runbooks/upgrades.md)."
        ),
        config={
            "allowTrailingUntil": {
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "description": "Until this date the DR cluster may trail the primary by one minor (a staged upgrade).",
            }
        },
        per_region=False,
    ),
    stack_policy(
        name="dr-require-failover-records",
        description="The API hostname is a PRIMARY/SECONDARY failover pair and the PRIMARY record has a health check.",
        rule=failover_records,
        severity=Severity.HIGH,
        remediation="Keep the edge's failover records (PRIMARY with its Route 53 health check, SECONDARY in DR).",
        per_region=False,
    ),
    stack_policy(
        name="dr-require-locked-tiered-replica",
        description="The backup replica bucket has Object Lock and the same lifecycle tiers and expiry as the source.",
        rule=replica_bucket,
        severity=Severity.HIGH,
        remediation="Create the replica with Object Lock and the BackupVault's lifecycle tiers.",
        per_region=False,
    ),
    stack_policy(
        name="dr-require-replication-alarm",
        description="Failed S3 replication raises a CloudWatch alarm with an action.",
        rule=replication_alarm,
        severity=Severity.MEDIUM,
        remediation="Keep the BackupVault's replication alarms and their SNS topic.",
        per_region=False,
    ),
]
