"""The in-cluster restore as rendered manifests: valid Kubernetes, admitted by the stack's own
NetworkPolicies, and a command line the restore accepts."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from ops.cli import _parser, main
from tests.conftest import Recording

ARGS = [
    "restore-job",
    "--bucket",
    "redisgw-backups",
    "--backup",
    "20261126T131500.000000Z",
    "--primary",
    "10.0.1.5:6379",
    "--image",
    (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
        "@sha256:7edf7809dcfacef9d62cb22a4ed1003510960625b41abf4423d4a2da22bd1a79"
    ),
    "--region",
    "eu-west-1",
]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(ARGS) == 0
    return dict(json.loads(out.getvalue()))


def test_every_object_is_valid_for_the_cluster_version(rendered: dict[str, Any]) -> None:
    kinds = [item["kind"] for item in rendered["items"]]
    assert kinds == ["Job", "NetworkPolicy", "NetworkPolicy"]
    for item in rendered["items"]:
        kubernetes_validate.validate(item, "1.34", strict=True)


def test_the_job_is_what_the_stack_admits_to_redis(
    rendered: dict[str, Any], stack_run: Callable[[str], Recording]
) -> None:
    job = rendered["items"][0]
    pod = job["spec"]["template"]
    plan = stack_run("production")
    admitted = [
        p.inputs["spec"]
        for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["spec"].get("podSelector", {}).get("matchLabels", {}).get("app") == "redis"
        and "Ingress" in p.inputs["spec"]["policyTypes"]
    ]
    sources = [
        f["podSelector"]["matchLabels"]
        for spec in admitted
        for rule in spec["ingress"]
        for f in rule["from"]
        if "podSelector" in f
    ]
    assert any(all(pod["metadata"]["labels"].get(k) == v for k, v in s.items()) for s in sources)
    account = {a.inputs["metadata"]["name"] for a in plan.of_type("kubernetes:core/v1:ServiceAccount")}
    assert pod["spec"]["serviceAccountName"] in account
    secrets = {s.inputs["metadata"]["name"] for s in plan.of_type("kubernetes:core/v1:Secret")}
    (env,) = [e for e in pod["spec"]["containers"][0]["env"] if e["name"] == "REDIS_PASSWORD"]
    assert env["valueFrom"]["secretKeyRef"]["name"] in secrets
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] > 0


def test_the_replication_path_is_opened_for_this_job_only(rendered: dict[str, Any]) -> None:
    job, to_job, from_redis = rendered["items"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    selector = to_job["spec"]["podSelector"]["matchLabels"]
    assert selector["job"] == job["metadata"]["name"] and all(labels[k] == v for k, v in selector.items())
    assert to_job["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app": "redis"}}}]
    assert from_redis["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"] == selector
    for policy in (to_job, from_redis):
        (ports,) = policy["spec"]["ingress" if policy is to_job else "egress"][0]["ports"]
        assert (ports["port"], ports["endPort"]) == (1024, 65535)  # the one-shot primary's ephemeral port


def test_the_command_line_is_one_the_restore_accepts(rendered: dict[str, Any]) -> None:
    container = rendered["items"][0]["spec"]["template"]["spec"]["containers"][0]
    assert "$(POD_IP)" in container["args"]  # Kubernetes expands it from the env var
    assert any(
        e["name"] == "POD_IP" and e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP" for e in container["env"]
    )
    args = [
        "10.0.9.9" if a == "$(POD_IP)" else tempfile.gettempdir() if a == "/spool" else a for a in container["args"]
    ]
    parsed = _parser().parse_args(args)
    assert (parsed.command, parsed.backup, parsed.force) == ("restore", "20261126T131500.000000Z", False)
    assert parsed.target_url.host == "10.0.1.5" and parsed.target_url.port == 6379
    assert parsed.advertise == "10.0.9.9"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--backup", "latest"), "--backup 'latest': name one backup id"),
        (("--primary", "redis"), "argument --primary: expected host:port"),
        (("--image", "ops:latest"), "argument --image: 'ops:latest' is not a pinned image"),
        (("--name", "Restore_Job"), "argument --name: 'Restore_Job' is not a Kubernetes name"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str) -> None:
    args = list(ARGS)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += list(change)
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
