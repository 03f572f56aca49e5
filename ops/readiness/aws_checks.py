"""The AWS items of the scorecard, read with boto3 (the standard environment: region, profile,
``AWS_ENDPOINT_URL``).

* backups: the newest complete backup in S3 is younger than the backup objective, its manifest is
  valid (the job verified the RDB while streaming it, and writes the manifest last), and the stored
  segments add up to the size the manifest records; the same in the DR region's replica bucket,
  which shows replication works;
* AWS Backup: the newest completed recovery point of the vault (and of the DR vault) is younger
  than the snapshot plan's objective;
* the edge: the ACM certificate is issued and more than 21 days from expiry, the load balancer the
  Ingress got has the stack's web ACL, and the Route 53 health checks are healthy and neither
  disabled (Route 53 then calls them healthy: failover off) nor inverted (failover the wrong way),
  each judged on its own; both at once is the manual failover override, named as such;
* the cluster: EKS reports it active, on a version the pack's ``eks-cluster-require-supported-version``
  accepts (the same rule, on the live version).
* the declared versions: the control plane, each managed node group and each EKS add-on run what the
  stack declares (``cluster.version``, ``cluster.nodeVersion``, the add-on builds pinned for that
  minor), each ``ACTIVE``: the verification of an upgrade, and drift when EKS moved on its own.

Credentials that AWS refuses (missing, expired, invalid) and a call still throttled after botocore's
retries stop the scorecard with one line (exit 2, "cannot judge"); a missing resource or a denied
call fails its item with the reason.
"""

from __future__ import annotations

import datetime
import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ops.errors import OpsError, describe
from ops.readiness import pack
from ops.readiness.model import Item, item
from ops.readiness.targets import Backups, Targets, Vault

REFUSED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "RequestExpired",
}
"""Error codes that mean the credentials themselves are refused (not a missing resource)."""
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
"""Error codes of a request refused for its rate (botocore's standard retry mode has already retried
it): like an unreachable endpoint, they say nothing about the system."""


class UnavailableError(Exception):
    """A call failed for a reason that fails its item (missing resource, access denied)."""


def _client(service: str, region: str | None, timeout: float) -> Any:
    """One client per service, region, timeout and AWS environment (a client loads its service model:
    a tenth of a second each time)."""
    environment = tuple(os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"))
    return _new_client(service, region, timeout, environment)


@functools.cache
def _new_client(service: str, region: str | None, timeout: float, environment: tuple[str | None, ...]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=region,
        config=Config(
            connect_timeout=min(timeout, 10.0), read_timeout=timeout, retries={"mode": "standard", "max_attempts": 3}
        ),
    )


def call(service: str, region: str | None, timeout: float, operation: str, **kwargs: Any) -> Any:
    """``operation`` of ``service``: refused credentials and an unreachable endpoint raise OpsError
    (exit 2), any other error :class:`UnavailableError` with AWS's code and message."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
    from botocore.exceptions import ConnectionError as AwsConnectionError

    try:
        return getattr(_client(service, region, timeout), operation)(**kwargs)
    except NoCredentialsError:
        raise OpsError("AWS: no credentials found (environment, profile or instance role)", code=2) from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "error"))
        if code in REFUSED:
            raise OpsError(f"AWS {service} {operation}: credentials refused ({code}): renew them", code=2) from None
        if code in THROTTLED:
            raise OpsError(
                f"AWS {service} {operation}: throttled ({code}) after retries: cannot judge; run it again later", code=2
            ) from None
        raise UnavailableError(f"{service} {operation}: {code}: {err.get('Message', '')}".rstrip(": ")) from None
    except (AwsConnectionError, HTTPClientError) as exc:
        # Unreachable, timed out, TLS refused, connection dropped: the probe cannot see AWS, which says
        # nothing about the system (a black-holed egress must not read as failed backups).
        raise OpsError(f"AWS {service}: cannot reach the endpoint ({describe(exc)}): cannot judge", code=2) from None
    except BotoCoreError as exc:
        raise UnavailableError(f"{service} {operation}: {describe(exc)}") from None


def _age(now: datetime.datetime, then: datetime.datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def backup_problems(
    backups: Backups, now: datetime.datetime, timeout: float, notes: list[str] | None = None
) -> list[str]:
    from ops.runtime.backups import DATA_FOLDER, Location, list_backups

    location = Location(backups.bucket, backups.prefix, backups.region)
    call("s3", backups.region, timeout, "head_bucket", Bucket=backups.bucket)  # missing bucket: one clear reason
    try:
        entries = list_backups(location)
    except OpsError as exc:
        raise UnavailableError(exc.message) from None
    complete = [e for e in entries if e.status == "complete" and e.manifest is not None]
    if not complete:
        return [f"{location.url}: no complete backup ({len(entries)} folders)"]
    newest = complete[-1]
    assert newest.manifest is not None
    problems = []
    age = (now - newest.manifest.completed_at).total_seconds()
    if age > backups.max_age_seconds:
        problems.append(
            f"{location.url}: newest backup {newest.id} is {_age(now, newest.manifest.completed_at)} old, "
            f"objective {backups.max_age_seconds // 60} min"
        )
    invalid_after = [e.id for e in entries if e.status == "invalid" and e.id > newest.id]
    if invalid_after:
        problems.append(f"{location.url}: newer backups have unreadable manifests: {', '.join(invalid_after)}")
    if newest.manifest.format_version >= 2:
        stored = 0
        pages = call("s3", backups.region, timeout, "get_paginator", operation_name="list_objects_v2")
        folder = location.key(newest.id, DATA_FOLDER)
        try:
            for page in pages.paginate(Bucket=backups.bucket, Prefix=folder):
                stored += sum(int(o.get("Size", 0)) for o in page.get("Contents", []))
        except Exception as exc:  # botocore errors while paging
            raise UnavailableError(f"s3 list {folder}: {describe(exc)}") from None
        if stored != newest.manifest.object_size:
            problems.append(
                f"{location.url}: backup {newest.id} stores {stored} bytes, its manifest records "
                f"{newest.manifest.object_size}: the data is damaged or incomplete"
            )
    if notes is not None:
        notes.append(
            f"{location.url}: newest backup {newest.id}, {_age(now, newest.manifest.completed_at)} old "
            f"(objective {backups.max_age_seconds // 60} min), {newest.manifest.object_size} bytes as its manifest "
            f"records, {len(complete)} complete backups"
        )
    return problems


def vault_problems(vault: Vault, now: datetime.datetime, timeout: float, notes: list[str] | None = None) -> list[str]:
    points: Sequence[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        page = call(
            "backup",
            vault.region,
            timeout,
            "list_recovery_points_by_backup_vault",
            BackupVaultName=vault.name,
            **({"NextToken": token} if token else {}),
        )
        points += page.get("RecoveryPoints", [])
        token = page.get("NextToken")
        if not token:
            break
    done = [
        p for p in points if p.get("Status") == "COMPLETED" and isinstance(p.get("CreationDate"), datetime.datetime)
    ]
    if not done:
        return [f"vault {vault.name} ({vault.region}): no completed recovery point ({len(points)} in all)"]
    newest = max(p["CreationDate"] for p in done)
    if (now - newest).total_seconds() > vault.max_age_seconds:
        return [
            f"vault {vault.name} ({vault.region}): newest completed recovery point is {_age(now, newest)} old, "
            f"objective {vault.max_age_seconds // 60} min"
        ]
    if notes is not None:
        notes.append(
            f"vault {vault.name} ({vault.region}): newest completed recovery point {_age(now, newest)} old "
            f"(objective {vault.max_age_seconds // 60} min), {len(done)} completed"
        )
    return []


def certificate_problems(
    targets: Targets, now: datetime.datetime, timeout: float, notes: list[str] | None = None
) -> list[str]:
    edge = targets.edge
    cert = call("acm", targets.region, timeout, "describe_certificate", CertificateArn=edge.certificate_arn)[
        "Certificate"
    ]
    problems = []
    if cert.get("Status") != "ISSUED":
        problems.append(f"certificate for {edge.hostname}: status {cert.get('Status')}")
    not_after = cert.get("NotAfter")
    if not isinstance(not_after, datetime.datetime):
        problems.append(f"certificate for {edge.hostname}: no expiry date")
    elif (not_after - now) < datetime.timedelta(days=edge.min_certificate_days):
        left = (not_after - now).days
        problems.append(
            f"certificate for {edge.hostname} expires {not_after:%Y-%m-%d} ({left} days), under "
            f"{edge.min_certificate_days}: renewal is stuck (check its DNS validation record)"
        )
    if notes is not None and isinstance(not_after, datetime.datetime):
        notes.append(
            f"certificate for {edge.hostname}: {cert.get('Status')}, expires {not_after:%Y-%m-%d} "
            f"({(not_after - now).days} days)"
        )
    return problems


def ingress_hostnames(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """The load balancer hostnames the AWS Load Balancer Controller wrote into the Ingresses' status."""
    return [
        str(lb.get("hostname"))
        for o in objects
        if o.get("kind") == "Ingress"
        for lb in ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if isinstance(lb, Mapping) and lb.get("hostname")
    ]


def waf_problems(targets: Targets, hostnames: list[str], timeout: float, notes: list[str] | None = None) -> list[str]:
    if not hostnames:
        return ["no Ingress has a load balancer yet (status.loadBalancer is empty)"]
    balancers: Sequence[Mapping[str, Any]] = []
    marker: str | None = None
    while True:
        page = call(
            "elbv2", targets.region, timeout, "describe_load_balancers", **({"Marker": marker} if marker else {})
        )
        balancers += page.get("LoadBalancers", [])
        marker = page.get("NextMarker")
        if not marker:
            break
    by_dns = {str(b.get("DNSName", "")).lower(): b for b in balancers}
    problems = []
    for hostname in hostnames:
        balancer = by_dns.get(hostname.lower())
        if balancer is None:
            problems.append(f"load balancer {hostname}: not found in {targets.region}")
            continue
        acl = call(
            "wafv2", targets.region, timeout, "get_web_acl_for_resource", ResourceArn=balancer["LoadBalancerArn"]
        )
        arn = (acl.get("WebACL") or {}).get("ARN")
        if arn is None:
            problems.append(f"load balancer {hostname}: no web ACL associated")
        elif arn != targets.edge.web_acl_arn:
            problems.append(f"load balancer {hostname}: web ACL {arn}, not the stack's {targets.edge.web_acl_arn}")
        elif notes is not None:
            notes.append(f"load balancer {hostname}: web ACL {arn}")
    return problems


ROUTE53_REGION = "us-east-1"
"""Route 53 is global; its API is signed for us-east-1."""
HEALTHY_SHARE = 0.18
"""Route 53 calls an endpoint healthy when more than 18% of its checkers report it healthy."""


def health_check_problems(targets: Targets, timeout: float, notes: list[str] | None = None) -> list[str]:
    problems = []
    for check_id in targets.edge.health_check_ids:
        config = call("route53", ROUTE53_REGION, timeout, "get_health_check", HealthCheckId=check_id)["HealthCheck"]
        settings = config.get("HealthCheckConfig") or {}
        disabled, inverted = bool(settings.get("Disabled")), bool(settings.get("Inverted"))
        if disabled and inverted:
            problems.append(f"health check {check_id}: manual failover override in effect (Disabled and Inverted)")
            continue
        if disabled:
            # Route 53 treats a disabled check as healthy whatever the endpoint does (Inverted flips that).
            problems.append(
                f"health check {check_id}: disabled: Route 53 treats the region as healthy whatever it answers, "
                "so automatic failover is off"
            )
            continue
        if inverted:
            problems.append(
                f"health check {check_id}: inverted: Route 53 calls the region unhealthy while it serves and "
                "healthy while it is down, so failover fires the wrong way"
            )
            continue
        observations = call("route53", ROUTE53_REGION, timeout, "get_health_check_status", HealthCheckId=check_id).get(
            "HealthCheckObservations", []
        )
        reports = [str((o.get("StatusReport") or {}).get("Status", "")) for o in observations]
        healthy = sum(r.startswith("Success") for r in reports)
        if not reports or healthy / len(reports) <= HEALTHY_SHARE:
            sample = next((r for r in reports if not r.startswith("Success")), "no observation")
            problems.append(f"health check {check_id}: {healthy} of {len(reports)} checkers healthy ({sample})")
        elif notes is not None:
            notes.append(
                f"health check {check_id}: {healthy} of {len(reports)} checkers healthy, enabled, not inverted"
            )
    return problems


def cluster_problems(targets: Targets, stack: str, timeout: float, notes: list[str] | None = None) -> list[str]:
    cluster = call("eks", targets.region, timeout, "describe_cluster", name=targets.cluster_name)["cluster"]
    problems = []
    if cluster.get("status") != "ACTIVE":
        problems.append(f"EKS cluster {targets.cluster_name}: status {cluster.get('status')}")
    policy = next(p for p in pack.policies() if p.name == "eks-cluster-require-supported-version")
    level, config = pack.pack_config(stack)[policy.name]
    if level != "disabled":
        from pulumi_policy import ResourceValidationArgs

        from ops.readiness.kubernetes_checks import live_options

        found: list[str] = []
        args = ResourceValidationArgs(
            "aws:eks/cluster:Cluster",
            {"version": cluster.get("version")},
            f"urn:pulumi:{stack}::live::aws:eks/cluster:Cluster::{targets.cluster_name}",
            targets.cluster_name,
            live_options(),
            None,
            config,
        )
        policy.validate(args, lambda message, urn=None: found.append(message.split(" Remediation: ")[0]))
        problems += [f"EKS cluster {targets.cluster_name}: {m}" for m in found]
    if notes is not None:
        notes.append(
            f"EKS cluster {targets.cluster_name}: {cluster.get('status')}, Kubernetes {cluster.get('version')}"
        )
    return problems


def _minor_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _inactive(what: str, part: Mapping[str, Any]) -> list[str]:
    """A node group or add-on not ``ACTIVE``, with the codes of its ``health.issues`` (the same shape
    in both: botocore's EKS ``NodegroupHealth`` and ``AddonHealth``)."""
    if part.get("status") == "ACTIVE":
        return []
    issues = sorted({str(i.get("code")) for i in (part.get("health") or {}).get("issues") or []})
    return [f"{what}: status {part.get('status')}" + (f" ({', '.join(issues)})" if issues else "")]


def version_problems(targets: Targets, timeout: float, notes: list[str] | None = None) -> list[str]:
    """The control plane, every managed node group and every add-on on the version the stack
    declares, each ``ACTIVE``: what a finished upgrade leaves (docs/runbooks/upgrades.md, "Verify").
    A mismatch says which way: EKS ahead of the stack (an upgrade outside Pulumi, or EKS's own at the
    end of standard support, which the next ``pulumi up`` cannot undo: a control plane never goes
    back) or behind it (an upgrade not applied yet, or one that failed half way)."""
    declared = targets.kubernetes
    assert declared is not None
    name, region = targets.cluster_name, targets.region
    problems: list[str] = []
    seen: list[str] = []

    def compare(what: str, live: str | None, wanted: str, key: str) -> None:
        if live == wanted:
            return
        if live and _minor_key(live) > _minor_key(wanted):
            why = f"EKS runs a newer one than {key} says: set the key to what runs, then pulumi up"
        else:
            why = "the upgrade is not applied or stopped half way (docs/runbooks/upgrades.md)"
        problems.append(f"{what}: runs {live}, the stack declares {wanted}: {why}")

    cluster = call("eks", region, timeout, "describe_cluster", name=name)["cluster"]
    compare(f"EKS cluster {name}", cluster.get("version"), declared.version, "redisgw:cluster.version")
    seen.append(f"EKS cluster {name}: Kubernetes {cluster.get('version')}")
    groups = list(declared.node_groups)
    try:  # a managed node group the stack does not declare (made by hand, or left by a rename) counts too
        listed: list[str] = []
        token = None
        while True:
            page = call(
                "eks", region, timeout, "list_nodegroups", clusterName=name, **({"nextToken": token} if token else {})
            )
            listed += page.get("nodegroups") or []
            token = page.get("nextToken")
            if not token:
                break
        groups += sorted(set(listed) - set(groups))
    except UnavailableError as exc:
        problems.append(f"EKS cluster {name}: node groups cannot be listed ({exc})")
    for group in groups:
        stray = "" if group in declared.node_groups else " (not the stack's)"
        try:
            ng = call("eks", region, timeout, "describe_nodegroup", clusterName=name, nodegroupName=group)["nodegroup"]
        except UnavailableError as exc:
            problems.append(f"node group {group}: {exc}")
            continue
        status = ng.get("status")
        problems += _inactive(f"node group {group}", ng)
        compare(f"node group {group}{stray}", ng.get("version"), declared.node_version, "redisgw:cluster.nodeVersion")
        seen.append(f"node group {group}: {status}, Kubernetes {ng.get('version')}, AMI {ng.get('releaseVersion')}")
    for addon, build in sorted(declared.addons.items()):
        try:
            live = call("eks", region, timeout, "describe_addon", clusterName=name, addonName=addon)["addon"]
        except UnavailableError as exc:
            problems.append(f"add-on {addon}: {exc}")
            continue
        status, version = live.get("status"), live.get("addonVersion")
        problems += _inactive(f"add-on {addon}", live)
        if version != build:
            problems.append(f"add-on {addon}: runs {version}, the stack pins {build} for Kubernetes {declared.version}")
        seen.append(f"add-on {addon}: {status}, {version}")
    if notes is not None:
        notes += seen
    return problems


ITEMS = {
    "backup-fresh-and-verified": "backup-recovery",
    "replica-backup-fresh": "backup-recovery",
    "vault-recovery-points": "backup-recovery",
    "certificate-expiry": "security",
    "waf-associated": "security",
    "eks-version-supported": "security",
    "eks-declared-versions": "high-availability",
    "route53-health-checks": "high-availability",
}
"""The AWS items and their categories (the replica and health-check items only where DR exists, the
declared-versions item where the targets declare them)."""


def _item(check_id: str, title: str, problems: Callable[[list[str]], list[str]]) -> Item:
    """One AWS item: ``problems(notes)`` returns what fails and appends to ``notes`` what it saw."""
    notes: list[str] = []
    try:
        found = problems(notes)
    except UnavailableError as exc:
        found = [str(exc)]
    return item(check_id, ITEMS[check_id], title, "aws", "fail" if found else "pass", found or notes)


def aws_items(
    stack: str, targets: Targets, objects: Sequence[Mapping[str, Any]], now: datetime.datetime, timeout: float
) -> list[Item]:
    call("sts", targets.region, timeout, "get_caller_identity")  # refused credentials stop here, with one line
    items = [
        _item(
            "backup-fresh-and-verified",
            "The newest backup is within the objective, complete and intact",
            lambda notes: backup_problems(targets.backups, now, timeout, notes),
        )
    ]
    if targets.replica is not None:
        replica = targets.replica
        items.append(
            _item(
                "replica-backup-fresh",
                "The DR region's replica bucket holds a recent backup (replication works)",
                lambda notes: backup_problems(replica, now, timeout, notes),
            )
        )
    vaults = [v for v in (targets.vault, targets.dr_vault) if v is not None]
    items += [
        _item(
            "vault-recovery-points",
            "AWS Backup has a recent completed recovery point in every vault",
            lambda notes: [p for v in vaults for p in vault_problems(v, now, timeout, notes)],
        ),
        _item(
            "certificate-expiry",
            f"The TLS certificate is issued and more than {targets.edge.min_certificate_days} days from expiry",
            lambda notes: certificate_problems(targets, now, timeout, notes),
        ),
        _item(
            "waf-associated",
            "The load balancer has the stack's web ACL",
            lambda notes: waf_problems(targets, ingress_hostnames(objects), timeout, notes),
        ),
        _item(
            "eks-version-supported",
            "The cluster is active on a Kubernetes version in standard support",
            lambda notes: cluster_problems(targets, stack, timeout, notes),
        ),
    ]
    if targets.kubernetes is not None:
        items.append(
            _item(
                "eks-declared-versions",
                "The control plane, node groups and add-ons run the versions the stack declares, all active",
                lambda notes: version_problems(targets, timeout, notes),
            )
        )
    if targets.edge.health_check_ids:
        items.append(
            _item(
                "route53-health-checks",
                "Route 53 sees the region healthy, with no manual override",
                lambda notes: health_check_problems(targets, timeout, notes),
            )
        )
    return items
