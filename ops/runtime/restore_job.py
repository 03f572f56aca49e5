"""``python -m ops restore-job``: the in-cluster restore, rendered as manifests to ``kubectl apply``.

A restore into the running primary runs inside the cluster: the primary must reach the one-shot
primary the restore serves (it replicates from it), and the backup bucket is reached through the
backup role (IRSA). This renders, for one backup and one primary:

* a ``Job`` under the ``redis-backup`` ServiceAccount with the ``app=redis-backup`` label (the
  label the namespace's NetworkPolicies admit to Redis and Sentinel), the ops image, the Redis
  password from the ``redis-auth`` Secret, its pod IP as ``--advertise``, a scratch volume, and the
  restricted security context;
* two ``NetworkPolicy`` objects that open, for this Job only, the path the replication needs:
  Redis pods out to the Job's unprivileged ports, and the Job in from Redis pods.

Sentinel is not rendered: while the primary replicates from the Job it reports itself as a replica,
which Sentinel counts against it after ``down-after-milliseconds``. The runbook raises that window
on every Sentinel for the duration and puts it back after (docs/runbooks/backup-restore.md).
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "redis-system"
SERVICE_ACCOUNT = "redis-backup"
REDIS_SECRET = "redis-auth"
REDIS_APP = "redis"
ROLE_LABEL = "redisgw.io/role"


def render(
    *,
    name: str,
    image: str,
    bucket: str,
    backup: str,
    primary: tuple[str, int],
    prefix: str,
    region: str,
    namespace: str = NAMESPACE,
    force: bool = False,
    deadline_seconds: int = 3600,
) -> dict[str, Any]:
    """A ``List`` of the Job and its two NetworkPolicies."""
    labels = {"app": SERVICE_ACCOUNT, ROLE_LABEL: "restore", "job": name}
    host, port = primary
    command = [
        "restore",
        "--bucket",
        bucket,
        "--prefix",
        prefix,
        "--region",
        region,
        "--backup",
        backup,
        "--target-url",
        f"redis://{host}:{port}",
        "--advertise",
        "$(POD_IP)",
        "--work-dir",
        "/spool",
        "--json",
        "-",
        *(["--force"] if force else []),
    ]
    container = {
        "name": "restore",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": command,
        "env": [
            {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": REDIS_SECRET, "key": "password"}}},
            {"name": "AWS_REGION", "value": region},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ],
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "spool", "mountPath": "/spool"}, {"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,  # a restore is never retried blindly: read its report first
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "nodeSelector": {"role": "general"},
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "spool", "emptyDir": {"sizeLimit": "50Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }
    replication_ports = [{"protocol": "TCP", "port": 1024, "endPort": 65535}]
    to_job = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-from-redis", "namespace": namespace, "labels": labels},
        "spec": {
            "podSelector": {"matchLabels": {"job": name, ROLE_LABEL: "restore"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": REDIS_APP}}}], "ports": replication_ports}],
        },
    }
    from_redis = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-redis-egress", "namespace": namespace, "labels": labels},
        "spec": {
            "podSelector": {"matchLabels": {"app": REDIS_APP}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"job": name, ROLE_LABEL: "restore"}}}],
                    "ports": replication_ports,
                }
            ],
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [job, to_job, from_redis]}
