"""Where the containers and pods are in the Kubernetes objects a stack declares.

Pod templates sit at different paths per kind; the OT-Container-Kit Redis custom resources describe
their containers through ``kubernetesConfig``, ``securityContext`` and ``redisExporter``. Everything
here reads the manifest shape (``kind`` is always in the properties) and tolerates any value at any
path: a missing, null or oddly typed field yields nothing rather than an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from redisgw_policies._policy import as_map, get, maps

POD_PATHS = {
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "ReplicationController": "spec.template.spec",
    "Rollout": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
    "PodTemplate": "template.spec",
    "Pod": "spec",
}
"""Kind -> path of its pod spec."""
RUN_TO_COMPLETION = {"Job", "CronJob"}
OPERATOR_KINDS = {"RedisReplication", "RedisSentinel", "Redis", "RedisCluster"}
"""Custom resources whose pods the redis-operator builds (and probes) from the spec."""
WORKLOAD_KINDS = (*POD_PATHS, *sorted(OPERATOR_KINDS))
"""Every kind that describes pods; policies match these in any API group and version."""


@dataclass(frozen=True)
class Container:
    """One container of a workload, with the pod it runs in."""

    name: str
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]
    kind: str
    long_running: bool
    operator_managed: bool
    init: bool = False


def pod_spec(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a workload (a synthetic one for the operator's resources), or None."""
    kind = str(as_map(props).get("kind"))
    if kind in OPERATOR_KINDS:
        spec = as_map(props.get("spec"))
        return {
            "securityContext": as_map(spec.get("podSecurityContext")),
            "affinity": spec.get("affinity"),
            "topologySpreadConstraints": spec.get("topologySpreadConstraints"),
            "nodeSelector": spec.get("nodeSelector"),
            "tolerations": spec.get("tolerations"),
            "serviceAccountName": spec.get("serviceAccountName"),
            "priorityClassName": spec.get("priorityClassName"),
        }
    path = POD_PATHS.get(kind)
    found = get(props, path) if path else None
    return found if isinstance(found, Mapping) else None


def pod_annotations(props: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = str(as_map(props).get("kind"))
    path = {"CronJob": "spec.jobTemplate.spec.template.metadata", "Pod": "metadata", "PodTemplate": "template.metadata"}
    return as_map(get(as_map(get(props, path.get(kind, "spec.template.metadata"))), "annotations"))


def containers(props: Mapping[str, Any]) -> Iterator[Container]:
    props = as_map(props)
    kind = str(props.get("kind"))
    if kind in OPERATOR_KINDS:
        spec = as_map(props.get("spec"))
        pod = pod_spec(props) or {}
        main = {
            "image": get(spec, "kubernetesConfig.image"),
            "resources": get(spec, "kubernetesConfig.resources"),
            "securityContext": as_map(spec.get("securityContext")),
        }
        name = get(props, "metadata.name")
        # The operator names the main container after the resource.
        yield Container(name if isinstance(name, str) and name else kind.lower(), main, pod, kind, True, True)
        exporter = as_map(spec.get("redisExporter"))
        if exporter.get("enabled"):
            yield Container("redis-exporter", exporter, pod, kind, True, True)
        for sidecar in maps(spec.get("sidecars")):
            yield Container(str(sidecar.get("name")), sidecar, pod, kind, True, True)
        init = as_map(spec.get("initContainer"))
        if init.get("enabled"):
            yield Container("init", init, pod, kind, False, True, True)
        return
    template = pod_spec(props)
    if template is None:
        return
    long_running = kind not in RUN_TO_COMPLETION
    for c in maps(template.get("initContainers")):
        yield Container(str(c.get("name")), c, template, kind, long_running, False, True)
    for c in maps(template.get("containers")):
        yield Container(str(c.get("name")), c, template, kind, long_running, False)
    for c in maps(template.get("ephemeralContainers")):
        yield Container(str(c.get("name")), c, template, kind, False, False, True)


def security_context(container: Container) -> Mapping[str, Any]:
    return as_map(container.spec.get("securityContext"))


def effective(container: Container, key: str) -> Any:
    """A security-context field of the container, falling back to the pod's."""
    own = security_context(container).get(key)
    return own if own is not None else as_map(container.pod.get("securityContext")).get(key)
