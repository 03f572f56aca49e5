"""Workload security and hygiene, per container: the Polaris/kube-score core.

Applies to every pod template the stack declares (Deployments, StatefulSets, Jobs, CronJobs, Argo
Rollouts) and to the containers the redis-operator builds from ``RedisReplication`` and
``RedisSentinel``. Helm charts' own pods are not visible to the program; the charts are pinned and
configured in the components instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from redisgw_policies._k8s import WORKLOAD_TYPES, Container, containers, effective
from redisgw_policies._policy import resource_policy

Check = Callable[[Container, Mapping[str, Any]], Iterable[str]]


def per_container(check: Check) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]:
    def rule(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
        for c in containers(props):
            for message in check(c, config):
                yield f"{c.kind} container {c.name}: {message}"

    return rule


def non_root(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if effective(c, "runAsNonRoot") is not True:
        yield "runAsNonRoot is not true."
    if effective(c, "runAsUser") == 0:
        yield "runs as UID 0."


def read_only_root(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if (c.spec.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
        yield "the root filesystem is writable."


def no_privilege_escalation(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    sc = c.spec.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false."
    if sc.get("privileged"):
        yield "runs privileged."


def drop_all(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    caps = (c.spec.get("securityContext") or {}).get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        yield "does not drop ALL capabilities."
    added = set(caps.get("add") or []) - set(config.get("allowedCapabilities") or [])
    if added:
        yield f"adds capabilities {sorted(added)}."


def _tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def pinned_image(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    image = str(c.spec.get("image") or "")
    tag = _tag(image)
    if tag is None:
        yield f"image {image} has no tag."
    elif tag == "latest":
        yield f"image {image} uses the latest tag."


def allowed_registry(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = config.get("allowedRegistries") or []
    image = str(c.spec.get("image") or "")
    if allowed and not any(image.startswith(prefix) for prefix in allowed):
        yield f"image {image} is not from an allowed registry {allowed}."


def probes(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if not c.long_running or c.operator_managed or c.name in {i.get("name") for i in c.pod.get("initContainers") or []}:
        return
    for probe in ("readinessProbe", "livenessProbe"):
        if not c.spec.get(probe):
            yield f"has no {probe}."


def resources(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    res = c.spec.get("resources") or {}
    for kind in ("requests", "limits"):
        missing = [r for r in ("cpu", "memory") if not (res.get(kind) or {}).get(r)]
        if missing:
            yield f"has no {kind} for {missing}."


def _policy(name: str, description: str, check: Check, severity: Severity, remediation: str, **kw: Any) -> Any:
    return resource_policy(
        name=name,
        description=description,
        types=WORKLOAD_TYPES,
        rule=per_container(check),
        severity=severity,
        remediation=remediation,
        **kw,
    )


POLICIES = [
    _policy(
        "k8s-container-require-non-root",
        "Containers run as a non-root user.",
        non_root,
        Severity.HIGH,
        "Set securityContext.runAsNonRoot: true and a non-zero runAsUser.",
    ),
    _policy(
        "k8s-container-require-read-only-root-filesystem",
        "Containers mount their root filesystem read-only.",
        read_only_root,
        Severity.MEDIUM,
        "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the process writes.",
    ),
    _policy(
        "k8s-container-disallow-privilege-escalation",
        "Containers cannot gain privileges (no setuid, not privileged).",
        no_privilege_escalation,
        Severity.HIGH,
        "Set securityContext.allowPrivilegeEscalation: false.",
    ),
    _policy(
        "k8s-container-require-drop-all-capabilities",
        "Containers drop all Linux capabilities.",
        drop_all,
        Severity.MEDIUM,
        "Set securityContext.capabilities.drop: [ALL]; add back only what is listed as allowed.",
        config={"allowedCapabilities": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    _policy(
        "k8s-container-disallow-latest-tag",
        "Container images are pinned by tag or digest, never latest.",
        pinned_image,
        Severity.HIGH,
        "Pin the image to a release tag or an @sha256 digest.",
    ),
    _policy(
        "k8s-container-require-allowed-registry",
        "Container images come from the allowed registries.",
        allowed_registry,
        Severity.HIGH,
        "Mirror the image into an allowed registry or extend allowedRegistries.",
        config={"allowedRegistries": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    _policy(
        "k8s-container-require-probes",
        "Long-running containers have readiness and liveness probes.",
        probes,
        Severity.MEDIUM,
        "Add readinessProbe and livenessProbe (HTTP /readyz and /healthz for the gateway).",
    ),
    _policy(
        "k8s-container-require-resources",
        "Containers set CPU and memory requests and limits.",
        resources,
        Severity.MEDIUM,
        "Set resources.requests and resources.limits for cpu and memory.",
    ),
]
