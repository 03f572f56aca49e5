"""The edge: HTTPS-only load balancers with modern TLS, WAF with a rate limit that can trigger,
logging everywhere, and no Service or Ingress around them.

An Ingress is served by the ALB when its class says so, in any spelling: ``spec.ingressClassName``,
the legacy ``kubernetes.io/ingress.class`` annotation, or an IngressClass whose controller is the
AWS Load Balancer Controller. Any other Ingress bypasses the ALB, its certificate and its WAF.
Load balancers created directly (``aws:lb`` and the older ``aws:alb`` types) are read as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from redisgw_policies._policy import (
    as_int,
    as_map,
    get,
    k8s_kind,
    maps,
    of_type,
    resource_policy,
    stack_policy,
    strings,
    truthy,
)

INGRESS = "Ingress"
_ALB = "alb.ingress.kubernetes.io/"
ALB_CONTROLLER = "ingress.k8s.aws/alb"
LISTENER_TYPES = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
MODERN_TLS_PREFIXES = ("ELBSecurityPolicy-TLS13-1-2", "ELBSecurityPolicy-TLS13-1-3", "ELBSecurityPolicy-FS-1-2-Res")
"""SSL policies that allow TLS 1.2 and newer only, with forward secrecy."""
WEB_ACL_TYPES = ("aws:wafv2/webAcl:WebAcl",)


def _annotations(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(get(props, "metadata.annotations"))


def ingress_class(props: Mapping[str, Any]) -> str | None:
    cls = get(props, "spec.ingressClassName") or _annotations(props).get("kubernetes.io/ingress.class")
    return cls if isinstance(cls, str) else None


def _alb_classes(args: StackValidationArgs | None) -> set[str]:
    classes = {"alb"}
    for r in args.resources if args is not None else []:
        name = get(r.props, "metadata.name")
        is_class = r.resource_type.startswith("kubernetes:") and k8s_kind(r.resource_type) == "IngressClass"
        if is_class and get(r.props, "spec.controller") == ALB_CONTROLLER and isinstance(name, str):
            classes.add(name)
    return classes


def _is_alb(props: Mapping[str, Any]) -> bool:
    return ingress_class(props) == "alb" or bool(_annotations(props).get(f"{_ALB}scheme"))


def _listen_protocols(annotations: Mapping[str, Any]) -> set[str]:
    try:
        ports = json.loads(annotations.get(f"{_ALB}listen-ports") or '[{"HTTP": 80}]')
    except (ValueError, TypeError):
        return {"UNPARSEABLE"}
    return {str(protocol) for entry in maps(ports) for protocol in entry}


def _attributes(annotations: Mapping[str, Any]) -> dict[str, str]:
    text = annotations.get(f"{_ALB}load-balancer-attributes")
    pairs = [p.split("=", 1) for p in str(text or "").split(",") if "=" in p]
    return {k.strip(): v.strip() for k, v in pairs}


def ingress_https(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not _is_alb(props):
        return
    annotations = _annotations(props)
    protocols = _listen_protocols(annotations)
    if "HTTPS" not in protocols:
        yield "The ALB has no HTTPS listener."
    if "HTTP" in protocols and not annotations.get(f"{_ALB}ssl-redirect"):
        yield "The ALB serves plain HTTP without redirecting to HTTPS."
    if not annotations.get(f"{_ALB}certificate-arn"):
        yield "The ALB has no ACM certificate."


def listener_https(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    protocol = props.get("protocol") or ("HTTPS" if props.get("certificateArn") else "HTTP")
    if protocol == "HTTP":
        actions = maps(props.get("defaultActions"))
        if not actions or not all(
            a.get("type") == "redirect" and get(a, "redirect.protocol") == "HTTPS" for a in actions
        ):
            yield "An HTTP listener forwards traffic instead of redirecting to HTTPS."


def _modern(policy: Any) -> bool:
    return isinstance(policy, str) and policy.startswith(MODERN_TLS_PREFIXES)


def ingress_tls_policy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not _is_alb(props):
        return
    policy = _annotations(props).get(f"{_ALB}ssl-policy")
    if not _modern(policy):
        yield f"The ALB's SSL policy {policy or 'ELBSecurityPolicy-2016-08 (controller default)'} allows legacy TLS."


def listener_tls_policy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") in ("HTTPS", "TLS") and not _modern(props.get("sslPolicy")):
        yield f"The listener's SSL policy {props.get('sslPolicy') or '(default)'} allows legacy TLS."


def ingress_attributes(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not _is_alb(props):
        return
    attrs = _attributes(_annotations(props))
    if attrs.get("access_logs.s3.enabled") != "true" or not attrs.get("access_logs.s3.bucket"):
        yield "The ALB writes no access logs (access_logs.s3.enabled and access_logs.s3.bucket)."
    if attrs.get("routing.http.drop_invalid_header_fields.enabled") != "true":
        yield "The ALB forwards invalid HTTP headers (routing.http.drop_invalid_header_fields.enabled)."
    if attrs.get("routing.http.desync_mitigation_mode", "defensive") not in ("defensive", "strictest"):
        yield "The ALB does not mitigate HTTP desync attacks (routing.http.desync_mitigation_mode)."
    if config.get("requireDeletionProtection", False) and attrs.get("deletion_protection.enabled") != "true":
        yield "The ALB can be deleted (deletion_protection.enabled)."


def load_balancer_attributes(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("loadBalancerType") in ("network", "gateway"):
        return
    logs = maps(props.get("accessLogs"))
    if not any(truthy(log.get("enabled", True)) and log.get("bucket") for log in logs):
        yield "The load balancer writes no access logs."
    if not truthy(props.get("dropInvalidHeaderFields")):
        yield "The load balancer forwards invalid HTTP headers (drop_invalid_header_fields)."
    if props.get("desyncMitigationMode", "defensive") not in ("defensive", "strictest"):
        yield "The load balancer does not mitigate HTTP desync attacks (desync_mitigation_mode)."
    if config.get("requireDeletionProtection", False) and not truthy(props.get("enableDeletionProtection")):
        yield "The load balancer can be deleted (enable_deletion_protection)."


def ingress_waf(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    annotations = _annotations(props)
    scheme = annotations.get(f"{_ALB}scheme")
    if _is_alb(props) and scheme != "internal" and not annotations.get(f"{_ALB}wafv2-acl-arn"):
        yield "The internet-facing ALB has no WAFv2 web ACL."


def ingress_class_rule(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    classes = _alb_classes(args)
    for r in args.resources:
        if r.resource_type.startswith("kubernetes:") and k8s_kind(r.resource_type) == INGRESS:
            cls = ingress_class(r.props)
            if cls not in classes:
                yield (
                    f"Ingress {r.name} has class {cls or '(cluster default)'}, not the ALB: it bypasses TLS and WAF.",
                    r.urn,
                )


def service_exposure(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    kind = get(props, "spec.type", "ClusterIP")
    annotations = _annotations(props)
    if kind == "NodePort":
        yield "The Service is a NodePort: it opens a port on every node."
    if kind == "LoadBalancer":
        internal = annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme") == "internal" or truthy(
            annotations.get("service.beta.kubernetes.io/aws-load-balancer-internal")
        )
        if not internal:
            yield "The Service is a public LoadBalancer, bypassing the ALB, TLS and WAF."
    if get(props, "spec.externalIPs"):
        yield "The Service sets externalIPs, which can capture traffic for any address."


def waf_rate_limit(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    """The web ACL blocks abusive clients with a rate rule that can actually trigger."""
    maximum = as_int(config.get("maxRateLimit"), 10000) or 10000
    rules = [r for r in maps(props.get("rules")) if get(r, "statement.rateBasedStatement")]
    if not rules:
        yield "The web ACL has no rate-based rule."
    for rule in rules:
        limit = as_int(get(rule, "statement.rateBasedStatement.limit"), None)
        if "block" not in as_map(rule.get("action")):
            yield f"Rate rule {rule.get('name')} does not block (action is not block)."
        if limit is None or limit > maximum:
            yield f"Rate rule {rule.get('name')} allows {limit} requests per window; at most {maximum} can trigger."
    if not truthy(get(props, "visibilityConfig.cloudwatchMetricsEnabled")):
        yield "The web ACL publishes no CloudWatch metrics."
    for rule in maps(props.get("rules")):
        if not truthy(get(rule, "visibilityConfig.cloudwatchMetricsEnabled")):
            yield f"Rule {rule.get('name')} publishes no CloudWatch metrics."


def waf_logging(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    logged: set[str] = set()
    for r in of_type(args, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"):
        if strings(r.props.get("logDestinationConfigs")):
            logged.update(d.urn for d in r.property_dependencies.get("resourceArn", []) or [])
    for acl in of_type(args, *WEB_ACL_TYPES):
        if acl.urn not in logged:
            yield f"Web ACL {acl.name} has no logging configuration.", acl.urn


POLICIES = [
    resource_policy(
        name="alb-ingress-require-https",
        description="Load balancers serve HTTPS with an ACM certificate; plain HTTP only redirects.",
        types=LISTENER_TYPES,
        kinds=(INGRESS,),
        rule={INGRESS: ingress_https, **dict.fromkeys(LISTENER_TYPES, listener_https)},
        severity=Severity.HIGH,
        remediation="Listen on HTTPS with certificate-arn and set ssl-redirect: '443'.",
    ),
    resource_policy(
        name="elb-listener-require-modern-tls-policy",
        description="HTTPS listeners accept TLS 1.2 or newer only, with forward secrecy.",
        types=LISTENER_TYPES,
        kinds=(INGRESS,),
        rule={INGRESS: ingress_tls_policy, **dict.fromkeys(LISTENER_TYPES, listener_tls_policy)},
        severity=Severity.HIGH,
        remediation="Set alb.ingress.kubernetes.io/ssl-policy (or ssl_policy) to ELBSecurityPolicy-TLS13-1-2-2021-06.",
    ),
    resource_policy(
        name="elb-load-balancer-require-logs-and-header-hygiene",
        description="Application load balancers write access logs and drop invalid HTTP headers.",
        types=LOAD_BALANCER_TYPES,
        kinds=(INGRESS,),
        rule={INGRESS: ingress_attributes, **dict.fromkeys(LOAD_BALANCER_TYPES, load_balancer_attributes)},
        severity=Severity.MEDIUM,
        remediation="Set access_logs.s3.enabled=true, access_logs.s3.bucket and drop_invalid_header_fields.",
        config={"requireDeletionProtection": {"type": "boolean", "default": False}},
    ),
    resource_policy(
        name="alb-ingress-require-waf",
        description="Internet-facing ALBs have a WAFv2 web ACL attached.",
        kinds=(INGRESS,),
        rule=ingress_waf,
        severity=Severity.HIGH,
        remediation="Set alb.ingress.kubernetes.io/wafv2-acl-arn to the gateway's web ACL.",
    ),
    stack_policy(
        name="k8s-ingress-require-alb-class",
        description="Every Ingress is served by the AWS Load Balancer Controller, the only edge with TLS and WAF.",
        rule=ingress_class_rule,
        severity=Severity.HIGH,
        remediation="Set spec.ingressClassName: alb (or an IngressClass whose controller is ingress.k8s.aws/alb).",
    ),
    resource_policy(
        name="k8s-service-disallow-external-exposure",
        description="No Service is a NodePort, a public LoadBalancer or bound to external IPs.",
        kinds=("Service",),
        rule=service_exposure,
        severity=Severity.HIGH,
        remediation="Use a ClusterIP Service behind the ALB Ingress (or an internal load balancer).",
    ),
    resource_policy(
        name="wafv2-web-acl-require-rate-limit",
        description="Web ACLs block clients above a rate limit low enough to trigger, and publish metrics.",
        types=WEB_ACL_TYPES,
        rule=waf_rate_limit,
        severity=Severity.HIGH,
        remediation="Keep a rate-based rule with action block and redisgw:gateway.rateLimit at or below maxRateLimit.",
        config={"maxRateLimit": {"type": "integer", "minimum": 10, "default": 10000}},
    ),
    stack_policy(
        name="wafv2-web-acl-require-logging",
        description="Every web ACL logs its requests.",
        rule=waf_logging,
        severity=Severity.MEDIUM,
        remediation="Add aws.wafv2.WebAclLoggingConfiguration to an aws-waf-logs- log group.",
    ),
]
