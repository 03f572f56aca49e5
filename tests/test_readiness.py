"""``ops readiness`` on Kubernetes state: a healthy dump built from the production plan passes, and
each dump that breaks one thing fails on exactly that item, naming it. Bad input (a dump that is not
JSON, no kubeconfig, an unreachable API, refused credentials) is one line and a non-zero exit."""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ops.cli import main
from ops.readiness import kubernetes_checks
from ops.readiness.model import CATEGORIES
from tests.conftest import Recording
from tests.http_stub import Handler, serving
from tests.readiness_env import healthy_dump, pod, prometheus_answer

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ("--skip", "aws", "--skip", "prometheus")
NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def healthy(stack_run: Callable[[str], Recording]) -> dict[str, Any]:
    return healthy_dump(stack_run("production").primary())


def judge(dump: dict[str, Any] | str, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "cluster.json"
    path.write_text(dump if isinstance(dump, str) else json.dumps(dump))
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    code = main(["readiness", "--stack", "production", "--from-file", str(path), *LOCAL, "--json", str(report), *extra])
    return code, json.loads(report.read_text()) if report.exists() else {}


def failing(report: dict[str, Any]) -> dict[str, list[str]]:
    return {i["id"]: i["evidence"] for i in report["items"] if i["status"] == "fail"}


def find(dump: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in dump["items"] if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def drop(dump: dict[str, Any], kind: str, name: str) -> None:
    dump["items"].remove(find(dump, kind, name))


def container(dump: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    obj = find(dump, kind, name)
    spec = (
        obj["spec"]["jobTemplate"]["spec"]["template"]["spec"] if kind == "CronJob" else obj["spec"]["template"]["spec"]
    )
    return spec["containers"][0]


def rule(dump: dict[str, Any], alert: str) -> dict[str, Any]:
    rules = find(dump, "PrometheusRule", "redis-gateway")["spec"]["groups"]
    (found,) = [r for g in rules for r in g["rules"] if r.get("alert") == alert]
    return found


def gateway_pod(dump: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in dump["items"] if o["kind"] == "Pod" and o["metadata"]["name"].startswith("redis-gateway-"))


def _ago(minutes: float) -> str:
    return (NOW - datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _crashloop(d: dict[str, Any]) -> None:
    status = gateway_pod(d)["status"]["containerStatuses"][0]
    status.update(restartCount=7, ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}})


def _oom(d: dict[str, Any]) -> None:
    status = find(d, "Pod", "redis-1")["status"]["containerStatuses"][0]
    status.update(
        restartCount=12,
        lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": _ago(4)}},
    )


def _pending(d: dict[str, Any]) -> None:
    sibling = gateway_pod(d)
    extra = pod("redis-system", "redis-gateway-7d9f8c6b5-pending", sibling["metadata"]["labels"], ["gateway"])
    extra["metadata"]["ownerReferences"] = sibling["metadata"]["ownerReferences"]
    extra["metadata"]["creationTimestamp"] = _ago(20)
    extra["status"] = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "False", "message": "0/6 nodes are available: 6 Insufficient cpu"}
        ],
    }
    d["items"].append(extra)


def _set(ref: str, path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting the field at ``path`` (steps split by spaces; numbers index lists) of
    ``Kind/name`` to ``value`` (``...`` deletes it)."""
    kind, name = ref.split("/")

    def apply(d: dict[str, Any]) -> None:
        target: Any = find(d, kind, name)
        steps: list[Any] = [int(p) if p.isdigit() else p for p in path.split()]
        for step in steps[:-1]:
            target = target[step] if isinstance(target, list) else target.setdefault(step, {})
        if value is ...:
            del target[steps[-1]]
        else:
            target[steps[-1]] = value

    return apply


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # security
    "privilege escalation allowed": (
        lambda d: container(d, "Rollout", "redis-gateway")["securityContext"].update(allowPrivilegeEscalation=True),
        "policy:k8s-container-disallow-privilege-escalation",
    ),
    "backup job may run as root": (
        lambda d: find(d, "CronJob", "redis-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"][
            "securityContext"
        ].update(runAsNonRoot=False, runAsUser=0),
        "policy:k8s-container-require-non-root",
    ),
    "image tag latest": (
        lambda d: container(d, "Rollout", "redis-gateway").update(
            image="ghcr.io/ai-decenter/redis-http-gateway:latest"
        ),
        "policy:k8s-container-disallow-latest-tag",
    ),
    "image from an unapproved registry": (
        lambda d: container(d, "Rollout", "redis-gateway").update(image="docker.io/someone/redis-http-gateway:1.6.0"),
        "policy:k8s-container-require-allowed-registry",
    ),
    "default-deny policy deleted": (
        lambda d: drop(d, "NetworkPolicy", "default-deny"),
        "policy:k8s-namespace-require-default-deny",
    ),
    "role grants every verb": (
        _set("Role/redis-gateway", "rules 0 verbs", ["*"]),
        "policy:k8s-rbac-disallow-wildcard-permissions",
    ),
    "password in plain text": (
        lambda d: container(d, "Rollout", "redis-gateway")["env"].append(
            {"name": "ADMIN_PASSWORD", "value": "hunter2-x"}
        ),
        "policy:k8s-container-disallow-plaintext-secrets",
    ),
    "gateway service exposed on node ports": (
        _set("Service/redis-gateway", "spec type", "NodePort"),
        "policy:k8s-service-disallow-external-exposure",
    ),
    "web ACL annotation removed": (
        _set("Ingress/redis-gateway", "metadata annotations alb.ingress.kubernetes.io/wafv2-acl-arn", ...),
        "policy:alb-ingress-require-waf",
    ),
    "pod security admission label removed": (
        _set("Namespace/redis-system", "metadata labels pod-security.kubernetes.io/enforce", ...),
        "policy:k8s-namespace-require-pod-security-admission",
    ),
    "host network": (
        _set("Rollout/redis-gateway", "spec template spec hostNetwork", True),
        "policy:k8s-pod-disallow-host-namespaces",
    ),
    "secret in a ConfigMap": (
        _set("ConfigMap/redis-gateway", "data REDIS_PASSWORD", "s3cr3t-value"),
        "policy:k8s-configmap-disallow-secrets",
    ),
    # resource management
    "resource quota deleted": (
        lambda d: drop(d, "ResourceQuota", "redis-gateway-quota"),
        "policy:k8s-namespace-require-resource-quota",
    ),
    "limit range deleted": (
        lambda d: drop(d, "LimitRange", "redis-gateway-limits"),
        "policy:k8s-namespace-require-limit-range",
    ),
    "backup container without limits": (
        lambda d: container(d, "CronJob", "redis-backup")["resources"].pop("limits"),
        "policy:k8s-container-require-resources",
    ),
    "gateway pod in a crash loop": (_crashloop, "pods-not-restarting"),
    "redis pod killed for memory again and again": (_oom, "pods-not-restarting"),
    # monitoring
    "service monitor deleted": (
        lambda d: drop(d, "ServiceMonitor", "redis-gateway"),
        "policy:k8s-service-require-service-monitor",
    ),
    "grafana not ready": (
        lambda d: find(d, "Pod", "kube-prometheus-stack-grafana-6c9d8-q2w3e")["status"].update(
            conditions=[{"type": "Ready", "status": "False"}]
        ),
        "monitoring-stack-running",
    ),
    "prometheus pod gone": (
        lambda d: drop(d, "Pod", "prometheus-kps-prometheus-0"),
        "monitoring-stack-running",
    ),
    "fast-burn alert removed": (
        lambda d: [
            g["rules"].remove(r)
            for g in find(d, "PrometheusRule", "redis-gateway")["spec"]["groups"]
            for r in list(g["rules"])
            if r.get("alert") == "GatewayErrorBudgetFastBurn"
        ],
        "policy:monitoring-alert-require-slo-burn-detection",
    ),
    # backup and recovery
    "backup CronJob suspended": (
        _set("CronJob/redis-backup", "spec suspend", True),
        "policy:k8s-cronjob-require-schedule-that-runs",
    ),
    "backups stopped succeeding two hours ago": (
        _set("CronJob/redis-backup", "status lastSuccessfulTime", _ago(120)),
        "cronjobs-on-schedule",
    ),
    "restore drill never succeeded": (
        _set("CronJob/redis-restore-drill", "status lastSuccessfulTime", ...),
        "cronjobs-on-schedule",
    ),
    "backup scratch volume deleted": (
        lambda d: drop(d, "PersistentVolumeClaim", "backup-storage"),
        "policy:k8s-backup-require-cronjob-and-storage",
    ),
    "backup-age alert waits three hours": (
        lambda d: rule(d, "RedisBackupTooOld").update(
            expr=rule(d, "RedisBackupTooOld")["expr"].rsplit(">", 1)[0] + "> 10800"
        ),
        "policy:monitoring-alert-require-backup-age-within-rpo",
    ),
    "redis without persistence": (
        _set("RedisReplication/redis", "spec storage", ...),
        "policy:redis-require-auth-persistence-and-metrics",
    ),
    # high availability
    "rollout degraded": (
        _set("Rollout/redis-gateway", "status phase", "Degraded"),
        "workloads-ready",
    ),
    "a redis replica not ready": (_set("StatefulSet/redis", "status readyReplicas", 2), "workloads-ready"),
    "PDB allows no disruption": (
        _set("PodDisruptionBudget/redis-gateway", "status disruptionsAllowed", 0),
        "pdb-allows-disruption",
    ),
    "anti-affinity and spread removed": (
        lambda d: [
            find(d, "Rollout", "redis-gateway")["spec"]["template"]["spec"].pop(k)
            for k in ("affinity", "topologySpreadConstraints")
        ],
        "policy:k8s-workload-require-anti-affinity",
    ),
    "readiness probe removed": (
        lambda d: container(d, "Rollout", "redis-gateway").pop("readinessProbe"),
        "policy:k8s-container-require-probes",
    ),
    # performance and capacity
    "autoscaler pinned at its maximum": (
        lambda d: find(d, "HorizontalPodAutoscaler", "redis-gateway")["status"].update(
            currentReplicas=find(d, "HorizontalPodAutoscaler", "redis-gateway")["spec"]["maxReplicas"]
        ),
        "hpa-below-max",
    ),
    "autoscaler cannot read metrics": (
        _set(
            "HorizontalPodAutoscaler/redis-gateway",
            "status conditions 1",
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"},
        ),
        "hpa-scaling-active",
    ),
    "a pod pending for lack of capacity": (_pending, "pods-scheduled"),
    "analysis threshold looser than the SLO": (
        _set("AnalysisTemplate/gateway-slo", "spec metrics 0 successCondition", "result[0] >= 0.5"),
        "policy:argo-analysis-require-failable-slo-thresholds",
    ),
    # documentation
    "an alert links a section that does not exist": (
        lambda d: rule(d, "RedisNoPrimary")["annotations"].update(
            runbook_url=rule(d, "RedisNoPrimary")["annotations"]["runbook_url"].split("#")[0] + "#no-such-section"
        ),
        "alert-runbooks-resolve",
    ),
}


def test_the_healthy_environment_passes_every_item_in_every_category(healthy: dict[str, Any], tmp_path: Path) -> None:
    code, report = judge(healthy, tmp_path, "--junit", str(tmp_path / "readiness.xml"))
    assert failing(report) == {}
    assert [i["id"] for i in report["items"] if i["status"] != "pass"] == []
    assert code == 0 and report["ok"] is True
    assert {c for c, counts in report["summary"].items() if counts["pass"]} == set(CATEGORIES)
    assert report["sources"] == ["kubernetes", "docs"]
    ids = {i["id"] for i in report["items"]}
    assert {f"policy:{p}" for p in kubernetes_checks.LIVE_POLICIES} <= ids  # every live rule is judged
    xml = (tmp_path / "readiness.xml").read_text()
    assert xml.count("<testcase ") == len(report["items"]) and "<failure" not in xml


def test_the_broken_cases_cover_every_category() -> None:
    categories = {id_: cat for id_, cat in kubernetes_checks.LIVE_POLICIES.items()}
    runtime = {check_id: category for check_id, category, *_ in kubernetes_checks.RUNTIME_CHECKS}
    covered = set()
    for _, expected in BROKEN.values():
        name = expected.removeprefix("policy:")
        covered.add(categories.get(name) or runtime.get(name) or "documentation")
    assert covered == set(CATEGORIES) and len(BROKEN) >= 30


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_one_broken_thing_fails_exactly_its_item(healthy: dict[str, Any], tmp_path: Path, case: str) -> None:
    mutate, expected = BROKEN[case]
    dump = copy.deepcopy(healthy)
    mutate(dump)
    code, report = judge(dump, tmp_path, "--junit", str(tmp_path / "readiness.xml"))
    assert list(failing(report)) == [expected], case
    assert code == 1 and report["ok"] is False
    assert failing(report)[expected], "a failure carries its evidence"
    assert f'name="{expected}"' in (tmp_path / "readiness.xml").read_text()


def test_the_table_names_the_failing_item(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = copy.deepcopy(healthy)
    _set("PodDisruptionBudget/redis-gateway", "status disruptionsAllowed", 0)(dump)
    code, _ = judge(dump, tmp_path)
    out = capsys.readouterr().out
    assert code == 1 and "pdb-allows-disruption" in out and "NOT READY" in out
    assert "PodDisruptionBudget redis-system/redis-gateway" in out


def test_missing_runbooks_fail_the_documentation_item(healthy: dict[str, Any], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "runbooks" / "deployment-procedures.md").unlink()
    (docs / "runbooks" / "capacity-review.md").write_text("# TODO\n")
    code, report = judge(healthy, tmp_path, "--docs", str(docs))
    assert code == 1 and list(failing(report)) == ["runbooks-present"]
    evidence = " ".join(failing(report)["runbooks-present"])
    assert "deployment-procedures.md: missing" in evidence and "capacity-review.md" in evidence


def test_an_advisory_violation_warns_and_does_not_fail(healthy: dict[str, Any], tmp_path: Path) -> None:
    """Staging's pack config is advisory: the same break warns there and the exit stays 0."""
    dump = copy.deepcopy(healthy)
    drop(dump, "LimitRange", "redis-gateway-limits")
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(dump))
    report = tmp_path / "r.json"
    code = main(["readiness", "--stack", "staging", "--from-file", str(path), *LOCAL, "--json", str(report)])
    items = {i["id"]: i["status"] for i in json.loads(report.read_text())["items"]}
    assert code == 0 and items["policy:k8s-namespace-require-limit-range"] == "warn"


def test_a_dump_written_without_secrets_warns_the_rule_that_needs_them(healthy: dict[str, Any], tmp_path: Path) -> None:
    """The dump command ``ops readiness --help`` prints leaves Secrets out: nothing fails for it."""
    from ops.readiness.cli import DUMP_COMMAND

    assert "secrets" not in DUMP_COMMAND.split()[2].split(",") and "pods" in DUMP_COMMAND
    dump = copy.deepcopy(healthy)
    dump["items"] = [o for o in dump["items"] if o["kind"] != "Secret"]
    code, report = judge(dump, tmp_path)
    items = {i["id"]: i for i in report["items"]}
    assert code == 0 and failing(report) == {}
    assert items["policy:k8s-workload-require-declared-secrets"]["status"] == "warn"


def test_secret_values_in_a_dump_never_reach_the_report(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = copy.deepcopy(healthy)
    secret = find(dump, "Secret", "redis-auth")
    secret["data"] = {"password": "c3VwZXItc2VjcmV0LXZhbHVlLTQy"}
    secret["stringData"] = {"password": "super-secret-value-42"}
    _set("ConfigMap/redis-gateway", "data REDIS_PASSWORD", "super-secret-value-42")(dump)
    code, report = judge(dump, tmp_path)
    out = capsys.readouterr()
    assert code == 1
    for text in (out.out, out.err, json.dumps(report)):
        assert "super-secret-value-42" not in text and "c3VwZXItc2VjcmV0LXZhbHVlLTQy" not in text


# -- bad input: one line, non-zero, never a pass -----------------------------------------------------


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("this is not json", "not JSON"),
        ('{"apiVersion": "v1", "kind": "List", "items": [', "not JSON"),
        ("", "empty"),
        ("[1, 2, 3]", "expected a Kubernetes object or List"),
        ('{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod"}]}', "without apiVersion and kind"),
        ('{"apiVersion": "v1", "kind": "List", "items": ["pod"]}', "items[0] is not an object"),
        ('{"apiVersion": "v1", "kind": "Pod", "metadata": {}}', "without metadata.name"),
        ('{"apiVersion": "v1", "kind": "List", "items": []}', "holds no objects"),
        (
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}],
                }
            ),
            "no object of the stack",
        ),
    ],
)
def test_a_dump_that_cannot_be_judged_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, says: str
) -> None:
    code, report = judge(content, tmp_path)
    assert code == 2 and report == {}
    assert says in _one_line(capsys)


def test_a_binary_dump_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cluster.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert main(["readiness", "--stack", "production", "--from-file", str(path), *LOCAL]) == 2
    assert "not UTF-8" in _one_line(capsys)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--stack", "nowhere", "--from-file", "{dump}"], "nowhere.json: missing policy config"),
        (["--stack", "production", "--from-file", "{dump}", "--context", "prod"], "--context applies to a kubeconfig"),
        (["--stack", "production", "--from-file", "{dump}", *LOCAL, "--docs", "/nonexistent"], "--docs /nonexistent"),
        (["--stack", "production", "--from-file", "/nonexistent.json"], "no such file"),
        (
            ["--stack", "production", "--kubeconfig", "/nonexistent/config"],
            "--kubeconfig /nonexistent/config: no such file",
        ),
        (["--stack", "production", "--from-file", "{dump}", "--skip", "nothing"], "invalid choice"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    dump = tmp_path / "cluster.json"
    dump.write_text(json.dumps(healthy))
    with_dump = [a.replace("{dump}", str(dump)) for a in argv]
    try:
        code = main(["readiness", *with_dump])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    assert says in _one_line(capsys)


def test_a_cluster_without_its_targets_configmap_cannot_be_judged_on_aws(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = copy.deepcopy(healthy)
    drop(dump, "ConfigMap", "redis-gateway-readiness")
    code, _ = judge(dump, tmp_path, "--skip", "docs")  # LOCAL skips aws and prometheus: fine without targets
    assert code == 0
    path = tmp_path / "cluster.json"
    assert main(["readiness", "--stack", "production", "--from-file", str(path), "--skip", "prometheus"]) == 2
    assert "no ConfigMap redis-gateway-readiness" in _one_line(capsys)


def test_a_broken_targets_configmap_names_itself(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = copy.deepcopy(healthy)
    _set("ConfigMap/redis-gateway-readiness", "data targets.json", "{not json")(dump)
    code, _ = judge(dump, tmp_path)
    assert code == 2 and "ConfigMap redis-system/redis-gateway-readiness targets.json: line 1" in _one_line(capsys)


def test_targets_that_are_not_valid_name_the_key(
    healthy: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"stack": "production", "region": "eu-west-1"}))
    code, _ = judge(healthy, tmp_path, "--targets", str(targets))
    assert code == 2 and "cluster_name: Field required" in _one_line(capsys)


# -- the official client against an API server ------------------------------------------------------


PROXY = "/api/v1/namespaces/monitoring/services/kps-prometheus:9090/proxy"


class _Api(Handler):
    objects: ClassVar[list[dict[str, Any]]] = []
    status = 200
    missing: frozenset[str] = frozenset()
    """Kinds whose API (a CRD) this server does not serve."""
    forbidden: frozenset[str] = frozenset()
    """Kinds the credentials may not list."""
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        from ops.readiness.kube import KINDS

        type(self).seen.append(self.path)
        if self.status != 200:
            self._send(self.status, {"kind": "Status", "code": self.status, "message": "Unauthorized"})
            return
        path = self.path.split("?")[0]
        if path.startswith(PROXY):
            self._send(200, {"status": "success", "data": prometheus_answer(path.removeprefix(PROXY))})
            return
        for group_version, kind, plural, _ in KINDS:
            base = ("/api/" if "/" not in group_version else "/apis/") + group_version
            namespace = None
            if path.startswith(f"{base}/namespaces/") and path.endswith(f"/{plural}"):
                namespace = path.removeprefix(f"{base}/namespaces/").removesuffix(f"/{plural}")
            elif path != f"{base}/{plural}":
                continue
            if kind in self.missing:
                break
            if kind in self.forbidden:
                self._send(403, {"kind": "Status", "code": 403, "message": f"cannot list {plural}"})
                return
            items = [
                {k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                for o in self.objects
                if o["kind"] == kind and namespace in (None, o["metadata"].get("namespace"))
            ]
            self._send(200, {"apiVersion": group_version, "kind": f"{kind}List", "items": items})
            return
        self._send(404, {"kind": "Status", "code": 404, "message": "not found"})

    def _send(self, code: int, body: dict[str, Any]) -> None:
        self.reply(code, json.dumps(body).encode())


@pytest.fixture
def api_server(healthy: dict[str, Any]) -> Iterator[Callable[..., str]]:
    with contextlib.ExitStack() as servers:

        def start(
            status: int = 200, missing: frozenset[str] = frozenset(), forbidden: frozenset[str] = frozenset()
        ) -> str:
            fields = {"objects": healthy["items"], "status": status, "missing": missing, "forbidden": forbidden}
            return servers.enter_context(serving(type("Api", (_Api,), {**fields, "seen": []})))

        yield start


def _kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "expired-token-value"}}],
                "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "prod",
            }
        )
    )
    return path


def test_a_cluster_is_read_with_the_official_client(
    api_server: Callable[..., str], healthy: dict[str, Any], tmp_path: Path
) -> None:
    """Every kind listed through the client (list answers carry no apiVersion or kind per item, as
    the API serves them): the healthy cluster passes, as its dump does."""
    config = _kubeconfig(tmp_path, api_server())
    report = tmp_path / "r.json"
    argv = ["readiness", "--stack", "production", "--kubeconfig", str(config), "--context", "prod", *LOCAL]
    assert main([*argv, "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["target"] == "context prod" and failing(result) == {}
    assert len(result["items"]) == len(judge(healthy, tmp_path)[1]["items"])


def test_an_api_the_cluster_does_not_serve_reads_as_no_objects(api_server: Callable[..., str], tmp_path: Path) -> None:
    """No ServiceMonitor CRD (the monitoring chart is gone): the API answers 404, the kind reads as
    none, and the pack's rule names what is missing."""
    config = _kubeconfig(tmp_path, api_server(missing=frozenset({"ServiceMonitor"})))
    report = tmp_path / "r.json"
    code = main(["readiness", "--stack", "production", "--kubeconfig", str(config), *LOCAL, "--json", str(report)])
    assert code == 1 and list(failing(json.loads(report.read_text()))) == ["policy:k8s-service-require-service-monitor"]


def test_a_namespaced_role_reads_only_its_namespaces_and_never_secrets(
    api_server: Callable[..., str], tmp_path: Path
) -> None:
    """The CronJob's shape: namespaced lists in the stack's namespaces, Secrets denied by design: the
    one rule that needs them warns, nothing fails, and no Secret is read."""
    config = _kubeconfig(tmp_path, api_server(forbidden=frozenset({"Secret"})))
    report = tmp_path / "r.json"
    argv = ["readiness", "--stack", "production", "--kubeconfig", str(config), *LOCAL, "--json", str(report)]
    assert main([*argv, "--namespace", "redis-system", "--namespace", "monitoring"]) == 0
    items = {i["id"]: i for i in json.loads(report.read_text())["items"]}
    assert [i for i, x in items.items() if x["status"] != "pass"] == ["policy:k8s-workload-require-declared-secrets"]
    assert items["policy:k8s-workload-require-declared-secrets"]["status"] == "warn"
    seen = _Api.__subclasses__()[-1].seen
    assert "/api/v1/namespaces/redis-system/pods" in seen and "/api/v1/pods" not in seen
    assert "/api/v1/namespaces" in seen  # cluster-scoped kinds stay cluster-wide


def test_another_denied_kind_is_one_line_and_exit_2(
    api_server: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _kubeconfig(tmp_path, api_server(forbidden=frozenset({"Pod"})))
    assert main(["readiness", "--stack", "production", "--kubeconfig", str(config), *LOCAL]) == 2
    assert "not allowed to list pods" in _one_line(capsys)


def test_prometheus_is_reached_through_the_api_server_from_outside_the_cluster(
    api_server: Callable[..., str], tmp_path: Path
) -> None:
    """From a workstation or the deploy runner, the targets' in-cluster Prometheus URL is reached
    through the API server's service proxy with the kubeconfig's credentials."""
    config = _kubeconfig(tmp_path, api_server())
    report = tmp_path / "r.json"
    argv = ["readiness", "--stack", "production", "--kubeconfig", str(config), "--skip", "aws", "--json", str(report)]
    assert main(argv) == 0
    items = {i["id"]: i for i in json.loads(report.read_text())["items"] if i["source"] == "prometheus"}
    assert set(items) == {
        "prometheus-targets-up",
        "no-critical-alerts",
        "slo-burn-rate",
        "replication-lag",
        "replicas-attached",
    }
    assert all(i["status"] == "pass" for i in items.values())
    seen = _Api.__subclasses__()[-1].seen
    assert any(p.startswith(f"{PROXY}/api/v1/query?query=redis_connected_slave_lag_seconds") for p in seen)


@pytest.mark.parametrize(("status", "says"), [(401, "credentials rejected or expired"), (403, "not allowed to list")])
def test_refused_credentials_are_one_line_and_exit_2(
    api_server: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, says: str
) -> None:
    config = _kubeconfig(tmp_path, api_server(status))
    assert main(["readiness", "--stack", "production", "--kubeconfig", str(config), *LOCAL]) == 2
    line = _one_line(capsys)
    assert says in line and "expired-token-value" not in line


def test_an_unreachable_api_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ops.runtime.backups import free_port

    config = _kubeconfig(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert main(["readiness", "--stack", "production", "--kubeconfig", str(config), "--timeout", "2", *LOCAL]) == 2
    assert "cannot read the Kubernetes API at http://127.0.0.1" in _one_line(capsys)


def test_no_kubeconfig_at_all_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["readiness", "--stack", "production", *LOCAL]) == 2
    assert "no usable kubeconfig" in _one_line(capsys)


def test_in_cluster_outside_a_pod_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["readiness", "--stack", "production", "--in-cluster", *LOCAL]) == 2
    assert "no usable kubeconfig" in _one_line(capsys)


def test_every_item_a_scorecard_shows_is_in_the_catalogue(healthy: dict[str, Any], tmp_path: Path) -> None:
    from ops.readiness.scorecard import catalogue

    _, report = judge(healthy, tmp_path)
    known = {i: c for c, ids in catalogue("production", dr=True).items() for i in ids}
    assert {i["id"]: i["category"] for i in report["items"]}.items() <= known.items()
