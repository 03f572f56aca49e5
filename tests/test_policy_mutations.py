"""Mutation harness: every realistic way to break the production plan is blocked by a mandatory policy.

The recorded production plan (the real program under mocks) is mutated once per case: a field
edited or removed, a resource removed, or a resource added in a shape the program never writes
(another type for the same thing, a deprecated type, an equivalent spelling). Each case names the
policy that must block it; the pack is evaluated with ``policies/config/production.json``. Controls
are harmless edits (a new pinned tag, more replicas, a stricter threshold) that must stay clean,
and so must the unmodified staging and production plans.

Only what a case changes is re-evaluated by resource policies; stack policies always see the whole
plan.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions

from tests.conftest import Recording, stack_values
from tests.policy_harness import Hit, as_policy_resources, evaluate, evaluate_resource, evaluate_stack, pack_config

Plan = list[PolicyResource]
Mutation = Callable[[Plan], Plan]

ROLL = "spec.template.spec"
CJ = "spec.jobTemplate.spec.template.spec"
C0 = f"{ROLL}.containers.0"
B0 = f"{CJ}.containers.0"
NS = "redis-system"
PRIO = "priorityClassName"
PRIORITY = "k8s-workload-require-priority-class"
SERVING, BATCH = "redis-gateway-serving", "redis-gateway-batch"
SMOKE_POD = "spec.metrics.0.provider.job.spec.template.spec"
PSA = "pod-security.kubernetes.io/enforce"
MINOR = int(stack_values("production")["redisgw:cluster"]["version"].split(".")[1])
"""The production plan's Kubernetes minor: version cases are written relative to it."""


# -- building blocks -----------------------------------------------------------------------------


def _steps(path: str) -> list[str | int]:
    """``a.b.0.c``: keys and list indices (keys holding dots are edited with :func:`change`)."""
    return [int(p) if p.isdigit() else p for p in path.split(".")] if path else []


def put(obj: Any, path: str, value: Any) -> None:
    *head, last = _steps(path)
    for step in head:
        obj = obj[step] if isinstance(step, int) else obj.setdefault(step, {})
    obj[last] = value


def drop(obj: Any, path: str) -> None:
    *head, last = _steps(path)
    for step in head:
        obj = obj[step]
    del obj[last]


def pick(obj: Any, path: str) -> Any:
    for step in _steps(path):
        obj = obj[step]
    return obj


def _clone(r: PolicyResource, **changes: Any) -> PolicyResource:
    clone = copy.copy(r)
    clone.props = copy.deepcopy(r.props)
    for key, value in changes.items():
        setattr(clone, key, value)
    return clone


def find(plan: Plan, suffix: str, name: str) -> PolicyResource:
    matches = [r for r in plan if r.resource_type.endswith(suffix) and r.name == name]
    assert len(matches) == 1, f"no single {suffix} {name}"
    return matches[0]


def _job_memory(props: dict[str, Any], limit: str | None) -> None:
    """Set (or, with None, drop) the memory limit of a CronJob's container."""
    limits = props["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    if limit is None:
        limits.pop("memory")
    else:
        limits["memory"] = limit


def change(suffix: str, name: str, fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    def mutate(plan: Plan) -> Plan:
        target = find(plan, suffix, name)
        clone = _clone(target)
        fn(clone.props)
        return [clone if r is target else r for r in plan]

    return mutate


def edit(suffix: str, name: str, path: str, value: Any) -> Mutation:
    return change(suffix, name, lambda p: put(p, path, value))


def delete(suffix: str, name: str, *paths: str) -> Mutation:
    def fn(props: dict[str, Any]) -> None:
        for path in paths:
            drop(props, path)

    return change(suffix, name, fn)


def remove(suffix: str, name: str) -> Mutation:
    def mutate(plan: Plan) -> Plan:
        target = find(plan, suffix, name)
        return [r for r in plan if r is not target]

    return mutate


def remove_all(suffix: str) -> Mutation:
    def mutate(plan: Plan) -> Plan:
        return [r for r in plan if not r.resource_type.endswith(suffix)]

    return mutate


def _all_nats(fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    """Apply ``fn`` to the inputs of every NAT gateway of the plan."""

    def mutate(plan: Plan) -> Plan:
        out = []
        for r in plan:
            if r.resource_type.endswith(":NatGateway"):
                r = _clone(r)
                fn(r.props)
            out.append(r)
        return out

    return mutate


def _sentinel(size: int, quorum: int) -> Callable[[dict[str, Any]], None]:
    def fn(props: dict[str, Any]) -> None:
        props["spec"]["clusterSize"] = size
        props["spec"]["redisSentinelConfig"]["quorum"] = str(quorum)

    return fn


def _dr_sentinel(size: int, quorum: int) -> Callable[[dict[str, Any]], None]:
    def fn(props: dict[str, Any]) -> None:
        manifest = json.loads(props["data"]["sentinel.json"])
        _sentinel(size, quorum)(manifest)
        props["data"] = {**props["data"], "sentinel.json": json.dumps(manifest)}

    return fn


def unprotect(suffix: str, name: str) -> Mutation:
    def mutate(plan: Plan) -> Plan:
        target = find(plan, suffix, name)
        opts = copy.copy(target.opts)
        opts.protect = False
        return [_clone(target, opts=opts) if r is target else r for r in plan]

    return mutate


def add(typ: str, name: str, props: dict[str, Any], deps: dict[str, tuple[str, str]] | None = None) -> Mutation:
    def mutate(plan: Plan) -> Plan:
        urn = f"urn:pulumi:production::redisgw::{typ}::{name}"
        new = PolicyResource(
            typ,
            copy.deepcopy(props),
            urn,
            name,
            PolicyResourceOptions(False, [], None, [], None, [], None),
            None,
            None,
            [],
            {},
        )
        new.property_dependencies = {k: [find(plan, *v)] for k, v in (deps or {}).items()}
        return [*plan, new]

    return mutate


def json_edit(suffix: str, name: str, key: str, fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    """Edit a JSON policy document held as a string in ``key``."""

    def edit_doc(props: dict[str, Any]) -> None:
        doc = json.loads(props[key])
        fn(doc)
        props[key] = json.dumps(doc)

    return change(suffix, name, edit_doc)


def pod(kind: str, spec: dict[str, Any], ns: str = NS, **meta: Any) -> dict[str, Any]:
    """A workload of ``kind`` around pod spec ``spec``, otherwise compliant enough to be judged on it."""
    template = {"metadata": {"labels": {"app": "extra"}}, "spec": spec}
    body: dict[str, Any] = {"template": template, "selector": {"matchLabels": {"app": "extra"}}}
    if kind == "Pod":
        return {"kind": "Pod", "metadata": {"name": "extra", "namespace": ns, **meta}, "spec": spec}
    if kind == "CronJob":
        body = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"activeDeadlineSeconds": 60, "template": template}}}
    return {"kind": kind, "metadata": {"name": "extra", "namespace": ns, **meta}, "spec": body}


def scoped_quota(operator: str, classes: list[str], **hard: str) -> dict[str, Any]:
    """A ResourceQuota of the tier's namespace that counts only the pods of the PriorityClasses it selects."""
    expression = {"scopeName": "PriorityClass", "operator": operator, "values": classes}
    limits = {"requests.cpu": "4", "limits.cpu": "8", "requests.memory": "32Gi", "limits.memory": "32Gi", **hard}
    return {
        "kind": "ResourceQuota",
        "metadata": {"name": "scoped", "namespace": NS},
        "spec": {"hard": limits, "scopeSelector": {"matchExpressions": [expression]}},
    }


GOOD = {
    "name": "app",
    "image": "ghcr.io/ai-decenter/redis-http-gateway:1.6.0",
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def spec_with(**container: Any) -> dict[str, Any]:
    return {"serviceAccountName": "redis-gateway", "containers": [{**GOOD, **container}]}


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


IRSA_TRUST = "primary-ebs-csi"
OIDC_KEY = "oidc.eks.eu-west-1.amazonaws.com/id/AA9B281C239378D3BF3CCD688E165824"


def _trust(fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    return json_edit(":Role", IRSA_TRUST, "assumeRolePolicy", lambda d: fn(d["Statement"][0]))


SLO_BURN = "monitoring-alert-require-slo-burn-detection"


def _expr(old: str, new: str) -> Callable[[dict[str, Any]], Any]:
    return lambda rule: rule.update(expr=rule["expr"].replace(old, new))


def _named_alert(name: str, fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        rule = next(r for g in props["spec"]["groups"] for r in g["rules"] if r.get("alert") == name)
        fn(rule)

    return change(":PrometheusRule", "monitoring-rules", mutate)


def _capacity(props: dict[str, Any], **demand: Any) -> None:
    record = json.loads(props["data"]["capacity.json"])
    record["demand"].update(demand)
    props["data"]["capacity.json"] = json.dumps(record)


def _redis_conf(name: str, directive: str, value: str | None, *, append: bool = False) -> Mutation:
    """Set (None: remove) ``directive`` in the ``redis-additional.conf`` of ConfigMap ``name``; with
    ``append`` the new line is added after the others, as a later override."""

    def mutate(props: dict[str, Any]) -> None:
        lines = props["data"]["redis-additional.conf"].splitlines()
        if not append:
            lines = [line for line in lines if line.split(" ")[0] != directive]
        if value is not None:
            lines.append(f"{directive} {value}")
        props["data"]["redis-additional.conf"] = "\n".join(lines) + "\n"

    return change(":ConfigMap", name, mutate)


def _replication(props: dict[str, Any], **ride_out: Any) -> None:
    record = json.loads(props["data"]["capacity.json"])
    record["replication"].update(ride_out)
    props["data"]["capacity.json"] = json.dumps(record)


def _alert(fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        rule = next(r for g in props["spec"]["groups"] for r in g["rules"] if "alert" in r)
        fn(rule)

    return change(":PrometheusRule", "monitoring-rules", mutate)


def _alert_named(name: str, fn: Callable[[dict[str, Any]], Any]) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        fn(next(r for g in props["spec"]["groups"] for r in g["rules"] if r.get("alert") == name))

    return change(":PrometheusRule", "monitoring-rules", mutate)


def _annotation(key: str, value: Any) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        annotations = props["metadata"]["annotations"]
        if value is None:
            annotations.pop(f"alb.ingress.kubernetes.io/{key}")
        else:
            annotations[f"alb.ingress.kubernetes.io/{key}"] = value

    return change(":Ingress", "gateway-ingress", mutate)


def _attribute(key: str, value: str) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        annotations = props["metadata"]["annotations"]
        name = "alb.ingress.kubernetes.io/load-balancer-attributes"
        attrs = dict(a.split("=", 1) for a in annotations[name].split(","))
        attrs[key] = value
        annotations[name] = ",".join(f"{k}={v}" for k, v in attrs.items())

    return change(":Ingress", "gateway-ingress", mutate)


def _rename_secret_ref(props: dict[str, Any]) -> None:
    for env in pick(props, B0)["env"]:
        if "valueFrom" in env:
            env["valueFrom"]["secretKeyRef"]["name"] = "redis-auth-old"


def _statement(doc: dict[str, Any], **changes: Any) -> None:
    doc["Statement"][0].update(changes)


def _drop_key(mapping: dict[str, Any], suffix: str) -> None:
    for key in [k for k in mapping if k.endswith(suffix)]:
        del mapping[key]


OPEN_SG = {"ingress": [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["0.0.0.0/0"]}]}

# -- the cases: (id, mutation, the policy that must block it) ------------------------------------

CASES: list[tuple[str, Mutation, str]] = [
    # Pod Security Standards and container hygiene, on every kind of workload
    (
        "rollout-run-as-root",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.runAsNonRoot", False),
        "k8s-container-require-non-root",
    ),
    (
        "rollout-uid-0",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.runAsUser", 0),
        "k8s-container-require-non-root",
    ),
    (
        "rollout-gid-0",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.runAsGroup", 0),
        "k8s-container-require-non-root",
    ),
    (
        "cronjob-pod-uid-0",
        edit(":CronJob", "backups-redis-backup", f"{CJ}.securityContext.runAsUser", 0),
        "k8s-container-require-non-root",
    ),
    (
        "rollout-writable-root",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.readOnlyRootFilesystem", False),
        "k8s-container-require-read-only-root-filesystem",
    ),
    (
        "cronjob-writable-root",
        delete(":CronJob", "backups-redis-backup", f"{B0}.securityContext.readOnlyRootFilesystem"),
        "k8s-container-require-read-only-root-filesystem",
    ),
    (
        "rollout-escalation",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.allowPrivilegeEscalation", True),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "rollout-privileged",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.privileged", True),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "drill-escalation-unset",
        delete(":CronJob", "backups-redis-restore-drill", f"{B0}.securityContext.allowPrivilegeEscalation"),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "rollout-keeps-capabilities",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.capabilities.drop", []),
        "k8s-container-require-drop-all-capabilities",
    ),
    (
        "rollout-adds-net-admin",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.capabilities.add", ["NET_ADMIN"]),
        "k8s-container-require-drop-all-capabilities",
    ),
    (
        "cronjob-adds-sys-admin",
        edit(":CronJob", "backups-redis-backup", f"{B0}.securityContext.capabilities.add", ["CAP_SYS_ADMIN"]),
        "k8s-container-require-drop-all-capabilities",
    ),
    (
        "rollout-latest",
        edit(":Rollout", "gateway-rollout", f"{C0}.image", "ghcr.io/ai-decenter/redis-http-gateway:latest"),
        "k8s-container-disallow-latest-tag",
    ),
    (
        "rollout-untagged",
        edit(":Rollout", "gateway-rollout", f"{C0}.image", "ghcr.io/ai-decenter/redis-http-gateway"),
        "k8s-container-disallow-latest-tag",
    ),
    (
        "cronjob-no-image",
        delete(":CronJob", "backups-redis-backup", f"{B0}.image"),
        "k8s-container-disallow-latest-tag",
    ),
    (
        "rollout-docker-hub",
        edit(":Rollout", "gateway-rollout", f"{C0}.image", "docker.io/library/redis-gateway:1.6.0"),
        "k8s-container-require-allowed-registry",
    ),
    (
        "redis-foreign-registry",
        edit(":RedisReplication", "gateway-redis", "spec.kubernetesConfig.image", "docker.io/bitnami/redis:7.0.15"),
        "k8s-container-require-allowed-registry",
    ),
    (
        "exporter-foreign-registry",
        edit(
            ":RedisReplication",
            "gateway-redis",
            "spec.redisExporter.image",
            "docker.io/oliver006/redis_exporter:v1.44.0",
        ),
        "k8s-container-require-allowed-registry",
    ),
    (
        "redis-latest",
        edit(":RedisReplication", "gateway-redis", "spec.kubernetesConfig.image", "quay.io/opstree/redis:latest"),
        "k8s-container-disallow-latest-tag",
    ),
    (
        "sentinel-escalation",
        edit(":RedisSentinel", "gateway-sentinel", "spec.securityContext.allowPrivilegeEscalation", True),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "redis-run-as-root",
        edit(":RedisReplication", "gateway-redis", "spec.podSecurityContext.runAsUser", 0),
        "k8s-container-require-non-root",
    ),
    (
        "rollout-no-readiness",
        delete(":Rollout", "gateway-rollout", f"{C0}.readinessProbe"),
        "k8s-container-require-probes",
    ),
    (
        "rollout-no-liveness",
        delete(":Rollout", "gateway-rollout", f"{C0}.livenessProbe"),
        "k8s-container-require-probes",
    ),
    (
        "rollout-no-limits",
        delete(":Rollout", "gateway-rollout", f"{C0}.resources.limits"),
        "k8s-container-require-resources",
    ),
    (
        "cronjob-no-memory-request",
        delete(":CronJob", "backups-redis-backup", f"{B0}.resources.requests.memory"),
        "k8s-container-require-resources",
    ),
    (
        "sentinel-no-resources",
        delete(":RedisSentinel", "gateway-sentinel", "spec.kubernetesConfig.resources"),
        "k8s-container-require-resources",
    ),
    (
        "rollout-host-port",
        edit(":Rollout", "gateway-rollout", f"{C0}.ports.0.hostPort", 8080),
        "k8s-container-disallow-host-ports",
    ),
    (
        "rollout-seccomp-unconfined",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.seccompProfile", {"type": "Unconfined"}),
        "k8s-container-require-seccomp-profile",
    ),
    (
        "cronjob-no-seccomp",
        delete(
            ":CronJob",
            "backups-redis-backup",
            f"{B0}.securityContext.seccompProfile",
            f"{CJ}.securityContext.seccompProfile",
        ),
        "k8s-container-require-seccomp-profile",
    ),
    (
        "rollout-selinux-spc",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.seLinuxOptions", {"type": "spc_t"}),
        "k8s-container-restrict-security-options",
    ),
    (
        "rollout-selinux-user",
        edit(":Rollout", "gateway-rollout", f"{ROLL}.securityContext.seLinuxOptions", {"user": "system_u"}),
        "k8s-container-restrict-security-options",
    ),
    (
        "rollout-proc-unmasked",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.procMount", "Unmasked"),
        "k8s-container-restrict-security-options",
    ),
    (
        "rollout-apparmor-unconfined",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.appArmorProfile", {"type": "Unconfined"}),
        "k8s-container-restrict-security-options",
    ),
    (
        "rollout-windows-host-process",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.windowsOptions", {"hostProcess": True}),
        "k8s-container-restrict-security-options",
    ),
    (
        "rollout-literal-password",
        edit(":Rollout", "gateway-rollout", f"{C0}.env", [{"name": "REDIS_PASSWORD", "value": "hunter2"}]),
        "k8s-container-disallow-plaintext-secrets",
    ),
    (
        "cronjob-literal-api-key",
        change(
            ":CronJob",
            "backups-redis-backup",
            lambda p: pick(p, B0)["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}),
        ),
        "k8s-container-disallow-plaintext-secrets",
    ),
    (
        "rollout-host-network",
        edit(":Rollout", "gateway-rollout", f"{ROLL}.hostNetwork", True),
        "k8s-pod-disallow-host-namespaces",
    ),
    (
        "rollout-host-pid",
        edit(":Rollout", "gateway-rollout", f"{ROLL}.hostPID", True),
        "k8s-pod-disallow-host-namespaces",
    ),
    (
        "cronjob-host-ipc",
        edit(":CronJob", "backups-redis-backup", f"{CJ}.hostIPC", True),
        "k8s-pod-disallow-host-namespaces",
    ),
    (
        "rollout-host-path",
        change(
            ":Rollout",
            "gateway-rollout",
            lambda p: pick(p, ROLL)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}),
        ),
        "k8s-pod-restrict-volume-types",
    ),
    (
        "cronjob-nfs-volume",
        change(
            ":CronJob",
            "backups-redis-backup",
            lambda p: pick(p, CJ)["volumes"].append({"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/"}}),
        ),
        "k8s-pod-restrict-volume-types",
    ),
    (
        "rollout-unsafe-sysctl",
        edit(
            ":Rollout",
            "gateway-rollout",
            f"{ROLL}.securityContext.sysctls",
            [{"name": "kernel.msgmax", "value": "65536"}],
        ),
        "k8s-pod-restrict-sysctls-and-apparmor",
    ),
    (
        "rollout-apparmor-annotation",
        edit(
            ":Rollout",
            "gateway-rollout",
            "spec.template.metadata.annotations",
            {"container.apparmor.security.beta.kubernetes.io/gateway": "unconfined"},
        ),
        "k8s-pod-restrict-sysctls-and-apparmor",
    ),
    (
        "add-privileged-deployment",
        add(
            "kubernetes:apps/v1:Deployment",
            "extra",
            pod("Deployment", spec_with(securityContext={**GOOD["securityContext"], "privileged": True})),
        ),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "add-host-network-daemonset",
        add("kubernetes:apps/v1:DaemonSet", "extra", pod("DaemonSet", {**spec_with(), "hostNetwork": True})),
        "k8s-pod-disallow-host-namespaces",
    ),
    (
        "add-host-path-pod",
        add(
            "kubernetes:core/v1:Pod",
            "extra",
            pod("Pod", {**spec_with(), "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
        ),
        "k8s-pod-restrict-volume-types",
    ),
    (
        "add-privileged-deployment-patch",
        add(
            "kubernetes:apps/v1:DeploymentPatch",
            "extra",
            pod("Deployment", spec_with(securityContext={"privileged": True})),
        ),
        "k8s-container-disallow-privilege-escalation",
    ),
    (
        "add-latest-job",
        add("kubernetes:batch/v1:Job", "extra", pod("Job", spec_with(image="ghcr.io/ai-decenter/x:latest"))),
        "k8s-container-disallow-latest-tag",
    ),
    (
        "add-root-init-container",
        add(
            "kubernetes:apps/v1:Deployment",
            "extra",
            pod(
                "Deployment",
                {
                    **spec_with(),
                    "initContainers": [
                        {
                            **GOOD,
                            "name": "init",
                            "securityContext": {**GOOD["securityContext"], "runAsNonRoot": False, "runAsUser": 0},
                        }
                    ],
                },
            ),
        ),
        "k8s-container-require-non-root",
    ),
    (
        "add-statefulset-no-resources",
        add("kubernetes:apps/v1:StatefulSet", "extra", pod("StatefulSet", spec_with(resources={}))),
        "k8s-container-require-resources",
    ),
    (
        "add-beta-cronjob-root",
        add("kubernetes:batch/v1beta1:CronJob", "extra", pod("CronJob", spec_with(securityContext={"runAsUser": 0}))),
        "k8s-container-require-non-root",
    ),
    (
        "add-replicaset-host-port",
        add(
            "kubernetes:apps/v1:ReplicaSet",
            "extra",
            pod("ReplicaSet", spec_with(ports=[{"containerPort": 80, "hostPort": 80}])),
        ),
        "k8s-container-disallow-host-ports",
    ),
    (
        "add-ephemeral-privileged",
        add(
            "kubernetes:core/v1:Pod",
            "extra",
            pod(
                "Pod",
                {
                    **spec_with(),
                    "ephemeralContainers": [
                        {"name": "debug", "image": "ghcr.io/ai-decenter/x:1", "securityContext": {"privileged": True}}
                    ],
                },
            ),
        ),
        "k8s-container-disallow-privilege-escalation",
    ),
    # Namespaces, network policies, quotas
    ("no-default-deny", remove(":NetworkPolicy", "gateway-netpol-default-deny"), "k8s-namespace-require-default-deny"),
    (
        "default-deny-ingress-only",
        edit(":NetworkPolicy", "gateway-netpol-default-deny", "spec.policyTypes", ["Ingress"]),
        "k8s-namespace-require-default-deny",
    ),
    (
        "default-deny-selects-some",
        edit(":NetworkPolicy", "gateway-netpol-default-deny", "spec.podSelector", {"matchLabels": {"app": "x"}}),
        "k8s-namespace-require-default-deny",
    ),
    (
        "add-allow-all-ingress",
        add(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "allow-all",
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": "allow-all", "namespace": NS},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
            },
        ),
        "k8s-network-policy-disallow-allow-all",
    ),
    (
        "netpol-from-internet",
        edit(
            ":NetworkPolicy",
            "gateway-netpol-gateway-from-load-balancer",
            "spec.ingress.0.from",
            [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        ),
        "k8s-network-policy-disallow-allow-all",
    ),
    (
        "netpol-every-namespace",
        edit(":NetworkPolicy", "gateway-netpol-allow-dns", "spec.egress.0.to", [{"namespaceSelector": {}}]),
        "k8s-network-policy-disallow-allow-all",
    ),
    ("no-quota", remove(":ResourceQuota", "gateway-quota"), "k8s-namespace-require-resource-quota"),
    (
        "quota-without-pods",
        delete(":ResourceQuota", "gateway-quota", "spec.hard.pods"),
        "k8s-namespace-require-resource-quota",
    ),
    ("no-limit-range", remove(":LimitRange", "gateway-limits"), "k8s-namespace-require-limit-range"),
    (
        "limit-range-without-defaults",
        delete(":LimitRange", "gateway-limits", "spec.limits.0.default"),
        "k8s-namespace-require-limit-range",
    ),
    (
        "namespace-privileged",
        change(":Namespace", "gateway-ns", lambda p: p["metadata"]["labels"].update({PSA: "privileged"})),
        "k8s-namespace-require-pod-security-admission",
    ),
    (
        "namespace-no-psa",
        change(":Namespace", "gateway-ns", lambda p: p["metadata"]["labels"].pop(PSA)),
        "k8s-namespace-require-pod-security-admission",
    ),
    (
        "add-workload-in-default",
        add("kubernetes:apps/v1:Deployment", "extra", pod("Deployment", spec_with(), ns="default")),
        "k8s-workload-disallow-default-namespace",
    ),
    (
        "add-workload-in-kube-system",
        add("kubernetes:batch/v1:Job", "extra", pod("Job", spec_with(), ns="kube-system")),
        "k8s-workload-disallow-default-namespace",
    ),
    # Availability
    ("no-pdb", remove(":PodDisruptionBudget", "gateway-pdb"), "k8s-workload-require-pdb"),
    (
        "pdb-selects-nothing",
        edit(":PodDisruptionBudget", "gateway-pdb", "spec.selector.matchLabels", {"app": "other"}),
        "k8s-workload-require-pdb",
    ),
    (
        "redis-pdb-off",
        edit(":RedisReplication", "gateway-redis", "spec.pdb.enabled", False),
        "k8s-workload-require-pdb",
    ),
    (
        "pdb-keeps-all",
        edit(":PodDisruptionBudget", "gateway-pdb", "spec.minAvailable", "100%"),
        "k8s-pdb-require-hpa-consistency",
    ),
    (
        "pdb-max-unavailable-0",
        change(
            ":PodDisruptionBudget",
            "gateway-pdb",
            lambda p: (p["spec"].pop("minAvailable"), p["spec"].update(maxUnavailable=0)),
        ),
        "k8s-pdb-require-hpa-consistency",
    ),
    ("no-hpa", remove(":HorizontalPodAutoscaler", "gateway-hpa"), "k8s-workload-require-hpa"),
    ("hpa-min-1", edit(":HorizontalPodAutoscaler", "gateway-hpa", "spec.minReplicas", 1), "k8s-workload-require-hpa"),
    (
        "hpa-cannot-scale",
        change(
            ":HorizontalPodAutoscaler", "gateway-hpa", lambda p: put(p, "spec.maxReplicas", p["spec"]["minReplicas"])
        ),
        "k8s-workload-require-hpa",
    ),
    (
        "hpa-targets-other",
        edit(":HorizontalPodAutoscaler", "gateway-hpa", "spec.scaleTargetRef.name", "other"),
        "k8s-workload-require-hpa",
    ),
    (
        "rollout-not-spread",
        delete(":Rollout", "gateway-rollout", f"{ROLL}.affinity", f"{ROLL}.topologySpreadConstraints"),
        "k8s-workload-require-anti-affinity",
    ),
    (
        "redis-not-spread",
        delete(":RedisReplication", "gateway-redis", "spec.affinity", "spec.topologySpreadConstraints"),
        "k8s-workload-require-anti-affinity",
    ),
    ("no-service-monitor", remove(":ServiceMonitor", "gateway-servicemonitor"), "k8s-service-require-service-monitor"),
    (
        "service-monitor-misses",
        edit(":ServiceMonitor", "gateway-servicemonitor", "spec.selector.matchLabels", {"app.kubernetes.io/name": "x"}),
        "k8s-service-require-service-monitor",
    ),
    # Identities
    (
        "rollout-default-sa",
        delete(":Rollout", "gateway-rollout", f"{ROLL}.serviceAccountName"),
        "k8s-workload-require-dedicated-service-account",
    ),
    ("no-gateway-sa", remove(":ServiceAccount", "gateway-sa"), "k8s-workload-require-dedicated-service-account"),
    (
        "cronjob-default-sa",
        delete(":CronJob", "backups-redis-backup", f"{CJ}.serviceAccountName"),
        "k8s-workload-require-dedicated-service-account",
    ),
    (
        "backup-sa-mounts-token",
        delete(":ServiceAccount", "backups-sa", "automountServiceAccountToken"),
        "k8s-pod-disallow-unused-service-account-token",
    ),
    (
        "cronjob-pod-mounts-token",
        edit(":CronJob", "backups-redis-restore-drill", f"{CJ}.automountServiceAccountToken", True),
        "k8s-pod-disallow-unused-service-account-token",
    ),
    (
        "role-wildcard-verbs",
        edit(":Role", "gateway-role", "rules.0.verbs", ["*"]),
        "k8s-rbac-disallow-wildcard-permissions",
    ),
    (
        "role-wildcard-resources",
        edit(":Role", "gateway-role", "rules.0.resources", ["*"]),
        "k8s-rbac-disallow-wildcard-permissions",
    ),
    (
        "add-cluster-admin-binding",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "admin",
            {
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "admin"},
                "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "redis-gateway", "namespace": NS}],
            },
        ),
        "k8s-rbac-disallow-wildcard-permissions",
    ),
    (
        "role-reads-all-secrets",
        edit(
            ":Role", "gateway-role", "rules.0", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}
        ),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    (
        "role-escalate",
        edit(":Role", "gateway-role", "rules.0.verbs", ["get", "escalate"]),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    (
        "role-exec",
        edit(":Role", "gateway-role", "rules.0", {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    (
        "binding-anonymous",
        edit(":RoleBinding", "gateway-rolebinding", "subjects", [{"kind": "Group", "name": "system:unauthenticated"}]),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    (
        "add-cluster-role-impersonate",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "imp",
            {
                "kind": "ClusterRole",
                "metadata": {"name": "imp"},
                "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
            },
        ),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    ("no-redis-secret", remove(":Secret", "gateway-redis-auth"), "k8s-workload-require-declared-secrets"),
    (
        "cronjob-reads-missing-secret",
        change(":CronJob", "backups-redis-backup", _rename_secret_ref),
        "k8s-workload-require-declared-secrets",
    ),
    # Monitoring
    (
        "grafana-disabled",
        edit(":Release", "monitoring-kube-prometheus-stack", "values.grafana.enabled", False),
        "monitoring-stack-require-prometheus-grafana-alertmanager",
    ),
    (
        "alertmanager-no-receivers",
        delete(":Release", "monitoring-kube-prometheus-stack", "values.alertmanager.alertmanagerSpec.configSecret"),
        "monitoring-stack-require-prometheus-grafana-alertmanager",
    ),
    (
        "prometheus-retention-1d",
        edit(":Release", "monitoring-kube-prometheus-stack", "values.prometheus.prometheusSpec.retention", "1d"),
        "monitoring-stack-require-prometheus-grafana-alertmanager",
    ),
    (
        "no-monitoring-release",
        remove(":Release", "monitoring-kube-prometheus-stack"),
        "monitoring-stack-require-prometheus-grafana-alertmanager",
    ),
    (
        "alert-without-runbook",
        _alert(lambda r: r["annotations"].pop("runbook_url")),
        "monitoring-alert-require-runbook-url",
    ),
    (
        "alert-runbook-http",
        _alert(lambda r: r["annotations"].update(runbook_url="http://wiki/x")),
        "monitoring-alert-require-runbook-url",
    ),
    # Redis placement and capacity
    (
        "redis-no-tolerations",
        edit(":RedisReplication", "gateway-redis", "spec.tolerations", []),
        "redis-pods-require-redis-node-group",
    ),
    (
        "redis-no-node-selector",
        edit(":RedisReplication", "gateway-redis", "spec.nodeSelector", {}),
        "redis-pods-require-redis-node-group",
    ),
    (
        "redis-node-group-untainted",
        edit(":NodeGroup", "primary-redis", "taints", []),
        "redis-pods-require-redis-node-group",
    ),
    (
        "redis-nodes-spot",
        edit(":NodeGroup", "primary-redis", "capacityType", "SPOT"),
        "eks-node-group-require-stateful-capacity",
    ),
    (
        "redis-nodes-too-few",
        edit(":NodeGroup", "primary-redis", "scalingConfig.minSize", 2),
        "eks-node-group-require-stateful-capacity",
    ),
    (
        "redis-replicas-outgrow-nodes",
        edit(":RedisReplication", "gateway-redis", "spec.clusterSize", 5),
        "eks-node-group-require-stateful-capacity",
    ),
    # -- the guard's remaining holes -------------------------------------------------------------
    (
        "eks-deletion-protection-off",
        edit("eks:index:Cluster", "primary", "deletionProtection", False),
        "eks-cluster-require-deletion-protection",
    ),
    (
        "dr-eks-deletion-protection-removed",
        delete("eks:index:Cluster", "dr", "deletionProtection"),
        "eks-cluster-require-deletion-protection",
    ),
    # -- versions: node groups and add-ons follow their control plane ------------------------------
    ("dr-node-group-version-dropped", delete(":NodeGroup", "dr-redis", "version"), "eks-cluster-disallow-version-skew"),
    (
        "node-group-ahead-of-control-plane",
        edit(":NodeGroup", "primary-main", "version", f"1.{MINOR + 1}"),
        "eks-cluster-disallow-version-skew",
    ),
    (
        "kube-proxy-of-another-minor",
        edit("eks:index:Cluster", "primary", "kubeProxyAddonOptions.version", f"v1.{MINOR - 1}.0-eksbuild.1"),
        "eks-cluster-disallow-version-skew",
    ),
    ("dr-ebs-csi-unpinned", delete(":Addon", "dr-ebs-csi", "addonVersion"), "eks-cluster-disallow-version-skew"),
    ("no-nat-gateway-anywhere", remove_all(":NatGateway"), "ec2-vpc-require-nat-per-az"),
    (
        "nat-gateways-all-private",  # a private NAT reaches other networks, not the internet
        _all_nats(lambda p: p.update(connectivityType="private")),
        "ec2-vpc-require-nat-per-az",
    ),
    (
        "vault-lock-in-governance-mode",
        delete(":VaultLockConfiguration", "backups-vault-lock", "changeableForDays"),
        "backup-vault-require-lock",
    ),
    (
        "dr-vault-lock-in-governance-mode",
        delete(":VaultLockConfiguration", "backups-dr-vault-lock", "changeableForDays"),
        "backup-vault-require-lock",
    ),
    (
        "redis-replication-of-one",
        edit(":RedisReplication", "gateway-redis", "spec.clusterSize", 1),
        "redis-replication-require-two-replicas",
    ),
    (
        "dr-redis-replication-of-two",
        edit(":RedisReplication", "dr-gateway-redis", "spec.clusterSize", 2),
        "redis-replication-require-two-replicas",
    ),
    (
        "sentinel-two-quorum-two",
        change(":RedisSentinel", "gateway-sentinel", _sentinel(2, 2)),
        "redis-sentinel-require-surviving-quorum",
    ),
    (
        "sentinel-three-quorum-three",
        change(":RedisSentinel", "gateway-sentinel", _sentinel(3, 3)),
        "redis-sentinel-require-surviving-quorum",
    ),
    (
        "sentinel-quorum-zero",
        change(":RedisSentinel", "gateway-sentinel", _sentinel(3, 0)),
        "redis-sentinel-require-surviving-quorum",
    ),
    (
        "dr-sentinel-manifest-of-one",
        change(":ConfigMap", "dr-gateway-dr-sentinel", _dr_sentinel(1, 1)),
        "redis-sentinel-require-surviving-quorum",
    ),
    # Backups in the cluster
    (
        "backup-daily",
        edit(":CronJob", "backups-redis-backup", "spec.schedule", "0 3 * * *"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    (
        "backup-first-of-month",
        edit(":CronJob", "backups-redis-backup", "spec.schedule", "*/15 * 1 * *"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    (
        "backup-weekdays-only",
        edit(":CronJob", "backups-redis-backup", "spec.schedule", "*/15 * * * 1-5"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    (
        "backup-invalid-schedule",
        edit(":CronJob", "backups-redis-backup", "spec.schedule", "*/15 * * *"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    (
        "backup-concurrent",
        edit(":CronJob", "backups-redis-backup", "spec.concurrencyPolicy", "Allow"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    ("backup-no-claim", remove(":PersistentVolumeClaim", "backups-spool"), "k8s-backup-require-cronjob-and-storage"),
    (
        "backup-other-claim",
        edit(":CronJob", "backups-redis-backup", f"{CJ}.volumes.0.persistentVolumeClaim.claimName", "other"),
        "k8s-backup-require-cronjob-and-storage",
    ),
    ("no-backup-cronjob", remove(":CronJob", "backups-redis-backup"), "k8s-backup-require-cronjob-and-storage"),
    (
        "backup-suspended",
        edit(":CronJob", "backups-redis-backup", "spec.suspend", True),
        "k8s-cronjob-require-schedule-that-runs",
    ),
    (
        "drill-suspended",
        edit(":CronJob", "backups-redis-restore-drill", "spec.suspend", True),
        "k8s-cronjob-require-schedule-that-runs",
    ),
    (
        "drill-never-fires",
        edit(":CronJob", "backups-redis-restore-drill", "spec.schedule", "0 0 31 2 *"),
        "k8s-cronjob-require-schedule-that-runs",
    ),
    (
        "backup-no-deadline",
        delete(":CronJob", "backups-redis-backup", "spec.jobTemplate.spec.activeDeadlineSeconds"),
        "k8s-cronjob-require-schedule-that-runs",
    ),
    # Progressive delivery
    (
        "analysis-lax-success",
        edit(
            ":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.successCondition", "result[0] >= 0.5"
        ),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-lax-latency",
        edit(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.1.successCondition", "result[0] <= 5"),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-cannot-fail",
        edit(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.failureLimit", 5),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-dry-run",
        edit(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.dryRun", True),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-no-condition",
        delete(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.successCondition"),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-always-true",
        edit(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.successCondition", "true"),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "analysis-no-metrics",
        edit(":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics", []),
        "argo-analysis-require-failable-slo-thresholds",
    ),
    (
        "rollout-no-pre-analysis",
        delete(":Rollout", "gateway-rollout", "spec.strategy.blueGreen.prePromotionAnalysis"),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-no-post-analysis",
        delete(":Rollout", "gateway-rollout", "spec.strategy.blueGreen.postPromotionAnalysis"),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-instant-scale-down",
        edit(":Rollout", "gateway-rollout", "spec.strategy.blueGreen.scaleDownDelaySeconds", 0),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-no-wait-for",
        change(":Rollout", "gateway-rollout", lambda p: p["metadata"]["annotations"].pop("pulumi.com/waitFor")),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-unknown-template",
        edit(
            ":Rollout",
            "gateway-rollout",
            "spec.strategy.blueGreen.prePromotionAnalysis.templates.0.templateName",
            "missing",
        ),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-canary-jumps",
        edit(
            ":Rollout",
            "gateway-rollout",
            "spec.strategy",
            {
                "canary": {
                    "steps": [{"setWeight": 50}, {"pause": {"duration": "1m"}}, {"setWeight": 10}],
                    "analysis": {"templates": [{"templateName": "gateway-slo"}]},
                }
            },
        ),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-canary-unanalysed",
        edit(":Rollout", "gateway-rollout", "spec.strategy", {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-rolling-unanalysed",
        edit(":Rollout", "gateway-rollout", "spec.strategy", {"canary": {"maxSurge": "25%", "maxUnavailable": 0}}),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "rollout-rolling-all-down",
        edit(
            ":Rollout",
            "gateway-rollout",
            "spec.strategy",
            {"canary": {"maxUnavailable": "100%", "analysis": {"templates": [{"templateName": "gateway-slo"}]}}},
        ),
        "argo-rollout-require-bounded-strategy",
    ),
    (
        "quota-too-small-for-blue-green",
        edit(":ResourceQuota", "gateway-quota", "spec.hard.pods", "30"),
        "k8s-namespace-require-quota-for-rollout",
    ),
    (
        "quota-cpu-too-small-for-blue-green",
        change(":ResourceQuota", "gateway-quota", lambda p: p["spec"]["hard"].update({"limits.cpu": "20000m"})),
        "k8s-namespace-require-quota-for-rollout",
    ),
    (
        "hpa-max-beyond-the-quota",
        edit(":HorizontalPodAutoscaler", "gateway-hpa", "spec.maxReplicas", 40),
        "k8s-namespace-require-quota-for-rollout",
    ),
    (
        "main-nodes-cannot-hold-the-rollout",
        edit(":NodeGroup", "primary-main", "scalingConfig.maxSize", 2),
        "eks-node-group-require-capacity-for-rollout",
    ),
    (
        "redis-nodes-cannot-hold-redis",
        edit(":NodeGroup", "primary-redis", "scalingConfig.maxSize", 1),
        "eks-node-group-require-capacity-for-rollout",
    ),
    (
        "main-nodes-too-small",
        edit(":NodeGroup", "primary-main", "instanceTypes", ["t3.medium"]),
        "eks-node-group-require-capacity-for-rollout",
    ),
    (
        "codebuild-privileged",
        edit(":Project", "ci-deploy", "environment.privilegedMode", True),
        "codebuild-project-require-hardening",
    ),
    (
        "codebuild-plaintext-token",
        edit(":Project", "ci-deploy", "environment.environmentVariables", [{"name": "GITHUB_TOKEN", "value": "x"}]),
        "codebuild-project-require-hardening",
    ),
    (
        "codebuild-source-with-credentials",
        edit(":Project", "ci-preview", "source.location", "https://user:token@github.com/o/r.git"),
        "codebuild-project-require-hardening",
    ),
    (
        "codebuild-no-logs",
        edit(":Project", "ci-deploy", "logsConfig.cloudwatchLogs.status", "DISABLED"),
        "codebuild-project-require-hardening",
    ),
    (
        "codebuild-outside-the-vpc",
        delete(":Project", "ci-deploy", "vpcConfig"),
        "codebuild-project-require-hardening",
    ),
    (
        "configmap-holds-a-password",
        change(":ConfigMap", "gateway-config", lambda p: p["data"].update(REDIS_PASSWORD="hunter2")),
        "k8s-configmap-disallow-secrets",
    ),
    (
        "configmap-holds-a-slack-webhook",
        change(
            ":ConfigMap", "gateway-config", lambda p: p["data"].update(ALERTS="https://hooks.slack.com/services/T/B/x")
        ),
        "k8s-configmap-disallow-secrets",
    ),
    (
        "redis-without-password",
        delete(":RedisReplication", "gateway-redis", "spec.kubernetesConfig.redisSecret"),
        "redis-require-auth-persistence-and-metrics",
    ),
    (
        "redis-without-volumes",
        delete(":RedisReplication", "gateway-redis", "spec.storage"),
        "redis-require-auth-persistence-and-metrics",
    ),
    (
        "redis-volumes-deleted-with-it",
        change(
            ":RedisReplication",
            "gateway-redis",
            lambda p: (
                p["spec"]["storage"].update(keepAfterDelete=False),
                p["spec"]["storage"]["volumeClaimTemplate"]["spec"].update(storageClassName="gp2"),
            ),
        ),
        "redis-require-auth-persistence-and-metrics",
    ),
    (
        "redis-without-exporter",
        edit(":RedisReplication", "gateway-redis", "spec.redisExporter.enabled", False),
        "redis-require-auth-persistence-and-metrics",
    ),
    (
        "helm-chart-floating",
        delete(":Release", "gateway-argo-rollouts", "version"),
        "helm-release-require-pinned-chart",
    ),
    (
        "helm-chart-range",
        edit(":Release", "gateway-redis-operator", "version", "^0.25"),
        "helm-release-require-pinned-chart",
    ),
    (
        "helm-chart-plain-http-repo",
        edit(":Release", "primary-autoscaler", "repositoryOpts.repo", "http://kubernetes.github.io/autoscaler"),
        "helm-release-require-pinned-chart",
    ),
    (
        "backup-alert-waits-an-hour",
        _alert_named("RedisBackupTooOld", lambda r: r.update(expr=r["expr"].rsplit(">", 1)[0] + "> 3600")),
        "monitoring-alert-require-backup-age-within-rpo",
    ),
    (
        "backup-alert-fires-between-runs",
        _alert_named("RedisBackupTooOld", lambda r: r.update(expr=r["expr"].rsplit(">", 1)[0] + "> 600")),
        "monitoring-alert-require-backup-age-within-rpo",
    ),
    (
        "backup-alert-removed",
        change(
            ":PrometheusRule",
            "monitoring-rules",
            lambda p: [
                g.update(rules=[r for r in g["rules"] if r.get("alert") != "RedisBackupTooOld"])
                for g in p["spec"]["groups"]
            ],
        ),
        "monitoring-alert-require-backup-age-within-rpo",
    ),
    (
        "backup-alert-long-for",
        _alert_named("RedisBackupTooOld", lambda r: r.update({"for": "1h"})),
        "monitoring-alert-require-backup-age-within-rpo",
    ),
    (
        "rollout-no-strategy",
        edit(":Rollout", "gateway-rollout", "spec.strategy", {}),
        "argo-rollout-require-bounded-strategy",
    ),
    # Deletion protection
    ("redis-unprotected", unprotect(":RedisReplication", "gateway-redis"), "pulumi-stateful-resource-require-protect"),
    ("bucket-unprotected", unprotect(":Bucket", "backups-bucket"), "pulumi-stateful-resource-require-protect"),
    ("cluster-unprotected", unprotect("eks:index:Cluster", "primary"), "pulumi-stateful-resource-require-protect"),
    ("key-unprotected", unprotect(":Key", "backups-key"), "pulumi-stateful-resource-require-protect"),
    ("vault-unprotected", unprotect(":Vault", "backups-vault"), "pulumi-stateful-resource-require-protect"),
    # The edge
    ("ingress-no-certificate", _annotation("certificate-arn", None), "alb-ingress-require-https"),
    ("ingress-http-only", _annotation("listen-ports", '[{"HTTP": 80}]'), "alb-ingress-require-https"),
    ("ingress-no-redirect", _annotation("ssl-redirect", None), "alb-ingress-require-https"),
    (
        "ingress-legacy-tls",
        _annotation("ssl-policy", "ELBSecurityPolicy-2016-08"),
        "elb-listener-require-modern-tls-policy",
    ),
    ("ingress-default-tls", _annotation("ssl-policy", None), "elb-listener-require-modern-tls-policy"),
    ("ingress-no-waf", _annotation("wafv2-acl-arn", None), "alb-ingress-require-waf"),
    (
        "ingress-nginx-class",
        edit(":Ingress", "gateway-ingress", "spec.ingressClassName", "nginx"),
        "k8s-ingress-require-alb-class",
    ),
    (
        "ingress-legacy-class-annotation",
        change(
            ":Ingress",
            "gateway-ingress",
            lambda p: (
                p["spec"].pop("ingressClassName"),
                p["metadata"]["annotations"].update({"kubernetes.io/ingress.class": "nginx"}),
            ),
        ),
        "k8s-ingress-require-alb-class",
    ),
    (
        "ingress-no-access-logs",
        _attribute("access_logs.s3.enabled", "false"),
        "elb-load-balancer-require-logs-and-header-hygiene",
    ),
    (
        "ingress-invalid-headers",
        _attribute("routing.http.drop_invalid_header_fields.enabled", "false"),
        "elb-load-balancer-require-logs-and-header-hygiene",
    ),
    (
        "ingress-deletable",
        _attribute("deletion_protection.enabled", "false"),
        "elb-load-balancer-require-logs-and-header-hygiene",
    ),
    (
        "add-traefik-ingress",
        add(
            "kubernetes:networking.k8s.io/v1:Ingress",
            "side-door",
            {
                "kind": "Ingress",
                "metadata": {"name": "side-door", "namespace": NS},
                "spec": {"ingressClassName": "traefik", "rules": []},
            },
        ),
        "k8s-ingress-require-alb-class",
    ),
    (
        "service-node-port",
        edit(":Service", "gateway-svc", "spec.type", "NodePort"),
        "k8s-service-disallow-external-exposure",
    ),
    (
        "service-public-lb",
        edit(":Service", "gateway-svc", "spec.type", "LoadBalancer"),
        "k8s-service-disallow-external-exposure",
    ),
    (
        "service-external-ips",
        edit(":Service", "gateway-svc-preview", "spec.externalIPs", ["203.0.113.7"]),
        "k8s-service-disallow-external-exposure",
    ),
    (
        "waf-rate-limit-unreachable",
        edit(":WebAcl", "gateway-waf", "rules.0.statement.rateBasedStatement.limit", 2_000_000_000),
        "wafv2-web-acl-require-rate-limit",
    ),
    (
        "waf-no-rate-rule",
        change(":WebAcl", "gateway-waf", lambda p: p.update(rules=p["rules"][1:])),
        "wafv2-web-acl-require-rate-limit",
    ),
    (
        "waf-rate-rule-counts",
        edit(":WebAcl", "gateway-waf", "rules.0.action", {"count": {}}),
        "wafv2-web-acl-require-rate-limit",
    ),
    (
        "waf-no-metrics",
        edit(":WebAcl", "gateway-waf", "visibilityConfig.cloudwatchMetricsEnabled", False),
        "wafv2-web-acl-require-rate-limit",
    ),
    ("waf-no-logging", remove(":WebAclLoggingConfiguration", "gateway-waf-logging"), "wafv2-web-acl-require-logging"),
    (
        "add-http-forward-listener",
        add(
            "aws:lb/listener:Listener",
            "http",
            {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward", "targetGroupArn": "arn"}]},
        ),
        "alb-ingress-require-https",
    ),
    (
        "add-legacy-tls-listener",
        add(
            "aws:alb/listener:Listener",
            "https",
            {
                "protocol": "HTTPS",
                "port": 443,
                "sslPolicy": "ELBSecurityPolicy-TLS-1-0-2015-04",
                "certificateArn": "arn",
            },
        ),
        "elb-listener-require-modern-tls-policy",
    ),
    (
        "add-unlogged-load-balancer",
        add("aws:lb/loadBalancer:LoadBalancer", "alb", {"loadBalancerType": "application", "internal": False}),
        "elb-load-balancer-require-logs-and-header-hygiene",
    ),
    # S3
    (
        "bucket-versioning-suspended",
        edit(":BucketVersioning", "backups-bucket", "versioningConfiguration.status", "Suspended"),
        "s3-bucket-require-versioning",
    ),
    ("bucket-no-versioning", remove(":BucketVersioning", "backups-replica"), "s3-bucket-require-versioning"),
    (
        "bucket-sse-s3",
        edit(
            ":BucketServerSideEncryptionConfiguration",
            "backups-bucket",
            "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm",
            "AES256",
        ),
        "s3-bucket-require-kms-encryption",
    ),
    (
        "bucket-no-encryption-config",
        remove(":BucketServerSideEncryptionConfiguration", "backups-replica"),
        "s3-bucket-require-kms-encryption",
    ),
    (
        "bucket-public-policy-allowed",
        edit(":BucketPublicAccessBlock", "backups-bucket", "blockPublicPolicy", False),
        "s3-bucket-require-public-access-block",
    ),
    (
        "bucket-no-public-access-block",
        remove(":BucketPublicAccessBlock", "gateway-alb-logs"),
        "s3-bucket-require-public-access-block",
    ),
    (
        "bucket-policy-allows-http",
        edit(":BucketPolicy", "backups-bucket", "policy", policy_doc()),
        "s3-bucket-require-tls-only-policy",
    ),
    (
        "bucket-policy-public-read",
        json_edit(
            ":BucketPolicy",
            "backups-bucket",
            "policy",
            lambda d: d["Statement"].append(
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
            ),
        ),
        "s3-bucket-disallow-public-grants",
    ),
    (
        "add-public-acl-v2",
        add(
            "aws:s3/bucketAclV2:BucketAclV2",
            "public",
            {"acl": "public-read"},
            {"bucket": (":Bucket", "backups-bucket")},
        ),
        "s3-bucket-disallow-public-grants",
    ),
    ("add-bucket-v2-bare", add("aws:s3/bucketV2:BucketV2", "bare", {}), "s3-bucket-require-versioning"),
    (
        "add-bucket-inline-public-acl",
        add("aws:s3/bucket:Bucket", "inline", {"acl": "public-read-write"}),
        "s3-bucket-disallow-public-grants",
    ),
    (
        "add-bucket-v2-sse-s3-inline",
        add(
            "aws:s3/bucketV2:BucketV2",
            "inline-sse",
            {
                "serverSideEncryptionConfigurations": [
                    {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}
                ]
            },
        ),
        "s3-bucket-require-kms-encryption",
    ),
    (
        "bucket-short-lock",
        edit(":BucketObjectLockConfiguration", "backups-bucket", "rule.defaultRetention.days", 1),
        "s3-bucket-require-object-lock",
    ),
    ("bucket-no-lock", edit(":Bucket", "backups-replica", "objectLockEnabled", False), "s3-bucket-require-object-lock"),
    (
        "bucket-not-replicated",
        remove(":BucketReplicationConfig", "backups-replication"),
        "s3-bucket-require-cross-region-replication",
    ),
    (
        "bucket-replication-disabled",
        edit(":BucketReplicationConfig", "backups-replication", "rules.0.status", "Disabled"),
        "s3-bucket-require-cross-region-replication",
    ),
    # KMS
    ("key-no-rotation", edit(":Key", "backups-key", "enableKeyRotation", False), "kms-key-require-rotation"),
    (
        "key-short-deletion-window",
        edit(":Key", "primary-secrets", "deletionWindowInDays", 7),
        "kms-key-require-rotation",
    ),
    (
        "key-policy-public",
        json_edit(
            ":Key",
            "primary-logs",
            "policy",
            lambda d: d["Statement"].append(
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
            ),
        ),
        "kms-key-disallow-public-policy",
    ),
    (
        "add-public-key-policy",
        add(
            "aws:kms/keyPolicy:KeyPolicy",
            "open",
            {
                "keyId": "k",
                "policy": policy_doc({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}),
            },
        ),
        "kms-key-disallow-public-policy",
    ),
    (
        "add-replica-key-no-rotation",
        add("aws:kms/replicaKey:ReplicaKey", "replica", {"deletionWindowInDays": 3}),
        "kms-key-require-rotation",
    ),
    # CloudWatch Logs, volumes
    (
        "log-group-unencrypted",
        delete(":LogGroup", "primary-control-plane", "kmsKeyId"),
        "cloudwatch-log-group-require-encryption-and-retention",
    ),
    (
        "log-group-short-retention",
        edit(":LogGroup", "primary-flow-logs", "retentionInDays", 30),
        "cloudwatch-log-group-require-encryption-and-retention",
    ),
    (
        "log-group-never-expires",
        delete(":LogGroup", "gateway-waf-logs", "retentionInDays"),
        "cloudwatch-log-group-require-encryption-and-retention",
    ),
    (
        "log-group-invalid-retention",
        edit(":LogGroup", "primary-flow-logs", "retentionInDays", 366),
        "cloudwatch-log-group-require-encryption-and-retention",
    ),
    (
        "add-log-group-plain",
        add("aws:cloudwatch/logGroup:LogGroup", "plain", {"name": "/app/plain", "retentionInDays": 400}),
        "cloudwatch-log-group-require-encryption-and-retention",
    ),
    (
        "storage-class-unencrypted",
        edit(":StorageClass", "primary-gp3-encrypted", "parameters.encrypted", "false"),
        "ec2-volume-require-encryption",
    ),
    (
        "launch-template-unencrypted",
        edit(":LaunchTemplate", "primary-redis", "blockDeviceMappings.0.ebs.encrypted", "false"),
        "ec2-volume-require-encryption",
    ),
    (
        "add-unencrypted-volume",
        add("aws:ebs/volume:Volume", "data", {"availabilityZone": "eu-west-1a", "size": 100}),
        "ec2-volume-require-encryption",
    ),
    (
        "add-instance-plain-root",
        add(
            "aws:ec2/instance:Instance",
            "bastion",
            {"ami": "ami-1", "instanceType": "t3.micro", "rootBlockDevice": {"volumeSize": 8}},
        ),
        "ec2-volume-require-encryption",
    ),
    (
        "add-legacy-storage-class",
        add(
            "kubernetes:storage.k8s.io/v1:StorageClass",
            "gp2",
            {
                "kind": "StorageClass",
                "metadata": {"name": "gp2"},
                "provisioner": "kubernetes.io/aws-ebs",
                "parameters": {"type": "gp2"},
            },
        ),
        "ec2-volume-require-encryption",
    ),
    # AWS Backup
    ("vault-unlocked", remove(":VaultLockConfiguration", "backups-vault-lock"), "backup-vault-require-lock"),
    (
        "vault-lock-1-day",
        edit(":VaultLockConfiguration", "backups-dr-vault-lock", "minRetentionDays", 1),
        "backup-vault-require-lock",
    ),
    ("vault-aws-owned-key", delete(":Vault", "backups-vault", "kmsKeyArn"), "backup-vault-require-lock"),
    (
        "plan-keeps-1-day",
        edit(":Plan", "backups-plan", "rules.0.lifecycle.deleteAfter", 1),
        "backup-plan-require-schedule-retention-and-copy",
    ),
    (
        "plan-no-copy",
        delete(":Plan", "backups-plan", "rules.0.copyActions"),
        "backup-plan-require-schedule-retention-and-copy",
    ),
    ("plan-no-rules", edit(":Plan", "backups-plan", "rules", []), "backup-plan-require-schedule-retention-and-copy"),
    (
        "plan-no-schedule",
        delete(":Plan", "backups-plan", "rules.0.schedule"),
        "backup-plan-require-schedule-retention-and-copy",
    ),
    (
        "plan-selects-nothing",
        remove(":Selection", "backups-redis-volumes"),
        "backup-plan-require-schedule-retention-and-copy",
    ),
    # IAM
    (
        "role-policy-star",
        json_edit(":RolePolicy", "backups-job-inline", "policy", lambda d: _statement(d, Action="*")),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "role-policy-s3-star",
        json_edit(":RolePolicy", "backups-job-inline", "policy", lambda d: _statement(d, Action=["s3:*"])),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "role-policy-not-action",
        json_edit(
            ":RolePolicy",
            "primary-autoscaler-inline",
            "policy",
            lambda d: (d["Statement"][0].pop("Action"), _statement(d, NotAction="iam:*")),
        ),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "add-pass-any-role",
        add(
            "aws:iam/policy:Policy",
            "deployer",
            {"policy": policy_doc({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})},
        ),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "role-inline-star",
        edit(
            ":Role",
            "backups-job",
            "inlinePolicies",
            [{"name": "x", "policy": policy_doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}],
        ),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "add-user-policy-star",
        add(
            "aws:iam/userPolicy:UserPolicy",
            "ci",
            {"user": "ci", "policy": policy_doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})},
        ),
        "iam-policy-disallow-wildcard-actions",
    ),
    (
        "add-admin-attachment",
        add(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "admin",
            {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        "iam-role-disallow-admin-policies",
    ),
    (
        "role-managed-power-user",
        edit(":Role", "primary-nodes", "managedPolicyArns", ["arn:aws:iam::aws:policy/PowerUserAccess"]),
        "iam-role-disallow-admin-policies",
    ),
    (
        "trust-anyone",
        json_edit(":Role", "primary-nodes", "assumeRolePolicy", lambda d: _statement(d, Principal={"AWS": "*"})),
        "iam-role-require-trust-conditions",
    ),
    (
        "irsa-no-subject",
        _trust(lambda s: _drop_key(s["Condition"]["StringEquals"], ":sub")),
        "iam-role-require-trust-conditions",
    ),
    (
        "irsa-any-subject",
        _trust(lambda s: s["Condition"].update(StringLike={f"{OIDC_KEY}:sub": "system:serviceaccount:*"})),
        "iam-role-require-trust-conditions",
    ),
    (
        "irsa-no-audience",
        _trust(lambda s: _drop_key(s["Condition"]["StringEquals"], ":aud")),
        "iam-role-require-trust-conditions",
    ),
    ("irsa-no-condition", _trust(lambda s: s.pop("Condition")), "iam-role-require-trust-conditions"),
    (
        "add-github-oidc-any-repo",
        add(
            "aws:iam/role:Role",
            "gha",
            {
                "assumeRolePolicy": policy_doc(
                    {
                        "Effect": "Allow",
                        "Principal": {
                            "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                        },
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
                    }
                )
            },
        ),
        "iam-role-require-trust-conditions",
    ),
    # EKS
    (
        "eks-public-endpoint",
        edit("eks:index:Cluster", "primary", "endpointPublicAccess", True),
        "eks-cluster-disallow-public-endpoint",
    ),
    (
        "eks-public-endpoint-by-default",
        delete("eks:index:Cluster", "primary", "endpointPublicAccess"),
        "eks-cluster-disallow-public-endpoint",
    ),
    (
        "eks-secrets-unencrypted",
        delete("eks:index:Cluster", "primary", "encryptionConfigKeyArn"),
        "eks-cluster-require-secrets-encryption",
    ),
    (
        "eks-api-logs-only",
        edit("eks:index:Cluster", "primary", "enabledClusterLogTypes", ["api"]),
        "eks-cluster-require-control-plane-logs",
    ),
    (
        "eks-no-oidc",
        edit("eks:index:Cluster", "primary", "createOidcProvider", False),
        "eks-cluster-require-oidc-provider",
    ),
    (
        "eks-config-map-auth",
        edit("eks:index:Cluster", "primary", "authenticationMode", "CONFIG_MAP"),
        "eks-cluster-require-access-entries",
    ),
    (
        "eks-old-version",
        edit("eks:index:Cluster", "primary", "version", "1.28"),
        "eks-cluster-require-supported-version",
    ),
    (
        "add-aws-cluster-v7-shape-unencrypted",
        add(
            "aws:eks/cluster:Cluster",
            "raw",
            {
                "version": "1.34",
                "vpcConfig": {"endpointPublicAccess": False},
                "encryptionConfig": {
                    "resources": ["configmaps"],
                    "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"},
                },
                "enabledClusterLogTypes": ["api", "audit", "authenticator"],
                "accessConfig": {"authenticationMode": "API"},
            },
        ),
        "eks-cluster-require-secrets-encryption",
    ),
    (
        "add-aws-cluster-public",
        add(
            "aws:eks/cluster:Cluster",
            "raw",
            {"version": "1.34", "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
        ),
        "eks-cluster-disallow-public-endpoint",
    ),
    (
        "imds-v1",
        edit(":LaunchTemplate", "primary-main", "metadataOptions.httpTokens", "optional"),
        "ec2-launch-template-require-imdsv2",
    ),
    (
        "imds-hop-2",
        edit(":LaunchTemplate", "primary-redis", "metadataOptions.httpPutResponseHopLimit", 2),
        "ec2-launch-template-require-imdsv2",
    ),
    (
        "node-group-ssh",
        edit(":NodeGroup", "primary-main", "remoteAccess", {"ec2SshKey": "ops"}),
        "eks-node-group-disallow-ssh",
    ),
    (
        "launch-template-key-pair",
        edit(":LaunchTemplate", "primary-main", "keyName", "ops"),
        "eks-node-group-disallow-ssh",
    ),
    (
        "node-group-no-template",
        delete(":NodeGroup", "primary-main", "launchTemplate"),
        "eks-node-group-require-launch-template",
    ),
    (
        "eks-cni-no-network-policy",
        edit("eks:index:Cluster", "primary", "vpcCniOptions.enableNetworkPolicy", False),
        "eks-cluster-require-network-policy-enforcement",
    ),
    (
        "add-vpc-cni-addon-without-policy",
        add(
            "aws:eks/addon:Addon",
            "vpc-cni",
            {"addonName": "vpc-cni", "configurationValues": '{"enableNetworkPolicy": "false"}'},
        ),
        "eks-cluster-require-network-policy-enforcement",
    ),
    (
        "add-cluster-role-creates-pods",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "deployer",
            {
                "kind": "ClusterRole",
                "metadata": {"name": "deployer"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}],
            },
        ),
        "k8s-rbac-disallow-privilege-escalation",
    ),
    (
        "ingress-desync-monitor",
        _attribute("routing.http.desync_mitigation_mode", "monitor"),
        "elb-load-balancer-require-logs-and-header-hygiene",
    ),
    (
        "waf-rule-without-metrics",
        edit(":WebAcl", "gateway-waf", "rules.1.visibilityConfig.cloudwatchMetricsEnabled", False),
        "wafv2-web-acl-require-rate-limit",
    ),
    (
        "replica-never-expires",
        remove(":BucketLifecycleConfiguration", "backups-replica-lifecycle"),
        "s3-bucket-require-lifecycle",
    ),
    (
        "alb-logs-lifecycle-disabled",
        edit(":BucketLifecycleConfiguration", "gateway-alb-logs-lifecycle", "rules.0.status", "Disabled"),
        "s3-bucket-require-lifecycle",
    ),
    # Network
    ("no-flow-log", remove(":FlowLog", "primary-flow-logs"), "ec2-vpc-require-flow-logs"),
    ("one-nat-gone", remove(":NatGateway", "primary-nat-eu-west-1b"), "ec2-vpc-require-nat-per-az"),
    (
        "default-sg-open",
        edit(
            ":DefaultSecurityGroup",
            "primary-default-sg",
            "ingress",
            [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
        ),
        "ec2-default-security-group-restrict-all",
    ),
    (
        "subnet-public-ips",
        edit(":Subnet", "primary-public-eu-west-1a", "mapPublicIpOnLaunch", True),
        "ec2-subnet-disallow-public-ip-on-launch",
    ),
    (
        "add-sg-redis-to-world",
        add("aws:ec2/securityGroup:SecurityGroup", "redis", OPEN_SG),
        "ec2-security-group-disallow-open-ingress",
    ),
    (
        "add-sg-rule-ssh-to-world",
        add(
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            "ssh",
            {
                "type": "ingress",
                "protocol": "tcp",
                "fromPort": 22,
                "toPort": 22,
                "cidrBlocks": ["0.0.0.0/0"],
                "securityGroupId": "sg-1",
            },
        ),
        "ec2-security-group-disallow-open-ingress",
    ),
    (
        "add-vpc-ingress-rule-ipv6-all",
        add(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "all6",
            {"ipProtocol": "-1", "cidrIpv6": "::/0", "securityGroupId": "sg-1"},
        ),
        "ec2-security-group-disallow-open-ingress",
    ),
    # -- SLO burn-rate alerts -----------------------------------------------------------------------
    ("fast-burn-factor-too-high", _named_alert("GatewayErrorBudgetFastBurn", _expr("14.4", "30")), SLO_BURN),
    ("fast-burn-window-too-long", _named_alert("GatewayErrorBudgetFastBurn", _expr("rate1h", "rate6h")), SLO_BURN),
    (
        "fast-burn-only-a-warning",
        _named_alert("GatewayErrorBudgetFastBurn", lambda r: r["labels"].update(severity="warning")),
        SLO_BURN,
    ),
    (
        "fast-burn-waits-too-long",
        _named_alert("GatewayErrorBudgetFastBurn", lambda r: r.update({"for": "30m"})),
        SLO_BURN,
    ),
    ("slow-burn-on-another-budget", _named_alert("GatewayErrorBudgetSlowBurn", _expr("0.001", "0.01")), SLO_BURN),
    (
        "slow-burn-windows-disagree",
        _named_alert("GatewayErrorBudgetSlowBurn", lambda r: r.update(expr=r["expr"].replace("(6 *", "(12 *", 1))),
        SLO_BURN,
    ),
    (
        "slow-burn-removed",
        _named_alert("GatewayErrorBudgetSlowBurn", lambda r: r.update(expr="vector(0) > 1")),
        SLO_BURN,
    ),
    # -- capacity: the declared peak -----------------------------------------------------------------
    (
        "declared-peak-beyond-the-gateway",
        change(":ConfigMap", "gateway-capacity", lambda p: _capacity(p, peak_rps=10_000)),
        "capacity-require-declared-peak",
    ),
    (
        "declared-keys-beyond-maxmemory",
        change(":ConfigMap", "gateway-capacity", lambda p: _capacity(p, keys=50_000_000)),
        "capacity-require-declared-peak",
    ),
    (
        "hpa-max-below-the-peak",
        edit(":HorizontalPodAutoscaler", "gateway-hpa", "spec.maxReplicas", 6),
        "capacity-require-declared-peak",
    ),
    (
        "redis-memory-below-the-dataset",
        edit(":RedisReplication", "gateway-redis", "spec.kubernetesConfig.resources.limits.memory", "2Gi"),
        "capacity-require-declared-peak",
    ),
    (
        "capacity-record-broken",
        edit(":ConfigMap", "gateway-capacity", "data", {"capacity.json": "{}"}),
        "capacity-require-declared-peak",
    ),
    (
        "drill-memory-below-the-dataset",
        change(":CronJob", "backups-redis-restore-drill", lambda p: _job_memory(p, "512Mi")),
        "capacity-require-declared-peak",
    ),
    (
        "dr-drill-memory-below-the-dataset",
        change(":CronJob", "dr-backups-redis-restore-drill", lambda p: _job_memory(p, "1Gi")),
        "capacity-require-declared-peak",
    ),
    (
        "drill-memory-in-millibytes",  # 268435456000m is 256Mi to Kubernetes
        change(":CronJob", "backups-redis-restore-drill", lambda p: _job_memory(p, "268435456000m")),
        "capacity-require-declared-peak",
    ),
    (
        "drill-memory-that-does-not-parse",
        change(":CronJob", "backups-redis-restore-drill", lambda p: _job_memory(p, "lots")),
        "capacity-require-declared-peak",
    ),
    (
        "drill-pod-beyond-a-node",
        change(":CronJob", "backups-redis-restore-drill", lambda p: _job_memory(p, "64Gi")),
        "capacity-require-declared-peak",
    ),
    (
        "backup-job-memory-below-its-process",
        change(":CronJob", "backups-redis-backup", lambda p: _job_memory(p, "128Mi")),
        "capacity-require-declared-peak",
    ),
    (
        "drill-without-a-memory-limit",
        change(":CronJob", "backups-redis-restore-drill", lambda p: _job_memory(p, None)),
        "capacity-require-declared-peak",
    ),
    # -- replication sized by the plan ------------------------------------------------------------
    (
        "redis-backlog-cut-to-1mb",
        _redis_conf("gateway-redis-config", "repl-backlog-size", "1mb"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "dr-redis-backlog-cut-to-1mb",
        _redis_conf("dr-gateway-redis-config", "repl-backlog-size", "1mb"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-backlog-removed",
        _redis_conf("gateway-redis-config", "repl-backlog-size", None),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-backlog-overridden-by-a-later-line",
        _redis_conf("gateway-redis-config", "repl-backlog-size", "1048576", append=True),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-backlog-just-below-the-need",
        _redis_conf("gateway-redis-config", "repl-backlog-size", "128mb"),  # the need is 128.5 MiB
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-backlog-garbage",
        _redis_conf("gateway-redis-config", "repl-backlog-size", "-512mb"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-repl-timeout-removed",
        _redis_conf("dr-gateway-redis-config", "repl-timeout", None),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-repl-timeout-at-the-rpo",
        _redis_conf("gateway-redis-config", "repl-timeout", "60"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-ping-period-at-the-timeout",
        _redis_conf("gateway-redis-config", "repl-ping-replica-period", "15"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "redis-tier-reads-no-configuration",
        delete(":RedisReplication", "gateway-redis", "spec.redisConfig.additionalRedisConfig"),
        "redis-replication-require-sized-backlog",
    ),
    (
        "declared-writes-outgrow-the-backlog",
        change(":ConfigMap", "gateway-capacity", lambda p: _capacity(p, read_share=0.5)),
        "redis-replication-require-sized-backlog",
    ),
    (
        "declared-link-outage-outgrows-the-backlog",
        change(":ConfigMap", "dr-gateway-capacity", lambda p: _replication(p, link_outage_seconds=900)),
        "redis-replication-require-sized-backlog",
    ),
    (
        "capacity-record-without-ride-out",
        change(":ConfigMap", "gateway-capacity", lambda p: _replication(p, link_outage_seconds="five minutes")),
        "redis-replication-require-sized-backlog",
    ),
    # -- disaster recovery ------------------------------------------------------------------------
    ("dr-region-removed", remove(":DrRegion", "dr"), "dr-require-warm-standby"),
    ("dr-redis-tier-removed", remove(":ConfigMap", "dr-gateway-redis-config"), "dr-require-warm-standby"),
    (
        "dr-redis-not-replicating",
        edit(":ConfigMap", "dr-gateway-redis-config", "data", {"redis-additional.conf": "appendonly yes\n"}),
        "dr-require-warm-standby",
    ),
    (
        "dr-range-overlaps-primary",
        edit("aws:ec2/vpc:Vpc", "dr", "cidrBlock", "10.20.128.0/17"),
        "dr-require-disjoint-peered-ranges",
    ),
    (
        "dr-range-equals-primary",
        edit("aws:ec2/vpc:Vpc", "dr", "cidrBlock", "10.20.0.0/16"),
        "dr-require-disjoint-peered-ranges",
    ),
    ("dr-peering-removed", remove(":VpcPeeringConnection", "dr-peering"), "dr-require-disjoint-peered-ranges"),
    (
        "dr-cluster-version-behind",  # two minors: blocked even in an upgrade's trailing window
        edit("eks:index:Cluster", "dr", "version", f"1.{MINOR - 2}"),
        "dr-require-matching-cluster-version",
    ),
    (
        "dr-cluster-version-ahead",
        edit("eks:index:Cluster", "dr", "version", f"1.{MINOR + 1}"),
        "dr-require-matching-cluster-version",
    ),
    ("primary-record-unchecked", delete(":Record", "gateway-api", "healthCheckId"), "dr-require-failover-records"),
    (
        "primary-record-plain",
        delete(":Record", "gateway-api", "failoverRoutingPolicies", "setIdentifier", "healthCheckId"),
        "dr-require-failover-records",
    ),
    ("secondary-record-removed", remove(":Record", "dr-gateway-api"), "dr-require-failover-records"),
    ("primary-health-check-removed", remove(":HealthCheck", "gateway-readiness"), "dr-require-failover-records"),
    (
        "secondary-record-turned-primary",
        edit(":Record", "dr-gateway-api", "failoverRoutingPolicies", [{"type": "PRIMARY"}]),
        "dr-require-failover-records",
    ),
    (
        "replica-bucket-unlocked",
        lambda plan: remove(":BucketObjectLockConfiguration", "backups-replica")(
            edit(":Bucket", "backups-replica", "objectLockEnabled", False)(plan)
        ),
        "dr-require-locked-tiered-replica",
    ),
    (
        "replica-lock-retention-removed",
        remove(":BucketObjectLockConfiguration", "backups-replica"),
        "dr-require-locked-tiered-replica",
    ),
    (
        "replica-bucket-untiered",
        remove(":BucketLifecycleConfiguration", "backups-replica-lifecycle"),
        "dr-require-locked-tiered-replica",
    ),
    (
        "replica-bucket-expiry-only",
        edit(
            ":BucketLifecycleConfiguration",
            "backups-replica-lifecycle",
            "rules",
            [{"id": "expire", "status": "Enabled", "expiration": {"days": 365}}],
        ),
        "dr-require-locked-tiered-replica",
    ),
    ("replication-alarm-removed", remove(":MetricAlarm", "backups-replication-failed"), "dr-require-replication-alarm"),
    (
        "replication-alarm-silent",
        edit(":MetricAlarm", "backups-replication-failed", "alarmActions", []),
        "dr-require-replication-alarm",
    ),
    # Scheduling priority: the serving tier above the default pods, the jobs below the serving tier
    ("rollout-without-priority-class", delete(":Rollout", "gateway-rollout", f"{ROLL}.{PRIO}"), PRIORITY),
    ("dr-rollout-without-priority-class", delete(":Rollout", "dr-gateway-rollout", f"{ROLL}.{PRIO}"), PRIORITY),
    ("redis-without-priority-class", delete(":RedisReplication", "gateway-redis", f"spec.{PRIO}"), PRIORITY),
    ("sentinel-in-the-batch-class", edit(":RedisSentinel", "gateway-sentinel", f"spec.{PRIO}", BATCH), PRIORITY),
    ("serving-class-not-declared", remove(":PriorityClass", "gateway-priority-serving"), PRIORITY),
    ("serving-class-at-default", edit(":PriorityClass", "gateway-priority-serving", "value", 0), PRIORITY),
    (
        "batch-class-made-global-default-above-serving",
        change(":PriorityClass", "gateway-priority-batch", lambda p: p.update(value=2_000_000, globalDefault=True)),
        PRIORITY,
    ),
    (
        "cronjob-in-a-system-class",
        edit(":CronJob", "backups-redis-backup", f"{CJ}.{PRIO}", "system-cluster-critical"),
        PRIORITY,
    ),
    ("cronjob-in-the-serving-class", edit(":CronJob", "readiness-cronjob", f"{CJ}.{PRIO}", SERVING), PRIORITY),
    ("cronjob-in-an-undeclared-class", edit(":CronJob", "dr-backups-redis-backup", f"{CJ}.{PRIO}", "batch"), PRIORITY),
    ("batch-class-above-serving", edit(":PriorityClass", "dr-gateway-priority-batch", "value", 2_000_000), PRIORITY),
    (
        "smoke-job-in-the-serving-class",
        edit(":AnalysisTemplate", "gateway-analysis-smoke-test", f"{SMOKE_POD}.{PRIO}", SERVING),
        PRIORITY,
    ),
    (
        "serving-scoped-quota-too-small",
        add("kubernetes:core/v1:ResourceQuota", "serving-quota", scoped_quota("In", [SERVING], pods="3")),
        "k8s-namespace-require-quota-for-rollout",
    ),
    (
        "tier-deployment-without-class",
        add("kubernetes:apps/v1:Deployment", "extra", pod("Deployment", spec_with())),
        PRIORITY,
    ),
]

CONTROLS: list[tuple[str, Mutation]] = [
    # An earlier build of the same line: an add-on pinned back, not skewed.
    ("coredns-pinned-back", edit("eks:index:Cluster", "primary", "corednsAddonOptions.version", "v1.13.2-eksbuild.1")),
    ("dr-sentinel-five-quorum-three", change(":ConfigMap", "dr-gateway-dr-sentinel", _dr_sentinel(5, 3))),
    ("dr-sentinel-five-quorum-four", change(":ConfigMap", "dr-gateway-dr-sentinel", _dr_sentinel(5, 4))),
    # Quorum marks the primary down; the failover itself still needs a majority to elect a leader.
    ("nat-gateways-regional", _all_nats(lambda p: p.update(availabilityMode="regional"))),
    ("dr-sentinel-five-quorum-two", change(":ConfigMap", "dr-gateway-dr-sentinel", _dr_sentinel(5, 2))),
    # Scoped to the batch class, the quota counts the three CronJobs' pods only.
    (
        "batch-scoped-quota",
        add("kubernetes:core/v1:ResourceQuota", "batch-quota", scoped_quota("In", [BATCH], pods="3")),
    ),
    ("serving-class-higher", edit(":PriorityClass", "gateway-priority-serving", "value", 100_000_000)),
    ("batch-class-lower", edit(":PriorityClass", "gateway-priority-batch", "value", -5)),
    ("cronjob-without-class", delete(":CronJob", "backups-redis-backup", f"{CJ}.{PRIO}")),
    ("redis-backlog-in-gigabytes", _redis_conf("gateway-redis-config", "repl-backlog-size", "1gb")),
    ("redis-repl-timeout-shorter", _redis_conf("dr-gateway-redis-config", "repl-timeout", "10")),
    (
        "new-pinned-tag",
        edit(":Rollout", "gateway-rollout", f"{C0}.image", "ghcr.io/ai-decenter/redis-http-gateway:1.6.1"),
    ),
    (
        "image-by-digest",
        edit(":Rollout", "gateway-rollout", f"{C0}.image", "ghcr.io/ai-decenter/redis-http-gateway@sha256:" + "a" * 64),
    ),
    ("less-hpa-headroom", edit(":HorizontalPodAutoscaler", "gateway-hpa", "spec.maxReplicas", 15)),
    ("namespace-label", edit(":Namespace", "gateway-ns", "metadata.labels.team", "platform")),
    (
        "namespace-restricted",
        change(":Namespace", "gateway-ns", lambda p: p["metadata"]["labels"].update({PSA: "restricted"})),
    ),
    ("rollout-annotation", edit(":Rollout", "gateway-rollout", "metadata.annotations.team", "platform")),
    ("stricter-waf-limit", edit(":WebAcl", "gateway-waf", "rules.0.statement.rateBasedStatement.limit", 500)),
    ("longer-log-retention", edit(":LogGroup", "primary-flow-logs", "retentionInDays", 731)),
    (
        "longer-prometheus-retention",
        edit(":Release", "monitoring-kube-prometheus-stack", "values.prometheus.prometheusSpec.retention", "60d"),
    ),
    ("backup-every-15-minutes-offset", edit(":CronJob", "backups-redis-backup", "spec.schedule", "2-59/15 * * * *")),
    ("backup-twice-an-hour-odd", edit(":CronJob", "backups-redis-backup", "spec.schedule", "7,22,37,52 * * * *")),
    ("key-description", edit(":Key", "backups-key", "description", "Encrypts Redis backups (primary)")),
    (
        "stricter-success-rate",
        edit(
            ":AnalysisTemplate", "gateway-analysis-gateway-slo", "spec.metrics.0.successCondition", "result[0] >= 0.999"
        ),
    ),
    ("pdb-lower", edit(":PodDisruptionBudget", "gateway-pdb", "spec.minAvailable", 1)),
    (
        "drop-one-more-capability-list",
        edit(":Rollout", "gateway-rollout", f"{C0}.securityContext.capabilities.drop", ["ALL", "NET_RAW"]),
    ),
    (
        "add-https-security-group",
        add(
            "aws:ec2/securityGroup:SecurityGroup",
            "alb",
            {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]},
        ),
    ),
    (
        "add-private-redis-rule",
        add(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "redis",
            {"ipProtocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrIpv4": "10.0.0.0/16"},
        ),
    ),
    (
        "add-scoped-policy",
        add(
            "aws:iam/policy:Policy",
            "reader",
            {"policy": policy_doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"})},
        ),
    ),
    (
        "add-redirect-listener",
        add(
            "aws:lb/listener:Listener",
            "http",
            {
                "protocol": "HTTP",
                "port": 80,
                "defaultActions": [
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
                ],
            },
        ),
    ),
    (
        "netpol-extra-explicit-peer",
        add(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "extra",
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": "extra", "namespace": NS},
                "spec": {
                    "podSelector": {"matchLabels": {"app": "redis-gateway"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}], "ports": [{"port": 8080}]}],
                },
            },
        ),
    ),
    ("more-redis-nodes", edit(":NodeGroup", "primary-redis", "scalingConfig.minSize", 4)),
    (
        "rolling-analysed",
        edit(
            ":Rollout",
            "gateway-rollout",
            "spec.strategy",
            {
                "canary": {
                    "maxSurge": "25%",
                    "maxUnavailable": 0,
                    "analysis": {"templates": [{"templateName": "gateway-slo"}]},
                }
            },
        ),
    ),
]


# -- the harness ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan(stack_run: Callable[[str], Recording]) -> Plan:
    return as_policy_resources(stack_run("production"))


@pytest.fixture(scope="module")
def config() -> dict[str, tuple[str, dict[str, Any]]]:
    return pack_config("production")


def blocking(original: Plan, mutated: Plan, config: dict[str, tuple[str, dict[str, Any]]]) -> list[Hit]:
    """Mandatory findings on ``mutated``; resource policies only on what differs from ``original``."""
    before = {id(r) for r in original}
    hits = evaluate_stack(mutated, config)
    for r in mutated:
        if id(r) not in before:
            hits += evaluate_resource(r, config)
    return [h for h in hits if h.level == "mandatory"]


def test_at_least_150_cases_with_unique_ids() -> None:
    ids = [c[0] for c in CASES] + [c[0] for c in CONTROLS]
    assert len(CASES) >= 150 and len(ids) == len(set(ids))


@pytest.mark.parametrize(("mutation", "policy"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mutation_is_blocked(
    plan: Plan, config: dict[str, tuple[str, dict[str, Any]]], mutation: Mutation, policy: str
) -> None:
    hits = blocking(plan, mutation(plan), config)
    assert policy in {h.policy for h in hits}, [(h.policy, h.message) for h in hits]


@pytest.mark.parametrize("mutation", [c[1] for c in CONTROLS], ids=[c[0] for c in CONTROLS])
def test_harmless_edit_stays_clean(
    plan: Plan, config: dict[str, tuple[str, dict[str, Any]]], mutation: Mutation
) -> None:
    assert [(h.policy, h.message) for h in blocking(plan, mutation(plan), config)] == []


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_unmodified_stacks_have_no_findings(stack_run: Callable[[str], Recording], stack: str) -> None:
    hits = evaluate(as_policy_resources(stack_run(stack)), stack)
    assert [(h.policy, h.urn, h.message) for h in hits if h.level != "disabled"] == []


def test_the_plan_is_left_untouched(plan: Plan, config: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Mutations work on copies: after every case the recorded plan is still clean."""
    for _, mutation, _ in CASES[:25]:
        mutation(plan)
    assert blocking(plan, plan, config) == []
