"""``ops readiness`` on a cluster as the real controllers leave it (``tests/readiness_env.py`` builds it
from the pinned provider's, operator's and chart's behaviour, each cited there): it scores READY;
each break a real cluster shows fails its item; the controls (an old restart, a burst, a scale-up in
progress, another team's crashlooping pod) stay green."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.readiness import ownership
from tests.readiness_env import _object, healthy_dump, with_managed_fields
from tests.test_readiness import _ago, failing, find, gateway_pod, judge

NS = "redis-system"


def _items(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in report["items"]}


def test_the_cluster_as_the_controllers_leave_it_is_ready(healthy: dict[str, Any], tmp_path: Path) -> None:
    kinds = {(o["kind"], ownership.origin(o)) for o in healthy["items"]}
    # The dump holds what a real cluster holds, not only what the plan declares.
    assert {("StatefulSet", "child"), ("Pod", "child"), ("Service", "child"), ("PodDisruptionBudget", "child")} <= kinds
    assert {("PrometheusRule", "chart"), ("ServiceAccount", "system"), ("ConfigMap", "system")} <= kinds
    code, report = judge(healthy, tmp_path)
    assert failing(report) == {} and code == 0
    assert [i["id"] for i in report["items"] if i["status"] != "pass"] == []
    assert all(i["evidence"] for i in report["items"]), "every item, pass or fail, carries its evidence"
    items = _items(report)
    assert (
        "PrometheusRule monitoring/kps-general.rules: 3 alerts, runbooks at runbooks.prometheus-operator.dev"
        in (items["chart-alert-rules"]["evidence"])
    )
    assert items["redis-as-planned"]["evidence"] == [
        f"RedisReplication {NS}/redis: 3 pods as planned",
        f"RedisSentinel {NS}/redis: 3 Sentinels, quorum 2, as planned",
    ]


def test_the_operators_objects_are_never_judged_as_the_programs(healthy: dict[str, Any]) -> None:
    """The operator copies the resources' labels (part-of included) onto what it makes: only owner
    references tell them apart, so Redis counts once against the quota (through its resource)."""
    namespaces = ["monitoring", NS]
    judged = ownership.judged(healthy["items"], namespaces)
    copied = [o for o in healthy["items"] if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "redis"]
    assert copied and copied[0]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "redis-gateway"
    assert not [o for o in judged if o["kind"] in ("Pod", "StatefulSet", "Job")]
    assert not [o for o in judged if o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] != "backup-storage"]
    assert [o["metadata"]["name"] for o in judged if o["kind"] == "RedisReplication"] == ["redis"]


def test_objects_are_found_without_the_managed_by_label(healthy: dict[str, Any], tmp_path: Path) -> None:
    """pulumi-kubernetes under server-side apply writes no managed-by label; the scorecard never
    needed it."""
    dump = copy.deepcopy(healthy)
    for obj in dump["items"]:
        (obj["metadata"].get("labels") or {}).pop("app.kubernetes.io/managed-by", None)
    code, report = judge(dump, tmp_path)
    assert code == 0 and failing(report) == {}


def test_objects_applied_by_pulumi_are_found_by_their_field_manager(healthy: dict[str, Any], tmp_path: Path) -> None:
    """With ``managedFields`` in the dump (the API client, or kubectl --show-managed-fields), an object
    the program applied is the program's even without its labels."""
    dump = with_managed_fields(healthy)
    quota = find(dump, "ResourceQuota", "redis-gateway-quota")
    quota["metadata"]["labels"] = {}
    assert ownership.origin(quota) == "declared"
    quota["spec"]["hard"]["pods"] = "1"
    code, report = judge(dump, tmp_path)
    assert list(failing(report)) == ["policy:k8s-namespace-require-quota-for-rollout"] and code == 1


def test_a_cluster_with_none_of_the_stacks_objects_cannot_be_judged(healthy: dict[str, Any], tmp_path: Path) -> None:
    dump = {**healthy, "items": [o for o in healthy["items"] if o["metadata"].get("namespace") == "payments"]}
    code, report = judge(dump, tmp_path)
    assert code == 2 and report == {}


def _one_sentinel(d: dict[str, Any]) -> None:
    """Sentinels scaled to one through the resource, their PDB relaxed so nothing blocks it."""
    find(d, "RedisSentinel", "redis")["spec"]["clusterSize"] = 1
    find(d, "StatefulSet", "redis-sentinel")["spec"]["replicas"] = 1
    find(d, "StatefulSet", "redis-sentinel")["status"].update(replicas=1, readyReplicas=1)
    for n in (1, 2):
        d["items"].remove(find(d, "Pod", f"redis-sentinel-{n}"))
    pdb = find(d, "PodDisruptionBudget", "redis-sentinel")
    pdb["spec"] = {"minAvailable": 0, "selector": pdb["spec"]["selector"]}
    pdb["status"].update(currentHealthy=1, desiredHealthy=0, disruptionsAllowed=1, expectedPods=1)


def _sentinels_scaled_by_hand(d: dict[str, Any]) -> None:
    find(d, "StatefulSet", "redis-sentinel")["spec"]["replicas"] = 1
    find(d, "StatefulSet", "redis-sentinel")["status"].update(replicas=1, readyReplicas=1)


def _orphans(d: dict[str, Any]) -> None:
    d["items"].remove(find(d, "RedisReplication", "redis"))


def _hand_made_load_balancer(d: dict[str, Any]) -> None:
    d["items"].append(
        _object(
            "v1",
            "Service",
            NS,
            "debug-redis",
            {"app": "debug"},
            spec={"type": "LoadBalancer", "selector": {"app": "redis"}, "ports": [{"port": 6379}]},
        )
    )


def _allow_all(d: dict[str, Any]) -> None:
    d["items"].append(
        _object(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            NS,
            "allow-everything",
            {},
            spec={"podSelector": {}, "ingress": [{}], "egress": [{}], "policyTypes": ["Ingress", "Egress"]},
        )
    )


def _restarting_now(d: dict[str, Any]) -> None:
    status = gateway_pod(d)["status"]["containerStatuses"][0]
    status.update(
        restartCount=6,
        lastState={"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _ago(10)}},
    )


def _pinned_at_max(d: dict[str, Any], minutes: float) -> None:
    hpa = find(d, "HorizontalPodAutoscaler", "redis-gateway")
    most = hpa["spec"]["maxReplicas"]
    hpa["status"].update(currentReplicas=most, desiredReplicas=most, lastScaleTime=_ago(minutes))
    hpa["status"]["conditions"][2] = {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}


def _scaling_up(d: dict[str, Any], minutes: float) -> None:
    """The HPA asked for more pods ``minutes`` ago; Argo Rollouts reports Progressing until they are
    available (rollout/status: available < updated)."""
    hpa = find(d, "HorizontalPodAutoscaler", "redis-gateway")
    hpa["status"].update(currentReplicas=8, desiredReplicas=8, lastScaleTime=_ago(minutes))
    rollout = find(d, "Rollout", "redis-gateway")
    rollout["spec"]["replicas"] = 8
    rollout["status"].update(
        phase="Progressing", message="updated replicas are still becoming available", replicas=8, updatedReplicas=8
    )


def _unready_for_hours(d: dict[str, Any]) -> None:
    """The autoscaler scaled up 8 minutes ago, but two of the older pods have been unready for two hours."""
    _scaling_up(d, 8)
    for n, pod in enumerate(
        p for p in d["items"] if p["kind"] == "Pod" and p["metadata"]["name"].startswith("redis-gateway-")
    ):
        if n < 2:
            pod["metadata"]["creationTimestamp"] = _ago(120)
            pod["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]


def _killed_every_ninety_minutes(d: dict[str, Any]) -> None:
    pod = gateway_pod(d)
    pod["status"]["startTime"] = _ago(60 * 60)  # 2.5 days
    pod["status"]["containerStatuses"][0].update(
        restartCount=40,
        lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": _ago(70)}},
    )


def _operator_service_exposed(d: dict[str, Any]) -> None:
    """A hand edit of kubernetesConfig.service.serviceType makes the operator expose redis-additional."""
    find(d, "Service", "redis-additional")["spec"]["type"] = "LoadBalancer"


def _hand_made_with_an_owner(d: dict[str, Any]) -> None:
    """A LoadBalancer added by hand that names a ConfigMap as its (non-controlling) owner."""
    _hand_made_load_balancer(d)
    root_ca = next(
        o
        for o in d["items"]
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kube-root-ca.crt" and o["metadata"]["namespace"] == NS
    )
    find(d, "Service", "debug-redis")["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "kube-root-ca.crt", "uid": root_ca["metadata"]["uid"]}
    ]


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], set[str]]] = {
    "older pods unready for hours while the autoscaler keeps scaling": (_unready_for_hours, {"workloads-ready"}),
    "a container OOM-killed every ninety minutes": (_killed_every_ninety_minutes, {"pods-not-restarting"}),
    "an operator Service exposed through its resource": (
        _operator_service_exposed,
        {"controllers-match-their-resources"},
    ),
    "a hand-made LoadBalancer naming a ConfigMap its owner": (
        _hand_made_with_an_owner,
        {"policy:k8s-service-disallow-external-exposure"},
    ),
    "one Sentinel, its PDB relaxed": (
        _one_sentinel,
        {"redis-as-planned", "policy:redis-sentinel-require-surviving-quorum"},
    ),
    "quorum edited on the resource": (
        lambda d: find(d, "RedisSentinel", "redis")["spec"]["redisSentinelConfig"].update(quorum="3"),
        {"redis-as-planned", "policy:redis-sentinel-require-surviving-quorum"},
    ),
    "Sentinel StatefulSet scaled by hand": (_sentinels_scaled_by_hand, {"controllers-match-their-resources"}),
    "the replication resource deleted, its objects left": (
        _orphans,
        {"controllers-match-their-resources", "redis-as-planned"},
    ),
    "a LoadBalancer Service added by hand": (
        _hand_made_load_balancer,
        {"policy:k8s-service-disallow-external-exposure"},
    ),
    "an allow-all NetworkPolicy added by hand": (_allow_all, {"policy:k8s-network-policy-disallow-allow-all"}),
    "a container restarting now": (_restarting_now, {"pods-not-restarting"}),
    "the autoscaler at its maximum for 40 minutes": (lambda d: _pinned_at_max(d, 40), {"hpa-below-max"}),
    "a scale-up stuck for 40 minutes": (lambda d: _scaling_up(d, 40), {"workloads-ready"}),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_break_of_a_real_cluster_fails_its_item(healthy: dict[str, Any], tmp_path: Path, case: str) -> None:
    mutate, expected = BROKEN[case]
    dump = copy.deepcopy(healthy)
    mutate(dump)
    code, report = judge(dump, tmp_path)
    assert set(failing(report)) == expected, case
    assert code == 1 and all(failing(report).values())


def test_what_was_added_by_hand_is_named_as_not_in_the_plan(healthy: dict[str, Any], tmp_path: Path) -> None:
    dump = copy.deepcopy(healthy)
    _hand_made_load_balancer(dump)
    _, report = judge(dump, tmp_path)
    (line,) = failing(report)["policy:k8s-service-disallow-external-exposure"]
    assert line.startswith(f"Service {NS}/debug-redis (not in the plan): ")


CONTROLS: dict[str, Callable[[dict[str, Any]], None]] = {
    "a container that restarted seven times three weeks ago": lambda d: gateway_pod(d)["status"]["containerStatuses"][
        0
    ].update(restartCount=7, lastState={"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _ago(30240)}}),
    "a two-minute burst at the autoscaler's maximum": lambda d: _pinned_at_max(d, 2),
    "a scale-up three minutes old": lambda d: _scaling_up(d, 3),
}


@pytest.mark.parametrize("case", sorted(CONTROLS))
def test_the_controls_stay_green(healthy: dict[str, Any], tmp_path: Path, case: str) -> None:
    dump = copy.deepcopy(healthy)
    CONTROLS[case](dump)
    code, report = judge(dump, tmp_path)
    assert failing(report) == {} and code == 0, case
    assert any("grace" in line or "outside the" in line for i in report["items"] for line in i["evidence"]), (
        "the evidence says why it passes"
    )


def test_another_teams_crashlooping_pod_is_not_the_stacks(healthy: dict[str, Any], tmp_path: Path) -> None:
    ledger = find(healthy, "Pod", "ledger-5f6d7-abcde")
    assert ledger["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    code, report = judge(healthy, tmp_path)
    assert code == 0 and "payments" not in str(report)


@pytest.fixture(scope="module")
def healthy(stack_run: Callable[[str], Any]) -> dict[str, Any]:
    return healthy_dump(stack_run("production").primary())
