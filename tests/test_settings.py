"""Stack settings: both stack files load, and broken files fail with one line naming file, key and rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import settings
from ops.cli import main
from ops.offline.engine import ROOT
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
        "redisgw:dr: enabled is true, so region and vpcCidr are required",
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
