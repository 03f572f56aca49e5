"""The offline engine end to end: exit codes, the JSON report, policy verdicts and schema checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from ops.offline import k8s_schema
from ops.offline.engine import ROOT, Resource
from redisgw_policies import POLICIES
from tests.conftest import STACKS, write_variant


@pytest.mark.parametrize("stack", STACKS)
def test_preview_is_clean_and_writes_the_report(preview_report: Callable[[str], dict[str, Any]], stack: str) -> None:
    report = preview_report(stack)
    assert report["stack"] == stack
    assert report["schema_errors"] == []
    assert report["schema"]["checked"] >= 1
    first = report["resources"][0]
    assert {"type", "name", "urn", "parent", "inputs"} <= set(first)
    assert len(report["policies"]["evaluated"]) >= 8
    levels = {p["enforcement"] for p in report["policies"]["evaluated"]}
    assert levels == ({"mandatory"} if stack == "production" else {"advisory", "disabled"})
    assert not [v for v in report["policies"]["violations"] if v["enforcement"] == "mandatory"]


STAGING_TRADES = {
    "ec2-vpc-require-nat-per-az",
    "s3-bucket-require-object-lock",
    "backup-vault-require-lock",
    "pulumi-stateful-resource-require-protect",
    "eks-cluster-require-deletion-protection",
}
"""Production-only invariants staging gives up on purpose (cost, and a stack that can be torn down)."""


def readme_figures() -> dict[str, str]:
    return dict(re.findall(r"<!-- figure:([\w-]+) -->(.*?)<!-- /figure -->", (ROOT / "README.md").read_text(), re.S))


def test_readme_figures_are_what_the_code_does(preview_report: Callable[[str], dict[str, Any]]) -> None:
    from ops.offline import catalog
    from ops.readiness.scorecard import catalogue
    from tests.test_policy_mutations import CASES, CONTROLS

    report = preview_report("production")
    counts = catalog.summary(catalog.load())
    items = catalogue("production", dr=True)  # the live scorecard's items
    actual = {
        "resources": str(len(report["resources"])),
        "policies": str(len(report["policies"]["evaluated"])),
        "checked": str(report["schema"]["checked"]),
        "custom": str(len(report["schema"]["not_checked"])),
        "mutations": str(len(CASES)),
        "controls": str(len(CONTROLS)),
        **{f"catalog-{k}": f"{v['covered']} / {v['n/a']}" for k, v in counts.items()},
        "readiness-items": str(sum(len(v) for v in items.values())),
        "readiness-categories": ", ".join(f"{c} {len(v)}" for c, v in items.items()),
    }
    documented = {k: " ".join(v.split()) for k, v in readme_figures().items()}
    assert documented == actual


def test_staging_disables_only_the_production_invariants_it_trades(
    preview_report: Callable[[str], dict[str, Any]],
) -> None:
    report = preview_report("staging")
    assert report["policies"]["violations"] == []
    disabled = {p["policy"] for p in report["policies"]["evaluated"] if p["enforcement"] == "disabled"}
    assert disabled == STAGING_TRADES


def test_staging_trades_would_block_production(tmp_path: Path) -> None:
    """What staging disables is real: its choices, previewed with production's pack config, are blocked."""
    changes = [
        ("redisgw:network.natGateways", "single"),
        ("redisgw:protectStatefulResources", False),
        ("redisgw:backup.vaultLock.enabled", False),
        ("redisgw:backup.objectLock.enabled", False),
        ("redisgw:cluster.deletionProtection", False),
    ]
    variant = write_variant(tmp_path, "production", changes)
    out = tmp_path / "r.json"
    assert main(["preview", "--stack", "production", "--config", str(variant), "--json", str(out)]) == 1
    blocked = {
        v["policy"] for v in json.loads(out.read_text())["policies"]["violations"] if v["enforcement"] == "mandatory"
    }
    assert blocked >= STAGING_TRADES


@pytest.mark.parametrize(
    ("changes", "policy"),
    [
        ([("redisgw:network.natGateways", "single")], "ec2-vpc-require-nat-per-az"),
        (
            [("redisgw:cluster.endpointPublicAccess", True), ("redisgw:cluster.publicAccessCidrs", ["8.8.8.0/24"])],
            "eks-cluster-disallow-public-endpoint",
        ),
    ],
    ids=["single-nat", "public-endpoint"],
)
def test_broken_production_variant_exits_1_naming_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: list[tuple[str, object]], policy: str
) -> None:
    variant = write_variant(tmp_path, "production", changes)
    out = tmp_path / "r.json"
    assert main(["preview", "--stack", "production", "--config", str(variant), "--json", str(out)]) == 1
    violations = json.loads(out.read_text())["policies"]["violations"]
    # Exactly that policy, once per region where the setting applies (the DR region takes the primary's
    # network shape and cluster access).
    assert {v["policy"] for v in violations if v["enforcement"] == "mandatory"} == {policy}
    assert policy in capsys.readouterr().out


def test_report_masks_secrets(tmp_path: Path) -> None:
    variant = write_variant(tmp_path, "production", [("redisgw:tags.owner", {"secure": "v1:c2VjcmV0"})])
    # A secure value where a plain string is expected is a config error, and the value stays hidden.
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "preview", "--stack", "production", "--config", str(variant)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "c2VjcmV0" not in proc.stdout + proc.stderr


def test_policy_config_naming_an_unknown_policy_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.offline import policy_runner

    pack = tmp_path / "policies"
    (pack / "config").mkdir(parents=True)
    for item in ("__main__.py", "PulumiPolicy.yaml"):
        (pack / item).write_text((policy_runner.POLICY_DIR / item).read_text())
    (pack / "redisgw_policies").symlink_to(policy_runner.POLICY_DIR / "redisgw_policies")
    (pack / "config" / "production.json").write_text('{"all": "mandatory", "s3-bucket-be-nice": "advisory"}')
    monkeypatch.setattr(policy_runner, "POLICY_DIR", pack)
    monkeypatch.setattr(policy_runner, "ROOT", tmp_path)
    with pytest.raises(Exception) as info:
        policy_runner.evaluate([], stack="production", policy_dir=pack)
    assert "policies/config/production.json: s3-bucket-be-nice: no such policy" in str(info.value)


def _k8s(typ: str, inputs: dict[str, object]) -> Resource:
    from google.protobuf import struct_pb2

    return Resource(
        type=typ,
        name="x",
        urn=f"urn:x::{typ}",
        parent=None,
        custom=True,
        dependencies=[],
        inputs=inputs,
        properties=struct_pb2.Struct(),
    )


def test_schema_check_is_strict_and_names_the_path() -> None:
    bad = _k8s("kubernetes:core/v1:Service", {"spec": {"ports": [{"port": "http"}], "tpye": "ClusterIP"}})
    result = k8s_schema.validate([bad], "1.34")
    assert len(result.errors) == 1 and not result.checked
    assert result.errors[0]["kind"] == "Service"


def test_custom_resources_are_counted_not_checked() -> None:
    rollout = _k8s("kubernetes:argoproj.io/v1alpha1:Rollout", {"spec": {}})
    ok = _k8s("kubernetes:core/v1:Namespace", {"metadata": {"name": "redis"}})
    result = k8s_schema.validate([rollout, ok], "1.34")
    assert [n["kind"] for n in result.not_checked] == ["argoproj.io/v1alpha1/Rollout"]
    assert result.checked == [ok.urn] and result.errors == []


def test_readme_policy_table_is_what_ops_policies_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies", "--markdown"]) == 0
    table = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text()
    between = readme.split("<!-- policies:start -->\n", 1)[1].split("<!-- policies:end -->", 1)[0]
    assert between == table
    assert table.count("\n") == 2 + len(POLICIES)  # header, rule, one line per policy


def test_exemptions_in_force_are_reported(preview_report: Callable[[str], dict[str, Any]]) -> None:
    exemptions = preview_report("production")["policies"]["exemptions"]
    assert {(e["policy"], e["resource"]) for e in exemptions} == {
        ("k8s-container-require-read-only-root-filesystem", "gateway-redis"),
        ("k8s-container-require-read-only-root-filesystem", "gateway-sentinel"),
        ("s3-bucket-require-object-lock", "gateway-alb-logs"),
        ("k8s-container-require-read-only-root-filesystem", "dr-gateway-redis"),
        ("s3-bucket-require-object-lock", "dr-gateway-alb-logs"),
        # the same exemptions for the live objects `ops readiness` judges (matched by URN glob)
        ("k8s-container-require-read-only-root-filesystem", "*:RedisReplication::redis-system/redis"),
        ("k8s-container-require-read-only-root-filesystem", "*:RedisSentinel::redis-system/redis"),
    }
    assert all(len(e["reason"]) >= 15 for e in exemptions)


def test_exemption_without_reason_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.errors import OpsError
    from ops.offline import policy_runner

    pack = tmp_path / "policies"
    (pack / "config").mkdir(parents=True)
    for item in ("__main__.py", "PulumiPolicy.yaml"):
        (pack / item).write_text((policy_runner.POLICY_DIR / item).read_text())
    (pack / "redisgw_policies").symlink_to(policy_runner.POLICY_DIR / "redisgw_policies")
    (pack / "config" / "production.json").write_text(
        json.dumps({"all": "mandatory", "kms-key-require-rotation": {"exemptions": [{"resource": "backups-key"}]}})
    )
    with pytest.raises(OpsError) as info:
        policy_runner.evaluate([], stack="production", policy_dir=pack)
    assert info.value.code == 2
    assert "kms-key-require-rotation.exemptions.0: 'reason' is a required property" in info.value.message
