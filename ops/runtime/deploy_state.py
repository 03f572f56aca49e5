"""``python -m ops deploy-state --state FILE``: has this stack been deployed whole before?

The deploy workflow runs it on ``pulumi stack export``'s output before its gates. A stack whose
state holds no backup CronJob (``redis-backup``) has never had its Kubernetes half deployed up to
its backups: it is new, only its AWS half exists (the workstation's first ``up``: ``ops
first-deploy``), or its first Kubernetes run failed before the jobs were made. There is then no
backup to verify and nothing in the cluster for the readiness scorecard to judge, so the workflow
runs the gates that make sense (plan, policies, schemas, smoke test) and reports the scorecard
after the rollout without blocking on it. Once the CronJob exists, it runs every 15 minutes and
every gate is required: a deploy retried before its first run waits for it. A state with pending
operations (an update that was interrupted) is refused: the engine would refuse it too.

The file's shape is Pulumi's ``UntypedDeployment`` with a ``DeploymentV3`` (pulumi/pulumi
``sdk/go/common/apitype/core.go``): ``{"version": 3, "deployment": {"manifest": ...,
"resources": [{"urn", "type", "outputs", "delete", ...}]}}``; a stack created but never updated
has no ``resources``. A deployment whose resources use engine features the version 3 schema does
not know (a resource's ``refreshBeforeUpdate``, hooks, taint) is written as version 4
(``DeploymentSchemaVersionLatest``) with their names in a top-level ``features`` list
(``{"version": 4, "features": ["refreshBeforeUpdate"], "deployment": ...}``); each adds fields to
the same ``DeploymentV3``, so it is read the same way. The CLI refuses to load
a deployment with a feature it does not know (``pkg/resource/stack/deployment.go``,
``validateSupportedFeatures``), and so does this reader: :data:`KNOWN_FEATURES` are those of Pulumi
v3.259. Secret outputs are objects (``{"4dabf18193072939515e22adb298388d": ..., "ciphertext":
...}``), never plaintext, in an export without ``--show-secrets``.

The state must be this project's (:data:`PROJECT`), and with ``--stack`` that stack's: every
resource's URN is ``urn:pulumi:<stack>::<project>::<type>::<name>`` and the root resource's is
``urn:pulumi:<stack>::<project>::pulumi:pulumi:Stack::<project>-<stack>``. A document of any other
shape is refused naming the path in it that is wrong (exit 2). The ``backupBucket`` output, written
to ``$GITHUB_OUTPUT`` as one ``key=value`` line, must be an S3 bucket name.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.runtime import args as argtypes

PROJECT = "redisgw"
"""The project whose stacks the deploy workflow reads (``Pulumi.yaml``'s ``name``)."""
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
SCHEMA_VERSIONS = (3, 4)
"""``DeploymentSchemaVersionCurrent`` and ``DeploymentSchemaVersionLatest`` (pulumi/pulumi
``sdk/go/common/apitype/core.go``): what ``pulumi stack export`` writes without and with features."""
KNOWN_FEATURES = frozenset(
    {
        "refreshBeforeUpdate",
        "views",
        "hooks",
        "taint",
        "replaceWith",
        "snippets-prototype",
        "extensionParameterization",
        "byteString",
    }
)
"""The features a version 4 deployment may name (pulumi/pulumi v3.259 ``pkg/resource/stack/deployment.go``,
``supportedFeatures``); each adds fields to resources this reader does not read."""
BUCKET_OUTPUT = "backupBucket"
BACKUP_CRONJOB = "redis-backup"
"""The backup CronJob's name (``components/backup_vault.py``, the job of that name)."""


@dataclass(frozen=True)
class DeployState:
    first_deploy: bool
    kubernetes_objects: int
    backup_bucket: str
    live: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    """The state's resources that are not pending deletion (what :func:`version_problems` reads)."""

    def github_output(self) -> str:
        """The step outputs, one ``key=value`` line each (a value with a line break would add lines)."""
        outputs = {"first_deploy": "true" if self.first_deploy else "false", "backup_bucket": self.backup_bucket}
        for key, value in outputs.items():
            if "\n" in value or "\r" in value:
                raise OpsError(f"--github-output: the value of {key} has a line break: not written", code=2)
        return "".join(f"{key}={value}\n" for key, value in outputs.items())


def _refuse(where: str, path: str, what: str) -> OpsError:
    return OpsError(f"{where}: `{path}` {what}", code=2)


def _resource(value: Any, where: str, path: str) -> dict[str, Any]:
    """One ``ResourceV3``: the fields this reader reads, of their types."""
    if not isinstance(value, dict):
        raise _refuse(where, path, "is not a resource (an object)")
    for key in ("urn", "type"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise _refuse(where, f"{path}.{key}", "is not a string")
    for key in ("inputs", "outputs"):
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise _refuse(where, f"{path}.{key}", "is not an object")
    if not isinstance(value.get("delete", False), bool):
        raise _refuse(where, f"{path}.delete", "is not true or false")
    return value


def _deployment(doc: Any, where: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The resources and the pending operations of an ``UntypedDeployment``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("deployment"), dict):
        raise OpsError(f"{where}: not a `pulumi stack export` (no `deployment` object)", code=2)
    version = doc.get("version")
    if type(version) is not int or version not in SCHEMA_VERSIONS:
        raise _refuse(
            where, "version", f"is {version!r}: `pulumi stack export` (Pulumi CLI v3) writes 3, or 4 with `features`"
        )
    features = doc.get("features") or []
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise _refuse(where, "features", "is not a list of feature names")
    unknown = sorted(set(features) - KNOWN_FEATURES) if version == 4 else []
    if unknown:
        raise _refuse(
            where,
            "features",
            f"names {', '.join(unknown)}, unknown to this reader (it knows {', '.join(sorted(KNOWN_FEATURES))}): "
            "a Pulumi CLI newer than v3.259 wrote the state; add the feature to KNOWN_FEATURES "
            "(ops/runtime/deploy_state.py) once what it adds to a resource is known",
        )
    deployment = doc["deployment"]
    resources = deployment.get("resources") or []
    if not isinstance(resources, list):
        raise _refuse(where, "deployment.resources", "is not a list of resources")
    resources = [_resource(r, where, f"deployment.resources[{i}]") for i, r in enumerate(resources)]
    pending = deployment.get("pending_operations") or []
    if not isinstance(pending, list):
        raise _refuse(where, "deployment.pending_operations", "is not a list of operations")
    for i, operation in enumerate(pending):
        path = f"deployment.pending_operations[{i}]"
        if not isinstance(operation, dict) or not isinstance(operation.get("type"), str):
            raise _refuse(where, path, "is not an operation (an object with a `type`)")
        resource = operation.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("urn"), str):
            raise _refuse(where, f"{path}.resource", "is not a resource (an object with a `urn`)")
    return resources, pending


def _check_owner(resources: list[dict[str, Any]], stack: str | None, where: str) -> None:
    """The resources are of :data:`PROJECT` (and of ``stack`` when given), by their URNs."""
    owners: dict[tuple[str, str], str] = {}
    for i, resource in enumerate(resources):
        urn, path = resource["urn"], f"deployment.resources[{i}].urn"
        parts = urn.split("::", 3)
        if not urn.startswith("urn:pulumi:") or len(parts) < 4:
            raise _refuse(where, path, f"is {urn!r}, not a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>)")
        owner = (parts[0].removeprefix("urn:pulumi:"), parts[1])
        owners.setdefault(owner, path)
        root = f"urn:pulumi:{owner[0]}::{owner[1]}::{ROOT_STACK_TYPE}::{owner[1]}-{owner[0]}"
        if resource["type"] == ROOT_STACK_TYPE and urn != root:
            raise _refuse(where, path, f"is {urn!r}: the root stack resource of stack {owner[0]} is {root}")
    if len(owners) > 1:
        (first, at), (second, then) = list(owners.items())[:2]
        raise OpsError(
            f"{where}: resources of two stacks, {first[1]}/{first[0]} (`{at}`) and {second[1]}/{second[0]} "
            f"(`{then}`): not one stack's state",
            code=2,
        )
    for (found_stack, project), path in owners.items():
        if project != PROJECT:
            raise OpsError(
                f"{where}: the state of stack {found_stack} of project {project} (`{path}`), not of project "
                f"{PROJECT}: export the state of this project's stack",
                code=2,
            )
        if stack is not None and found_stack != stack:
            raise OpsError(
                f"{where}: the state of stack {found_stack} (`{path}`), but --stack is {stack}: export the "
                f"state of stack {stack} (pulumi stack export --stack {stack})",
                code=2,
            )


def read(path: Path, stack: str | None = None) -> DeployState:
    """The verdict on the state in ``path``; with ``stack``, the state must be that stack's."""
    where = f"--state {path}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OpsError(f"{where}: cannot be read ({exc.strerror})", code=2) from None
    except ValueError as exc:
        raise OpsError(f"{where}: not JSON ({exc})", code=2) from None
    except RecursionError:
        raise OpsError(f"{where}: not a `pulumi stack export` (nested too deeply to read)", code=2) from None
    resources, pending = _deployment(doc, where)
    _check_owner(resources, stack, where)
    if pending:
        first = pending[0]
        raise OpsError(
            f"{where}: {len(pending)} pending operation(s) from an interrupted update (the first: "
            f"{first['type']} of {first['resource']['urn']}): resolve them with "
            "`pulumi refresh --clear-pending-creates` before deploying",
            code=2,
        )
    live = [r for r in resources if not r.get("delete")]  # delete: pending deletion
    kubernetes = sum(1 for r in live if r["type"].startswith("kubernetes:"))
    backups = [r for r in live if r["type"] == "kubernetes:batch/v1:CronJob" and _name(r) == BACKUP_CRONJOB]
    root = next((r for r in live if r["type"] == ROOT_STACK_TYPE), {})
    bucket = (root.get("outputs") or {}).get(BUCKET_OUTPUT, "")
    if not isinstance(bucket, str):
        raise OpsError(f"{where}: the stack output {BUCKET_OUTPUT} is not a plain string", code=2)
    if bucket:
        try:
            argtypes.bucket_name(bucket)
        except argparse.ArgumentTypeError as exc:
            raise OpsError(f"{where}: the stack output {BUCKET_OUTPUT}: {exc}", code=2) from None
    if backups and not bucket:
        raise OpsError(
            f"{where}: the stack has its backup CronJob but no {BUCKET_OUTPUT} output: the backup gate "
            "cannot run (was the state exported from another project?)",
            code=2,
        )
    return DeployState(first_deploy=not backups, kubernetes_objects=kubernetes, backup_bucket=bucket, live=tuple(live))


def _name(resource: dict[str, Any]) -> str:
    for side in ("outputs", "inputs"):
        metadata = (resource.get(side) or {}).get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            return str(metadata["name"])
    return ""


def _section(values: Mapping[str, Any], key: str) -> dict[str, Any]:
    section = values.get(key)
    return dict(section) if isinstance(section, dict) else {}


def _minor(value: Any) -> int | None:
    match = re.fullmatch(r"1\.(\d{1,3})(?:\.\d+)?", value.strip()) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def version_problems(state: DeployState, stack: str, values: Mapping[str, Any]) -> list[str]:
    """What EKS would refuse in the versions ``Pulumi.<stack>.yaml`` asks for, against the clusters and
    node groups the state holds (EKS User Guide, "Update existing cluster to new Kubernetes version":
    a control plane moves one minor per update and never back; this program also moves it only with
    every node group on its minor, docs/runbooks/upgrades.md). Found before ``pulumi up`` has moved
    anything, instead of half way through it."""
    live = state.live
    cluster = _section(values, "redisgw:cluster")
    dr = _section(values, "redisgw:dr")
    primary = cluster.get("version")
    targets = {f"redisgw-{stack}": primary, f"redisgw-{stack}-dr": dr.get("clusterVersion") or primary}
    nodes: dict[str, list[tuple[str, int]]] = {}
    for r in live:
        out = r.get("outputs") or {}
        minor = _minor(out.get("version"))
        if r["type"] == "aws:eks/nodeGroup:NodeGroup" and minor is not None:
            nodes.setdefault(str(out.get("clusterName")), []).append((str(out.get("nodeGroupName")), minor))
    problems = []
    for r in live:
        out = r.get("outputs") or {}
        name = out.get("name")
        if r["type"] != "aws:eks/cluster:Cluster" or not isinstance(name, str) or name not in targets:
            continue
        now, want = _minor(out.get("version")), _minor(targets[name])
        if now is None or want is None or want == now:
            continue
        key = (
            "redisgw:dr.clusterVersion"
            if name.endswith("-dr") and dr.get("clusterVersion")
            else "redisgw:cluster.version"
        )
        if want < now:
            problems.append(
                f"{key} asks {name} for 1.{want}, but it runs 1.{now}: EKS never moves a control plane back"
            )
        elif want > now + 1:
            problems.append(
                f"{key} asks {name} for 1.{want}, but it runs 1.{now}: EKS moves a control plane one minor per update "
                f"(deploy 1.{now + 1} first)"
            )
        else:
            behind = [f"{group} (1.{minor})" for group, minor in nodes.get(name, []) if minor < now]
            if behind:
                problems.append(
                    f"{key} moves {name} to 1.{want} while node groups still run an older minor than its 1.{now}: "
                    f"{', '.join(behind)}; finish the last upgrade's node groups first"
                )
    return problems


def describe(state: DeployState) -> str:
    if state.first_deploy:
        return (
            f"first deploy: no {BACKUP_CRONJOB} CronJob in the state ({state.kubernetes_objects} Kubernetes objects); "
            "the backup and readiness gates begin once it exists"
        )
    return f"deployed before: {state.kubernetes_objects} Kubernetes objects in the state; every gate is required"
