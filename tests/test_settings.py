"""Stack settings: both stack files load, and broken files fail with one line naming file, key and rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

import settings
from ops.cli import main
from ops.errors import OpsError
from ops.offline.engine import ROOT, load_stack_config
from tests.conftest import STACKS, stack_values, write_variant


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_are_valid(stack: str) -> None:
    cfg = settings.load_settings(stack_values(stack), source=f"Pulumi.{stack}.yaml")
    assert cfg.region == "eu-west-1"
    assert len(cfg.network.availability_zones) == 3


def test_settings_are_frozen() -> None:
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    with pytest.raises(Exception, match="frozen"):
        cfg.network.cidr = "10.0.0.0/16"  # type: ignore[misc]


def test_stacks_differ_only_in_values() -> None:
    prod = settings.load_settings(stack_values("production"), source="p")
    stag = settings.load_settings(stack_values("staging"), source="s")
    assert (prod.network.nat_gateways, stag.network.nat_gateways) == ("per-az", "single")
    assert prod.dr.enabled and not stag.dr.enabled


# (id, changes to Pulumi.production.yaml, the one expected line after "Pulumi.production.variant.yaml: ")
INVALID: list[tuple[str, list[tuple[str, Any]], str]] = [
    ("unknown-top-level-key", [("redisgw:netwrok", {"cidr": "10.0.0.0/16"})], "redisgw:netwrok: unknown key"),
    (
        "unknown-nested-key",
        [("redisgw:cluster.nodeGroups.main.minsize", 3)],
        "redisgw:cluster.nodeGroups.main.minsize: unknown key",
    ),
    (
        "cidr-not-a-network",
        [("redisgw:network.cidr", "10.20.0.0/33")],
        "redisgw:network.cidr: cidr '10.20.0.0/33' is not a valid IPv4 CIDR block",
    ),
    (
        "cidr-public",
        [("redisgw:network.cidr", "8.8.0.0/16")],
        "redisgw:network.cidr: cidr must lie inside an RFC 1918 private range",
    ),
    (
        "cidr-too-small",
        [("redisgw:network.cidr", "10.20.0.0/24")],
        "redisgw:network.cidr: cidr must be a /16 to /20 block",
    ),
    (
        "dr-cidr-overlaps",
        [("redisgw:dr.vpcCidr", "10.20.128.0/17")],
        "redisgw:dr.vpcCidr: overlaps the primary VPC 10.20.0.0/16",
    ),
    (
        "min-above-desired",
        [("redisgw:cluster.nodeGroups.main.minSize", 4)],
        "redisgw:cluster.nodeGroups.main: minSize (4) must not exceed desiredSize (3)",
    ),
    (
        "desired-above-max",
        [("redisgw:cluster.nodeGroups.redis.desiredSize", 7)],
        "redisgw:cluster.nodeGroups.redis: desiredSize (7) must not exceed maxSize (6)",
    ),
    (
        "instance-types-empty",
        [("redisgw:cluster.nodeGroups.redis.instanceTypes", [])],
        "redisgw:cluster.nodeGroups.redis.instanceTypes: instanceTypes must name at least one instance type",
    ),
    (
        "too-few-zones",
        [("redisgw:network.availabilityZones", ["eu-west-1a", "eu-west-1b"])],
        "redisgw:network.availabilityZones: availabilityZones needs 3 to 6 zones, got 2",
    ),
    (
        "zone-in-other-region",
        [("redisgw:network.availabilityZones", ["eu-west-1a", "eu-west-1b", "us-east-1a"])],
        "redisgw:network.availabilityZones: zones ['us-east-1a'] are not in region eu-west-1",
    ),
    (
        "dr-region-same-as-primary",
        [("redisgw:dr.region", "eu-west-1")],
        "redisgw:dr.region: must differ from the primary region eu-west-1",
    ),
    (
        "dr-enabled-without-region",
        [("redisgw:dr.region", ...)],
        "redisgw:dr: enabled is true, so region is required",
    ),
    (
        "dr-enabled-without-range-and-nodes",
        [("redisgw:dr.vpcCidr", ...), ("redisgw:dr.nodeGroups", ...)],
        "redisgw:dr: enabled is true, so vpcCidr, nodeGroups are required",
    ),
    (
        "dr-range-overlaps-eks-services",
        [("redisgw:dr.vpcCidr", "10.100.0.0/16")],
        "redisgw:dr.vpcCidr: vpcCidr 10.100.0.0/16 overlaps EKS's Kubernetes service range 10.100.0.0/16",
    ),
    (
        "dr-zones-outside-dr-region",
        [("redisgw:dr.availabilityZones", ["eu-west-1a", "eu-west-1b", "eu-west-1c"])],
        "redisgw:dr.availabilityZones: zones ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] are not in region eu-central-1",
    ),
    (
        "dr-gateway-minimum-above-maximum",
        [("redisgw:dr.gatewayMinReplicas", 40)],
        "redisgw:dr.gatewayMinReplicas: (40) must not exceed gateway.replicas.max (20)",
    ),
    (
        "dr-redis-nodes-too-few",
        [
            ("redisgw:dr.nodeGroups.redis.maxSize", 2),
            ("redisgw:dr.nodeGroups.redis.desiredSize", 2),
            ("redisgw:dr.nodeGroups.redis.minSize", 2),
        ],
        "redisgw:dr.nodeGroups.redis.maxSize: (2) must hold redis.replicas (3): one Redis pod per node",
    ),
    (
        "dr-replication-mode-unknown",
        [("redisgw:dr.replication", "async")],
        "redisgw:dr.replication: Input should be 'replica' or 'backups-only'",
    ),
    (
        "dr-health-check-interval",
        [("redisgw:dr.healthCheck.intervalSeconds", 15)],
        "redisgw:dr.healthCheck.intervalSeconds: Input should be 10 or 30",
    ),
    (
        "dr-health-check-path",
        [("redisgw:dr.healthCheck.path", "readyz?x=1")],
        "redisgw:dr.healthCheck.path: path 'readyz?x=1' must be an absolute URL path",
    ),
    (
        "dr-rto-too-small",
        [("redisgw:dr.rtoSeconds", 5)],
        "redisgw:dr.rtoSeconds: Input should be greater than or equal to 60",
    ),
    (
        "link-outage-too-short",
        [("redisgw:redis.linkOutageSeconds", 29)],
        "redisgw:redis.linkOutageSeconds: Input should be greater than or equal to 30",
    ),
    (
        "link-outage-too-long",
        [("redisgw:redis.linkOutageSeconds", 3601)],
        "redisgw:redis.linkOutageSeconds: Input should be less than or equal to 3600",
    ),
    (
        "link-outage-as-a-duration",
        [("redisgw:redis.linkOutageSeconds", "5m")],
        "redisgw:redis.linkOutageSeconds: Input should be a valid integer",
    ),
    (
        "replication-backlog-above-its-share-of-memory",
        [("redisgw:redis.linkOutageSeconds", 3600), ("redisgw:capacity.peakRequestsPerSecond", 30000)],
        "redisgw:redis.linkOutageSeconds: the replication backlog that rides out 3600 s of link outage at the "
        "declared write rate (capacity.peakRequestsPerSecond x (1 - readShare) x (valueBytes.mean + 64 B) x "
        "(1 + headroom)) is 15425 MiB, above 10% of redis.resources.memoryLimit (2048 MiB)",
    ),
    (
        "replication-backlog-floor-above-its-share-of-memory",
        [
            ("redisgw:capacity.peakRequestsPerSecond", 10),
            ("redisgw:redis.resources.memoryRequest", "512Mi"),
            ("redisgw:redis.resources.memoryLimit", "512Mi"),
        ],
        "redisgw:redis.resources.memoryLimit: 10% of it (51 MiB) cannot hold the smallest replication backlog (64 MiB)",
    ),
    (
        "rpo-within-repl-timeout",
        [("redisgw:dr.rpoSeconds", 6)],
        "redisgw:dr.rpoSeconds: (6) must exceed Redis' repl-timeout (6 s, at least 6 s)",
    ),
    (
        "nat-mode-unknown",
        [("redisgw:network.natGateways", "two")],
        "redisgw:network.natGateways: Input should be 'per-az' or 'single'",
    ),
    (
        "public-endpoint-without-cidrs",
        [("redisgw:cluster.endpointPublicAccess", True)],
        "redisgw:cluster: endpointPublicAccess is true but publicAccessCidrs is empty",
    ),
    (
        "wrong-type",
        [("redisgw:cluster.nodeGroups.main.maxSize", "twelve")],
        "redisgw:cluster.nodeGroups.main.maxSize: Input should be a valid integer",
    ),
    (
        "unsupported-kubernetes",
        [("redisgw:cluster.version", "1.24")],
        "redisgw:cluster.version: version must be a quoted Kubernetes minor from '1.32' to '1.35'",
    ),
    (
        "nodes-newer-than-control-plane",
        [("redisgw:cluster.nodeVersion", "1.35")],
        "redisgw:cluster.nodeVersion: (1.35) must not be newer than cluster.version (1.34)",
    ),
    (
        "nodes-two-minors-behind",
        [("redisgw:cluster.nodeVersion", "1.32")],
        "redisgw:cluster.nodeVersion: (1.32) may trail cluster.version (1.34) by one minor at most",
    ),
    (
        "nodes-unsupported-kubernetes",
        [("redisgw:cluster.nodeVersion", "1.31")],
        "redisgw:cluster.nodeVersion: nodeVersion must be a quoted Kubernetes minor from '1.32' to '1.35'",
    ),
    (
        "standby-ahead-of-primary",
        [("redisgw:dr.clusterVersion", "1.35")],
        "redisgw:dr.clusterVersion: (1.35) must not be newer than cluster.version (1.34)",
    ),
    ("missing-region", [("aws:region", ...)], "aws:region: required key is missing"),
    (
        "image-latest",
        [("redisgw:gateway.image", "ghcr.io/example/gateway:latest")],
        "redisgw:gateway.image: image must pin a version, not ':latest'",
    ),
    (
        "image-untagged",
        [("redisgw:redis.image", "quay.io/opstree/redis")],
        "redisgw:redis.image: image 'quay.io/opstree/redis' must be registry/repository:tag or @sha256 digest",
    ),
    (
        "ops-image-by-tag",
        [("redisgw:backup.opsImage", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops:0.1.0")],
        "redisgw:backup.opsImage: opsImage '123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops:0.1.0'"
        " must be an ECR image pinned by digest",
    ),
    (
        "ops-image-not-from-ecr",
        [("redisgw:backup.opsImage", "ghcr.io/ai-decenter/redis-gateway-ops@sha256:" + "a" * 64)],
        "redisgw:backup.opsImage: opsImage 'ghcr.io/ai-decenter/redis-gateway-ops@sha256:"
        + "a" * 64
        + "' must be an ECR image pinned by digest",
    ),
    (
        "ops-image-short-digest",
        [("redisgw:backup.opsImage", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops@sha256:abc")],
        "redisgw:backup.opsImage: opsImage '123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
        "@sha256:abc' must be an ECR image pinned by digest",
    ),
    (
        "ops-image-in-another-region",
        [
            (
                "redisgw:backup.opsImage",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/redisgw-production/ops@sha256:" + "b" * 64,
            )
        ],
        "redisgw:backup.opsImage: is in region us-east-1: "
        "the stack's ops repository is in its primary region eu-west-1",
    ),
    (
        "gateway-min-above-max",
        [("redisgw:gateway.replicas.min", 30)],
        "redisgw:gateway.replicas: min (30) must not exceed max (20)",
    ),
    (
        "gateway-single-replica",
        [("redisgw:gateway.replicas.min", 1)],
        "redisgw:gateway.replicas.min: Input should be greater than or equal to 2",
    ),
    (
        "maxmemory-no-fork-reserve",
        [("redisgw:redis.maxmemoryPercent", 90)],
        "redisgw:redis.maxmemoryPercent: Input should be less than or equal to 75",
    ),
    ("sentinels-even", [("redisgw:redis.sentinels", 4)], "redisgw:redis.sentinels: sentinels must be odd"),
    (
        "redis-memory-request-above-limit",
        [("redisgw:redis.resources.memoryRequest", "64Gi")],
        "redisgw:redis.resources: memoryRequest (64Gi) exceeds memoryLimit (20Gi)",
    ),
    ("bad-hostname", [("redisgw:gateway.hostname", "api_gateway")], "redisgw:gateway.hostname: hostname 'api_gateway'"),
    (
        "secret-in-plain-text",
        [("redisgw:alertSlackWebhookUrl", "https://hooks.slack.invalid/T/B/X")],
        "redisgw:alertSlackWebhookUrl: stored in plain text; set it with pulumi config set --secret",
    ),
    (
        "admin-not-a-role",
        [("redisgw:cluster.adminRoleArns", ["arn:aws:iam::123456789012:user/alice"])],
        "redisgw:cluster.adminRoleArns: adminRoleArns entry 'arn:aws:iam::123456789012:user/alice' is not an IAM role",
    ),
    (
        "public-cidr-documentation-range",
        [("redisgw:cluster.endpointPublicAccess", True), ("redisgw:cluster.publicAccessCidrs", ["203.0.113.0/24"])],
        "redisgw:cluster.publicAccessCidrs: publicAccessCidrs entry 203.0.113.0/24 is a documentation range",
    ),
    (
        "public-cidr-everyone",
        [("redisgw:cluster.endpointPublicAccess", True), ("redisgw:cluster.publicAccessCidrs", ["0.0.0.0/0"])],
        "redisgw:cluster.publicAccessCidrs: publicAccessCidrs must not admit 0.0.0.0/0",
    ),
    (
        "public-cidr-private",
        [("redisgw:cluster.endpointPublicAccess", True), ("redisgw:cluster.publicAccessCidrs", ["10.0.0.0/8"])],
        "redisgw:cluster.publicAccessCidrs: publicAccessCidrs entry 10.0.0.0/8 is not a public range",
    ),
    (
        "runner-role-without-cluster-access",
        [("redisgw:delivery.runner.deployRoleArn", "arn:aws:iam::123456789012:role/someone-else")],
        "redisgw:delivery.runner.deployRoleArn: must be one of cluster.adminRoleArns",
    ),
    (
        "runner-repository-not-owner-name",
        [("redisgw:delivery.runner.repository", "https://github.com/x/y")],
        "redisgw:delivery.runner.repository: repository 'https://github.com/x/y' must be owner/name",
    ),
    (
        "runner-ref-unanchored",
        [("redisgw:delivery.runner.deployRef", "main")],
        "redisgw:delivery.runner.deployRef: deployRef must be anchored on a full ref",
    ),
    (
        "alert-secret-name-not-a-name",
        [("redisgw:monitoring.alertSecretName", "no spaces allowed")],
        "redisgw:monitoring.alertSecretName: alertSecretName must be a Secrets Manager secret name or ARN",
    ),
    (
        "tag-key-reserved",
        [("redisgw:tags.aws:owner", "platform")],
        "redisgw:tags: tag key 'aws:owner' is not one AWS accepts",
    ),
    (
        "tag-value-too-long",
        [("redisgw:tags.team", "x" * 300)],
        "redisgw:tags: the value of tag 'team' is not one AWS accepts",
    ),
    (
        "tag-value-bad-character",
        [("redisgw:tags.team", "platform;drop")],
        "redisgw:tags: the value of tag 'team' is not one AWS accepts",
    ),
    (
        "public-cidrs-too-many",
        [
            ("redisgw:cluster.endpointPublicAccess", True),
            ("redisgw:cluster.publicAccessCidrs", [f"8.8.{i}.0/24" for i in range(41)]),
        ],
        "redisgw:cluster.publicAccessCidrs: publicAccessCidrs has 41 entries; EKS accepts at most 40",
    ),
    (
        "log-retention-cloudwatch-rejects",
        [("redisgw:cluster.logRetentionDays", 366)],
        "redisgw:cluster.logRetentionDays: 366 is not a retention CloudWatch Logs accepts (nearest: 365",
    ),
    (
        "flow-log-retention-cloudwatch-rejects",
        [("redisgw:network.flowLogRetentionDays", 45)],
        "redisgw:network.flowLogRetentionDays: 45 is not a retention CloudWatch Logs accepts",
    ),
    (
        "cron-four-fields",
        [("redisgw:backup.schedule", "*/15 * * *")],
        "redisgw:backup.schedule: schedule '*/15 * * *' is not a valid cron schedule",
    ),
    (
        "cron-minute-out-of-range",
        [("redisgw:backup.schedule", "61 * * * *")],
        "redisgw:backup.schedule: schedule '61 * * * *' is not a valid cron schedule",
    ),
    (
        "cron-bad-day-name",
        [("redisgw:backup.drillSchedule", "0 4 * * funday")],
        "redisgw:backup.drillSchedule: schedule '0 4 * * funday' is not a valid cron schedule",
    ),
    ("cron-reboot", [("redisgw:backup.drillSchedule", "@reboot")], "redisgw:backup.drillSchedule: schedule '@reboot'"),
    (
        "cron-30th-of-february",
        [("redisgw:backup.schedule", "0 0 30 2 *")],
        "redisgw:backup.schedule: schedule '0 0 30 2 *' never fires on a real date",
    ),
    (
        "cron-sunday-as-7",  # robfig/cron v3, which the API server uses, takes day of week 0-6 only
        [("redisgw:backup.drillSchedule", "0 4 * * 7")],
        "redisgw:backup.drillSchedule: schedule '0 4 * * 7' is not a schedule Kubernetes accepts",
    ),
    (
        "cron-last-day-of-month",
        [("redisgw:backup.drillSchedule", "0 4 L * *")],
        "redisgw:backup.drillSchedule: schedule '0 4 L * *' is not a schedule Kubernetes accepts",
    ),
    (
        "cron-31st-of-april-drill",
        [("redisgw:backup.drillSchedule", "0 4 31 4 *")],
        "redisgw:backup.drillSchedule: schedule '0 4 31 4 *' never fires on a real date",
    ),
    (
        "cpu-request-above-limit",
        [("redisgw:gateway.resources.cpuRequest", "8")],
        "redisgw:gateway.resources: cpuRequest (8) exceeds cpuLimit",
    ),
    (
        "cpu-not-a-cpu-quantity",
        [("redisgw:gateway.resources.cpuLimit", "2Gi")],
        "redisgw:gateway.resources.cpuLimit: '2Gi' is not a CPU quantity",
    ),
    (
        "memory-not-a-quantity",
        [("redisgw:redis.resources.memoryLimit", "20 GB")],
        "redisgw:redis.resources.memoryLimit: '20 GB' is not a memory quantity",
    ),
    (
        "scratch-not-a-quantity",
        [("redisgw:backup.scratchSize", "lots")],
        "redisgw:backup.scratchSize: 'lots' is not a memory quantity",
    ),
    (
        "namespace-misspelled",
        [("redis-gw:tags", {"team": "platform"})],
        "redis-gw:tags: unknown config namespace 'redis-gw' (did you mean redisgw?)",
    ),
    (
        "namespace-typo",
        [("redisgww:gateway", {"replicas": 3})],
        "redisgww:gateway: unknown config namespace 'redisgww' (did you mean redisgw?)",
    ),
    (
        "slack-webhook-in-a-plain-key",
        [("redisgw:monitoring.slackChannel", "https://hooks.slack.com/services/T0/B0/s3cr3tvalue")],
        "redisgw:monitoring.slackChannel: the value looks like a Slack webhook URL; store it with pulumi config set",
    ),
    (
        "aws-key-in-tags",
        [("redisgw:tags.owner", "AKIAABCDEFGHIJKLMNOP")],
        "redisgw:tags.owner: the value looks like an AWS access key",
    ),
    (
        "password-in-a-plain-key",
        [("redisgw:redis.password", "s3cr3tvalue")],
        "redisgw:redis.password: a key named like a secret holds a plaintext value",
    ),
    (
        "credentials-in-a-url",
        [("redisgw:monitoring.runbookBaseUrl", "https://ci:s3cr3tvalue@example.com/runbooks")],
        "redisgw:monitoring.runbookBaseUrl: the value looks like a URL with a password",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [(c, e) for _, c, e in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_settings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[str, Any]], expected: str
) -> None:
    variant = write_variant(tmp_path, "production", changes)
    report = tmp_path / "report.json"
    code = main(["preview", "--stack", "production", "--config", str(variant), "--json", str(report)])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{variant.name}: {expected}")
    assert "s3cr3tvalue" not in out + err and "AKIAABCDEFGHIJKLMNOP" not in out + err
    assert out == ""  # no plan: nothing was declared
    assert not report.exists()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "Pulumi.production.yaml"
    bad.write_text("config:\n  aws:region: eu-west-1\n  redisgw:network: [unclosed\n")
    assert main(["preview", "--stack", "production", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Pulumi.production.yaml: line ")
    assert "not valid YAML" in err


def test_unknown_stack_lists_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "prod"]) == 2
    assert "Pulumi.prod.yaml: no such stack file (stacks: production, staging)" in capsys.readouterr().err


def test_cli_prints_no_traceback(tmp_path: Path) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:cluster.nodeGroups.main.minSize", 9)])
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "preview", "--stack", "production", "--config", str(variant)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "minSize (9) must not exceed desiredSize (3)" in proc.stderr


def test_error_messages_never_echo_secret_values() -> None:
    values = stack_values("production")
    values["redisgw:tags"] = {"owner": {"secure": "v1:AAAA"}}
    with pytest.raises(settings.SettingsError) as info:
        settings.load_settings(values, source="Pulumi.production.yaml")
    assert "v1:AAAA" not in str(info.value)
    assert "redisgw:tags.owner: Input should be a valid string" in str(info.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfeconfig:\n", "Pulumi.production.yaml: not UTF-8 text (byte 0)"),
        (b"- just\n- a list\n", "Pulumi.production.yaml: config: must be a mapping of config keys to values"),
        (b"config: [1, 2]\n", "Pulumi.production.yaml: config: must be a mapping of config keys to values"),
        (
            b"config:\n  a:b:c: eu-west-1\n",
            "Pulumi.production.yaml: config.a:b:c: could not parse a:b:c as a configuration key",
        ),
        (
            b"config:\n  aws:region: eu-west-1\n  aws:region: eu-west-2\n",
            "Pulumi.production.yaml: line 3: config.aws:region: duplicate key",
        ),
        (
            b"config:\n  redisgw:gateway:\n    replicas:\n      min: 3\n      min: 30\n",
            "Pulumi.production.yaml: line 5: config.redisgw:gateway.replicas.min: duplicate key",
        ),
        (b"config:\n  a: &x [*x]\n", "Pulumi.production.yaml"),
        (b"\x00\x01\x02", "Pulumi.production.yaml"),
    ],
    ids=["not-utf8", "a-list", "config-a-list", "no-namespace", "duplicate-top", "duplicate-deep", "alias", "binary"],
)
def test_broken_stack_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    bad = tmp_path / "Pulumi.production.yaml"
    bad.write_bytes(content)
    assert main(["preview", "--stack", "production", "--config", str(bad)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), lines


def test_a_directory_as_stack_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:  # refused by --config's argument type, before anything runs
        main(["preview", "--stack", "production", "--config", str(tmp_path)])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"argument --config: {tmp_path} is a directory" in lines[0], lines


PRODUCTION_TEXT = (ROOT / "Pulumi.production.yaml").read_text()


@hyp_settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_no_stack_file_however_broken_ends_in_a_traceback(data: st.DataObject, tmp_path_factory: Any) -> None:
    """Random edits of the real stack file: either it still validates, or every problem is one line
    naming the file (the errors the CLI prints with exit 2), never another exception."""
    lines = PRODUCTION_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "value", "indent", "garbage"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "value" and ":" in lines[i]:
            value = data.draw(
                st.one_of(
                    st.none(),
                    st.booleans(),
                    st.integers(),
                    st.floats(allow_nan=False),
                    st.text(max_size=20),
                    st.lists(st.integers(), max_size=3),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                )
            )
            lines[i] = lines[i].split(":", 1)[0] + ": " + json.dumps(value)
        elif op == "indent":
            lines[i] = " " * data.draw(st.integers(0, 6)) + lines[i].lstrip()
        else:
            lines[i] = data.draw(st.text(max_size=30))
        if not lines:
            break
    path = tmp_path_factory.mktemp("fuzz") / "Pulumi.production.yaml"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))
    try:
        config = load_stack_config("production", path)
        settings.load_settings(config.values, source=path.name, secret_keys=config.secret_keys)
    except OpsError as exc:
        assert exc.code == 2 and exc.message.startswith(path.name) and "\n" not in exc.message
    except settings.SettingsError as exc:
        assert exc.problems and all(p.startswith(f"{path.name}: ") and "\n" not in p for p in exc.problems)


def test_production_pack_gates_analysis_at_the_stack_slo() -> None:
    """The policy's thresholds are the production stack's own: analysis may not be looser than that."""
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    pack = json.loads((ROOT / "policies" / "config" / "production.json").read_text())
    gate = pack["argo-analysis-require-failable-slo-thresholds"]
    assert gate["maxLatencySeconds"] == cfg.monitoring.latency_p99_seconds
    assert gate["minSuccessRate"] == cfg.delivery.analysis.min_success_rate


def test_settings_and_the_pack_agree_on_cloudwatch_retention_values() -> None:
    """The pack is deployed on its own and cannot import settings: the two tables must not drift."""
    from redisgw_policies import data

    assert settings.LOG_RETENTION_DAYS == data.ALLOWED_RETENTION


def test_alerting_secrets_come_from_secrets_manager_when_named() -> None:
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    assert cfg.monitoring.alert_secret_name == "redisgw/production/alerting"
    assert settings.required_secret_keys(cfg) == []  # nothing to type into CI or the stack file
    values = stack_values("production")
    del values["redisgw:monitoring"]["alertSecretName"]
    without = settings.load_settings(values, source="Pulumi.production.yaml")
    assert settings.required_secret_keys(without) == [
        "redisgw:alertSlackWebhookUrl",
        "redisgw:alertPagerdutyRoutingKey",
        "redisgw:alertHeartbeatUrl",
        "redisgw:alertDrHeartbeatUrl",
    ]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{"pagerdutyRoutingKey": "k"}', "slackWebhookUrl"),
        ("not json", "slackWebhookUrl"),
        ('["a"]', "slackWebhookUrl"),
    ],
)
def test_a_malformed_alerting_secret_names_the_field_never_the_value(document: str, field: str) -> None:
    with pytest.raises(pulumi.RunError) as info:
        settings._field(document, field, "redisgw/production/alerting")
    assert (
        str(info.value)
        == f"Secrets Manager secret redisgw/production/alerting: {field} is missing (a JSON object is expected)"
    )
    assert settings._field('{"slackWebhookUrl": "https://hooks"}', "slackWebhookUrl", "x") == "https://hooks"


def test_without_a_secret_name_the_preview_assumes_the_config_secrets_and_says_so(tmp_path: Path) -> None:
    variant = write_variant(tmp_path, "staging", [])
    text = variant.read_text().replace("    alertSecretName: redisgw/staging/alerting\n", "")
    variant.write_text(text)
    report = tmp_path / "r.json"
    assert main(["preview", "--stack", "staging", "--config", str(variant), "--json", str(report)]) == 0
    assert json.loads(report.read_text())["secrets_assumed_set"] == [
        "redisgw:alertSlackWebhookUrl",
        "redisgw:alertPagerdutyRoutingKey",
        "redisgw:alertHeartbeatUrl",
    ]


@pytest.mark.parametrize(
    ("schedule", "seconds"), [("*/15 * * * *", 900), ("7,22,37,52 * * * *", 900), ("0 * * * *", 3600)]
)
def test_the_backup_alert_threshold_follows_the_schedule(schedule: str, seconds: int) -> None:
    values = stack_values("production")
    values["redisgw:backup"]["schedule"] = schedule
    cfg = settings.load_settings(values, source="Pulumi.production.yaml")
    assert settings.backup_max_age_seconds(cfg, 840) == seconds + 840


# -- replication sized by the plan -----------------------------------------------------------------


def test_replication_directives_of_the_production_stack() -> None:
    """The figures by hand, from the stack file's own numbers."""
    values = stack_values("production")
    cap, rpo = values["redisgw:capacity"], values["redisgw:dr"]["rpoSeconds"]
    assert (cap["peakRequestsPerSecond"], cap["readShare"], cap["valueBytes"]["mean"], cap["headroom"]) == (
        3000,
        0.8,
        512,
        0.3,
    )
    assert "linkOutageSeconds" not in values["redisgw:redis"] and rpo == 60  # the 300 s default
    # 3000 req/s with 20% writes = 600 writes/s, each its 512-byte value plus 64 bytes of key and framing:
    # 345,600 B/s; for 300 s with 30% headroom: 134,784,000 B = 128.5 MiB, rounded up to 129 MiB.
    assert 600 * (512 + 64) * 300 * 13 // 10 == 134_784_000
    cfg = settings.load_settings(values, source="Pulumi.production.yaml")
    directives = settings.redis_replication_config(cfg)
    assert list(directives.items()) == [
        ("min-replicas-to-write", "1"),
        ("min-replicas-max-lag", "10"),
        ("repl-backlog-size", str(129 * 2**20)),
        ("repl-timeout", "15"),  # 60 s RPO // 4
        ("repl-ping-replica-period", "2"),
    ]
    assert directives["repl-backlog-size"] == "135266304"


def test_replication_backlog_is_the_floor_without_a_declared_capacity() -> None:
    values = stack_values("production")
    del values["redisgw:capacity"]
    cfg = settings.load_settings(values, source="Pulumi.production.yaml")
    assert settings.redis_replication_config(cfg)["repl-backlog-size"] == str(64 * 2**20)


def test_replication_backlog_is_the_floor_for_a_small_write_rate() -> None:
    # Staging: 200 req/s x 0.2 x 576 B x 300 s x 1.3 = 8,985,600 B (8.6 MiB): below the 64 MiB floor.
    cfg = settings.load_settings(stack_values("staging"), source="Pulumi.staging.yaml")
    assert settings.redis_replication_config(cfg)["repl-backlog-size"] == "67108864"


@pytest.mark.parametrize(("outage", "mib"), [(30, 64), (600, 258), (3600, 1543)])
def test_replication_backlog_grows_with_the_outage_to_ride_out(outage: int, mib: int) -> None:
    values = stack_values("production")
    values["redisgw:redis"]["linkOutageSeconds"] = outage
    cfg = settings.load_settings(values, source="Pulumi.production.yaml")
    assert settings.redis_replication_config(cfg)["repl-backlog-size"] == str(mib * 2**20)


@pytest.mark.parametrize(("rpo", "timeout"), [(7, 6), (30, 7), (60, 15), (100, 25), (240, 60), (86_400, 60)])
def test_repl_timeout_is_a_quarter_of_the_rpo_within_bounds(rpo: int, timeout: int) -> None:
    values = stack_values("production")
    values["redisgw:dr"]["rpoSeconds"] = rpo
    directives = settings.redis_replication_config(settings.load_settings(values, source="p"))
    assert directives["repl-timeout"] == str(timeout)
    assert int(directives["repl-ping-replica-period"]) < timeout < rpo


def test_replication_config_refuses_settings_built_around_validation() -> None:
    """The function checks for itself: settings copied without validation still cannot give a backlog
    that eats the pod's memory."""
    cfg = settings.load_settings(stack_values("production"), source="Pulumi.production.yaml")
    assert cfg.capacity is not None
    bad = cfg.model_copy(
        update={
            "redis": cfg.redis.model_copy(update={"link_outage_seconds": 3600}),
            "capacity": cfg.capacity.model_copy(update={"peak_requests_per_second": 30_000.0}),
        }
    )
    with pytest.raises(settings.SettingsError) as info:
        settings.redis_replication_config(bad)
    (problem,) = info.value.problems
    assert problem.startswith("redisgw:redis.linkOutageSeconds: the replication backlog that rides out 3600 s")


def test_settings_and_the_pack_agree_on_the_replication_stream_per_write() -> None:
    """The pack is deployed on its own and cannot import settings: the figures must not drift."""
    from redisgw_policies import capacity_model

    assert settings.REPL_WRITE_OVERHEAD_BYTES == capacity_model.REPL_WRITE_OVERHEAD_BYTES
    assert settings.REPL_BACKLOG_FLOOR_BYTES == capacity_model.REPL_BACKLOG_FLOOR_BYTES


@pytest.mark.parametrize(
    ("image", "accepted"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops@sha256:" + "0" * 64, True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops:0.2.0@sha256:" + "0" * 64, True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/ops@sha256:" + "0" * 64, True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops:0.2.0", False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops@sha256:" + "G" * 64, False),
        ("12345678901.dkr.ecr.eu-west-1.amazonaws.com/ops@sha256:" + "0" * 64, False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/ops@sha256:" + "0" * 64, False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/Ops@sha256:" + "0" * 64, False),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/ops@sha256:" + "0" * 64 + "\n", False),
    ],
)
def test_the_ops_image_is_an_ecr_image_pinned_by_digest(image: str, accepted: bool) -> None:
    if accepted:
        assert settings.ops_image(image, "opsImage") == image
    else:
        with pytest.raises(ValueError, match=r"opsImage .* must be an ECR image pinned by digest"):
            settings.ops_image(image, "opsImage")


def test_keys_at_the_top_level_without_the_config_mapping_say_so(tmp_path: Path) -> None:
    """Every key is there, one level too high: one line that names the missing mapping, not one
    "required key is missing" per key."""
    import yaml

    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(stack_values("production"), sort_keys=False))
    with pytest.raises(OpsError) as err:
        load_stack_config("production", path)
    assert err.value.code == 2 and "\n" not in err.value.message
    assert err.value.message.startswith("Pulumi.production.yaml: the config: mapping is missing: ")
    assert "indent them under config:" in err.value.message


def test_keys_both_inside_and_outside_the_config_mapping_say_so(tmp_path: Path) -> None:
    import yaml

    values = stack_values("production")
    outside = {"redisgw:capacity": values.pop("redisgw:capacity")}
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump({"config": values, **outside}, sort_keys=False))
    with pytest.raises(OpsError) as err:
        load_stack_config("production", path)
    assert err.value.code == 2 and "\n" not in err.value.message
    assert err.value.message == (
        "Pulumi.production.yaml: redisgw:capacity: outside the config: mapping, beside it; move them under "
        "config: (the Pulumi CLI reads only what is under it)"
    )


def _leaves(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    return [prefix]


LEAVES = _leaves(stack_values("production"), "")
YAML_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["0 0 30 2 *", "10.0.0.0/33", "1e400Gi", "-1Mi", "NaN", "@reboot", "0.0.0.0/0", "", " "]),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


@hyp_settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_yaml_value_at_any_key_is_one_line_per_problem_never_a_crash(
    data: st.DataObject, tmp_path_factory: Any
) -> None:
    """Every key of the production stack file, given a value of every YAML type: the settings and every
    figure computed from them (schedule gaps, sizes, the replication config, the drill's memory)
    either hold or fail with lines that each name the file and the key; never another exception."""
    import yaml

    values = stack_values("production")
    for path in data.draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=3, unique=True)):
        key, *rest = path.split(".")
        target: Any = values
        for part in [key, *rest][:-1]:
            target = target[part]
        target[[key, *rest][-1]] = data.draw(YAML_VALUES)
    path = tmp_path_factory.mktemp("any") / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump({"config": values}, sort_keys=False))
    try:
        config = load_stack_config("production", path)
        cfg = settings.load_settings(config.values, source=path.name, secret_keys=config.secret_keys)
        settings.backup_max_age_seconds(cfg, 840)
        settings.redis_replication_config(cfg)
        settings.capacity_record(cfg, ROOT)
        settings.drill_memory(cfg, ROOT)
    except OpsError as exc:
        assert exc.code == 2 and exc.message.startswith(path.name) and "\n" not in exc.message
    except settings.SettingsError as exc:
        assert exc.problems and all(p.startswith(f"{path.name}: ") and "\n" not in p for p in exc.problems)


def _declared_keys() -> dict[str, dict[str, Any]]:
    """The ``redisgw:`` keys ``Pulumi.yaml`` declares, with their declarations (secrets never are)."""
    import yaml

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    return {
        key: spec
        for key, spec in declared.items()
        if key.startswith(f"{settings.NAMESPACE}:") and key.partition(":")[2] not in settings.SECRET_KEYS
    }


def _settings_modules() -> dict[str, Any]:
    """The public modules of the settings package, by name."""
    import importlib
    import pkgutil

    names = [m.name for m in pkgutil.iter_modules(settings.__path__) if not m.name.startswith("_")]
    return {name: importlib.import_module(f"settings.{name}") for name in names}


def test_settings_package_has_one_module_per_declared_section() -> None:
    """Each section Pulumi.yaml declares (any key without a scalar type) has the module named after it,
    stating it as ``KEY``, and every module with a ``KEY`` validates a declared section; the rest
    compose them (``stack``) or hold the undeclared secrets (``secrets``)."""
    declared = _declared_keys()
    sections = {key for key, spec in declared.items() if spec.get("type") not in ("string", "integer", "boolean")}
    modules = _settings_modules()
    keys = {module.KEY: name for name, module in modules.items() if hasattr(module, "KEY")}
    assert set(keys) == sections
    assert all(key == f"{settings.NAMESPACE}:{name}" for key, name in keys.items())
    assert set(modules) - set(keys.values()) == {"stack", "secrets"}


def test_every_declared_key_is_a_stack_field_named_by_its_module() -> None:
    """Every declared key is a field of StackSettings, and the docstring of the module validating it
    (its section module, else ``stack``) names it."""
    fields = {field.alias for field in settings.StackSettings.model_fields.values()}
    modules = _settings_modules()
    for key in _declared_keys():
        name = key.partition(":")[2]
        assert name in fields, key
        assert key in (modules.get(name, modules["stack"]).__doc__ or ""), key


@pytest.mark.parametrize("written", ["false", False])
def test_a_boolean_pulumi_config_set_wrote_as_a_string_reads_as_the_program_reads_it(written: object) -> None:
    """`pulumi config set redisgw:protectStatefulResources false` writes ``"false"``; the program
    receives "false" either way, so the offline preview must read it the same."""
    values = dict(stack_values("production"))
    values["redisgw:protectStatefulResources"] = written
    assert settings.load_settings(values, source="Pulumi.production.yaml").protect_stateful_resources is False


def test_an_object_set_as_json_text_is_read_as_the_program_reads_it() -> None:
    """`pulumi config set redisgw:tags '{"team": "core"}'` stores text; the program parses text that
    starts with { or [ as JSON (from_pulumi_config), so the offline validation does too."""
    values = stack_values("staging")
    values["redisgw:tags"] = json.dumps({**values["redisgw:tags"], "team": "core"})
    cfg = settings.load_settings(values, source="Pulumi.staging.yaml")
    assert cfg.tags["team"] == "core"
    values["redisgw:tags"] = '{"team": '  # not JSON: stays text, and an object is wanted
    with pytest.raises(settings.SettingsError, match="redisgw:tags"):
        settings.load_settings(values, source="Pulumi.staging.yaml")
