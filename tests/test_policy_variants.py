"""Each checklist item, broken on purpose in the real production program, blocks the preview.

A variant is the real ``__main__.py`` with one stack transformation that makes a realistic mistake
(a Secret renamed, a quota emptied, a probe dropped, ...). ``ops preview`` must exit 1 and name the
policy that guards that item among the mandatory violations.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from rich.console import Console

import settings
from ops.offline import preview
from ops.offline.engine import ROOT, assume_secrets, cli_config, load_stack_config, run_program
from tests.conftest import write_variant
from tests.policy_harness import as_policy_resources, evaluate

Mutation = Callable[[dict[str, Any]], None]


def breaking(type_suffix: str, name: str, mutate: Mutation) -> pulumi.ResourceTransformation:
    def transformation(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.type_.endswith(type_suffix) and args.name == name:
            props = dict(args.props)
            mutate(props)
            return pulumi.ResourceTransformationResult(props, args.opts)
        return None

    return transformation


def _pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def _container(props: dict[str, Any]) -> dict[str, Any]:
    return _pod(props)["containers"][0]


def _annotations(drop: str) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        meta = dict(props["metadata"])
        meta["annotations"] = pulumi.Output.from_input(meta["annotations"]).apply(
            lambda a: {k: v for k, v in a.items() if not k.endswith(drop)}
        )
        props["metadata"] = meta

    return mutate


def _no_https(props: dict[str, Any]) -> None:
    meta = dict(props["metadata"])
    meta["annotations"] = pulumi.Output.from_input(meta["annotations"]).apply(
        lambda a: {
            **{k: v for k, v in a.items() if not k.endswith(("certificate-arn", "ssl-redirect"))},
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}]',
        }
    )
    props["metadata"] = meta


def _set(path: str, value: Any) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = props
        for p in parents:
            node[p] = dict(node[p])
            node = node[p]
        node[last] = value

    return mutate


def _drop_runbook(props: dict[str, Any]) -> None:
    spec = json.loads(json.dumps(props["spec"]))
    spec["groups"][1]["rules"][0]["annotations"].pop("runbook_url")
    props["spec"] = spec


def _strip(*keys: str) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        spec = json.loads(json.dumps(props["spec"]))
        pod = spec["template"]["spec"]
        for key in keys:
            if "." in key:
                container_key = key.split(".", 1)[1]
                pod["containers"][0].pop(container_key)
            else:
                pod.pop(key)
        props["spec"] = spec

    return mutate


def _pod_security(props: dict[str, Any]) -> None:
    spec = json.loads(json.dumps(props["spec"]))
    spec["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    spec["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    props["spec"] = spec


def _image(tag: str) -> Mutation:
    def mutate(props: dict[str, Any]) -> None:
        spec = json.loads(json.dumps(props["spec"]))
        container = spec["template"]["spec"]["containers"][0]
        container["image"] = container["image"].rsplit(":", 1)[0] + f":{tag}"
        props["spec"] = spec

    return mutate


VARIANTS: list[tuple[str, str, pulumi.ResourceTransformation]] = [
    # (checklist item, policy that must block it, the mistake)
    (
        "secrets",
        "k8s-workload-require-declared-secrets",
        breaking(":Secret", "gateway-redis-auth", _set("metadata.name", "redis-auth-v2")),
    ),
    ("tls", "alb-ingress-require-https", breaking(":Ingress", "gateway-ingress", _no_https)),
    ("waf", "alb-ingress-require-waf", breaking(":Ingress", "gateway-ingress", _annotations("wafv2-acl-arn"))),
    (
        "rbac",
        "k8s-rbac-disallow-wildcard-permissions",
        breaking(
            "v1:Role", "gateway-role", _set("rules", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}])
        ),
    ),
    (
        "network-policies",
        "k8s-namespace-require-default-deny",
        breaking(
            ":NetworkPolicy", "gateway-netpol-default-deny", _set("spec.podSelector", {"matchLabels": {"app": "x"}})
        ),
    ),
    (
        "resource-quotas",
        "k8s-namespace-require-resource-quota",
        breaking(":ResourceQuota", "gateway-quota", _set("spec", {"hard": {"pods": "10"}})),
    ),
    (
        "limit-ranges",
        "k8s-namespace-require-limit-range",
        breaking(
            ":LimitRange",
            "gateway-limits",
            _set("spec", {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "1Ti"}}]}),
        ),
    ),
    (
        "pdb",
        "k8s-workload-require-pdb",
        breaking(":PodDisruptionBudget", "gateway-pdb", _set("spec.selector", {"matchLabels": {"app": "other"}})),
    ),
    (
        "pdb-vs-hpa",
        "k8s-pdb-require-hpa-consistency",
        breaking(":PodDisruptionBudget", "gateway-pdb", _set("spec.minAvailable", 3)),
    ),
    (
        "prometheus-grafana-alertmanager",
        "monitoring-stack-require-prometheus-grafana-alertmanager",
        breaking(":Release", "monitoring-kube-prometheus-stack", _set("values.alertmanager.enabled", False)),
    ),
    (
        "service-monitor",
        "k8s-service-require-service-monitor",
        breaking(":ServiceMonitor", "gateway-servicemonitor", _set("spec.selector", {"matchLabels": {"app": "other"}})),
    ),
    (
        "runbooks",
        "monitoring-alert-require-runbook-url",
        breaking(":PrometheusRule", "monitoring-rules", _drop_runbook),
    ),
    (
        "backup-cronjob",
        "k8s-backup-require-cronjob-and-storage",
        breaking(":CronJob", "backups-redis-backup", _set("spec.schedule", "0 3 * * *")),
    ),
    (
        "backup-storage",
        "k8s-backup-require-cronjob-and-storage",
        breaking(":PersistentVolumeClaim", "backups-spool", _set("metadata.name", "scratch")),
    ),
    (
        "replicas",
        "k8s-workload-require-hpa",
        breaking(":HorizontalPodAutoscaler", "gateway-hpa", _set("spec.minReplicas", 2)),
    ),
    (
        "hpa",
        "k8s-workload-require-hpa",
        breaking(":HorizontalPodAutoscaler", "gateway-hpa", _set("spec.scaleTargetRef.name", "other")),
    ),
    (
        "anti-affinity",
        "k8s-workload-require-anti-affinity",
        breaking(":Rollout", "gateway-rollout", _strip("affinity", "topologySpreadConstraints")),
    ),
    (
        "requests-limits",
        "k8s-container-require-resources",
        breaking(":Rollout", "gateway-rollout", _strip("c.resources")),
    ),
    ("probes", "k8s-container-require-probes", breaking(":Rollout", "gateway-rollout", _strip("c.readinessProbe"))),
    ("non-root", "k8s-container-require-non-root", breaking(":Rollout", "gateway-rollout", _pod_security)),
    ("latest-tag", "k8s-container-disallow-latest-tag", breaking(":Rollout", "gateway-rollout", _image("latest"))),
    (
        "public-service",
        "k8s-service-disallow-external-exposure",
        breaking(":Service", "gateway-svc", _set("spec.type", "LoadBalancer")),
    ),
    (
        "redis-node-group",
        "redis-pods-require-redis-node-group",
        breaking(":RedisReplication", "gateway-redis", _set("spec.tolerations", [])),
    ),
    (
        "kms-rotation",
        "kms-key-require-rotation",
        breaking("kms/key:Key", "backups-key", _set("enable_key_rotation", False)),
    ),
    (
        "imdsv2",
        "ec2-launch-template-require-imdsv2",
        breaking(
            ":LaunchTemplate",
            "primary-main",
            _set(
                "metadata_options",
                aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="optional", http_endpoint="enabled"),
            ),
        ),
    ),
    (
        "s3-versioning",
        "s3-bucket-require-versioning",
        breaking(
            ":BucketVersioning",
            "backups-bucket",
            _set("versioning_configuration", aws.s3.BucketVersioningVersioningConfigurationArgs(status="Suspended")),
        ),
    ),
    (
        "flow-logs",
        "ec2-vpc-require-flow-logs",
        breaking(":FlowLog", "primary-flow-logs", _set("vpc_id", "vpc-elsewhere")),
    ),
    (
        "vault-lock",
        "backup-vault-require-lock",
        breaking(":VaultLockConfiguration", "backups-vault-lock", _set("min_retention_days", 1)),
    ),
    (
        "secrets-encryption",
        "eks-cluster-require-secrets-encryption",
        breaking("eks:index:Cluster", "primary", _set("encryption_config_key_arn", None)),
    ),
]


@pytest.fixture(scope="module")
def single_region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """Production without its DR region (every variant breaks the primary: half the program to run),
    and what that alone blocks (no standby, no copies in another region), measured once."""
    variant = write_variant(tmp_path_factory.mktemp("single-region"), "production", [("redisgw:dr.enabled", False)])
    return variant, _mandatory(variant, ())


def _mandatory(variant: Path, transformations: Any) -> set[str]:
    """Mandatory policies the variant's plan violates: the real program under the engine's mocks, the
    pack evaluated in-process (the analyzer path gives the same verdicts: test_preview checks it, and
    test_a_broken_item_fails_ops_preview takes it here)."""
    loaded = load_stack_config("production", variant)
    checked = settings.load_settings(loaded.values, source=variant.name, secret_keys=loaded.secret_keys)
    cfg, _ = assume_secrets(loaded, settings.required_secret_keys(checked))
    recorded = run_program(
        ROOT / "__main__.py",
        stack="production",
        config=cli_config(cfg),
        secret_keys=cfg.secret_keys,
        region=checked.region,
        transformations=transformations,
    )
    hits = evaluate(as_policy_resources(recorded), "production")
    return {h.policy for h in hits if h.level == "mandatory"}


def test_single_region_baseline_only_misses_the_second_region(single_region: tuple[Path, set[str]]) -> None:
    assert single_region[1] == {
        "dr-require-warm-standby",
        "s3-bucket-require-cross-region-replication",
        "backup-plan-require-schedule-retention-and-copy",  # the snapshot copy to the DR vault
    }


@pytest.mark.parametrize(("policy", "transformation"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_broken_item_blocks_production(
    single_region: tuple[Path, set[str]], policy: str, transformation: pulumi.ResourceTransformation
) -> None:
    variant, baseline = single_region
    mandatory = _mandatory(variant, [transformation])
    assert policy in mandatory - baseline, (policy, mandatory)


def test_a_broken_item_fails_ops_preview(tmp_path: Path) -> None:
    """The whole engine (analyzer protocol, schema checks, report) on the full production stack."""
    _, policy, transformation = next(v for v in VARIANTS if v[0] == "tls")
    report = tmp_path / "report.json"
    out = io.StringIO()
    assert preview.run("production", report, Console(file=out, width=200), transformations=[transformation]) == 1
    violations = json.loads(report.read_text())["policies"]["violations"]
    assert {v["policy"] for v in violations if v["enforcement"] == "mandatory"} == {policy}
    assert policy in out.getvalue()


def test_unbroken_production_passes(preview_report: Callable[[str], dict[str, Any]]) -> None:
    report = preview_report("production")  # exit 0 asserted where it is made
    assert not [v for v in report["policies"]["violations"] if v["enforcement"] == "mandatory"]
