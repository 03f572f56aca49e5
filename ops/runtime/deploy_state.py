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
has no ``resources``. Secret outputs are objects (``{"4dabf18193072939515e22adb298388d": ...,
"ciphertext": ...}``), never plaintext, in an export without ``--show-secrets``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.errors import OpsError

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
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
        return f"first_deploy={'true' if self.first_deploy else 'false'}\nbackup_bucket={self.backup_bucket}\n"


def _resources(doc: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("deployment"), dict):
        raise OpsError(f"{where}: not a `pulumi stack export` (no `deployment` object)", code=2)
    if doc.get("version") != 3:
        raise OpsError(f"{where}: deployment version {doc.get('version')!r}, expected 3 (Pulumi CLI v3)", code=2)
    resources = doc["deployment"].get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, dict) and "type" in r for r in resources):
        raise OpsError(f"{where}: `deployment.resources` is not a list of resources", code=2)
    return resources


def read(path: Path) -> DeployState:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OpsError(f"--state {path}: cannot be read ({exc.strerror})", code=2) from None
    except ValueError as exc:
        raise OpsError(f"--state {path}: not JSON ({exc})", code=2) from None
    where = f"--state {path}"
    live = [r for r in _resources(doc, where) if not r.get("delete")]  # delete: pending deletion
    pending = doc["deployment"].get("pending_operations") or []
    if pending:
        first = pending[0] if isinstance(pending[0], dict) else {}
        raise OpsError(
            f"{where}: {len(pending)} pending operation(s) from an interrupted update (the first: "
            f"{first.get('type', '?')} of {(first.get('resource') or {}).get('urn', '?')}): resolve them with "
            "`pulumi refresh --clear-pending-creates` before deploying",
            code=2,
        )
    kubernetes = sum(1 for r in live if str(r["type"]).startswith("kubernetes:"))
    backups = [r for r in live if r["type"] == "kubernetes:batch/v1:CronJob" and _name(r) == BACKUP_CRONJOB]
    stack = next((r for r in live if r["type"] == ROOT_STACK_TYPE), {})
    bucket = (stack.get("outputs") or {}).get(BUCKET_OUTPUT, "")
    if not isinstance(bucket, str):
        raise OpsError(f"--state {path}: the stack output {BUCKET_OUTPUT} is not a plain string", code=2)
    if backups and not bucket:
        raise OpsError(
            f"--state {path}: the stack has its backup CronJob but no {BUCKET_OUTPUT} output: the backup gate "
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
        if r["type"] != "aws:eks/cluster:Cluster" or out.get("name") not in targets:
            continue
        name, now, want = str(out["name"]), _minor(out.get("version")), _minor(targets[str(out["name"])])
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
