"""VPC policies: flow logs on every VPC, NAT egress that survives a zone failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from redisgw_policies._policy import stack_policy

VPC = "aws:ec2/vpc:Vpc"


def flow_logs(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    logged: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:ec2/flowLog:FlowLog":
            logged.update(d.urn for d in r.property_dependencies.get("vpcId", []))
    for r in args.resources:
        if r.resource_type == VPC and r.urn not in logged:
            yield f"VPC {r.name} has no flow log.", r.urn


def nat_per_zone(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    subnets = {r.urn: r for r in args.resources if r.resource_type == "aws:ec2/subnet:Subnet"}
    zones: set[str] = {str(s.props["availabilityZone"]) for s in subnets.values() if s.props.get("availabilityZone")}
    nat_zones: set[str] = set()
    for r in args.resources:
        if r.resource_type == "aws:ec2/natGateway:NatGateway":
            for dep in r.property_dependencies.get("subnetId", []):
                if dep.urn in subnets:
                    nat_zones.add(str(subnets[dep.urn].props.get("availabilityZone")))
    if zones and nat_zones and zones - nat_zones:
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
]
