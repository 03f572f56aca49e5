"""VPC policies: flow logs on every VPC, NAT egress that survives a zone failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from redisgw_policies._policy import as_int, maps, resource_policy, stack_policy, strings, truthy

VPC = "aws:ec2/vpc:Vpc"
_WORLD = {"0.0.0.0/0", "::/0"}


def _open_ports(rule: Mapping[str, Any], cidrs: list[str], allowed: set[int]) -> Iterable[str]:
    if not set(cidrs) & _WORLD:
        return
    protocol = str(rule.get("protocol") or rule.get("ipProtocol") or "-1").lower()
    low, high = as_int(rule.get("fromPort"), 0) or 0, as_int(rule.get("toPort"), 65535)
    high = 65535 if high is None or high < 0 else high
    if protocol in ("-1", "all") or (low <= 0 and high >= 65535):
        yield "admits the whole internet on every port."
        return
    exposed = [p for p in range(max(low, 0), high + 1) if p not in allowed][:5]
    if exposed:
        yield f"admits the whole internet on port(s) {low}-{high}, beyond {sorted(allowed)}."


def security_group_ingress(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    allowed = {p for p in (as_int(v) for v in config.get("publicPorts") or [80, 443]) if p is not None}
    if "ingress" in props or "egress" in props:  # aws:ec2/securityGroup:SecurityGroup with inline rules
        rules = [
            (r, strings(r.get("cidrBlocks")) + strings(r.get("ipv6CidrBlocks"))) for r in maps(props.get("ingress"))
        ]
    elif props.get("type") == "egress":
        rules = []
    else:  # SecurityGroupRule (type ingress) or vpc.SecurityGroupIngressRule
        cidrs = strings(props.get("cidrBlocks")) + strings(props.get("ipv6CidrBlocks"))
        cidrs += strings(props.get("cidrIpv4")) + strings(props.get("cidrIpv6"))
        rules = [(props, cidrs)]
    for rule, cidrs in rules:
        for message in _open_ports(rule, cidrs, allowed):
            yield f"Security group rule {message}"


def default_security_group(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if maps(props.get("ingress")) or maps(props.get("egress")):
        yield "The VPC's default security group allows traffic; it must have no rules."


def subnet_public_ips(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if truthy(props.get("mapPublicIpOnLaunch")) or truthy(props.get("assignIpv6AddressOnCreation")):
        yield "The subnet gives every instance launched in it a public address."


def flow_logs(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    logged: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:ec2/flowLog:FlowLog":
            logged.update(d.urn for d in r.property_dependencies.get("vpcId", []) or [])
    for r in args.resources:
        if r.resource_type == VPC and r.urn not in logged:
            yield f"VPC {r.name} has no flow log.", r.urn


def nat_per_zone(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    subnets = {r.urn: r for r in args.resources if r.resource_type == "aws:ec2/subnet:Subnet"}
    zones: set[str] = {
        str(s.props["availabilityZone"]) for s in subnets.values() if isinstance(s.props.get("availabilityZone"), str)
    }
    nat_zones: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:ec2/natGateway:NatGateway":
            if str(r.props.get("connectivityType") or "public") == "private":
                continue  # a private NAT reaches other networks, not the internet
            if str(r.props.get("availabilityMode") or "") == "regional":
                nat_zones |= zones  # a regional NAT gateway serves every zone of its VPC
                continue
            for dep in r.property_dependencies.get("subnetId", []) or []:
                if dep.urn in subnets:
                    nat_zones.add(str(subnets[dep.urn].props.get("availabilityZone")))
    if zones and not nat_zones:
        yield (
            f"No zone of {sorted(zones)} has a NAT gateway: the private subnets have no egress (nodes cannot "
            "pull images or reach AWS APIs without endpoints for each).",
            None,
        )
    elif zones - nat_zones:
        yield (
            f"Zones {sorted(zones - nat_zones)} have no NAT gateway of their own; losing zone "
            f"{sorted(nat_zones)[0]} cuts their egress.",
            None,
        )


POLICIES = [
    stack_policy(
        name="ec2-vpc-require-flow-logs",
        description="Every VPC sends its flow logs to an encrypted log group.",
        rule=flow_logs,
        severity=Severity.MEDIUM,
        remediation="Create an aws.ec2.FlowLog for the VPC (the Vpc component does).",
    ),
    stack_policy(
        name="ec2-vpc-require-nat-per-az",
        description="Every zone with subnets has its own NAT gateway.",
        rule=nat_per_zone,
        severity=Severity.MEDIUM,
        remediation="Set redisgw:network.natGateways to per-az.",
    ),
    resource_policy(
        name="ec2-security-group-disallow-open-ingress",
        description="No security group admits the internet on any port but the public HTTP(S) ports.",
        types=(
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ),
        rule=security_group_ingress,
        severity=Severity.CRITICAL,
        remediation="Admit named CIDRs or security groups; only the load balancer listens to the internet on 80/443.",
        config={"publicPorts": {"type": "array", "items": {"type": "integer"}, "default": [80, 443]}},
    ),
    resource_policy(
        name="ec2-default-security-group-restrict-all",
        description="The VPC's default security group has no rules.",
        types=("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",),
        rule=default_security_group,
        severity=Severity.MEDIUM,
        remediation="Manage the default security group with empty ingress and egress (the Vpc component does).",
    ),
    resource_policy(
        name="ec2-subnet-disallow-public-ip-on-launch",
        description="Subnets do not hand out public addresses automatically.",
        types=("aws:ec2/subnet:Subnet",),
        rule=subnet_public_ips,
        severity=Severity.MEDIUM,
        remediation="Set map_public_ip_on_launch=False; only load balancers and NAT gateways get public addresses.",
    ),
]
