"""``python -m ops first-deploy --stack S``: the first ``pulumi up`` of a stack, from a workstation.

Both clusters have a private API endpoint only, and the deploy runners live in the VPC the stack
creates, so the first ``up`` of a stack comes in two halves:

1. **The AWS half**, from a workstation that cannot reach the cluster's API:
   ``pulumi up --exclude '<every Kubernetes object>' --exclude-dependents``. Pulumi skips each
   Kubernetes object and everything that depends on one (its children, what reads its status, such
   as the Route 53 records that alias the ALB an Ingress makes) and creates the rest: the VPC, the
   cluster and its node groups, the deploy runners, the ops image repository, the buckets and keys.
2. **The Kubernetes half**, where the API is reachable: the first deploy job, on the stack's
   runner inside the VPC, runs the whole ``pulumi up``. The deploy workflow sees that the
   stack's backup CronJob is not in its state yet (``ops deploy-state``) and skips the gates that
   need a running stack (the latest backup, the readiness scorecard before the rollout).

Why not ``--target ... --target-dependents``: with it Pulumi also takes everything that uses a
targeted provider and every child of a targeted component, so the Kubernetes objects come back in
and the run fails on the unreachable API. ``--target`` without it needs every leaf's URN,
closed over parents, dependencies and providers, or the engine refuses the run
("untargeted create").

This command runs the program as ``pulumi up --exclude ... --exclude-dependents`` would run it and
says what the AWS half creates and what it leaves for the runner. It models the engine at the
Pulumi CLI version the README documents (pulumi/pulumi v3.259, ``pkg/resource/deploy``):

- the glob of ``--exclude`` (``deployment.go`` ``UrnTargets.getMatcher``: ``**`` is any text,
  ``*`` any text without ``:``, the rest literal, the whole URN must match);
- ``--exclude-dependents`` (``step_generator.go`` ``isExcludedFromUpdate``): a resource is left
  out when its provider or any of its dependencies (parent, ``dependsOn``, property dependencies,
  ``deletedWith``) was left out; providers and the root stack are always included
  (``isImplicitlyTargetedResource``);
- a left-out resource that does not exist yet is a *skipped create* (``step.go``
  ``NewSkippedCreateStep``): the engine returns no ID and no outputs, marked ``unknown``
  (``SameStep.Apply``: ``RegisterResult{Unknown: s.skippedCreate}``), so the program sees its
  outputs as unknown, as in a preview, while the rest of the run is a real ``pulumi up``
  (``preview=False``: the Python SDK's ``resource.py`` resolves them unknown only with that flag).

Exit codes: 0 the AWS half is self-contained and creates what the runner needs; 1 it is not (the
reason is printed); 2 invalid stack config.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import resource_pb2
from rich.console import Console

from ops.errors import OpsError
from ops.offline.engine import ROOT, ROOT_STACK_TYPE, RecordingMonitor, Resource, cli_config, run_program

PROJECT = "redisgw"

KUBERNETES_GLOB = "urn:pulumi:{stack}::{project}::**kubernetes:*:*::**"
"""Every Kubernetes object of the stack: a URN whose own type is ``kubernetes:<module>:<Kind>``
(also objects under a Helm chart or another Kubernetes component, whose names may hold ``:``:
helm v4 names a chart's objects ``<chart>:<namespace>/<name>``, hence ``**`` for the name). The
provider's URN (``...pulumi:providers:kubernetes::name``) does not match, and providers are
included anyway."""

RUNNER_NEEDS = {
    ("EksCluster:primary", "eks:index:Cluster"): "the cluster (its access entries admit the deploy role)",
    ("EksCluster:primary", "aws:eks/nodeGroup:NodeGroup"): "the node groups the Kubernetes half schedules on",
    ("DeployRunner:ci", "aws:codebuild/project:Project"): "the deploy and preview runners",
    ("DeployRunner:ci", "aws:codebuild/webhook:Webhook"): "the runners' webhooks",
    ("DeployRunner:ci", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"): "the runners' way to the API",
    ("BackupVault:backups", "aws:ecr/repository:Repository"): "the ops image repository the deploy job pushes to",
}
"""What the first deploy job needs from the AWS half, by (component, type), in the primary region:
each must be created by it.

``pulumi_eks.Cluster`` is a remote component: under the mock runtime its children are not seen, so
what it creates itself (the cluster, its roles, OIDC provider, access entries, the vpc-cni, coredns
and kube-proxy add-ons, all AWS resources with authentication mode API; no ``aws-auth`` ConfigMap)
is not checked here; its own ``pulumi:providers:kubernetes`` is a provider, always included, which
only marks an unreachable cluster (pulumi-kubernetes ``provider.go`` ``Configure``)."""


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A URN glob as the engine reads it (``UrnTargets.getMatcher``)."""
    segments = ["[^:]*".join(re.escape(part) for part in segment.split("*")) for segment in glob.split("**")]
    return re.compile("^" + ".*".join(segments) + "$")


def exclude_glob(stack: str, project: str = PROJECT) -> str:
    return KUBERNETES_GLOB.format(stack=stack, project=project)


def command(stack: str) -> str:
    """The AWS half, as the README gives it."""
    return f"pulumi up --stack {stack} --exclude '{exclude_glob(stack)}' --exclude-dependents"


def _provider_urn(reference: str) -> str:
    """A provider reference is ``<urn>::<id>``."""
    return reference.rsplit("::", 1)[0] if reference else ""


class ExcludingMonitor(RecordingMonitor):
    """The mock monitor answering as the engine does under ``--exclude GLOB --exclude-dependents``
    for a stack with no state: excluded resources are skipped creates (no ID, no outputs)."""

    pattern: re.Pattern[str]

    def __init__(self, mocks: Any) -> None:
        super().__init__(mocks)
        self.excluded: dict[str, str] = {}  # urn -> type, in registration order

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == ROOT_STACK_TYPE or request.type.startswith("pulumi:providers:"):
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        depends_on = {
            request.parent,
            _provider_urn(request.provider),
            request.deletedWith,
            *request.replace_with,
            *request.dependencies,
            *(u for deps in request.propertyDependencies.values() for u in deps.urns),
        }
        if self.pattern.match(urn) or depends_on & self.excluded.keys():
            self.excluded[urn] = request.type
            return resource_pb2.RegisterResourceResponse(urn=urn, id="", object=struct_pb2.Struct(), unknown=True)
        return super().RegisterResource(request)


@dataclass
class FirstDeploy:
    stack: str
    command: str
    created: list[Resource]
    skipped: dict[str, str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def problems(created: list[Resource]) -> list[str]:
    """Why the AWS half would not do: it would touch the cluster's API, or it leaves out what the
    first deploy job needs."""
    from ops.offline.preview import component_of

    found = [
        f"{r.urn} would be created through the Kubernetes provider from the workstation"
        for r in created
        if r.custom and "pulumi:providers:kubernetes" in (r.provider or "")
    ]
    by_urn = {r.urn: r for r in created}
    made = Counter((component_of(r, by_urn), r.type) for r in created)
    found += [
        f"the AWS half creates no {typ} in {component} ({why})"
        for (component, typ), why in RUNNER_NEEDS.items()
        if not made[(component, typ)]
    ]
    return found


def plan(stack: str, config_file: Path | None = None) -> FirstDeploy:
    """Run the program as the AWS half of the first ``pulumi up`` would."""
    from ops.offline.preview import checked_config

    config, cfg, _ = checked_config(stack, config_file)

    class Monitor(ExcludingMonitor):
        pattern = glob_pattern(exclude_glob(stack))

    monitors: list[ExcludingMonitor] = []

    def factory(mocks: Any) -> ExcludingMonitor:
        monitors.append(Monitor(mocks))
        return monitors[-1]

    try:
        created = run_program(
            ROOT / "__main__.py",
            stack=stack,
            config=cli_config(config),
            secret_keys=config.secret_keys,
            region=cfg.region,
            monitor_class=factory,
            preview=False,
        )
    except Exception as exc:  # the program failed under a partial update
        raise OpsError(
            f"first-deploy {stack}: the program fails when the Kubernetes objects are skipped, as "
            f"`pulumi up --exclude ... --exclude-dependents` would fail{_where(exc)}: {type(exc).__name__}: {exc}",
            code=1,
        ) from None
    return FirstDeploy(stack, command(stack), created, monitors[-1].excluded, problems(created))


def _where(exc: BaseException) -> str:
    """The program's own line the error came from (`` at components/_edge.py:61``), if any."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename
    ]
    return f" at {Path(frames[-1].filename).relative_to(ROOT)}:{frames[-1].lineno}" if frames else ""


def render(result: FirstDeploy, console: Console) -> None:
    from ops.offline.preview import component_of

    by_urn = {r.urn: r for r in result.created}
    made = Counter(component_of(r, by_urn) for r in result.created if r.custom)
    left = Counter(urn.split("::")[2].split("$")[0].removeprefix("redisgw:index:") for urn in result.skipped)
    console.print(f"[bold]First deploy of {result.stack}: the AWS half, from a workstation[/]")
    console.print(f"  {result.command}", markup=False, soft_wrap=True)
    console.print(f"creates {sum(made.values())} resources: " + ", ".join(f"{c} {n}" for c, n in sorted(made.items())))
    console.print(
        f"leaves {len(result.skipped)} for the first deploy job on the stack's runner (the Kubernetes objects and "
        "what depends on them): " + ", ".join(f"{c} {n}" for c, n in sorted(left.items()))
    )
    for problem in result.problems:
        console.print(f"[red]problem[/]: {problem}", markup=True)
    console.print("[green]OK[/]" if result.ok else "[red]FAILED[/]")
