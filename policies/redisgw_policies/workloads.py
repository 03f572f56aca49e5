"""Workload security and hygiene, per pod and per container: Pod Security Standards and the
Polaris/kube-score core.

The one stack rule here, :func:`priority_classes`, judges the pods' scheduling priority: the serving
tier above the default, the batch jobs below the serving tier, each class resolved among the
PriorityClass objects the region declares (or the two system classes).

Applies to every pod template the stack declares, of any kind that carries one (Deployments,
StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods, Argo Rollouts, in any API version and
as patches) and to the containers the redis-operator builds from its custom resources. Helm
charts' own pods are not visible to the program; the charts are pinned and configured in the
components instead. Findings name the container (or the pod field) so an exemption can waive one
container's finding without waiving the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from redisgw_policies._k8s import (
    OPERATOR_KINDS,
    WORKLOAD_KINDS,
    Container,
    containers,
    effective,
    pod_annotations,
    pod_spec,
)
from redisgw_policies._policy import (
    SECRET_NAME,
    Finding,
    as_int,
    as_map,
    get,
    k8s_kind,
    maps,
    namespace_of,
    resource_policy,
    stack_policy,
    strings,
    truthy,
)

Check = Callable[[Container, Mapping[str, Any]], Iterable[str]]
PodCheck = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Iterable[tuple[str, str]]]

SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
"""The sysctls Pod Security Standards (baseline) allow."""
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
"""Volume types Pod Security Standards (restricted) allow."""
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def per_container(check: Check) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]:
    def rule(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
        for c in containers(props):
            for message in check(c, config):
                yield Finding(f"{c.kind} container {c.name}: {message}", container=c.name)

    return rule


def per_pod(check: PodCheck) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]:
    def rule(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
        pod = pod_spec(as_map(props))
        if pod is None:
            return
        kind = str(as_map(props).get("kind"))
        for field, message in check(pod, as_map(props), config):
            yield Finding(f"{kind} pod: {message}", field=field)

    return rule


def non_root(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if effective(c, "runAsNonRoot") is not True:
        yield "runAsNonRoot is not true."
    if as_int(effective(c, "runAsUser"), -1) == 0:
        yield "runs as UID 0."
    if as_int(effective(c, "runAsGroup"), -1) == 0:
        yield "runs with GID 0."


def read_only_root(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if as_map(c.spec.get("securityContext")).get("readOnlyRootFilesystem") is not True:
        yield "the root filesystem is writable."


def no_privilege_escalation(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    sc = as_map(c.spec.get("securityContext"))
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false."
    if sc.get("privileged") is not None and sc.get("privileged") is not False:
        yield "runs privileged."


def drop_all(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    caps = as_map(as_map(c.spec.get("securityContext")).get("capabilities"))
    if not {"ALL", "all"} & set(strings(caps.get("drop"))):
        yield "does not drop ALL capabilities."
    added = {a.upper().removeprefix("CAP_") for a in strings(caps.get("add"))} - {
        a.upper() for a in strings(config.get("allowedCapabilities"))
    }
    if added or (caps.get("add") is not None and not isinstance(caps.get("add"), list)):
        yield f"adds capabilities {sorted(added)}."


def _tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def pinned_image(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    image = c.spec.get("image")
    if not isinstance(image, str) or not image:
        yield "has no image."
        return
    tag = _tag(image)
    if tag is None:
        yield f"image {image} has no tag."
    elif tag == "latest":
        yield f"image {image} uses the latest tag."


def allowed_registry(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = strings(config.get("allowedRegistries"))
    image = c.spec.get("image")
    image = image if isinstance(image, str) else ""
    if allowed and not any(image.startswith(prefix) for prefix in allowed):
        yield f"image {image} is not from an allowed registry {allowed}."


def probes(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    if not c.long_running or c.operator_managed or c.init:
        return
    for probe in ("readinessProbe", "livenessProbe"):
        if not isinstance(c.spec.get(probe), Mapping) or not c.spec.get(probe):
            yield f"has no {probe}."


def resources(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    res = as_map(c.spec.get("resources"))
    for kind in ("requests", "limits"):
        missing = [r for r in ("cpu", "memory") if not as_map(res.get(kind)).get(r)]
        if missing:
            yield f"has no {kind} for {missing}."


def host_ports(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    for port in maps(c.spec.get("ports")):
        if as_int(port.get("hostPort"), 0) or (
            port.get("hostPort") is not None and as_int(port.get("hostPort")) is None
        ):
            yield f"binds host port {port.get('hostPort')}."


def seccomp(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    profile = as_map(effective(c, "seccompProfile"))
    if profile.get("type") not in ("RuntimeDefault", "Localhost"):
        yield "has no RuntimeDefault or Localhost seccomp profile."


def security_options(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    sc = as_map(c.spec.get("securityContext"))
    selinux = as_map(effective(c, "seLinuxOptions"))
    if str(selinux.get("type") or "") not in SELINUX_TYPES:
        yield f"sets SELinux type {selinux.get('type')}."
    if selinux.get("user") or selinux.get("role"):
        yield "sets an SELinux user or role."
    if sc.get("procMount") not in (None, "Default"):
        yield "unmasks /proc (procMount)."
    if as_map(effective(c, "appArmorProfile")).get("type") == "Unconfined":
        yield "runs without AppArmor (Unconfined)."
    if truthy(as_map(effective(c, "windowsOptions")).get("hostProcess")):
        yield "runs as a Windows host process."


def plaintext_secrets(c: Container, config: Mapping[str, Any]) -> Iterable[str]:
    for env in maps(c.spec.get("env")):
        name = env.get("name")
        if isinstance(name, str) and SECRET_NAME.search(name) and env.get("value") not in (None, ""):
            yield f"sets {name} to a literal value; read it from a Secret."


def host_namespaces(
    pod: Mapping[str, Any], props: Mapping[str, Any], config: Mapping[str, Any]
) -> Iterable[tuple[str, str]]:
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        value = pod.get(key)
        shared = value is False if key == "hostUsers" else (value is not None and value is not False)
        if shared and key != "hostUsers":
            yield key, f"shares the node's namespace ({key})."


def volumes(pod: Mapping[str, Any], props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for volume in maps(pod.get("volumes")):
        kinds = [k for k in volume if k != "name"]
        if "hostPath" in kinds:
            yield "volumes.hostPath", f"mounts a hostPath volume ({volume.get('name')})."
        elif any(k not in RESTRICTED_VOLUMES for k in kinds):
            yield "volumes", f"uses volume type {sorted(set(kinds) - RESTRICTED_VOLUMES)} ({volume.get('name')})."


def sysctls(pod: Mapping[str, Any], props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for sysctl in maps(as_map(pod.get("securityContext")).get("sysctls")):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield "securityContext.sysctls", f"sets unsafe sysctl {sysctl.get('name')}."
    for key, value in pod_annotations(props).items():
        if str(key).startswith("container.apparmor.security.beta.kubernetes.io/") and value == "unconfined":
            yield "annotations", f"runs a container without AppArmor ({key})."


SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
"""The classes every cluster has without declaring them."""
TIER_LABEL = ("app.kubernetes.io/part-of", "redis-gateway")
"""Label of the tier's objects and of its namespace."""
SERVING_KINDS = {"Rollout", "Deployment", "StatefulSet"}
"""Kinds whose pods serve when they belong to the tier (the redis-operator's resources always do)."""
JOB_KINDS = {"Job", "CronJob"}
ANALYSIS_KINDS = {"AnalysisTemplate", "ClusterAnalysisTemplate"}
"""Argo Rollouts analyses whose ``job`` provider runs a Job (the smoke test)."""


def _k8s_objects(args: StackValidationArgs, kinds: set[str]) -> list[PolicyResource]:
    return [
        r for r in args.resources if r.resource_type.startswith("kubernetes:") and k8s_kind(r.resource_type) in kinds
    ]


def declared_classes(args: StackValidationArgs) -> tuple[dict[str, int | None], int]:
    """(class name -> value, None where unreadable; the priority of pods that name no class): the
    region's PriorityClass objects over the system classes, and its ``globalDefault`` class if any."""
    values: dict[str, int | None] = dict(SYSTEM_PRIORITY_CLASSES)
    default = 0
    for r in _k8s_objects(args, {"PriorityClass"}):
        name = get(r.props, "metadata.name")
        if isinstance(name, str) and name:
            value = as_int(r.props.get("value"))
            values[name] = value
            if truthy(r.props.get("globalDefault")) and value is not None:
                default = value
    return values, default


def _of_tier(r: PolicyResource, tier_namespaces: set[str]) -> bool:
    key, value = TIER_LABEL
    labels = [get(r.props, "metadata.labels"), get(r.props, "spec.template.metadata.labels")]
    return namespace_of(r.props) in tier_namespaces or any(as_map(lab).get(key) == value for lab in labels)


def _job_pods(r: PolicyResource) -> list[Mapping[str, Any]]:
    """The pod specs a Job, CronJob or analysis template runs."""
    if k8s_kind(r.resource_type) in ANALYSIS_KINDS:
        found = [get(m, "provider.job.spec.template.spec") for m in maps(get(r.props, "spec.metrics"))]
        return [f for f in found if isinstance(f, Mapping)]
    pod = pod_spec(r.props)
    return [pod] if pod is not None else []


def _label(r: PolicyResource) -> str:
    return f"{k8s_kind(r.resource_type)} {namespace_of(r.props)}/{get(r.props, 'metadata.name') or r.name}"


def priority_classes(args: StackValidationArgs, config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Serving pods (the tier's Rollout, Deployment, StatefulSet; RedisReplication, RedisSentinel) name a
    class above the default; job pods (Job, CronJob, an analysis's Job) stay below every serving class.
    A class must be declared in the same region (cluster) or be a system class: admission rejects
    pods that name one that is not."""
    classes, default = declared_classes(args)
    key, value = TIER_LABEL
    tier_namespaces = {
        str(get(n.props, "metadata.name"))
        for n in _k8s_objects(args, {"Namespace"})
        if as_map(get(n.props, "metadata.labels")).get(key) == value
    }
    serving: list[int] = []
    for r in _k8s_objects(args, SERVING_KINDS | OPERATOR_KINDS):
        if k8s_kind(r.resource_type) not in OPERATOR_KINDS and not _of_tier(r, tier_namespaces):
            continue
        name = as_map(pod_spec(r.props)).get("priorityClassName")
        if not isinstance(name, str) or not name:
            message = (
                f"{_label(r)} serves but names no priorityClassName: its pods run at the default priority "
                f"{default}, beside batch jobs and monitoring, and displace nothing when capacity is short."
            )
        elif name not in classes:
            message = (
                f"{_label(r)} names PriorityClass {name}, which its cluster does not declare (nor is it a "
                "system class): admission rejects its pods."
            )
        elif classes[name] is None:
            message = f"{_label(r)} names PriorityClass {name}, whose value is not an integer."
        elif (classes[name] or 0) <= default:
            message = (
                f"{_label(r)} runs in PriorityClass {name} of value {classes[name]}, not above the default "
                f"pods' {default}: it displaces nothing when capacity is short."
            )
        else:
            serving.append(classes[name] or 0)
            continue
        yield Finding(message, field="priorityClassName"), r.urn
    floor = min(serving, default=None)
    for r in _k8s_objects(args, JOB_KINDS | ANALYSIS_KINDS):
        for pod in _job_pods(r):
            name = pod.get("priorityClassName")
            named = isinstance(name, str) and bool(name)
            if named and name not in classes:
                message = (
                    f"{_label(r)} names PriorityClass {name}, which its cluster does not declare (nor is it a "
                    "system class): admission rejects its pods."
                )
            else:
                job_value = classes.get(str(name)) if named else default
                if floor is None or job_value is None or job_value < floor:
                    continue
                message = (
                    f"{_label(r)} runs at priority {job_value} ({f'PriorityClass {name}' if named else 'no class'}),"
                    f" not below the serving tier's {floor}: its pods would not yield to the gateway's and Redis'."
                )
            yield Finding(message, field="priorityClassName"), r.urn


def _policy(name: str, description: str, check: Check, severity: Severity, remediation: str, **kw: Any) -> Any:
    return resource_policy(
        name=name,
        description=description,
        kinds=WORKLOAD_KINDS,
        rule=per_container(check),
        severity=severity,
        remediation=remediation,
        **kw,
    )


def _pod_policy(name: str, description: str, check: PodCheck, severity: Severity, remediation: str) -> Any:
    return resource_policy(
        name=name,
        description=description,
        kinds=WORKLOAD_KINDS,
        rule=per_pod(check),
        severity=severity,
        remediation=remediation,
    )


POLICIES = [
    _policy(
        "k8s-container-require-non-root",
        "Containers run as a non-root user and group.",
        non_root,
        Severity.HIGH,
        "Set securityContext.runAsNonRoot: true and a non-zero runAsUser and runAsGroup.",
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
        "Set securityContext.allowPrivilegeEscalation: false and never privileged: true.",
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
    _policy(
        "k8s-container-disallow-host-ports",
        "Containers bind no host port.",
        host_ports,
        Severity.HIGH,
        "Remove ports[].hostPort; expose the port through a Service.",
    ),
    _policy(
        "k8s-container-require-seccomp-profile",
        "Containers run under the RuntimeDefault (or a Localhost) seccomp profile.",
        seccomp,
        Severity.MEDIUM,
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod or the container.",
    ),
    _policy(
        "k8s-container-restrict-security-options",
        "Containers keep SELinux, AppArmor, /proc masking and Windows isolation at their defaults.",
        security_options,
        Severity.HIGH,
        "Remove seLinuxOptions user/role and custom types, procMount: Unmasked, Unconfined AppArmor and hostProcess.",
    ),
    _policy(
        "k8s-container-disallow-plaintext-secrets",
        "Containers read passwords, tokens and keys from Secrets, never from literal environment values.",
        plaintext_secrets,
        Severity.HIGH,
        "Use env[].valueFrom.secretKeyRef (or envFrom.secretRef) for secret values.",
    ),
    _pod_policy(
        "k8s-pod-disallow-host-namespaces",
        "Pods share no host namespace (network, PID, IPC).",
        host_namespaces,
        Severity.HIGH,
        "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
    ),
    _pod_policy(
        "k8s-pod-restrict-volume-types",
        "Pods mount no hostPath and only the volume types the restricted profile allows.",
        volumes,
        Severity.HIGH,
        "Use persistentVolumeClaim, emptyDir, configMap, secret, projected, downwardAPI, csi or ephemeral volumes.",
    ),
    stack_policy(
        name="k8s-workload-require-priority-class",
        description="Serving workloads run in a PriorityClass above the default and batch jobs in one below them.",
        rule=priority_classes,
        severity=Severity.HIGH,
        remediation=(
            "Declare the scheduling.k8s.io/v1 PriorityClasses in the cluster, set priorityClassName: "
            "redis-gateway-serving on the gateway's pod template and in the RedisReplication and RedisSentinel "
            "spec, and redis-gateway-batch (value at most 0, preemptionPolicy: Never) on Jobs and CronJobs."
        ),
    ),
    _pod_policy(
        "k8s-pod-restrict-sysctls-and-apparmor",
        "Pods set only safe sysctls and never disable AppArmor by annotation.",
        sysctls,
        Severity.HIGH,
        "Remove unsafe sysctls and container.apparmor.security.beta.kubernetes.io/*: unconfined annotations.",
    ),
]
