"""``python -m ops deploy-state --state FILE``: has this stack been deployed whole before?

The deploy workflow runs it on ``pulumi stack export``'s output before its gates. A stack whose
state holds no Kubernetes object has never had its Kubernetes half deployed: it is new (or only
its AWS half exists, from the workstation's first ``up``: ``ops first-deploy``). There is then no
backup to verify and nothing in the cluster for the readiness scorecard to judge, so the workflow
runs the gates that make sense (plan, policies, schemas, smoke test) and reports the scorecard
after the rollout without blocking on it. From the second deploy on, every gate is required.

The file's shape is Pulumi's ``UntypedDeployment`` with a ``DeploymentV3`` (pulumi/pulumi
``sdk/go/common/apitype/core.go``): ``{"version": 3, "deployment": {"manifest": ...,
"resources": [{"urn", "type", "outputs", "delete", ...}]}}``; a stack created but never updated
has no ``resources``. Secret outputs are objects (``{"4dabf18193072939515e22adb298388d": ...,
"ciphertext": ...}``), never plaintext, in an export without ``--show-secrets``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.errors import OpsError

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
BUCKET_OUTPUT = "backupBucket"


@dataclass(frozen=True)
class DeployState:
    first_deploy: bool
    kubernetes_objects: int
    backup_bucket: str

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
    live = [r for r in _resources(doc, f"--state {path}") if not r.get("delete")]  # delete: pending deletion
    kubernetes = sum(1 for r in live if str(r["type"]).startswith("kubernetes:"))
    stack = next((r for r in live if r["type"] == ROOT_STACK_TYPE), {})
    bucket = (stack.get("outputs") or {}).get(BUCKET_OUTPUT, "")
    if not isinstance(bucket, str):
        raise OpsError(f"--state {path}: the stack output {BUCKET_OUTPUT} is not a plain string", code=2)
    if kubernetes and not bucket:
        raise OpsError(
            f"--state {path}: the stack has Kubernetes objects but no {BUCKET_OUTPUT} output: the backup gate "
            "cannot run (was the state exported from another project?)",
            code=2,
        )
    return DeployState(first_deploy=kubernetes == 0, kubernetes_objects=kubernetes, backup_bucket=bucket)


def describe(state: DeployState) -> str:
    if state.first_deploy:
        return (
            "first deploy: no Kubernetes object in the state; the backup and readiness gates begin with the next deploy"
        )
    return f"deployed before: {state.kubernetes_objects} Kubernetes objects in the state; every gate is required"
