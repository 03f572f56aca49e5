"""Upgrades: ``redisgw:cluster.version`` moves both control planes, every managed node group and every
EKS add-on; settings refuse a minor without pinned builds; the pack blocks node groups and add-ons
skewed from their control plane.

One offline preview (the production stack raised one minor) backs the plan tests; the rest are
unit tests on the tables, the settings and the policy with small plans built here.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import PolicyResource, PolicyResourceOptions

import settings
from components import eks_cluster
from components.eks_cluster import (
    CLUSTER_AUTOSCALER_IMAGES,
    EKS_ADDON_VERSIONS,
    EKS_ADDONS,
    addon_version,
    version_pins_missing,
)
from ops.cli import main
from redisgw_policies import POLICIES, eks
from tests.conftest import stack_values
from tests.policy_harness import Hit, evaluate_stack, pack_config

MINORS = [f"1.{m}" for m in settings.SUPPORTED_KUBERNETES_MINORS]
NEXT, CURRENT = MINORS[-1], MINORS[-2]
"""Two neighbouring minors of the tables, for the unit tests."""
AHEAD, TWO_BEHIND = f"1.{int(NEXT[2:]) + 1}", f"1.{int(NEXT[2:]) - 2}"
PRODUCTION = stack_values("production")["redisgw:cluster"]["version"]
BASE, TARGET = MINORS[-2], MINORS[-1]
"""The bump the preview makes: production raised to the newest minor the tables pin, from the one
before it (production's own, today: never a downgrade, whatever production runs later)."""
SKEW = next(p for p in POLICIES if p.name == "eks-cluster-disallow-version-skew")
MATCHING = next(p for p in POLICIES if p.name == "dr-require-matching-cluster-version")


# -- the tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize("minor", [f"1.{m}" for m in settings.SUPPORTED_KUBERNETES_MINORS])
def test_every_minor_settings_accept_has_every_build_pinned(minor: str) -> None:
    assert version_pins_missing(minor) == []
    assert set(EKS_ADDON_VERSIONS[minor]) == set(EKS_ADDONS)
    assert all(re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", b) for b in EKS_ADDON_VERSIONS[minor].values())
    # kube-proxy and the autoscaler are built per minor: their version names it.
    assert addon_version(minor, "kube-proxy").startswith(f"v{minor}.")
    assert CLUSTER_AUTOSCALER_IMAGES[minor].startswith(f"v{minor}.")


def test_a_minor_without_a_row_has_no_build() -> None:
    assert version_pins_missing("1.36") == [
        "the vpc-cni add-on",
        "the coredns add-on",
        "the kube-proxy add-on",
        "the aws-ebs-csi-driver add-on",
        "the metrics-server add-on",
        "the Cluster Autoscaler image",
    ]
    with pytest.raises(ValueError, match=r"no coredns build is pinned for Kubernetes 1\.36"):
        addon_version("1.36", "coredns")


def test_the_pack_and_the_program_pin_the_same_builds() -> None:
    """The pack is deployed on its own and cannot import the program: the two tables must not drift."""
    assert eks.ADDON_VERSIONS == EKS_ADDON_VERSIONS


# -- settings ------------------------------------------------------------------------------------


def _production(version: str, node: str | None = None, standby: str | None = None) -> dict[str, Any]:
    """Production's values at ``version``, with the keys of a staged upgrade only as given."""
    values = stack_values("production")
    values["redisgw:cluster"].pop("nodeVersion", None)
    values["redisgw:dr"].pop("clusterVersion", None)
    values["redisgw:cluster"]["version"] = version
    if node is not None:
        values["redisgw:cluster"]["nodeVersion"] = node
    if standby is not None:
        values["redisgw:dr"]["clusterVersion"] = standby
    return values


def _variant(directory: Path, values: dict[str, Any], stack: str = "production") -> Path:
    out = directory / f"Pulumi.{stack}.variant.yaml"
    out.write_text(yaml.safe_dump({"config": values}, sort_keys=False))
    return out


def _drop_row(minor: str) -> Any:
    return lambda mp: mp.delitem(eks_cluster.EKS_ADDON_VERSIONS, minor)


def _drop_addon(minor: str, addon: str) -> Any:
    return lambda mp: mp.delitem(eks_cluster.EKS_ADDON_VERSIONS[minor], addon)


def _drop_autoscaler(minor: str) -> Any:
    return lambda mp: mp.delitem(eks_cluster.CLUSTER_AUTOSCALER_IMAGES, minor)


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        (_drop_addon(NEXT, "coredns"), "the coredns add-on"),
        (_drop_autoscaler(NEXT), "the Cluster Autoscaler image"),
        (_drop_row(NEXT), "the vpc-cni add-on, the coredns add-on, the kube-proxy add-on"),
    ],
    ids=["one-add-on", "autoscaler", "whole-row"],
)
def test_a_supported_minor_without_pinned_builds_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, drop: Any, missing: str
) -> None:
    drop(monkeypatch)
    variant = _variant(tmp_path, _production(NEXT))
    assert main(["preview", "--stack", "production", "--config", str(variant)]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert line.startswith(
        f"{variant.name}: redisgw:cluster.version: version {NEXT} has no pinned build of {missing}"
    ), line
    assert "components/eks_cluster.py" in line and "Traceback" not in out + err
    assert out == ""


def test_a_standby_minor_without_pinned_builds_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _drop_addon(CURRENT, "kube-proxy")(monkeypatch)
    with pytest.raises(settings.SettingsError) as info:
        settings.load_settings(_production(NEXT, standby=CURRENT), source="Pulumi.production.yaml")
    assert info.value.problems == [
        f"Pulumi.production.yaml: redisgw:dr.clusterVersion: clusterVersion {CURRENT} has no pinned build of the "
        "kube-proxy add-on in components/eks_cluster.py (EKS_ADDON_VERSIONS, CLUSTER_AUTOSCALER_IMAGES): add them "
        f"from `aws eks describe-addon-versions --kubernetes-version {CURRENT}` before moving a cluster to {CURRENT}"
    ]


def test_a_standby_minor_without_a_standby_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = stack_values("staging")
    values["redisgw:dr"] = {**values.get("redisgw:dr", {}), "clusterVersion": values["redisgw:cluster"]["version"]}
    variant = _variant(tmp_path, values, "staging")
    assert main(["preview", "--stack", "staging", "--config", str(variant)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{variant.name}: redisgw:dr.clusterVersion: is set but dr.enabled is false: remove it"
    )


@pytest.mark.parametrize(
    ("node", "standby", "primary", "dr"),
    [
        (None, None, (NEXT, NEXT), (NEXT, NEXT)),
        (CURRENT, None, (NEXT, CURRENT), (NEXT, CURRENT)),
        (None, CURRENT, (NEXT, NEXT), (CURRENT, CURRENT)),
        (CURRENT, CURRENT, (NEXT, CURRENT), (CURRENT, CURRENT)),
    ],
    ids=["one-minor", "nodes-trail", "standby-trails", "both-trail"],
)
def test_the_minors_of_each_region(
    node: str | None, standby: str | None, primary: tuple[str, str], dr: tuple[str, str]
) -> None:
    cfg = settings.load_settings(_production(NEXT, node, standby), source="Pulumi.production.yaml")
    assert settings.cluster_versions(cfg) == primary
    assert settings.cluster_versions(cfg, dr=True) == dr


# -- the policy, on small plans ------------------------------------------------------------------

NAME = "redisgw-production"


def _resource(type_: str, name: str, props: dict[str, Any], path: str = "redisgw:index:EksCluster") -> PolicyResource:
    urn = f"urn:pulumi:production::redisgw::{path}${type_}::{name}"
    options = PolicyResourceOptions(False, [], None, [], None, [], None)
    return PolicyResource(type_, props, urn, name, options, None, None, [], {})


def _cluster_plan(
    control: str = NEXT,
    nodes: Iterable[str | None] = (NEXT, NEXT),
    builds: dict[str, str | None] | None = None,
    name: str = NAME,
    prefix: str = "primary",
) -> list[PolicyResource]:
    """What EksCluster registers, reduced to what the policy reads: the pulumi-eks component with its
    add-on options, the two node groups and the two aws:eks Addons."""
    row: dict[str, str | None] = {**EKS_ADDON_VERSIONS[control], **(builds or {})}
    component = {
        "name": name,
        "version": control,
        "corednsAddonOptions": {"enabled": True, "version": row["coredns"]},
        "kubeProxyAddonOptions": {"enabled": True, "version": row["kube-proxy"]},
        "vpcCniOptions": {"enableNetworkPolicy": True, "addonVersion": row["vpc-cni"]},
    }
    plan = [_resource(eks.COMPONENT, prefix, component)]
    for group, version in zip(("main", "redis"), nodes, strict=True):
        props = {"clusterName": name} | ({} if version is None else {"version": version})
        plan.append(_resource(eks.NODE_GROUP, f"{prefix}-{group}", props))
    for addon in ("aws-ebs-csi-driver", "metrics-server"):
        props = {"clusterName": name, "addonName": addon} | ({} if row[addon] is None else {"addonVersion": row[addon]})
        plan.append(_resource(eks.ADDON, f"{prefix}-{addon}", props))
    return plan


def _skew(plan: list[PolicyResource], **config: Any) -> list[Hit]:
    resolved = pack_config("production")
    level, props = resolved[SKEW.name]
    return evaluate_stack(plan, {**resolved, SKEW.name: (level, {**props, **config})}, [SKEW])


def test_a_plan_that_follows_its_control_plane_passes() -> None:
    assert _skew(_cluster_plan()) == []


@pytest.mark.parametrize(
    ("plan", "resource", "says"),
    [
        (_cluster_plan(nodes=(AHEAD, NEXT)), "primary-main", f"runs Kubernetes {AHEAD}, newer than its control plane"),
        (
            _cluster_plan(nodes=(NEXT, TWO_BEHIND)),
            "primary-redis",
            f"2 minors behind its control plane ({NEXT}); at most 1",
        ),
        (_cluster_plan(nodes=(None, NEXT)), "primary-main", "pins no Kubernetes version"),
        (
            _cluster_plan(builds={"coredns": EKS_ADDON_VERSIONS[MINORS[0]]["coredns"]}),
            "primary",
            f"Add-on coredns of primary runs {EKS_ADDON_VERSIONS[MINORS[0]]['coredns']}, a build for Kubernetes "
            f"{MINORS[0]}, not for its control plane's {NEXT} (pinned for it: {EKS_ADDON_VERSIONS[NEXT]['coredns']})",
        ),
        (
            _cluster_plan(builds={"kube-proxy": EKS_ADDON_VERSIONS[CURRENT]["kube-proxy"]}),
            "primary",
            f"runs {EKS_ADDON_VERSIONS[CURRENT]['kube-proxy']}, for Kubernetes {CURRENT}; "
            f"its control plane runs {NEXT}",
        ),
        # Builds of lines the tables list for no minor: EKS refuses them ("Addon version specified is
        # not supported"), so the pack does first.
        (_cluster_plan(builds={"coredns": "v1.8.7-eksbuild.1"}), "primary", "'v1.8.7-eksbuild.1', a build of no line"),
        (
            _cluster_plan(builds={"vpc-cni": "v1.12.0-eksbuild.1"}),
            "primary",
            "'v1.12.0-eksbuild.1', a build of no line",
        ),
        (_cluster_plan(builds={"coredns": "garbage"}), "primary", "'garbage', a build of no line"),
        (_cluster_plan(builds={"kube-proxy": "garbage"}), "primary", "'garbage', not a kube-proxy build"),
        (
            _cluster_plan(builds={"kube-proxy": f"v{AHEAD}.0-eksbuild.1"}),
            "primary",
            f"for Kubernetes {AHEAD}; its control plane runs {NEXT}",
        ),
        (_cluster_plan(builds={"vpc-cni": None}), "primary", "Add-on vpc-cni of primary pins no version"),
        (
            _cluster_plan(builds={"aws-ebs-csi-driver": None}),
            "primary-aws-ebs-csi-driver",
            "Add-on aws-ebs-csi-driver (primary-aws-ebs-csi-driver) pins no version",
        ),
    ],
    ids=[
        "node-group-newer",
        "node-group-two-behind",
        "node-group-unpinned",
        "coredns-of-another-minor",
        "kube-proxy-older",
        "coredns-unknown-line",
        "vpc-cni-unknown-line",
        "coredns-garbage",
        "kube-proxy-garbage",
        "kube-proxy-newer",
        "vpc-cni-unpinned",
        "ebs-csi-unpinned",
    ],
)
def test_skew_is_blocked_in_production(plan: list[PolicyResource], resource: str, says: str) -> None:
    (hit,) = _skew(plan)
    assert hit.level == "mandatory"
    assert hit.urn is not None and hit.urn.endswith(f"::{resource}")
    assert says in hit.message, hit.message
    assert "Remediation:" in hit.message


def test_a_staged_upgrade_holds_node_groups_one_minor_behind() -> None:
    staged = _cluster_plan(nodes=(CURRENT, CURRENT))
    assert _skew(staged) == []
    assert len(_skew(staged, maxMinorsBehind=0)) == 2


def test_an_add_on_pinned_back_within_its_line_passes() -> None:
    """Rolling an add-on back to an earlier build of the same line is a pin, not a skew."""
    assert _skew(_cluster_plan(builds={"coredns": "v1.13.2-eksbuild.1", "metrics-server": "v0.8.0-eksbuild.3"})) == []


def test_node_groups_and_add_ons_are_matched_to_their_own_cluster() -> None:
    """Two clusters in one plan: each group is judged against the control plane it names."""
    plan = _cluster_plan() + _cluster_plan(control=CURRENT, nodes=(CURRENT, CURRENT), name="other", prefix="other")
    assert _skew(plan) == []
    crossed = _cluster_plan() + _cluster_plan(control=CURRENT, nodes=(NEXT, CURRENT), name="other", prefix="other")
    (hit,) = _skew(crossed)
    assert hit.urn is not None and hit.urn.endswith("::other-main")


def _standby(version: str) -> list[PolicyResource]:
    return [_resource(eks.COMPONENT, "dr", {"name": f"{NAME}-dr", "version": version}, "redisgw:index:DrRegion")]


def _matching(plan: list[PolicyResource], until: str | None = None) -> list[Hit]:
    config = pack_config("production")
    level, props = config[MATCHING.name]
    extra = {} if until is None else {"allowTrailingUntil": until}
    return evaluate_stack(plan, {**config, MATCHING.name: (level, {**props, **extra})}, [MATCHING])


def test_a_standby_trailing_the_primary_is_blocked_outside_an_upgrade_window() -> None:
    (hit,) = _matching(_cluster_plan() + _standby(CURRENT))
    assert f"runs Kubernetes {CURRENT}, the primary {NEXT}" in hit.message and hit.level == "mandatory"


def test_until_the_windows_end_the_standby_may_trail_by_one_minor_only() -> None:
    week = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
    assert _matching(_cluster_plan() + _standby(CURRENT), until=week) == []
    two_behind = MINORS[MINORS.index(CURRENT) - 1]
    assert len(_matching(_cluster_plan() + _standby(two_behind), until=week)) == 1
    assert len(_matching(_cluster_plan(control=CURRENT, nodes=(CURRENT, CURRENT)) + _standby(NEXT), until=week)) == 1


def test_a_window_that_has_ended_blocks_again_and_says_so() -> None:
    (hit,) = _matching(_cluster_plan() + _standby(CURRENT), until="2026-01-01")
    assert "(allowTrailingUntil 2026-01-01 has passed)" in hit.message


# -- the bump, previewed once --------------------------------------------------------------------


@pytest.fixture(scope="module")
def bumped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ops preview`` of production with redisgw:cluster.version raised one minor (exit 0: the pack, at
    production's mandatory levels, passes the bumped plan and the target's schemas accept its objects)."""
    work = tmp_path_factory.mktemp("bump")
    variant = _variant(work, _production(TARGET))
    out = work / "report.json"
    assert main(["preview", "--stack", "production", "--config", str(variant), "--json", str(out)]) == 0
    return dict(json.loads(out.read_text()))


def _of(report: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r["inputs"] for r in report["resources"] if r["type"] == type_}


def test_the_bump_moves_both_control_planes(bumped: dict[str, Any]) -> None:
    clusters = _of(bumped, eks.COMPONENT)
    assert set(clusters) == {"primary", "dr"}
    assert {c["version"] for c in clusters.values()} == {TARGET}
    assert bumped["schema"]["kubernetes_version"] == TARGET


def test_the_bump_moves_every_node_group(bumped: dict[str, Any]) -> None:
    groups = _of(bumped, eks.NODE_GROUP)
    assert set(groups) == {"primary-main", "primary-redis", "dr-main", "dr-redis"}
    assert {name: g["version"] for name, g in groups.items()} == dict.fromkeys(groups, TARGET)


def test_the_bump_moves_every_add_on(bumped: dict[str, Any]) -> None:
    row = EKS_ADDON_VERSIONS[TARGET]
    pinned: dict[tuple[str, str], str] = {}
    for name, c in _of(bumped, eks.COMPONENT).items():
        pinned[(name, "coredns")] = c["corednsAddonOptions"]["version"]
        pinned[(name, "kube-proxy")] = c["kubeProxyAddonOptions"]["version"]
        pinned[(name, "vpc-cni")] = c["vpcCniOptions"]["addonVersion"]
    for name, a in _of(bumped, eks.ADDON).items():
        pinned[(name.split("-", 1)[0], a["addonName"])] = a["addonVersion"]
    assert pinned == {(region, addon): row[addon] for region in ("primary", "dr") for addon in EKS_ADDONS}
    # kube-proxy is built per minor: the bump really moves it.
    assert row["kube-proxy"] != EKS_ADDON_VERSIONS[BASE]["kube-proxy"]
    autoscalers = [r for n, r in _of(bumped, "kubernetes:helm.sh/v3:Release").items() if n.endswith("-autoscaler")]
    assert [a["values"]["image"]["tag"] for a in autoscalers] == [CLUSTER_AUTOSCALER_IMAGES[TARGET]] * 2


def test_the_bumped_plan_is_judged_by_the_skew_policy(bumped: dict[str, Any]) -> None:
    evaluated = {p["policy"]: p["enforcement"] for p in bumped["policies"]["evaluated"]}
    assert evaluated[SKEW.name] == "mandatory"
    assert not [v for v in bumped["policies"]["violations"] if v["policy"] == SKEW.name]


def test_node_group_updates_get_the_time_a_full_roll_takes(stack_run: Any) -> None:
    """EKS replaces a group's nodes one at a time (``maxUnavailable`` 1), each drain waiting up to 15
    minutes on PDBs: a main group at its maximum needs more than the AWS provider's default 60 minutes
    for an update, so ``pulumi up`` would fail while EKS keeps rolling."""
    groups = stack_run("production").of_type(eks.NODE_GROUP)
    assert len(groups) == 4
    hours = int(eks_cluster.NODE_GROUP_UPDATE_TIMEOUT.removesuffix("h"))
    largest = max(g.inputs["scalingConfig"]["maxSize"] for g in groups)
    assert all(g.update_timeout == eks_cluster.NODE_GROUP_UPDATE_TIMEOUT for g in groups)
    assert all(g.inputs["updateConfig"]["maxUnavailable"] == 1 for g in groups)
    assert hours * 60 >= largest * 15 + 60  # every node's worst drain, and an hour for the rest


def _runbook_stack_sets() -> list[list[str]]:
    import shlex

    text = (Path(__file__).resolve().parent.parent / "docs" / "runbooks" / "upgrades.md").read_text()
    return [
        shlex.split(line.strip())[3:]  # without `python -m ops`
        for line in text.splitlines()
        if line.strip().startswith("python -m ops stack-set ")
    ]


@pytest.mark.parametrize("argv", _runbook_stack_sets(), ids=lambda argv: " ".join(argv[3:]))
def test_the_runbooks_stack_set_commands_do_what_they_say(tmp_path: Path, argv: list[str]) -> None:
    """Each ``stack-set`` of the upgrades runbook, run as written on a copy of its stack file, sets the
    versions it names as strings (a quoted '"1.35"' would store the quotes, as pulumi config set does)."""
    from ops.offline import go_yaml
    from ops.offline.engine import ROOT

    stack = argv[argv.index("--stack") + 1]
    copy = tmp_path / f"Pulumi.{stack}.yaml"
    copy.write_text((ROOT / f"Pulumi.{stack}.yaml").read_text())
    if "--config" in argv:
        argv[argv.index("--config") + 1] = str(copy)
    else:
        argv[argv.index("--stack") + 2 : argv.index("--stack") + 2] = ["--config", str(copy)]
    assert main(argv) == 0
    config = go_yaml.load(copy.read_text())["config"]
    pairs = argv[argv.index(str(copy)) + 1 :]
    wanted = dict(p.split("=", 1) for p in pairs) if "=" in pairs[0] else {pairs[0]: pairs[1]}
    for key, version in wanted.items():
        top, _, field = key.partition(".")
        assert config[top][field] == version and re.fullmatch(r"1\.\d+", version), (key, config[top])
