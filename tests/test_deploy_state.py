"""``ops deploy-state --stack``: the Kubernetes versions a stack file asks for, against the state.

EKS moves a control plane one minor per update and never back (EKS User Guide, "Update existing
cluster to new Kubernetes version", update-cluster.html); this program moves it only with every
node group on its minor (docs/runbooks/upgrades.md). Caught here, before ``pulumi up`` moves
anything, not half way through it. The states are ``pulumi stack export`` documents
(``apitype.DeploymentV3``) with the AWS provider's outputs of ``aws:eks/cluster:Cluster``
(``name``, ``version``) and ``aws:eks/nodeGroup:NodeGroup`` (``clusterName``, ``nodeGroupName``,
``version``).

``ops deploy-state`` on any export: version 3 and 4 (with ``features``) read alike, the state must
be of this project and of ``--stack``, and any other shape, or a ``backupBucket`` output that is not
a bucket name, is one line naming the path in the document, exit 2, with nothing written to
``$GITHUB_OUTPUT``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.cli import main
from ops.errors import OpsError
from ops.offline.engine import ROOT
from ops.runtime.deploy_state import PROJECT, DeployState, read, version_problems
from tests.state_exports import CRONJOB, MANIFEST, ROOT_URN, URN


def _state(tmp_path: Path, clusters: dict[str, str], groups: dict[str, tuple[str, str]] | None = None) -> Path:
    resources: list[dict[str, Any]] = [{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack"}]
    for name, version in clusters.items():
        urn = f"{URN}redisgw:index:EksCluster$eks:index:Cluster$aws:eks/cluster:Cluster::{name}"
        resources.append({"type": "aws:eks/cluster:Cluster", "urn": urn, "outputs": {"name": name, "version": version}})
    for group, (cluster, version) in (groups or {}).items():
        out = {"clusterName": cluster, "nodeGroupName": group, "version": version}
        urn = f"{URN}redisgw:index:EksCluster$aws:eks/nodeGroup:NodeGroup::{group}"
        resources.append({"type": "aws:eks/nodeGroup:NodeGroup", "urn": urn, "outputs": out})
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


# -- any export: its versions, its stack, its shape -----------------------------------------------


def _export(
    resources: list[dict[str, Any]] | None = None, bucket: Any = "backups-bucket-1a2b3c", **top: Any
) -> dict[str, Any]:
    """``pulumi stack export`` of a production stack deployed whole (``apitype.UntypedDeployment``,
    pulumi/pulumi v3.259 ``sdk/go/common/apitype/core.go``); ``top`` replaces its top-level fields."""
    root = {"urn": ROOT_URN, "type": "pulumi:pulumi:Stack", "custom": False, "outputs": {"backupBucket": bucket}}
    deployment = {
        "manifest": MANIFEST,
        "resources": [root, CRONJOB] if resources is None else resources,
    }
    return {"version": 3, "deployment": deployment, **top}


def _run(
    tmp_path: Path, doc: Any, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, dict[str, str] | None]:
    """``ops deploy-state`` on ``doc`` (JSON, or the file's text as is) as the deploy job runs it: exit
    code, what it printed, and the step outputs it wrote (None: the file was not created)."""
    state, output = tmp_path / "state.json", tmp_path / "github_output"
    state.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code = main(["deploy-state", "--state", str(state), "--github-output", str(output), *extra])
    captured = capsys.readouterr()
    written = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else None
    return code, captured.out + captured.err, written


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_version_4_export_with_features_is_read_as_version_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The engine writes version 4 (``DeploymentSchemaVersionLatest``) with the features the
    deployment's resources use, 3 without (pulumi/pulumi v3.259 ``pkg/resource/stack/deployment.go``
    ``SerializeDeploymentWithMetadata``, ``ApplyFeatures``): ``refreshBeforeUpdate`` is the feature of
    a resource with ``"refreshBeforeUpdate": true`` (``apitype.ResourceV3``)."""
    cronjob = {**CRONJOB, "refreshBeforeUpdate": True}
    for doc in (
        _export(),
        _export([_export()["deployment"]["resources"][0], cronjob], version=4, features=["refreshBeforeUpdate"]),
    ):
        code, out, written = _run(tmp_path, doc, capsys, "--stack", "production")
        assert code == 0, out
        assert "deployed before" in out and written == {
            "first_deploy": "false",
            "backup_bucket": "backups-bucket-1a2b3c",
        }
        (tmp_path / "github_output").unlink()
    doc = _export([_export()["deployment"]["resources"][0]], version=4, features=["hooks", "taint", "views"])
    assert read(_write(tmp_path, doc)).first_deploy is True


def test_a_feature_this_reader_does_not_know_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the CLI refuses a deployment with a feature it does not know (``validateSupportedFeatures``)."""
    code, out, written = _run(tmp_path, _export(version=4, features=["refreshBeforeUpdate", "timeTravel"]), capsys)
    assert code == 2 and written is None and "Traceback" not in out
    assert "`features` names timeTravel, unknown to this reader" in out and len(out.strip().splitlines()) == 1


_DEEP = '{"version": 3, "deployment": {"resources": [' + "[" * 100_000 + "]" * 100_000 + "]}}"


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        (
            _export(deployment={"resources": [], "pending_operations": {"0": {"type": "creating"}}}),
            "`deployment.pending_operations` is not a list of operations",
        ),
        (
            _export(deployment={"resources": [], "pending_operations": ["creating"]}),
            "`deployment.pending_operations[0]` is not an operation",
        ),
        (
            _export(deployment={"resources": [], "pending_operations": [{"type": "creating", "resource": "x"}]}),
            "`deployment.pending_operations[0].resource` is not a resource",
        ),
        (
            _export([{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack", "outputs": "backupBucket"}]),
            "`deployment.resources[0].outputs` is not an object",
        ),
        (
            _export([{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack"}, {**CRONJOB, "inputs": []}]),
            "`deployment.resources[1].inputs` is not an object",
        ),
        (
            _export([{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack"}, "x"]),
            "`deployment.resources[1]` is not a resource",
        ),
        (_export([{"type": "pulumi:pulumi:Stack"}]), "`deployment.resources[0].urn` is not a string"),
        (_export([{"urn": ROOT_URN, "type": 7}]), "`deployment.resources[0].type` is not a string"),
        (_export([{**CRONJOB, "delete": "yes"}]), "`deployment.resources[0].delete` is not true or false"),
        (
            _export([{**CRONJOB, "urn": "redis-backup"}]),
            "`deployment.resources[0].urn` is 'redis-backup', not a Pulumi URN",
        ),
        (_export(version=3.0), "`version` is 3.0"),
        (_export(version="3"), "`version` is '3'"),
        (_export(version=5), "`version` is 5"),
        (_export(version=True), "`version` is True"),
        (_export(version=4, features="refreshBeforeUpdate"), "`features` is not a list of feature names"),
        (_DEEP, "nested too deeply to read"),
    ],
    ids=[
        "pending-object",
        "pending-string",
        "pending-resource",
        "outputs-string",
        "inputs-list",
        "resource-string",
        "no-urn",
        "type-number",
        "delete-string",
        "urn-not-urn",
        "version-float",
        "version-string",
        "version-5",
        "version-bool",
        "features-string",
        "deep",
    ],
)
def test_a_malformed_export_is_one_line_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: Any, says: str
) -> None:
    code, out, written = _run(tmp_path, doc, capsys)
    assert code == 2 and says in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1 and written is None


@pytest.mark.parametrize(
    "bucket",
    [
        "backups-bucket-1a2b3c\nfirst_deploy=false",  # a line of its own in $GITHUB_OUTPUT
        "backups-bucket-1a2b3c\r\nfirst_deploy=false",
        "Backups-Bucket",
        "backups bucket",
        "ab",
        "b" * 64,
        "-backups",
        "backups.",
        "backups..bucket",
        "192.168.1.10",
        "xn--backups",
    ],
)
def test_a_bucket_output_that_is_not_a_bucket_name_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bucket: str
) -> None:
    """S3's naming rules (S3 User Guide, "General purpose bucket naming rules"); the value is written
    to $GITHUB_OUTPUT as ``backup_bucket=<it>``, so a line break in it would add a step output of its
    own, e.g. ``first_deploy=false`` after the ``first_deploy=true`` of a state with no CronJob."""
    root = {"urn": ROOT_URN, "type": "pulumi:pulumi:Stack", "outputs": {"backupBucket": bucket}}
    for resources in ([root], [root, CRONJOB]):
        code, out, written = _run(tmp_path, _export(resources), capsys)
        assert code == 2 and written is None, (out, written)
        assert "the stack output backupBucket:" in out and "is not an S3 bucket name" in out
        assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_a_step_output_is_never_written_with_a_line_break() -> None:
    state = DeployState(first_deploy=True, kubernetes_objects=0, backup_bucket="b-1\nfirst_deploy=false")
    with pytest.raises(OpsError) as err:
        state.github_output()
    assert err.value.code == 2 and "backup_bucket has a line break" in err.value.message
    assert (
        DeployState(True, 0, "backups.bucket-1").github_output()
        == "first_deploy=true\nbackup_bucket=backups.bucket-1\n"
    )


def _renamed(doc: dict[str, Any], stack: str, project: str = "redisgw") -> dict[str, Any]:
    """``doc`` as the export of ``stack`` of ``project`` (every URN, the root's name with them)."""
    text = json.dumps(doc).replace("urn:pulumi:production::redisgw::", f"urn:pulumi:{stack}::{project}::")
    return json.loads(text.replace("::redisgw-production", f"::{project}-{stack}"))


@pytest.mark.parametrize(
    ("doc", "stack", "says"),
    [
        (_export(), "staging", "the state of stack production (`deployment.resources[0].urn`), but --stack is staging"),
        (_renamed(_export(), "staging"), "production", "the state of stack staging"),
        (
            _renamed(_export(), "production", "redisgw-bootstrap"),
            "production",
            "the state of stack production of project redisgw-bootstrap (`deployment.resources[0].urn`), not of "
            "project redisgw",
        ),
        (
            _renamed(_export(), "production", "redisgw-bootstrap"),
            None,
            "of project redisgw-bootstrap",
        ),
        (
            _export([{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack"}, _renamed(CRONJOB, "staging")]),
            "production",
            "resources of two stacks, redisgw/production (`deployment.resources[0].urn`) and redisgw/staging "
            "(`deployment.resources[1].urn`)",
        ),
        (
            _export([{"urn": URN + "pulumi:pulumi:Stack::redisgw-staging", "type": "pulumi:pulumi:Stack"}]),
            "production",
            "the root stack resource of stack production is " + ROOT_URN,
        ),
    ],
    ids=["production-as-staging", "staging-as-production", "bootstrap", "bootstrap-no-stack", "mixed", "root-name"],
)
def test_the_state_of_another_stack_or_project_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, Any], stack: str | None, says: str
) -> None:
    code, out, written = _run(tmp_path, doc, capsys, *(("--stack", stack) if stack else ()))
    assert code == 2 and says in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1 and written is None


def test_cluster_outputs_of_another_shape_are_not_compared(tmp_path: Path) -> None:
    """An ``aws:eks/cluster:Cluster`` whose ``name`` output is not a string is no cluster of this stack's."""
    doc = _export([{"urn": ROOT_URN, "type": "pulumi:pulumi:Stack"}])
    for name in ([], {"a": 1}, None, 7):
        cluster = {
            "urn": URN + "aws:eks/cluster:Cluster::c",
            "type": "aws:eks/cluster:Cluster",
            "outputs": {"name": name, "version": "1.30"},
        }
        doc["deployment"]["resources"][1:] = [cluster]
        assert version_problems(read(_write(tmp_path, doc)), "production", _values("1.35")) == []


def test_the_project_is_the_one_pulumi_yaml_names() -> None:
    assert yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"] == PROJECT
