"""The delivery pipeline: valid GitHub workflows, pinned actions, least privilege, no overlap."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.offline.engine import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(doc)


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "deploy.yml"}


def test_workflows_validate_against_the_github_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)", path.read_text())
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_oidc(path: Path) -> None:
    doc = load(path)
    assert doc["permissions"] == {"contents": "read"}
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for job in doc["jobs"].values():
        if "configure-aws-credentials" in str(job.get("steps")):
            assert job["permissions"].get("id-token") == "write"


def test_deployments_never_overlap_and_production_is_gated() -> None:
    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert jobs["staging"]["concurrency"] == {"group": "deploy-staging", "cancel-in-progress": False}
    assert jobs["production"]["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert jobs["production"]["environment"] == "production"
    steps = [s.get("name", s.get("uses", s.get("run", ""))) for s in jobs["production"]["steps"]]
    assert steps.index("Readiness gate (policy pack, schemas)") < next(
        i for i, s in enumerate(steps) if "pulumi/actions" in s
    )
    assert steps[-1] == "Post-deployment validation"
    on = load(ROOT / ".github" / "workflows" / "deploy.yml")["on"]
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert on["workflow_dispatch"]["inputs"]["strategy"]["options"] == ["configured", "blue-green", "canary", "rolling"]


def test_pull_requests_preview_every_stack_with_the_policy_pack() -> None:
    jobs = load(ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]
    assert jobs["offline-preview"]["strategy"]["matrix"]["stack"] == ["staging", "production"]
    real = jobs["pulumi-preview"]
    step = next(s for s in real["steps"] if "pulumi/actions" in s.get("uses", ""))
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert real["permissions"]["pull-requests"] == "write"
