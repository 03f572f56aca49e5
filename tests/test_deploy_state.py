"""``ops deploy-state --stack``: the Kubernetes versions a stack file asks for, against the state.

EKS moves a control plane one minor per update and never back (EKS User Guide, "Update existing
cluster to new Kubernetes version", update-cluster.html); this program moves it only with every
node group on its minor (docs/runbooks/upgrades.md). Caught here, before ``pulumi up`` moves
anything, not half way through it. The states are ``pulumi stack export`` documents
(``apitype.DeploymentV3``) with the AWS provider's outputs of ``aws:eks/cluster:Cluster``
(``name``, ``version``) and ``aws:eks/nodeGroup:NodeGroup`` (``clusterName``, ``nodeGroupName``,
``version``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from ops.runtime.deploy_state import read, version_problems


def _state(tmp_path: Path, clusters: dict[str, str], groups: dict[str, tuple[str, str]] | None = None) -> Path:
    resources: list[dict[str, Any]] = [
        {"urn": "urn:pulumi:production::redisgw::pulumi:pulumi:Stack::s", "type": "pulumi:pulumi:Stack"}
    ]
    for name, version in clusters.items():
        resources.append(
            {"type": "aws:eks/cluster:Cluster", "urn": f"u-{name}", "outputs": {"name": name, "version": version}}
        )
    for group, (cluster, version) in (groups or {}).items():
        out = {"clusterName": cluster, "nodeGroupName": group, "version": version}
        resources.append({"type": "aws:eks/nodeGroup:NodeGroup", "urn": f"u-{group}", "outputs": out})
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 3, "deployment": {"resources": resources}}))
    return path


def _values(version: str, dr: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"redisgw:cluster": {"version": version}, "redisgw:dr": {"enabled": True}}
    if dr:
        values["redisgw:dr"]["clusterVersion"] = dr
    return values


CLUSTERS = {"redisgw-production": "1.34", "redisgw-production-dr": "1.34"}
GROUPS = {"primary-main": ("redisgw-production", "1.34"), "dr-main": ("redisgw-production-dr", "1.34")}


@pytest.mark.parametrize(
    ("values", "groups", "says"),
    [
        (_values("1.34"), GROUPS, None),
        (_values("1.35"), GROUPS, None),  # one minor: the upgrade
        (_values("1.35", dr="1.34"), GROUPS, None),  # the standby trails, staged
        (_values("1.36"), GROUPS, "asks redisgw-production for 1.36, but it runs 1.34: EKS moves a control plane one"),
        (_values("1.33"), GROUPS, "asks redisgw-production for 1.33, but it runs 1.34: EKS never moves"),
        (_values("1.34", dr="1.33"), GROUPS, "redisgw:dr.clusterVersion asks redisgw-production-dr for 1.33"),
        (
            _values("1.35"),
            {**GROUPS, "primary-redis": ("redisgw-production", "1.33")},
            "moves redisgw-production to 1.35 while node groups still run an older minor than its 1.34: "
            "primary-redis (1.33)",
        ),
    ],
    ids=["same", "one-up", "dr-staged", "two-up", "down", "dr-down", "nodes-behind"],
)
def test_versions_eks_would_refuse_are_named_before_anything_moves(
    tmp_path: Path, values: dict[str, Any], groups: dict[str, tuple[str, str]], says: str | None
) -> None:
    problems = version_problems(read(_state(tmp_path, CLUSTERS, groups)), "production", values)
    # Each cluster is judged on its own (both move with cluster.version unless dr.clusterVersion is set).
    assert problems == [] if says is None else any(says in p for p in problems), problems


def test_a_new_stack_or_one_without_clusters_has_nothing_to_compare(tmp_path: Path) -> None:
    assert version_problems(read(_state(tmp_path, {})), "production", _values("1.35")) == []
    # Another stack's clusters in the same state file are not this stack's.
    assert version_problems(read(_state(tmp_path, {"redisgw-staging": "1.32"})), "production", _values("1.35")) == []


def test_the_cli_refuses_with_exit_2_naming_the_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The committed production stack file against a state whose cluster runs two minors below it."""
    from tests.conftest import stack_values

    version = stack_values("production")["redisgw:cluster"]["version"]
    older = f"1.{int(version.split('.')[1]) - 2}"
    state = _state(tmp_path, {"redisgw-production": older})
    assert main(["deploy-state", "--state", str(state), "--stack", "production"]) == 2
    err = capsys.readouterr().err
    assert (
        "Pulumi.production.yaml: redisgw:cluster.version asks redisgw-production for" in err and "Traceback" not in err
    )
