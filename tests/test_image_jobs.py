"""Every Job and CronJob of the production plan that runs the ops image, run in the real image.

The image is built from ``Dockerfile`` (:mod:`tests.image_env`); each pod runs with the arguments
recorded in the plan, its security context, memory and CPU limits, volumes and env as the plan
declares them (:func:`tests.image_env.run_pod` translates, and refuses a field it does not know).
Only the service addresses in the arguments and the AWS endpoint change: real ``redis-server``s (a
Sentinel with its own password, as the RedisSentinel gets one), a moto server for S3 and KMS, a
gateway stand-in for the smoke test.

The restore drill is run at its limit and over it. The plan's drill pod holds the declared dataset
(5,000,000 keys of 512 bytes: several GiB); the test scales both down together: a 384Mi pod and the
largest dataset the sizing (:mod:`ops.runtime.pod_limits`) says such a pod holds, which must load
without an OOM kill, and one 10% over, which must be refused before anything loads.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops.offline.engine import ROOT
from ops.runtime import pod_limits
from settings import quantity_bytes
from tests.conftest import Recording, RedisServer, Topology, stack_values
from tests.http_stub import Handler, serving
from tests.image_env import ImageUnavailableError, PodRun, ops_image, run_pod

pytestmark = pytest.mark.image

PASSWORD = "image-test-pass"  # a throw-away password of throw-away servers
SECRETS = {("redis-auth", "password"): PASSWORD}
SENTINEL_SERVICE = "redis-sentinel.redis-system.svc.cluster.local:26379"
REDIS_SERVICE = "redis.redis-system.svc.cluster.local:6379"
SCALED_LIMIT = "384Mi"


@pytest.fixture(scope="session")
def image() -> str:
    try:
        return ops_image()
    except ImageUnavailableError as exc:
        pytest.fail(f"the ops image cannot be built here: {exc}")


def _pods(rec: Recording, image: str) -> dict[str, dict[str, Any]]:
    """Pod specs of every Job, CronJob and analysis Job that runs ``image``, by resource name."""
    found: dict[str, dict[str, Any]] = {}
    for r in rec:
        spec = r.inputs.get("spec") or {}
        if r.type == "kubernetes:batch/v1:CronJob":
            pods = [spec["jobTemplate"]["spec"]["template"]["spec"]]
        elif r.type == "kubernetes:batch/v1:Job":
            pods = [spec["template"]["spec"]]
        elif r.type.endswith(":AnalysisTemplate"):
            jobs = [m["provider"]["job"] for m in spec.get("metrics", []) if "job" in m.get("provider", {})]
            pods = [j["spec"]["template"]["spec"] for j in jobs]
        else:
            continue
        for pod in pods:
            if any(c.get("image") == image for c in pod["containers"]):
                found[r.name] = pod
    return found


@pytest.fixture(scope="module")
def plan_pods(stack_run: Callable[[str], Recording]) -> dict[str, dict[str, Any]]:
    return _pods(stack_run("production"), stack_values("production")["redisgw:backup"]["opsImage"])


def _arg(pod: dict[str, Any], flag: str) -> str:
    args = pod["containers"][0]["args"]
    return str(args[args.index(flag) + 1])


@pytest.fixture
def aws(moto_endpoint: str) -> dict[str, str]:
    """The pod's AWS environment: the endpoint is the only change (IRSA stands for the keys)."""
    return {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _fresh_bucket(name: str, region: str) -> None:
    """The plan's bucket, empty (moto keeps its buckets for the session)."""
    s3 = boto3.client("s3", region_name=region)
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])


def _populate(server: RedisServer, used_memory: int) -> int:
    """Fill ``server`` with 512-byte strings until its used_memory reaches ``used_memory``; return keys.
    Plain SETs (DEBUG POPULATE is not replicated), values that LZF cannot shrink, as real data."""
    client = server.client
    values = [os.urandom(256).hex() for _ in range(1000)]
    written = 0
    while (short := used_memory - int(client.info("memory")["used_memory"])) > 0:
        batch = min(20_000, short // 1024 + 1)  # smaller batches near the target: land on it
        pipe = client.pipeline(transaction=False)
        for n in range(written, written + batch):
            pipe.set(f"key:{n}", values[n % len(values)])
        pipe.execute()
        written += batch
    return int(client.dbsize())


def _report(run: PodRun) -> dict[str, Any]:
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-3000:]}"
    assert not run.oom_killed
    return dict(json.loads(run.stdout))


def _scaled_dataset(over: float) -> int:
    """used_memory of a dataset that a ``SCALED_LIMIT`` pod holds, times ``over``."""
    room = quantity_bytes(SCALED_LIMIT) - pod_limits.SCRATCH_SERVER_BYTES - pod_limits.JOB_PROCESS_BYTES
    return int(room / pod_limits.LOAD_FACTOR * over)


def test_every_ops_image_job_of_the_plan_is_run_here(plan_pods: dict[str, dict[str, Any]]) -> None:
    """A job added to the plan without a run in the image fails here."""
    assert set(plan_pods) == {
        "backups-redis-backup",
        "backups-redis-restore-drill",
        "dr-backups-redis-backup",
        "dr-backups-redis-restore-drill",
        "readiness-cronjob",
        "gateway-analysis-smoke-test",
        "dr-gateway-analysis-smoke-test",
    }


def test_the_plan_sizes_the_drill_for_the_declared_dataset(plan_pods: dict[str, dict[str, Any]]) -> None:
    """5,000,000 keys of 512 bytes, with Redis' measured overhead per key and the headroom, need several
    GiB in the drill's pod; the backup job streams."""
    values = stack_values("production")["redisgw:capacity"]
    baseline = json.loads((ROOT / "docs" / "capacity" / "baseline.json").read_text())
    per_key = values["valueBytes"]["mean"] + baseline["redis"]["overhead_bytes_per_key"]
    dataset = values["keys"] * per_key * (1 + values["headroom"])
    for name in ("backups-redis-restore-drill", "dr-backups-redis-restore-drill"):
        limit = quantity_bytes(plan_pods[name]["containers"][0]["resources"]["limits"]["memory"])
        assert limit >= pod_limits.drill_memory_need(dataset) > 5 * 2**30, name
    backup = plan_pods["backups-redis-backup"]["containers"][0]["resources"]["limits"]["memory"]
    assert quantity_bytes(backup) >= pod_limits.JOB_PROCESS_BYTES


def test_backup_through_a_password_protected_sentinel_and_a_drill_over_its_limit_refused(
    image: str,
    plan_pods: dict[str, dict[str, Any]],
    topology: Callable[..., Topology],
    aws: dict[str, str],
    tmp_path: Path,
) -> None:
    """The primary region's jobs. The Sentinel requires the Redis password (the RedisSentinel's
    ``redisSecret``): the backup job has it from the plan. Then the drill, in a pod scaled to 384Mi,
    meets a backup 10% over what that pod holds: one line, exit 1, nothing loaded, no OOM kill."""
    backup, drill = plan_pods["backups-redis-backup"], plan_pods["backups-redis-restore-drill"]
    _fresh_bucket(_arg(backup, "--bucket"), _arg(backup, "--region"))
    topo = topology(replicas=1, password=PASSWORD, sentinel_password=PASSWORD)
    keys = _populate(topo.primary, _scaled_dataset(1.10))
    topo.primary.client.execute_command("WAIT", 1, 60_000)  # the replica Sentinel names holds it all
    swap = {SENTINEL_SERVICE: topo.sentinel}
    done = run_pod(image, backup, secrets=SECRETS, env=aws, swap=swap, workdir=tmp_path / "backup")
    report = _report(done)
    assert report["key_count"] == keys and report["verified"] is True
    # The cgroup caps usage at the limit (page cache is reclaimed there): only a margin below it can fail.
    assert done.peak_bytes < 0.9 * quantity_bytes(backup["containers"][0]["resources"]["limits"]["memory"])
    print(f"backup through Sentinel: {keys} keys, peak {done.peak_mib:.0f} MiB, {done.seconds:.1f}s")

    refused = run_pod(image, drill, secrets=SECRETS, env=aws, memory_limit=SCALED_LIMIT, workdir=tmp_path / "drill")
    assert refused.returncode == 1 and not refused.oom_killed, refused.stderr[-2000:]
    line = refused.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    limit = f"memory limit is {quantity_bytes(SCALED_LIMIT) / 2**20:.0f} MiB; refusing"
    assert re.search(rf"backup {report['id']} needs about [\d,]+ MiB .* {limit}", line)
    assert refused.stdout.strip() == ""


def test_dr_backup_and_a_drill_at_its_limit(
    image: str,
    plan_pods: dict[str, dict[str, Any]],
    redis_server: Callable[..., RedisServer],
    aws: dict[str, str],
    tmp_path: Path,
) -> None:
    """The DR region's jobs: the backup from the standby's address, then the drill of the largest
    dataset a 384Mi pod holds by the sizing: it loads every key without an OOM kill."""
    backup, drill = plan_pods["dr-backups-redis-backup"], plan_pods["dr-backups-redis-restore-drill"]
    _fresh_bucket(_arg(backup, "--bucket"), _arg(backup, "--region"))
    source = redis_server(password=PASSWORD)
    keys = _populate(source, _scaled_dataset(0.97))
    swap = {REDIS_SERVICE: f"127.0.0.1:{source.port}"}
    done = run_pod(image, backup, secrets=SECRETS, env=aws, swap=swap, workdir=tmp_path / "backup")
    assert _report(done)["key_count"] == keys
    print(f"DR backup: {keys} keys, peak {done.peak_mib:.0f} MiB, {done.seconds:.1f}s")

    run = run_pod(image, drill, secrets=SECRETS, env=aws, memory_limit=SCALED_LIMIT, workdir=tmp_path / "drill")
    report = _report(run)
    assert report["ok"] is True and report["keys"] == keys
    assert run.peak_bytes < 0.9 * quantity_bytes(SCALED_LIMIT)
    print(f"drill at its limit: {keys} keys, peak {run.peak_mib:.0f} MiB of {SCALED_LIMIT}, {run.seconds:.1f}s")


@pytest.fixture
def gateway() -> Iterator[str]:
    from tests.test_smoke import Gateway

    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Gateway,), {"store": {}, "faults": set()}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("name", ["gateway-analysis-smoke-test", "dr-gateway-analysis-smoke-test"])
def test_smoke_analysis_job(
    image: str, plan_pods: dict[str, dict[str, Any]], gateway: str, tmp_path: Path, name: str
) -> None:
    """The pre-promotion smoke test as Argo Rollouts runs it: its args filled in from the Rollout's."""
    swap = {"{{args.url}}": gateway, "{{args.metrics-url}}": f"{gateway}/metrics"}
    run = run_pod(image, plan_pods[name], swap=swap, workdir=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.oom_killed
    print(f"{name}: peak {run.peak_mib:.0f} MiB, {run.seconds:.1f}s")


class _KubeApi:
    """The Kubernetes API as the readiness CronJob's client reads it in the pod: HTTPS on the address
    of ``KUBERNETES_SERVICE_HOST``, the service account's bearer token, list calls by plural (Secrets
    as metadata). Serves the objects of a healthy dump of the plan. The client side is the real one:
    kubernetes 35.0.0 (``kubernetes/config/incluster_config.py``) reads KUBERNETES_SERVICE_HOST/PORT,
    ``/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}`` and sends ``bearer <token>``
    (lower case), which this server checks as the API server does, case-insensitively."""

    def __init__(self, objects: list[dict[str, Any]], folder: Path, keys: Path, token: str) -> None:
        import http.server
        import ssl
        import subprocess

        from ops.readiness.kube import KINDS

        folder.mkdir(parents=True, exist_ok=True)
        keys.mkdir(parents=True, exist_ok=True)
        cert, key = folder / "ca.crt", keys / "key.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kubernetes"),
                *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
        by_path: dict[str, list[dict[str, Any]]] = {}
        for group_version, kind, plural, namespaced in KINDS:
            base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
            mine = [o for o in objects if o.get("kind") == kind]
            by_path[f"{base}/{plural}"] = mine
            if namespaced:
                for ns in {o["metadata"].get("namespace") for o in mine}:
                    in_ns = [o for o in mine if o["metadata"].get("namespace") == ns]
                    by_path[f"{base}/namespaces/{ns}/{plural}"] = in_ns
        self.requests: list[str] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                api.requests.append(path)
                scheme, _, presented = (self.headers.get("Authorization") or "").partition(" ")
                if scheme.lower() != "bearer" or presented != token:  # kubernetes-client sends "bearer"
                    body, code = b'{"kind":"Status","code":401}', 401
                elif path in by_path or path.rsplit("/", 1)[0] in {p.rsplit("/", 1)[0] for p in by_path}:
                    items = by_path.get(path, [])
                    body, code = json.dumps({"kind": "List", "apiVersion": "v1", "items": items}).encode(), 200
                else:
                    body, code = b'{"kind":"Status","code":404}', 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.ca = cert


def _run_readiness(
    image: str,
    pod: dict[str, Any],
    aws: dict[str, str],
    api: _KubeApi,
    token: str,
    token_dir: Path,
    tmp_path: Path,
) -> PodRun:
    (token_dir / "token").write_text(token)
    (token_dir / "namespace").write_text("redis-system")
    for f in token_dir.iterdir():
        f.chmod(0o644)
    env = {**aws, "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}
    try:
        return run_pod(image, pod, env=env, service_account_token=token_dir, workdir=tmp_path / "pod", timeout=300)
    finally:
        api.server.shutdown()


def test_readiness_cronjob_reads_the_cluster_through_its_service_account(
    image: str,
    plan_pods: dict[str, dict[str, Any]],
    stack_run: Callable[[str], Recording],
    aws: dict[str, str],
    tmp_path: Path,
) -> None:
    """The daily scorecard in its pod: in-cluster config from the mounted service account (token and
    CA), the pack, policy config and runbooks from the image, /tmp its only writable place. The
    stand-in API holds a healthy dump of the plan; Prometheus and AWS (moto holds none of the stack)
    judge as they find them. What is asserted is that the job runs its whole course in the pod: every
    kind listed with the token, a full report, and no file-system or permission failure."""
    from tests.readiness_env import default_targets, healthy_dump, prometheus_answer

    class _Prometheus(Handler):
        def do_GET(self) -> None:
            self.reply(200, json.dumps({"status": "success", "data": prometheus_answer(self.path)}).encode())

    pod = plan_pods["readiness-cronjob"]
    token_dir = tmp_path / "serviceaccount"
    token = "readiness-token"  # the stand-in API's own
    with serving(_Prometheus) as prometheus:
        # The targets' Prometheus address is the one change: the in-cluster name does not resolve here.
        targets = {**default_targets(["monitoring", "redis-system"]), "prometheus_url": prometheus}
        dump = healthy_dump(stack_run("production").primary(), targets=targets)
        api = _KubeApi(dump["items"], token_dir, tmp_path / "tls", token)
        run = _run_readiness(image, pod, aws, api, token, token_dir, tmp_path)

    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert not run.oom_killed and "Traceback" not in run.stderr
    assert not re.search(r"Read-only file system|Permission denied", run.stdout + run.stderr)
    report = json.loads(run.stdout)
    assert len(report["items"]) > 50
    listed = {p for p in api.requests if "/namespaces/redis-system/" in p}
    assert {"/api/v1/namespaces/redis-system/pods", "/apis/batch/v1/namespaces/redis-system/cronjobs"} <= listed
    # The healthy dump and Prometheus pass every item judged from them; only what moto cannot show fails.
    failed = {item["source"] for item in report["items"] if item["status"] == "fail"}
    assert failed <= {"aws"}, [i for i in report["items"] if i["status"] == "fail"]
    assert {i["id"] for i in report["items"] if i["source"] == "prometheus"} >= {"replicas-attached"}
    assert any(item["source"] == "kubernetes" and item["status"] == "pass" for item in report["items"])
    assert run.peak_bytes < 0.9 * quantity_bytes(pod["containers"][0]["resources"]["limits"]["memory"])
    print(f"readiness in its pod: {len(report['items'])} items, exit {run.returncode}, peak {run.peak_mib:.0f} MiB")
