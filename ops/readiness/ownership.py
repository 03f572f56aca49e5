"""Who made each live object: the program, a controller, a chart, Kubernetes itself, or a person.

A real cluster does not look like the plan. pulumi-kubernetes v4 applies with server-side apply and
then writes no ``app.kubernetes.io/managed-by`` label of its own (the program sets it itself, see
``components/_shared.py``); the redis-operator copies its custom resources' labels onto the
StatefulSets, pods, Services and PodDisruptionBudgets it creates; Argo Rollouts and the Job
controller make ReplicaSets, pods and Jobs; the Helm charts bring their own objects; Kubernetes puts
a ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap in every namespace. So the
scorecard sorts objects by what a cluster holds, in this order:

``child``
    has a controlling owner reference (``controller: true``) to a kind whose controller makes objects
    (:data:`CONTROLLER_KINDS`): made by a controller (the redis-operator, Argo Rollouts, the Job and
    StatefulSet controllers); or is a claim a StatefulSet made from its ``volumeClaimTemplates``
    (``<template>-<statefulset>-<ordinal>``, which carries the template's labels and, under the
    default ``Retain`` policy, no owner). It is judged by what that controller is responsible for, against the
    object that owns it, never by the pack's rules for what the program writes. Labels do not count:
    the operator copies ours.
``declared``
    labelled ``app.kubernetes.io/part-of=redis-gateway`` (the program sets it on every object it
    declares), or applied by a ``pulumi-kubernetes`` field manager where ``managedFields`` are in the
    dump. Judged by the pack's rules.
``chart``
    rendered by a Helm chart (``helm.sh/chart`` label, or ``managed-by: Helm``). Its workloads count
    for the runtime items; its alert rules are listed apart from ours.
``system``
    what Kubernetes itself puts in every namespace (``default`` ServiceAccount, ``kube-root-ca.crt``).
``foreign``
    anything else in the stack's namespaces: added by hand or by another tool. Judged by the same
    rules as ``declared`` (a LoadBalancer Service or an allow-all NetworkPolicy someone added fails).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Origin = Literal["child", "declared", "chart", "system", "foreign"]

PART_OF = ("app.kubernetes.io/part-of", "redis-gateway")
PULUMI_FIELD_MANAGER = "pulumi-kubernetes"
"""The prefix of the field manager pulumi-kubernetes applies with (``pulumi-kubernetes-<suffix>``)."""
SYSTEM_OBJECTS = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
"""Made in every namespace by the service-account and root-CA-publisher controllers, with no owner."""


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = _metadata(obj).get("labels")
    return found if isinstance(found, Mapping) else {}


CONTROLLER_KINDS = frozenset(
    {
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Deployment",
        "Job",
        "CronJob",
        "Node",
        "Rollout",
        "AnalysisRun",
        "Experiment",
        "RedisReplication",
        "RedisSentinel",
        "Prometheus",
        "Alertmanager",
        "ThanosRuler",
    }
)
"""Kinds whose controllers make the objects they own: the workload controllers, the kubelet (static
pods), Argo Rollouts, the redis-operator and the Prometheus Operator. Any other owner reference (a
hand-made object pointing at a ConfigMap, a non-controlling reference) does not make an object a
controller's: it is judged as what it is."""


def owners(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The controlling owner references to :data:`CONTROLLER_KINDS` (at most one, by the API's rules)."""
    refs = [r for r in _metadata(obj).get("ownerReferences") or [] if isinstance(r, Mapping)]
    return [r for r in refs if r.get("controller") is True and r.get("kind") in CONTROLLER_KINDS]


def applied_by_pulumi(obj: Mapping[str, Any]) -> bool:
    entries = _metadata(obj).get("managedFields") or []
    return any(isinstance(e, Mapping) and str(e.get("manager", "")).startswith(PULUMI_FIELD_MANAGER) for e in entries)


def statefulset_claims(objects: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str | None, str]]:
    """(namespace, name prefix) of the claims the StatefulSets make: ``<template>-<statefulset>-``."""
    out = set()
    for sts in objects:
        if sts.get("kind") != "StatefulSet":
            continue
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            name = _metadata(template).get("name") if isinstance(template, Mapping) else None
            if name:
                out.add((namespace(sts), f"{name}-{_metadata(sts).get('name')}-"))
    return frozenset(out)


def _claimed(obj: Mapping[str, Any], claims: frozenset[tuple[str | None, str]]) -> bool:
    if obj.get("kind") != "PersistentVolumeClaim":
        return False
    name, ns = str(_metadata(obj).get("name", "")), namespace(obj)
    return any(ns == where and name.startswith(prefix) and name[len(prefix) :].isdigit() for where, prefix in claims)


def origin(obj: Mapping[str, Any], claims: frozenset[tuple[str | None, str]] = frozenset()) -> Origin:
    """Who made ``obj`` (see the module's docstring); ``claims``: :func:`statefulset_claims` of the dump."""
    if owners(obj) or _claimed(obj, claims):
        return "child"
    found = labels(obj)
    if found.get(PART_OF[0]) == PART_OF[1] or applied_by_pulumi(obj):
        return "declared"
    if (
        "helm.sh/chart" in found
        or str(found.get("app.kubernetes.io/managed-by", "")).lower() == "helm"
        or str(found.get("heritage", "")).lower() == "helm"
    ):
        return "chart"
    if (obj.get("kind"), _metadata(obj).get("name")) in SYSTEM_OBJECTS:
        return "system"
    return "foreign"


def namespace(obj: Mapping[str, Any]) -> str | None:
    ns = _metadata(obj).get("namespace")
    return str(ns) if ns else None


def of_origin(
    objects: Iterable[Mapping[str, Any]], *wanted: Origin, namespaces: Iterable[str] | None = None
) -> list[Mapping[str, Any]]:
    """The objects of the given origins; with ``namespaces``, only the namespaced ones there."""
    objects = list(objects)
    claims = statefulset_claims(objects)
    scope = set(namespaces) if namespaces is not None else None
    return [o for o in objects if origin(o, claims) in wanted and (scope is None or namespace(o) in scope)]


def judged(objects: Sequence[Mapping[str, Any]], namespaces: Iterable[str]) -> list[Mapping[str, Any]]:
    """What the pack's rules judge: everything the program declared (cluster-scoped objects too), and
    every object in the stack's namespaces that nobody declared (``foreign``)."""
    return of_origin(objects, "declared") + of_origin(objects, "foreign", namespaces=namespaces)


def owner_of(child: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The object the child's controlling owner reference names (by uid where both carry one, else
    by kind and name in the child's namespace), if it is among ``objects``."""
    refs = owners(child)
    if not refs:
        return None
    ref = refs[0]
    ns = namespace(child)
    for obj in objects:
        md = _metadata(obj)
        if ref.get("uid") and md.get("uid"):
            if ref["uid"] == md["uid"]:
                return obj
            continue
        if obj.get("kind") == ref.get("kind") and md.get("name") == ref.get("name") and namespace(obj) == ns:
            return obj
    return None
