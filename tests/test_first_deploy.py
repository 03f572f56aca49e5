"""The first `pulumi up` of a stack from a workstation: the AWS half, as the engine runs it.

The engine's behaviour modelled here is pulumi/pulumi v3.259 ``pkg/resource/deploy``:
``deployment.go`` (``UrnTargets``, its glob test vectors in ``deployment_test.go`` ``TestGlobUrn``),
``step_generator.go`` (``isExcludedFromUpdate``: the provider and every dependency, parent
included, through ``resource.State.GetAllDependencies``; providers and the root stack implicitly
included) and ``step.go`` (a skipped create answers ``Unknown``, so the SDK resolves its outputs
unknown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from google.protobuf import struct_pb2

from ops.errors import OpsError
from ops.offline import first_deploy
from ops.offline.engine import ROOT, run_program
from tests.conftest import Recording

# deployment_test.go TestGlobUrn: (glob, URNs it matches, URNs it does not).
GLOB_VECTORS = [
    (
        "**",
        [
            "urn:pulumi:stack::test::typ$aws:resource::aname",
            "urn:pulumi:stack::test::typ$aws:resource::bar",
            "urn:pulumi:stack::test::typ$azure:resource::bar",
        ],
        [],
    ),
    (
        "urn:pulumi:stack::test::typ*:resource::bar",
        ["urn:pulumi:stack::test::typ$aws:resource::bar", "urn:pulumi:stack::test::typ$azure:resource::bar"],
        ["urn:pulumi:stack::test::ty:resource::bar", "urn:pulumi:stack::test::type:resource::foobar"],
    ),
    (
        "**:aname",
        ["urn:pulumi:stack::test::typ$aws:resource::aname"],
        ["urn:pulumi:stack::test::typ$aws:resource::somename"],
    ),
    (
        "*:*:stack::test::typ$aws:resource::*",
        ["urn:pulumi:stack::test::typ$aws:resource::aname", "urn:pulumi:stack::test::typ$aws:resource::bar"],
        ["urn:pulumi:stack::test::typ$azure:resource::aname"],
    ),
    (
        "stack::test::typ$aws:resource::none",
        ["stack::test::typ$aws:resource::none"],
        ["stack::test::typ$aws:resource::nonee"],
    ),
]


@pytest.mark.parametrize(("glob", "matches", "misses"), GLOB_VECTORS, ids=[v[0] for v in GLOB_VECTORS])
def test_globs_match_as_the_engine_matches_them(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = first_deploy.glob_pattern(glob)
    assert all(pattern.match(u) for u in matches) and not any(pattern.match(u) for u in misses)


def test_the_kubernetes_glob_takes_objects_and_charts_not_the_provider_nor_aws() -> None:
    pattern = first_deploy.glob_pattern(first_deploy.exclude_glob("production"))
    base = "urn:pulumi:production::redisgw::"
    assert pattern.match(base + "redisgw:index:RedisGateway$kubernetes:core/v1:Namespace::redis-gateway")
    # helm v4 names a chart's objects <chart>:<namespace>/<name> (pulumi-kubernetes v4.32
    # provider/pkg/provider/yaml/v2/yaml.go: ResourcePrefix + ":" + the object's name).
    chart = "redisgw:index:X$kubernetes:helm.sh/v4:Chart$kubernetes:apps/v1:Deployment::"
    assert pattern.match(base + chart + "argo-rollouts:argo-rollouts/argo-rollouts")
    assert pattern.match(base + "redisgw:index:X$kubernetes:helm.sh/v3:Release::argo-rollouts")
    assert pattern.match(base + "redisgw:index:X$kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel::s")
    assert not pattern.match(base + "redisgw:index:EksCluster$pulumi:providers:kubernetes::primary-k8s")
    assert not pattern.match(base + "redisgw:index:EksCluster$aws:eks/addon:Addon::primary-kubernetes-metrics")
    assert not pattern.match("urn:pulumi:staging::redisgw::redisgw:index:X$kubernetes:core/v1:Namespace::n")


def _toy() -> None:
    """Every way a dependency reaches a Kubernetes object: parent, depends_on, an input, a provider."""
    provider = k8s.Provider("toy-k8s", kubeconfig="{}")
    ns = k8s.core.v1.Namespace("ns", metadata={"name": "app"}, opts=pulumi.ResourceOptions(provider=provider))
    k8s.core.v1.ConfigMap(
        "cm", metadata={"namespace": "app"}, opts=pulumi.ResourceOptions(provider=provider, parent=ns)
    )
    aws.s3.Bucket("by-input", bucket=ns.metadata.apply(lambda m: m.name))  # property dependency
    aws.s3.Bucket("by-depends-on", opts=pulumi.ResourceOptions(depends_on=[ns]))
    component = pulumi.ComponentResource("toy:index:Group", "group", opts=pulumi.ResourceOptions(depends_on=[ns]))
    aws.s3.Bucket("by-parent", opts=pulumi.ResourceOptions(parent=component))
    # An output-only property of a skipped object: unknown, so this apply never runs (it would fail on None).
    aws.s3.Bucket("reads-status", tags=ns.status.apply(lambda s: {"phase": s.phase}))
    aws.s3.Bucket("free")
    aws.ecr.Repository("also-free", opts=pulumi.ResourceOptions(depends_on=[provider]))


def test_exclude_dependents_follows_parents_dependencies_inputs_and_outputs() -> None:
    class Monitor(first_deploy.ExcludingMonitor):
        pattern = first_deploy.glob_pattern(first_deploy.exclude_glob("toy", "toyproject"))

    monitors: list[first_deploy.ExcludingMonitor] = []

    def factory(mocks: Any) -> first_deploy.ExcludingMonitor:
        monitors.append(Monitor(mocks))
        return monitors[-1]

    created = run_program(
        _toy, stack="toy", config={}, region="eu-west-1", project="toyproject", monitor_class=factory, preview=False
    )
    skipped = {urn.rsplit("::", 1)[1] for urn in monitors[-1].excluded}
    assert skipped == {"ns", "cm", "by-input", "by-depends-on", "group", "by-parent", "reads-status"}
    # The provider is implicitly included; what depends on it alone (not on an object) is created.
    assert {r.name for r in created} == {"toy-k8s", "free", "also-free"}


@pytest.fixture(scope="module")
def production() -> first_deploy.FirstDeploy:
    return first_deploy.plan("production")


def test_the_aws_half_creates_what_the_runner_needs_and_nothing_in_the_cluster(
    production: first_deploy.FirstDeploy, stack_run: Callable[[str], Recording]
) -> None:
    assert production.ok, production.problems
    created_types = {r.type for r in production.created}
    assert {typ for _, typ in first_deploy.RUNNER_NEEDS} <= created_types
    assert not [r.urn for r in production.created if "providers:kubernetes" in (r.provider or "") and r.custom]
    # Both regions' clusters, node groups and the ops image repository with its key come first.
    assert len([r for r in production.created if r.type == "eks:index:Cluster"]) == 2
    assert [r for r in production.created if r.type == "aws:ecr/repository:Repository"]
    # Every resource of the full plan is either created now or left for the runner, and every
    # Kubernetes object is left.
    full = stack_run("production")
    assert {r.urn for r in full} == {r.urn for r in production.created} | set(production.skipped)
    assert {r.urn for r in full if r.type.startswith("kubernetes:")} <= set(production.skipped)


def test_the_readme_gives_the_command_the_engine_was_modelled_with() -> None:
    readme = (ROOT / "README.md").read_text()
    assert first_deploy.command("production") in readme
    assert "python -m ops first-deploy --stack <stack>" in readme
    section = readme.split("## Real deployments", 1)[1].split("\n## ", 1)[0]
    assert not [line for line in section.splitlines() if "pulumi up" in line and "--target-dependents" in line]


def test_an_aws_half_that_misses_the_runner_or_touches_the_cluster_is_refused() -> None:
    from ops.offline.engine import Resource

    def res(typ: str, parent: str | None = None, provider: str | None = None, region: str = "") -> Resource:
        name = f"x{region}"
        return Resource(
            type=typ,
            name=name,
            urn=f"urn:pulumi:s::p::{typ}::{name}",
            parent=parent,
            custom=not typ.startswith("redisgw:"),
            dependencies=[],
            inputs={},
            properties=struct_pb2.Struct(),
            provider=provider,
        )

    components = {c: res(f"redisgw:index:{c.split(':')[0]}") for c, _ in first_deploy.RUNNER_NEEDS}
    for c, component in components.items():
        component.name = c.split(":")[1]
        component.urn = f"urn:pulumi:s::p::redisgw:index:{c.split(':')[0]}::{component.name}"
    ok = [*components.values(), *(res(t, components[c].urn) for c, t in first_deploy.RUNNER_NEEDS)]
    assert first_deploy.problems(ok) == []
    missing = first_deploy.problems([r for r in ok if r.type != "aws:ecr/repository:Repository"])
    assert missing == [
        "the AWS half creates no aws:ecr/repository:Repository in BackupVault:backups (the ops image repository "
        "the deploy job pushes to)"
    ]
    # The DR region's runners (another component) do not stand in for the primary's.
    dr = res("redisgw:index:DrRegion")
    dr.name, dr.urn = "dr", "urn:pulumi:s::p::redisgw:index:DrRegion::dr"
    elsewhere = [r for r in ok if r.type != "aws:codebuild/project:Project"]
    elsewhere += [dr, res("aws:codebuild/project:Project", dr.urn, region="dr")]
    assert [p for p in first_deploy.problems(elsewhere) if "codebuild/project" in p]
    touching = first_deploy.problems(
        [*ok, res("kubernetes:core/v1:Namespace", None, "urn:...:pulumi:providers:kubernetes::k::id")]
    )
    assert len(touching) == 1 and re.search("through the Kubernetes provider", touching[0])


def test_a_bad_stack_is_a_config_error_not_a_traceback(tmp_path: Any) -> None:
    broken = tmp_path / "Pulumi.production.yaml"
    broken.write_text("config:\n  redisgw:cluster: 3\n")
    with pytest.raises(OpsError) as err:
        first_deploy.plan("production", broken)
    assert err.value.code == 2
