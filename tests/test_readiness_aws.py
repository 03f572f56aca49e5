"""``ops readiness``'s AWS items against a moto server: real backups (``ops backup`` from a real
``redis-server``) in S3 and a replica bucket, an imported ACM certificate, a load balancer with its
web ACL, a Route 53 health check and an EKS cluster. A healthy account passes; each break fails
exactly its item. Where moto does not implement an API (AWS Backup recovery points; Route 53's
checkers, which moto always reports healthy) the behaviour is covered with botocore's Stubber on
the same client, and the moto gap is an xfail that says so."""

from __future__ import annotations

import copy
import datetime
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from components.eks_cluster import EKS_ADDON_VERSIONS, NODE_GROUPS
from ops.cli import main
from ops.errors import OpsError
from ops.readiness import aws_checks
from ops.readiness.targets import Targets
from ops.runtime import backups
from tests.conftest import REGION, Recording, RedisServer
from tests.http_stub import Handler, serving
from tests.readiness_env import healthy_dump

DR_REGION = "eu-central-1"
NOW = datetime.datetime.now(datetime.UTC)
TIMEOUT = 15.0


def _certificate(days: int) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=30))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("api.example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


class World:
    """One account's worth of resources, fresh per test (unique names on the session's moto server)."""

    def __init__(self, source: RedisServer) -> None:
        tag = uuid.uuid4().hex[:10]
        self.s3 = boto3.client("s3", region_name=REGION)
        # Named as the program's BackupVault ``backups`` auto-names them (backups-bucket-*, backups-replica-*).
        self.bucket, self.replica = f"backups-bucket-{tag}", f"backups-replica-{tag}"
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("s3", region_name=DR_REGION).create_bucket(
            Bucket=self.replica, CreateBucketConfiguration={"LocationConstraint": DR_REGION}
        )
        self.manifest = backups.backup(source.endpoint, backups.Location(self.bucket, "redis/", REGION), None)
        self.replicate()
        cert, key = _certificate(90)
        acm = boto3.client("acm", region_name=REGION)
        self.certificate = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"][
                "SubnetId"
            ]
            for n, z in enumerate("ab")
        ]
        self.elb = boto3.client("elbv2", region_name=REGION)
        balancer = self.elb.create_load_balancer(Name=f"gw-{tag}", Subnets=subnets, Type="application")[
            "LoadBalancers"
        ][0]
        self.balancer_arn, self.hostname = balancer["LoadBalancerArn"], balancer["DNSName"]
        self.waf = boto3.client("wafv2", region_name=REGION)
        self.acl = self._acl(f"gateway-{tag}")
        self.waf.associate_web_acl(WebACLArn=self.acl, ResourceArn=self.balancer_arn)
        self.route53 = boto3.client("route53", region_name="us-east-1")
        self.health_check = self.route53.create_health_check(
            CallerReference=tag,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"{REGION}.api.example.com",
                "ResourcePath": "/readyz",
                "RequestInterval": 10,
                "FailureThreshold": 3,
            },
        )["HealthCheck"]["Id"]
        self.create_eks(subnets)
        self.vault = f"vault-{tag}"
        boto3.client("backup", region_name=REGION).create_backup_vault(BackupVaultName=self.vault)

    def create_eks(self, subnets: list[str]) -> None:
        """The stack's cluster on 1.33 with its declared node groups, on moto."""
        self.eks = boto3.client("eks", region_name=REGION)
        self.cluster = f"redisgw-{uuid.uuid4().hex[:10]}"
        self.eks.create_cluster(
            name=self.cluster,
            version="1.33",
            roleArn="arn:aws:iam::123456789012:role/eks",
            resourcesVpcConfig={"subnetIds": subnets},
        )
        self.subnets = subnets
        self.declare("1.33")
        for group in self.declared["node_groups"]:
            self.node_group(group, "1.33")

    def declare(self, minor: str) -> None:
        """What the stack declares (``EksCluster.declared_versions`` of the primary, at ``minor``), and
        EKS's add-ons on exactly those builds, each ACTIVE."""
        self.declared: dict[str, Any] = {
            "version": minor,
            "node_version": minor,
            "node_groups": [f"primary-{group}" for group in NODE_GROUPS],
            "addons": dict(EKS_ADDON_VERSIONS[minor]),
        }
        self.addons: dict[str, dict[str, Any]] = {
            name: {"addonVersion": build, "status": "ACTIVE", "health": {"issues": []}}
            for name, build in EKS_ADDON_VERSIONS[minor].items()
        }
        self.node_group_status: dict[str, dict[str, Any]] = {}

    def node_group(self, name: str, minor: str) -> None:
        self.eks.create_nodegroup(
            clusterName=self.cluster,
            nodegroupName=name,
            nodeRole="arn:aws:iam::123456789012:role/nodes",
            subnets=self.subnets,
            version=minor,
        )

    def _acl(self, name: str) -> str:
        return str(
            self.waf.create_web_acl(
                Name=name,
                Scope="REGIONAL",
                DefaultAction={"Allow": {}},
                VisibilityConfig={
                    "SampledRequestsEnabled": False,
                    "CloudWatchMetricsEnabled": False,
                    "MetricName": name,
                },
                Rules=[],
            )["Summary"]["ARN"]
        )

    def replicate(self) -> None:
        """What S3 replication does: every object copied to the replica bucket."""
        dr = boto3.client("s3", region_name=DR_REGION)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                dr.put_object(Bucket=self.replica, Key=obj["Key"], Body=body)

    def targets(self) -> dict[str, Any]:
        return {
            "stack": "production",
            "region": REGION,
            "cluster_name": self.cluster,
            "namespaces": ["redis-system", "monitoring"],
            "prometheus_url": "http://kps-prometheus.monitoring.svc.cluster.local:9090",
            "availability_slo": 0.999,
            "backups": {"bucket": self.bucket, "prefix": "redis/", "region": REGION, "max_age_seconds": 1800},
            "replica": {"bucket": self.replica, "prefix": "redis/", "region": DR_REGION, "max_age_seconds": 2700},
            "vault": {"name": self.vault, "region": REGION, "max_age_seconds": 7200},
            "edge": {
                "hostname": "api.example.com",
                "certificate_arn": self.certificate,
                "web_acl_arn": self.acl,
                "health_check_ids": [self.health_check],
            },
            "dr_lag_max_seconds": 30,
            "kubernetes": self.declared,
        }


class Paper(World):
    """The same names without creating anything: for the cases that never reach a resource (the
    credentials are refused first, or the answer is stubbed)."""

    def __init__(self) -> None:
        self.bucket, self.replica, self.vault, self.cluster = (
            "backups-paper",
            "replica-paper",
            "vault-paper",
            "redisgw-x",
        )
        self.certificate = "arn:aws:acm:eu-west-1:123456789012:certificate/paper"
        self.acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/paper/1"
        self.health_check, self.hostname = "hc-paper", "paper-1.eu-west-1.elb.amazonaws.com"
        self.declare("1.33")


@pytest.fixture
def paper(moto_endpoint: str) -> World:
    return Paper()


@pytest.fixture
def world(moto_endpoint: str, redis_server: Callable[..., RedisServer]) -> World:
    source = redis_server()
    source.client.mset({f"key:{n}": f"value-{n}" * 10 for n in range(500)})
    return World(source)


@pytest.fixture(scope="module")
def plan(stack_run: Callable[[str], Recording]) -> Recording:
    return stack_run("production").primary()


def _recovery_points(world: World, age_minutes: float, status: str = "COMPLETED") -> Stubber:
    """AWS Backup's answer, which moto does not implement, stubbed on the client the check uses."""
    client = aws_checks._client("backup", REGION, TIMEOUT)
    stubber = Stubber(client)
    points = [
        {
            "RecoveryPointArn": "arn:aws:ec2:eu-west-1::snapshot/snap-1",
            "Status": status,
            "CreationDate": NOW - datetime.timedelta(minutes=age_minutes),
        },
        {
            "RecoveryPointArn": "arn:aws:ec2:eu-west-1::snapshot/snap-0",
            "Status": "COMPLETED",
            "CreationDate": NOW - datetime.timedelta(days=2),
        },
    ]
    first = {"RecoveryPoints": points[:1], "NextToken": "page-2"}
    stubber.add_response("list_recovery_points_by_backup_vault", first, {"BackupVaultName": world.vault})
    second = {"BackupVaultName": world.vault, "NextToken": "page-2"}
    stubber.add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": points[1:]}, second)
    stubber.activate()
    return stubber


@contextmanager
def eks_parts(world: World) -> Iterator[None]:
    """EKS's add-ons and node group states, which moto does not model, answered from ``world`` on
    the client the checks use. moto 5.2.6 implements no add-on API (moto/eks/responses.py has no
    DescribeAddon) and creates every node group ACTIVE for good; the add-on answer is validated
    against botocore's model of DescribeAddon, and a missing add-on is EKS's 404
    ResourceNotFoundException. A node group's status is moto's real answer with the status EKS
    reports mid-roll or degraded (``world.node_group_status``)."""
    from botocore.awsrequest import AWSResponse
    from botocore.validate import validate_parameters

    client = aws_checks._client("eks", REGION, TIMEOUT)
    output = client.meta.service_model.operation_model("DescribeAddon").output_shape

    def addon(model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        _, _, cluster, _, name = params["url_path"].split("/")[:5]  # /clusters/{name}/addons/{addonName}
        if name not in world.addons:
            error = {"Code": "ResourceNotFoundException", "Message": f"No addon: {name} found in cluster: {cluster}"}
            return AWSResponse(None, 404, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404}}
        body = {"addon": {"addonName": name, "clusterName": cluster, **world.addons[name]}}
        validate_parameters(body, output)
        return AWSResponse(None, 200, {}, None), body

    def node_group(parsed: dict[str, Any], **_: Any) -> None:
        group = parsed.get("nodegroup", {})
        group.update(world.node_group_status.get(group.get("nodegroupName"), {}))

    client.meta.events.register("before-call.eks.DescribeAddon", addon)
    client.meta.events.register("after-call.eks.DescribeNodegroup", node_group)
    try:
        yield
    finally:
        client.meta.events.unregister("before-call.eks.DescribeAddon", addon)
        client.meta.events.unregister("after-call.eks.DescribeNodegroup", node_group)


def judge(
    world: World, plan: Recording, tmp_path: Path, targets: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    dump = healthy_dump(plan)
    for obj in dump["items"]:
        if obj["kind"] == "Ingress":
            obj["status"]["loadBalancer"]["ingress"] = [{"hostname": world.hostname}]
    (tmp_path / "cluster.json").write_text(json.dumps(dump))
    (tmp_path / "targets.json").write_text(json.dumps(targets or world.targets()))
    report = tmp_path / "report.json"
    argv = ["readiness", "--stack", "production", "--from-file", str(tmp_path / "cluster.json")]
    argv += ["--targets", str(tmp_path / "targets.json"), "--skip", "prometheus", "--timeout", str(TIMEOUT)]
    with eks_parts(world):
        code = main([*argv, "--json", str(report)])
    return code, json.loads(report.read_text()) if report.exists() else {}


def failing(report: dict[str, Any]) -> dict[str, list[str]]:
    return {i["id"]: i["evidence"] for i in report["items"] if i["status"] == "fail"}


AWS_ITEMS = {
    "backup-fresh-and-verified",
    "replica-backup-fresh",
    "vault-recovery-points",
    "certificate-expiry",
    "waf-associated",
    "eks-version-supported",
    "route53-health-checks",
    "eks-declared-versions",
}


def _old_manifest(world: World) -> None:
    key = f"redis/{world.manifest['id']}/manifest.json"
    doc = json.loads(world.s3.get_object(Bucket=world.bucket, Key=key)["Body"].read())
    for field in ("started_at", "completed_at"):
        doc[field] = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3)).isoformat()
    world.s3.put_object(Bucket=world.bucket, Key=key, Body=json.dumps(doc).encode())


def _damaged(world: World) -> None:
    key = f"redis/{world.manifest['id']}/data/000001"
    world.s3.put_object(Bucket=world.bucket, Key=key, Body=b"truncated")


def _empty_replica(world: World) -> None:
    dr = boto3.client("s3", region_name=DR_REGION)
    for obj in dr.list_objects_v2(Bucket=world.replica).get("Contents", []):
        dr.delete_object(Bucket=world.replica, Key=obj["Key"])


def _expiring(world: World) -> None:
    cert, key = _certificate(10)
    boto3.client("acm", region_name=REGION).import_certificate(
        CertificateArn=world.certificate, Certificate=cert, PrivateKey=key
    )


def _overridden(world: World) -> None:
    world.route53.update_health_check(HealthCheckId=world.health_check, Disabled=True, Inverted=True)


def _other_acl(world: World) -> None:
    """AWS replaces an association; moto keeps the first, so the old one is removed first."""
    world.waf.disassociate_web_acl(ResourceArn=world.balancer_arn)
    world.waf.associate_web_acl(WebACLArn=world._acl(f"other-{uuid.uuid4().hex[:6]}"), ResourceArn=world.balancer_arn)


def _eks_moved_on(world: World) -> None:
    """The stack declares 1.32 everywhere; nodes and add-ons are on it, but EKS moved the control
    plane to 1.33 on its own (the end of standard support) or someone upgraded it outside Pulumi."""
    world.declare("1.32")
    for group in world.declared["node_groups"]:
        world.eks.delete_nodegroup(clusterName=world.cluster, nodegroupName=group)
        world.node_group(group, "1.32")


def _node_group_behind(world: World) -> None:
    """The Redis group's update stopped before it started (a PDB held its first drain)."""
    world.eks.delete_nodegroup(clusterName=world.cluster, nodegroupName="primary-redis")
    world.node_group("primary-redis", "1.32")


BROKEN: dict[str, tuple[Callable[[World], Any], str, str]] = {
    "newest backup three hours old": (_old_manifest, "backup-fresh-and-verified", "is 3 h 0 min old"),
    "backup data damaged": (_damaged, "backup-fresh-and-verified", "the data is damaged or incomplete"),
    "no backup at all": (
        lambda w: [
            w.s3.delete_object(Bucket=w.bucket, Key=o["Key"]) for o in w.s3.list_objects_v2(Bucket=w.bucket)["Contents"]
        ],
        "backup-fresh-and-verified",
        "no complete backup",
    ),
    "replication stopped": (_empty_replica, "replica-backup-fresh", "no complete backup"),
    "certificate expires in ten days": (_expiring, "certificate-expiry", "(9 days), under 21"),
    "web ACL detached": (
        lambda w: w.waf.disassociate_web_acl(ResourceArn=w.balancer_arn),
        "waf-associated",
        "no web ACL associated",
    ),
    "another web ACL attached": (
        _other_acl,
        "waf-associated",
        "not the stack's",
    ),
    "manual failover override in effect": (_overridden, "route53-health-checks", "manual failover override"),
    "EKS moved the control plane ahead of the stack": (
        _eks_moved_on,
        "eks-declared-versions",
        "runs 1.33, the stack declares 1.32: EKS runs a newer one than redisgw:cluster.version says",
    ),
    "an add-on degraded": (
        lambda w: w.addons["coredns"].update(
            status="DEGRADED", health={"issues": [{"code": "InsufficientNumberOfReplicas", "message": "0/2"}]}
        ),
        "eks-declared-versions",
        "add-on coredns: status DEGRADED (InsufficientNumberOfReplicas)",
    ),
    # Route 53 (HealthCheckConfig, API reference): a disabled check is considered healthy; Inverted
    # reverses the status. Either alone breaks automatic failover, each in its own way.
    "health check only disabled": (
        lambda w: w.route53.update_health_check(HealthCheckId=w.health_check, Disabled=True),
        "route53-health-checks",
        "automatic failover is off",
    ),
    "health check only inverted": (
        lambda w: w.route53.update_health_check(HealthCheckId=w.health_check, Inverted=True),
        "route53-health-checks",
        "failover fires the wrong way",
    ),
}


EKS_DRIFT: dict[str, tuple[Callable[[World], Any], str]] = {
    "a node group one minor behind": (
        _node_group_behind,
        "node group primary-redis: runs 1.32, the stack declares 1.33: the upgrade is not applied",
    ),
    "a node group rolling": (
        lambda w: w.node_group_status.update({"primary-main": {"status": "UPDATING"}}),
        "node group primary-main: status UPDATING",
    ),
    "a node group degraded": (
        lambda w: w.node_group_status.update(
            {
                "primary-redis": {
                    "status": "DEGRADED",
                    "health": {"issues": [{"code": "AsgInstanceLaunchFailures", "message": "capacity"}]},
                }
            }
        ),
        "node group primary-redis: status DEGRADED (AsgInstanceLaunchFailures)",
    ),
    "a node group gone": (
        lambda w: w.eks.delete_nodegroup(clusterName=w.cluster, nodegroupName="primary-main"),
        "node group primary-main: eks describe_nodegroup: ResourceNotFoundException",
    ),
    "an add-on on another minor's build": (
        lambda w: w.addons["kube-proxy"].update(addonVersion=EKS_ADDON_VERSIONS["1.32"]["kube-proxy"]),
        f"add-on kube-proxy: runs {EKS_ADDON_VERSIONS['1.32']['kube-proxy']}, the stack pins "
        f"{EKS_ADDON_VERSIONS['1.33']['kube-proxy']} for Kubernetes 1.33",
    ),
    "a node group the stack does not declare, on the old minor": (
        lambda w: w.node_group("primary-main-old", "1.32"),
        "node group primary-main-old (not the stack's): runs 1.32, the stack declares 1.33",
    ),
    "an add-on removed": (
        lambda w: w.addons.pop("metrics-server"),
        "add-on metrics-server: eks describe_addon: ResourceNotFoundException: No addon: metrics-server found",
    ),
}
"""More ways a cluster differs from what the stack declares, judged by the versions item alone (the
whole scorecard runs on two others in BROKEN, which shows this item fails nothing else)."""


class EksOnly(Paper):
    """The paper names, with a real EKS cluster and its node groups on moto (nothing else)."""

    def __init__(self) -> None:
        super().__init__()
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        self.create_eks([ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]])


@pytest.mark.parametrize("case", sorted(EKS_DRIFT))
def test_each_drift_from_the_declared_versions_is_named(moto_endpoint: str, case: str) -> None:
    world = EksOnly()
    with eks_parts(world):
        assert aws_checks.version_problems(Targets.model_validate(world.targets()), TIMEOUT) == []
    mutate, says = EKS_DRIFT[case]
    mutate(world)
    with eks_parts(world):
        problems = aws_checks.version_problems(Targets.model_validate(world.targets()), TIMEOUT)
    assert len(problems) == 1 and says in problems[0], problems


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_one_broken_thing_fails_exactly_its_aws_item(world: World, plan: Recording, tmp_path: Path, case: str) -> None:
    mutate, expected, says = BROKEN[case]
    mutate(world)
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path)
    assert list(failing(report)) == [expected], failing(report)
    assert code == 1 and says in " ".join(failing(report)[expected])


def test_a_cluster_out_of_standard_support_fails_the_version_item(
    world: World, plan: Recording, tmp_path: Path
) -> None:
    old = f"old-{uuid.uuid4().hex[:6]}"
    subnets = world.eks.describe_cluster(name=world.cluster)["cluster"]["resourcesVpcConfig"]["subnetIds"]
    world.eks.create_cluster(
        name=old,
        version="1.29",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    # The stack declares 1.29 everywhere (an old stack never upgraded): only the support item fails.
    world.declare("1.32")
    world.declared.update(version="1.29", node_version="1.29", node_groups=[])
    world.addons.clear()
    world.declared["addons"] = {}
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path, {**world.targets(), "cluster_name": old})
    assert list(failing(report)) == ["eks-version-supported"] and code == 1
    assert "Kubernetes 1.29 is older than 1.32" in failing(report)["eks-version-supported"][0]
    # Declared 1.33 (the stack moved on, the cluster did not): the versions item says so too.
    world.declare("1.33")
    world.declared["node_groups"] = []
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path, {**world.targets(), "cluster_name": old})
    assert sorted(failing(report)) == ["eks-declared-versions", "eks-version-supported"] and code == 1
    assert failing(report)["eks-declared-versions"][0].startswith(
        f"EKS cluster {old}: runs 1.29, the stack declares 1.33: the upgrade is not applied"
    )


def test_a_missing_bucket_fails_its_item_with_the_reason(world: World, plan: Recording, tmp_path: Path) -> None:
    targets = world.targets()
    targets["backups"]["bucket"] = f"gone-{uuid.uuid4().hex[:8]}"
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path, targets)
    assert list(failing(report)) == ["backup-fresh-and-verified"] and code == 1
    assert "head_bucket" in failing(report)["backup-fresh-and-verified"][0]


# -- what moto does not implement ------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="moto 5 does not implement AWS Backup's ListRecoveryPointsByBackupVault")
def test_recovery_points_are_read_from_moto(world: World) -> None:
    vault = Targets.model_validate(world.targets()).vault
    assert aws_checks.vault_problems(vault, NOW, TIMEOUT) == []


@pytest.mark.xfail(strict=True, reason="moto 5.2.6 implements no EKS add-on API (DescribeAddon)")
def test_add_ons_are_read_from_moto(world: World) -> None:
    targets = Targets.model_validate(world.targets())
    problems = aws_checks.version_problems(targets, TIMEOUT)
    assert not [p for p in problems if p.startswith("add-on ")], problems


def test_an_older_configmap_without_declared_versions_has_no_versions_item(
    world: World, plan: Recording, tmp_path: Path
) -> None:
    targets = world.targets()
    del targets["kubernetes"]
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path, targets)
    assert code == 0 and "eks-declared-versions" not in {i["id"] for i in report["items"]}


@pytest.mark.parametrize(
    ("age_minutes", "status", "says"),
    [(30, "COMPLETED", None), (400, "COMPLETED", "6 h 40 min old"), (5, "RUNNING", None)],
)
def test_recovery_points_newest_completed_within_the_objective(
    paper: World, age_minutes: float, status: str, says: str | None
) -> None:
    """Across pages: the newest completed point counts (a running one does not; the older page's
    two-day-old point is then the newest, and fails)."""
    vault = Targets.model_validate(paper.targets()).vault
    with _recovery_points(paper, age_minutes, status):
        problems = aws_checks.vault_problems(vault, NOW, TIMEOUT)
    if status == "RUNNING":
        assert problems and "48 h 0 min old" in problems[0]
    elif says is None:
        assert problems == []
    else:
        assert problems and says in problems[0]


@pytest.mark.xfail(strict=True, reason="moto's Route 53 has no checkers: GetHealthCheckStatus always reports Success")
def test_an_unhealthy_endpoint_is_reported_by_moto(world: World) -> None:
    targets = Targets.model_validate(
        {**world.targets(), "edge": {**world.targets()["edge"], "hostname": "down.invalid"}}
    )
    assert aws_checks.health_check_problems(targets, TIMEOUT)


def test_route53_checkers_reporting_failure_fail_the_item(paper: World) -> None:
    targets = Targets.model_validate(paper.targets())
    client = aws_checks._client("route53", aws_checks.ROUTE53_REGION, TIMEOUT)
    failure = {"Status": "Failure: HTTP Status Code 503, Service Unavailable", "CheckedTime": NOW}
    success = {"Status": "Success: HTTP Status Code 200, OK", "CheckedTime": NOW}
    observations = [
        {"Region": r, "IPAddress": "192.0.2.1", "StatusReport": failure}
        for r in ("us-east-1", "eu-west-1", "ap-southeast-1", "sa-east-1", "us-west-1")
    ]
    observations.append({"Region": "us-west-2", "IPAddress": "192.0.2.2", "StatusReport": success})
    config = {
        "Id": paper.health_check,
        "CallerReference": "x",
        "HealthCheckConfig": {"Type": "HTTPS", "Disabled": False, "Inverted": False},
        "HealthCheckVersion": 1,
    }
    with Stubber(client) as stubber:
        stubber.add_response("get_health_check", {"HealthCheck": config})
        stubber.add_response("get_health_check_status", {"HealthCheckObservations": observations})
        problems = aws_checks.health_check_problems(targets, TIMEOUT)
    (problem,) = problems
    assert problem == f"health check {paper.health_check}: 1 of 6 checkers healthy ({failure['Status']})"


def test_a_call_still_throttled_after_retries_cannot_judge(paper: World) -> None:
    """EKS's ThrottlingException (botocore retries it in standard mode first) says nothing about the
    cluster: exit 2, "cannot judge", not a failed item."""
    targets = Targets.model_validate(paper.targets())
    with Stubber(aws_checks._client("eks", REGION, TIMEOUT)) as stubber:
        stubber.add_client_error("describe_cluster", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(OpsError, match=r"AWS eks describe_cluster: throttled \(ThrottlingException\)") as info:
            aws_checks.version_problems(targets, TIMEOUT)
    assert info.value.code == 2 and "cannot judge" in info.value.message


# -- credentials -------------------------------------------------------------------------------------


class _Expired(Handler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            b"<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>"
            b"</Error><RequestId>1</RequestId></ErrorResponse>"
        )
        self.reply(403, body, "text/xml")


@pytest.fixture
def expired_endpoint() -> Iterator[str]:
    with serving(_Expired) as url:
        yield url


def test_expired_credentials_are_one_line_and_exit_2(
    paper: World,
    plan: Recording,
    tmp_path: Path,
    expired_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", expired_endpoint)
    code, report = judge(paper, plan, tmp_path)
    err = capsys.readouterr().err.strip()
    assert code == 2 and report == {}
    assert err.splitlines() == [err] and "credentials refused (ExpiredToken)" in err


def test_no_credentials_are_one_line_and_exit_2(
    paper: World, plan: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the credentials it resolved earlier
    code, report = judge(paper, plan, tmp_path)
    err = capsys.readouterr().err.strip()
    assert code == 2 and report == {} and err.splitlines() == [err]
    assert "AWS: no credentials found" in err


def test_an_unreachable_aws_endpoint_is_one_line_and_exit_2(
    paper: World, plan: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.runtime.backups import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    code, _ = judge(paper, plan, tmp_path, None)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines() == [err] and "cannot reach the endpoint" in err


def test_targets_keep_their_shape(paper: World) -> None:
    """The document the program writes and the checks read is the same model (no unknown key)."""
    broken = copy.deepcopy(paper.targets())
    broken["edge"]["certificate"] = "typo"
    with pytest.raises(OpsError, match=r"edge\.certificate"):
        from ops.readiness.targets import parse

        parse(json.dumps(broken), "targets")


def test_an_aws_endpoint_that_never_answers_cannot_be_judged(
    paper: World, plan: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A black-holed egress (the endpoint accepts, then says nothing): botocore's ReadTimeoutError is
    no EndpointConnectionError, and must not read as every AWS item failing."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
        argv_timeout = 1.0
        monkeypatch.setattr(sys.modules[__name__], "TIMEOUT", argv_timeout)
        code, report = judge(paper, plan, tmp_path, None)
    finally:
        listener.close()
    err = capsys.readouterr().err.strip()
    assert code == 2 and report == {} and err.splitlines() == [err]
    assert "cannot reach the endpoint" in err and "cannot judge" in err


# -- what the deploy jobs' `ops verify` and `ops readiness` call, against the deploy role ------------

S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}
"""S3 operations -> the IAM action each needs (Amazon S3 user guide, "Required permissions for Amazon
S3 API operations"): S3 is the one service here whose action names are not its operation names."""


def _action(service: str, operation: str) -> str:
    if service != "s3":
        return f"{service}:{operation}"
    assert operation in S3_ACTIONS, f"S3 operation {operation}: add its IAM action to S3_ACTIONS (from the S3 docs)"
    return S3_ACTIONS[operation]


def test_a_healthy_account_passes_every_aws_item_within_the_deploy_roles_rights(
    world: World, plan: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A healthy account passes every AWS item. Every API call of the two steps the production
    deploy job runs on its runner (the scorecard, then ``ops verify``) is recorded at the botocore
    client and judged against the deploy role the bootstrap creates."""
    import botocore.client
    import yaml

    from bootstrap import ci_policies
    from bootstrap.config import load
    from ops.offline.engine import ROOT
    from tests.iam_eval import allowed

    calls: set[tuple[str, str, str, str]] = set()
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: Any) -> Any:
        service = client.meta.service_model.signing_name
        resource = "*"
        if service == "s3" and params.get("Bucket"):
            resource = f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if params.get("Key") else "")
        calls.add((service, operation, client.meta.region_name, resource))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    with _recovery_points(world, 30):
        code, report = judge(world, plan, tmp_path)
    aws = {i["id"]: i for i in report["items"] if i["source"] == "aws"}
    assert set(aws) == AWS_ITEMS
    assert failing(report) == {}, failing(report)
    assert all(i["evidence"] for i in aws.values()), "a pass carries what it saw"
    assert "min old (objective " in aws["backup-fresh-and-verified"]["evidence"][0]
    assert code == 0 and report["sources"] == ["kubernetes", "docs", "aws"]
    work = tmp_path / "verify"
    work.mkdir()
    assert main(["verify", "--bucket", world.bucket, "--backup", "latest", "--work-dir", str(work)]) == 0
    monkeypatch.undo()

    stacks = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.production.yaml").read_text())["config"]
    cfg = load({"stacks": stacks["redisgw-bootstrap:stacks"]}, root=ROOT, region="eu-west-1")
    (role,) = [r for r in cfg.roles if r.purpose == "deploy" and r.stacks[0].name == "production"]
    document = ci_policies.deploy_policy(cfg, role, bucket_arn="arn:aws:s3:::state", key_arn="arn:aws:kms:::key/x")
    services = {service for service, _, _, _ in calls}
    assert {"s3", "acm", "elasticloadbalancing", "wafv2", "route53", "eks", "backup"} <= services, services
    # sts:GetCallerIdentity needs no permission (STS API reference, GetCallerIdentity).
    refused = sorted(
        f"{_action(s, op)} on {resource} in {region}"
        for s, op, region, resource in calls
        if (s, op) != ("sts", "GetCallerIdentity")
        and not allowed(document, _action(s, op), resource, **{"aws:RequestedRegion": region})
    )
    assert not refused, f"the deploy role refuses what its job calls: {refused}"
    # The backups are SSE-KMS in the account: reading them needs kms:Decrypt (S3 does it as the caller).
    assert allowed(document, "kms:Decrypt", "*", **{"aws:RequestedRegion": REGION})
