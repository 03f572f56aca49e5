"""Part: the public entry point of a region.

An internet-facing ALB (IP targets) through the AWS Load Balancer Controller, TLS from an ACM
certificate validated in Route 53, HTTP redirected to HTTPS, modern TLS policy, invalid headers
dropped, access logs to their own bucket, a WAFv2 web ACL (rate-based rule plus AWS managed rules,
logged to an encrypted log group) attached, and the API hostname in Route 53.

Without DR the hostname is a plain alias of the ALB. With DR each region's edge also answers on its
regional name (``<region>.<hostname>``, on the same certificate) and the hostname is a **failover**
record: PRIMARY in the primary region, with a Route 53 health check on the regional name's
readiness path (the ALB routes by host, so the check needs a name the Ingress serves, and one that
does not itself fail over), and SECONDARY in the DR region. ``ops dr failover`` pins service to
SECONDARY through that health check; see :mod:`ops.runtime.dr_targets`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._shared import encryption_key, private_bucket
from components._tier import GATEWAY, HealthCheck, RedisGatewayArgs, meta


@dataclass(frozen=True)
class Edge:
    load_balancer_hostname: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str]
    health_check_id: pulumi.Output[str] | None
    """The PRIMARY record's health check (DR on, primary region)."""
    certificate_arn: pulumi.Output[str]


def regional_hostname(args: RedisGatewayArgs) -> str:
    """The region's own name for the API (``eu-west-1.api.example.com``), served beside the hostname."""
    return f"{args.region}.{args.hostname}"


def edge(name: str, args: RedisGatewayArgs, parent: pulumi.Resource, service: k8s.core.v1.Service) -> Edge:
    """Declare certificate, WAF, logs, Ingress (the ALB) and DNS for this region."""
    child = pulumi.ResourceOptions(parent=parent)
    hosts = [args.hostname] if args.failover is None else [args.hostname, regional_hostname(args)]
    cert = aws.acm.Certificate(
        f"{name}-cert",
        domain_name=args.hostname,
        subject_alternative_names=hosts[1:] or None,
        validation_method="DNS",
        opts=child,
    )
    validation_records = [
        aws.route53.Record(
            f"{name}-cert-validation" + ("" if i == 0 else f"-{i}"),
            zone_id=args.hosted_zone_id,
            name=cert.domain_validation_options[i].resource_record_name,
            type=cert.domain_validation_options[i].resource_record_type,
            records=[cert.domain_validation_options[i].resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        for i in range(len(hosts))
    ]
    validated = aws.acm.CertificateValidation(
        f"{name}-cert",
        certificate_arn=cert.arn,
        validation_record_fqdns=[r.fqdn for r in validation_records],
        opts=child,
    )
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        scope="REGIONAL",
        description=f"Protects {args.hostname}",
        default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
        rules=[
            aws.wafv2.WebAclRuleArgs(
                name="rate-limit-per-ip",
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        limit=args.rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=_rule_visibility("rate-limit-per-ip"),
            ),
            *[
                aws.wafv2.WebAclRuleArgs(
                    name=group,
                    priority=priority,
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                        none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            name=group, vendor_name="AWS"
                        )
                    ),
                    visibility_config=_rule_visibility(group),
                )
                for priority, group in enumerate(
                    ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"], start=1
                )
            ],
        ],
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=f"{name}-waf", sampled_requests_enabled=True
        ),
        opts=child,
    )
    log_bucket = _edge_logs(name, acl, args, parent)
    annotations = pulumi.Output.all(validated.certificate_arn, acl.arn, log_bucket.bucket).apply(
        lambda v: {
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
            "alb.ingress.kubernetes.io/ssl-redirect": "443",
            "alb.ingress.kubernetes.io/certificate-arn": v[0],
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "alb.ingress.kubernetes.io/wafv2-acl-arn": v[1],
            "alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
            "alb.ingress.kubernetes.io/load-balancer-attributes": ",".join(
                [
                    "routing.http.drop_invalid_header_fields.enabled=true",
                    "idle_timeout.timeout_seconds=60",
                    "access_logs.s3.enabled=true",
                    f"access_logs.s3.bucket={v[2]}",
                    "access_logs.s3.prefix=alb",
                    f"deletion_protection.enabled={'true' if args.protect else 'false'}",
                ]
            ),
            "alb.ingress.kubernetes.io/target-group-attributes": "deregistration_delay.timeout_seconds=30",
        }
    )
    # Canary: Argo Rollouts writes the weighted forward action that this port name refers to.
    backend_port = "use-annotation" if args.delivery.strategy == "canary" else "http"
    ingress = k8s.networking.v1.Ingress(
        f"{name}-ingress",
        metadata={**meta(args, GATEWAY), "annotations": annotations},
        spec={
            "ingressClassName": "alb",
            "tls": [{"hosts": hosts}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": GATEWAY, "port": {"name": backend_port}}},
                            }
                        ]
                    },
                }
                for host in hosts
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[service]),
    )
    lb_hostname = ingress.status.apply(lambda s: s.load_balancer.ingress[0].hostname)
    lb_zone = aws.lb.get_hosted_zone_id_output(
        load_balancer_type="application", opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    alias = aws.route53.RecordAliasArgs(name=lb_hostname, zone_id=lb_zone.id, evaluate_target_health=True)
    health_check_id: pulumi.Output[str] | None = None
    if args.failover is None:
        aws.route53.Record(
            f"{name}-api", zone_id=args.hosted_zone_id, name=args.hostname, type="A", aliases=[alias], opts=child
        )
    else:
        regional = aws.route53.Record(
            f"{name}-regional",
            zone_id=args.hosted_zone_id,
            name=regional_hostname(args),
            type="A",
            aliases=[alias],
            opts=child,
        )
        if args.failover == "PRIMARY":
            check = args.health_check or HealthCheck()
            health_check_id = aws.route53.HealthCheck(
                f"{name}-readiness",
                type="HTTPS",
                fqdn=regional.fqdn,
                port=443,
                resource_path=check.path,
                request_interval=check.interval_seconds,
                failure_threshold=check.failure_threshold,
                enable_sni=True,
                tags={"Name": f"{args.environment}-{name}-readiness"},
                opts=child,
            ).id
        aws.route53.Record(
            f"{name}-api",
            zone_id=args.hosted_zone_id,
            name=args.hostname,
            type="A",
            set_identifier=args.region,
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=args.failover)],
            health_check_id=health_check_id,
            aliases=[alias],
            opts=child,
        )
    return Edge(
        load_balancer_hostname=lb_hostname,
        web_acl_arn=acl.arn,
        health_check_id=health_check_id,
        certificate_arn=cert.arn,
    )


def _edge_logs(name: str, acl: aws.wafv2.WebAcl, args: RedisGatewayArgs, parent: pulumi.Resource) -> aws.s3.Bucket:
    """WAF request logs to an encrypted log group; ALB access logs to their own bucket.

    The ALB can only write to an SSE-S3 bucket (not SSE-KMS); the bucket is otherwise as private
    as the backup bucket, and its logs expire after ``edge_log_retention_days``.
    """
    child = pulumi.ResourceOptions(parent=parent)
    key = encryption_key(
        f"{name}-waf-logs",
        description=f"Encrypts the WAF logs of {args.hostname}",
        region=args.region,
        service_principals=("logs",),
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
    )
    group = aws.cloudwatch.LogGroup(
        f"{name}-waf-logs",
        name=f"aws-waf-logs-{args.environment}-{name}",  # WAF requires the aws-waf-logs- prefix
        retention_in_days=args.edge_log_retention_days,
        kms_key_id=key.arn,
        opts=child,
    )
    aws.wafv2.WebAclLoggingConfiguration(
        f"{name}-waf-logging",
        resource_arn=acl.arn,
        log_destination_configs=[group.arn],
        redacted_fields=[
            aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name="authorization")
            )
        ],
        opts=child,
    )
    bucket = private_bucket(
        f"{name}-alb-logs",
        key=None,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
        policy_statements=_log_delivery_statements(args.region),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-alb-logs-lifecycle",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="alb/"),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.edge_log_retention_days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=1
                ),
            )
        ],
        opts=child,
    )
    return bucket


_ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
}
"""Elastic Load Balancing's log-delivery account in regions opened before August 2022, which do not
accept the service principal alone (AWS documentation, "Enable access logs for your ALB")."""


def _log_delivery_statements(region: str) -> Callable[[pulumi.Output[str]], list[dict[str, Any]]]:
    """Lets Elastic Load Balancing write access logs under ``alb/`` (service principal, plus the
    regional ELB account where the region predates it)."""

    def statements(bucket_arn: pulumi.Output[str]) -> list[dict[str, Any]]:
        principals: dict[str, Any] = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        if region in _ELB_LOG_ACCOUNTS:
            principals["AWS"] = f"arn:aws:iam::{_ELB_LOG_ACCOUNTS[region]}:root"
        return [
            {
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": principals,
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(bucket_arn, "/alb/AWSLogs/*"),
            }
        ]

    return statements


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
