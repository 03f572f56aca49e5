"""Vpc: the network the cluster lives in.

One VPC over N availability zones with a public and a private subnet per zone, NAT egress per zone
(or a single NAT gateway where config accepts the zonal risk), flow logs to a KMS-encrypted log
group with retention, a locked-down default security group and a gateway endpoint for S3 so backup
traffic never crosses NAT.

Subnets are carved from the VPC CIDR with :mod:`ipaddress`: the block is cut in eighths; the first
N eighths are the private subnets (a /19 each in a /16: room for pods, which take VPC addresses),
the last eighth is cut again into the public subnets (a /22 each in a /16; they only carry load
balancers and NAT gateways). Up to seven zones fit.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components._shared import encryption_key, service_role


@dataclass(frozen=True, kw_only=True)
class SubnetPlan:
    """The CIDR blocks of one zone."""

    zone: str
    private_cidr: str
    public_cidr: str


def plan_subnets(cidr: str, zones: tuple[str, ...]) -> list[SubnetPlan]:
    """Deterministic, non-overlapping subnets for ``zones`` inside ``cidr``.

    Raises ``ValueError`` if the block cannot hold them (more than seven zones).
    """
    vpc = ipaddress.IPv4Network(cidr)
    *eighths, last = vpc.subnets(new_prefix=vpc.prefixlen + 3)
    if len(zones) > len(eighths):
        raise ValueError(f"{cidr} cannot hold subnets for {len(zones)} zones (at most {len(eighths)})")
    private = eighths[: len(zones)]
    public = list(last.subnets(new_prefix=vpc.prefixlen + 6))[: len(zones)]
    return [
        SubnetPlan(zone=z, private_cidr=str(pr), public_cidr=str(pu))
        for z, pr, pu in zip(zones, private, public, strict=True)
    ]


@dataclass(frozen=True, kw_only=True)
class VpcArgs:
    """Inputs of :class:`Vpc`."""

    cidr: str
    """VPC CIDR block (validated RFC 1918, /16 to /20)."""
    availability_zones: tuple[str, ...]
    """Zones to spread subnets over; subnets and NAT gateways are keyed by zone name."""
    region: str
    """Region of the provider the component runs under (for service names and key policies)."""
    cluster_name: str
    """EKS cluster that will use the subnets (``kubernetes.io/cluster/<name>`` discovery tag)."""
    nat_gateways: Literal["per-az", "single"] = "per-az"
    """One NAT gateway per zone (survives a zone failure) or a single one in the first zone."""
    flow_log_retention_days: int = 365
    """Retention of the flow log group."""
    protect: bool = True
    """Protect the flow-log key and group from accidental deletion."""


class Vpc(pulumi.ComponentResource):
    """A three-tier-ready VPC with private subnets for nodes and public subnets for load balancers."""

    vpc_id: pulumi.Output[str]
    """ID of the VPC."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnet IDs, in the order of ``availability_zones``."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnet IDs, in the order of ``availability_zones``."""
    flow_log_group_name: pulumi.Output[str]
    """CloudWatch log group receiving the VPC flow logs."""
    private_route_table_ids: pulumi.Output[list[str]]
    """Route tables of the private subnets, in the order of ``availability_zones`` (peering routes)."""

    def __init__(self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("redisgw:index:Vpc", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plans = plan_subnets(args.cidr, args.availability_zones)
        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"

        vpc = aws.ec2.Vpc(
            name,
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        # No rules: nothing may use the default security group by accident (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags={"Name": f"{name}-default"}, opts=child)

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": name}, opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        public_subnets: dict[str, aws.ec2.Subnet] = {}
        private_subnets: dict[str, aws.ec2.Subnet] = {}
        for plan in plans:
            public_subnets[plan.zone] = aws.ec2.Subnet(
                f"{name}-public-{plan.zone}",
                vpc_id=vpc.id,
                cidr_block=plan.public_cidr,
                availability_zone=plan.zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{plan.zone}", "kubernetes.io/role/elb": "1", cluster_tag: "shared"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{plan.zone}",
                subnet_id=public_subnets[plan.zone].id,
                route_table_id=public_rt.id,
                opts=child,
            )
            private_subnets[plan.zone] = aws.ec2.Subnet(
                f"{name}-private-{plan.zone}",
                vpc_id=vpc.id,
                cidr_block=plan.private_cidr,
                availability_zone=plan.zone,
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{name}-private-{plan.zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    cluster_tag: "shared",
                },
                opts=child,
            )

        nat_zones = list(args.availability_zones) if args.nat_gateways == "per-az" else [args.availability_zones[0]]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for zone in nat_zones:
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{name}-nat-{zone}"}, opts=child)
            nats[zone] = aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=eip.allocation_id,
                subnet_id=public_subnets[zone].id,
                connectivity_type="public",
                tags={"Name": f"{name}-nat-{zone}"},
                # A NAT gateway needs the internet gateway attached before it can route.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )

        private_rts = []
        for zone in args.availability_zones:
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=vpc.id, tags={"Name": f"{name}-private-{zone}"}, opts=child
            )
            nat = nats.get(zone, nats[nat_zones[0]])
            aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private_subnets[zone].id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )

        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        key = encryption_key(
            f"{name}-flow-logs",
            description=f"Encrypts the VPC flow logs of {name}",
            region=args.region,
            service_principals=["logs"],
            opts=stateful,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{name}/flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            opts=stateful,
        )
        flow_role = service_role(f"{name}-flow-logs", service="vpc-flow-logs.amazonaws.com", opts=child)
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=flow_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            "Resource": pulumi.Output.format("{0}:*", log_group.arn),
                        }
                    ],
                }
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            opts=child,
        )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[private_subnets[z].id for z in args.availability_zones])
        self.public_subnet_ids = pulumi.Output.all(*[public_subnets[z].id for z in args.availability_zones])
        self.flow_log_group_name = log_group.name
        self.private_route_table_ids = pulumi.Output.all(*[rt.id for rt in private_rts])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "flow_log_group_name": self.flow_log_group_name,
            }
        )
