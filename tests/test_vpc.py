"""Vpc component: subnet plan, NAT topology, flow logs, and the locked-down defaults."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.vpc import Vpc, VpcArgs, plan_subnets
from tests.conftest import Recording

ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


def _vpc(nat: str = "per-az") -> Callable[[], Any]:
    def declare() -> None:
        Vpc(
            "net",
            VpcArgs(
                cidr="10.20.0.0/16",
                availability_zones=ZONES,
                region="eu-west-1",
                cluster_name="demo",
                nat_gateways=nat,  # type: ignore[arg-type]
                flow_log_retention_days=90,
            ),
        )

    return declare


@pytest.fixture
def per_az(run_component: Callable[[Callable[[], Any]], Recording]) -> Recording:
    return run_component(_vpc("per-az"))


def test_subnet_plan_is_disjoint_and_inside_the_vpc() -> None:
    for cidr, zones in [("10.20.0.0/16", ZONES), ("172.16.0.0/20", (*ZONES, "eu-west-1d", "eu-west-1e", "x"))]:
        plan = plan_subnets(cidr, zones)
        nets = [ipaddress.ip_network(c) for p in plan for c in (p.private_cidr, p.public_cidr)]
        vpc = ipaddress.ip_network(cidr)
        assert all(n.subnet_of(vpc) for n in nets)  # type: ignore[arg-type]
        assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
        assert [p.zone for p in plan] == list(zones)


def test_subnet_plan_rejects_more_zones_than_fit() -> None:
    with pytest.raises(ValueError, match="at most 7"):
        plan_subnets("10.0.0.0/16", tuple(f"z{i}" for i in range(8)))


def test_three_private_and_three_public_subnets_with_discovery_tags(per_az: Recording) -> None:
    subnets = per_az.of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len(public) == len(private) == 3
    assert {s.inputs["availabilityZone"] for s in private} == set(ZONES)
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s.inputs["tags"]["kubernetes.io/cluster/demo"] == "shared" for s in subnets)


def test_each_private_zone_routes_through_its_own_nat(per_az: Recording) -> None:
    nats = per_az.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    for route in per_az.of_type("aws:ec2/route:Route"):
        if route.name.startswith("net-private-"):
            zone = route.name.removeprefix("net-private-").removesuffix("-default")
            nat = per_az.by_urn(route.property_dependencies["natGatewayId"][0])
            assert nat.name == f"net-nat-{zone}"


def test_single_nat_serves_every_zone(run_component: Callable[[Callable[[], Any]], Recording]) -> None:
    rec = run_component(_vpc("single"))
    (nat,) = rec.of_type("aws:ec2/natGateway:NatGateway")
    routes = [r for r in rec.of_type("aws:ec2/route:Route") if r.name.startswith("net-private-")]
    assert len(routes) == 3
    assert {r.property_dependencies["natGatewayId"][0] for r in routes} == {nat.urn}


def test_flow_logs_go_to_an_encrypted_group_with_retention(per_az: Recording) -> None:
    flow = per_az.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    group = per_az.by_urn(flow.property_dependencies["logDestination"][0])
    assert group.inputs["retentionInDays"] == 90
    key = per_az.by_urn(group.property_dependencies["kmsKeyId"][0])
    assert key.type == "aws:kms/key:Key"
    assert key.inputs["enableKeyRotation"] is True
    assert "logs.eu-west-1.amazonaws.com" in key.inputs["policy"]


def test_default_security_group_has_no_rules(per_az: Recording) -> None:
    sg = per_az.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")


def test_s3_gateway_endpoint_on_every_private_route_table(per_az: Recording) -> None:
    endpoint = per_az.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    tables = {per_az.by_urn(u).name for u in endpoint.property_dependencies["routeTableIds"]}
    assert tables == {f"net-private-{z}" for z in ZONES}


def test_every_child_is_parented_to_the_component(per_az: Recording) -> None:
    component = per_az.one("redisgw:index:Vpc")
    for r in per_az:
        if r is not component:
            assert r.parent == component.urn, r.name


def test_outputs_are_subnet_ids_in_zone_order(run_component: Callable[[Callable[[], Any]], Recording]) -> None:
    seen: dict[str, Any] = {}

    def declare() -> Any:
        vpc = Vpc("net", VpcArgs(cidr="10.20.0.0/16", availability_zones=ZONES, region="eu-west-1", cluster_name="c"))
        return pulumi.Output.all(vpc.private_subnet_ids, vpc.vpc_id).apply(lambda v: seen.update(ids=v[0], vpc=v[1]))

    rec = run_component(declare)
    by_zone = {s.inputs["availabilityZone"]: s for s in rec.of_type("aws:ec2/subnet:Subnet") if "private" in s.name}
    assert len(seen["ids"]) == 3 and all(i.startswith("subnet-") for i in seen["ids"])
    assert seen["vpc"].startswith("vpc-")
    assert [by_zone[z].name for z in ZONES] == [f"net-private-{z}" for z in ZONES]
