"""Pieces of ``pulumi stack export`` documents of the production stack, as the CLI writes them
(``apitype.UntypedDeployment`` holding a ``DeploymentV3``, pulumi/pulumi v3.259
``sdk/go/common/apitype/core.go``), shared by the tests of ``ops deploy-state`` and of the deploy
workflow's state step."""

from __future__ import annotations

URN = "urn:pulumi:production::redisgw::"
ROOT_URN = URN + "pulumi:pulumi:Stack::redisgw-production"
"""The root resource's URN: ``<project>-<stack>`` is its name (pulumi/pulumi
``sdk/python/lib/pulumi/runtime/stack.py``, pulumi 3.272.0 as installed; ``pulumi stack rename``
keeps that form, ``pkg/resource/edit/operations.go`` ``renameURN``, v3.259)."""
MANIFEST = {"time": "2026-12-01T10:00:00Z", "magic": "", "version": "v3.259.0"}
CRONJOB = {
    "urn": URN + "redisgw:index:BackupVault$kubernetes:batch/v1:CronJob::backups-redis-backup",
    "type": "kubernetes:batch/v1:CronJob",
    "custom": True,
    "id": "redis-system/redis-backup",
    "inputs": {"metadata": {"name": "redis-backup", "namespace": "redis-system"}},
    "outputs": {"metadata": {"name": "redis-backup", "namespace": "redis-system"}},
}
"""The backup CronJob, live: what tells a deployed stack from one whose Kubernetes half never ran."""
