"""The edge: HTTPS-only load balancers with WAF, and no Service exposed around them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._policy import get, resource_policy

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
_ALB = "alb.ingress.kubernetes.io/"


def _is_alb(props: Mapping[str, Any]) -> bool:
    return get(props, "spec.ingressClassName") == "alb"


def _listen_protocols(annotations: Mapping[str, Any]) -> set[str]:
    try:
        ports = json.loads(annotations.get(f"{_ALB}listen-ports") or '[{"HTTP": 80}]')
    except (json.JSONDecodeError, TypeError):
        return {"UNPARSEABLE"}
    return {protocol for entry in ports for protocol in entry}


def ingress_https(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not _is_alb(props):
        return
    annotations = get(props, "metadata.annotations", {}) or {}
    protocols = _listen_protocols(annotations)
    if "HTTPS" not in protocols:
        yield "The ALB has no HTTPS listener."
    if "HTTP" in protocols and not annotations.get(f"{_ALB}ssl-redirect"):
        yield "The ALB serves plain HTTP without redirecting to HTTPS."
    if not annotations.get(f"{_ALB}certificate-arn"):
        yield "The ALB has no ACM certificate."


def listener_https(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if props.get("protocol") == "HTTP":
        actions = props.get("defaultActions") or []
        if not all(a.get("type") == "redirect" and get(a, "redirect.protocol") == "HTTPS" for a in actions):
            yield "An HTTP listener forwards traffic instead of redirecting to HTTPS."


def ingress_waf(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    annotations = get(props, "metadata.annotations", {}) or {}
    public = _is_alb(props) and annotations.get(f"{_ALB}scheme") == "internet-facing"
    if public and not annotations.get(f"{_ALB}wafv2-acl-arn"):
        yield "The internet-facing ALB has no WAFv2 web ACL."


def service_exposure(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    kind = get(props, "spec.type", "ClusterIP")
    if kind == "NodePort":
        yield "The Service is a NodePort: it opens a port on every node."
    if kind == "LoadBalancer":
        annotations = get(props, "metadata.annotations", {}) or {}
        if annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme") != "internal":
            yield "The Service is a public LoadBalancer, bypassing the ALB, TLS and WAF."


POLICIES = [
    resource_policy(
        name="alb-ingress-require-https",
        description="Load balancers serve HTTPS with an ACM certificate; plain HTTP only redirects.",
        types=(INGRESS, "aws:lb/listener:Listener", "aws:alb/listener:Listener"),
        rule=lambda props, config: [*ingress_https(props, config), *listener_https(props, config)],
        severity=Severity.HIGH,
        remediation="Listen on HTTPS with certificate-arn and set ssl-redirect: '443'.",
    ),
    resource_policy(
        name="alb-ingress-require-waf",
        description="Internet-facing ALBs have a WAFv2 web ACL attached.",
        types=(INGRESS,),
        rule=ingress_waf,
        severity=Severity.HIGH,
        remediation="Set alb.ingress.kubernetes.io/wafv2-acl-arn to the gateway's web ACL.",
    ),
    resource_policy(
        name="k8s-service-disallow-external-exposure",
        description="No Service is a NodePort or a public LoadBalancer.",
        types=("kubernetes:core/v1:Service",),
        rule=service_exposure,
        severity=Severity.HIGH,
        remediation="Use a ClusterIP Service behind the ALB Ingress (or an internal load balancer).",
    ),
]
