"""Where the containers are in the Kubernetes objects a stack declares.

Pod templates sit at different paths per kind; the OT-Container-Kit Redis custom resources describe
their containers through ``kubernetesConfig``, ``securityContext`` and ``redisExporter``. Everything
here reads the manifest shape (``kind`` is always in the properties).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from redisgw_policies._policy import get

POD_PATHS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "Rollout": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
    "Pod": "spec",
}
"""Kind -> path of its pod spec."""
RUN_TO_COMPLETION = {"Job", "CronJob"}
OPERATOR_KINDS = {"RedisReplication", "RedisSentinel"}
"""Custom resources whose pods the redis-operator builds (and probes) from the spec."""
WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:argoproj.io/v1alpha1:Rollout",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel",
)


@dataclass(frozen=True)
class Container:
    """One container of a workload, with the pod it runs in."""

    name: str
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]
    kind: str
    long_running: bool
    operator_managed: bool


def pod_spec(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = POD_PATHS.get(str(props.get("kind")))
    return get(props, path) if path else None


def containers(props: Mapping[str, Any]) -> Iterator[Container]:
    kind = str(props.get("kind"))
    if kind in OPERATOR_KINDS:
        spec: Mapping[str, Any] = props.get("spec") or {}
        pod: Mapping[str, Any] = {"securityContext": spec.get("podSecurityContext") or {}}
        main = {
            "image": get(spec, "kubernetesConfig.image"),
            "resources": get(spec, "kubernetesConfig.resources"),
            "securityContext": spec.get("securityContext") or {},
        }
        yield Container(kind.lower(), main, pod, kind, True, True)
        exporter = spec.get("redisExporter") or {}
        if exporter.get("enabled"):
            yield Container("redis-exporter", exporter, pod, kind, True, True)
        return
    template = pod_spec(props)
    if not isinstance(template, Mapping):
        return
    for c in [*(template.get("initContainers") or []), *(template.get("containers") or [])]:
        yield Container(str(c.get("name")), c, template, kind, kind not in RUN_TO_COMPLETION, False)


def effective(container: Container, key: str) -> Any:
    """A security-context field of the container, falling back to the pod's."""
    own = get(container.spec, f"securityContext.{key}")
    return own if own is not None else get(container.pod, f"securityContext.{key}")
