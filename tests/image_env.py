"""The ops image, built from ``Dockerfile`` with podman, and the plan's job pods run from it.

Build (``python -m tests.image_env``, run by ``make test`` before the suite, or the first test that
needs the image):

* podman runs with a ``containers.conf`` and ``storage.conf`` of its own (runtime ``runc``: crun
  fails on the mixed cgroup hierarchies of these machines; ``default_ulimits`` these hosts accept;
  storage under :data:`CACHE`, nothing in ``/var/lib/containers``).
* No registry is reachable, so the base is made here: ``debootstrap --variant=minbase`` bookworm with
  ``python3`` and ``python3-venv``, a venv at ``/usr/local`` (``python`` and ``pip`` where the official
  image has them), imported with ``podman import`` and passed as the Dockerfile's ``BASE``.
* pip in the build trusts the host's CA bundle through a bind mount for the build only (never a
  layer of the image).
* Both images are tagged by a hash of their inputs (the recipe; the Dockerfile and every file it
  copies), so an unchanged tree rebuilds nothing and a cached rebuild takes seconds.
* ``OPS_IMAGE`` names an image built elsewhere instead (the pipeline builds FROM the pinned base with
  ``docker build``, then ``make test-image OPS_IMAGE=...``): it is taken from podman's storage, or
  loaded there from docker's, and nothing is built.

Run (:func:`run_pod`): a container from the plan's pod spec, translated field by field: user and
fsGroup, read-only root filesystem (and no tmpfs podman would add), dropped capabilities,
no privilege escalation, the seccomp profile, memory and CPU limits, every volume mount (emptyDir and
claims as fresh host folders owned by the fsGroup, emptyDir ``sizeLimit`` checked after the run as
the kubelet evicts), env with secret references resolved from what the test gives. A field the
translation does not know is an error: a plan change the mirror cannot express breaks the test
instead of passing unseen. The peak memory of the whole pod (every process in it) is read from the
memory cgroup podman puts the container in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings import cpu_millis, quantity_bytes  # the program's own reading of Kubernetes quantities

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("REDISGW_IMAGE_CACHE") or Path(tempfile.gettempdir()) / "redisgw-ops-image")
"""Podman's storage and the build records. A temporary folder: deleting it costs one fresh build."""
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
"""Command -> Debian package, for the message when one is missing."""
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class ImageUnavailableError(RuntimeError):
    """The image cannot be built here; the message says why and what to install."""


def unavailable() -> str | None:
    """Why the image cannot be built (or, with ``OPS_IMAGE``, run) on this machine, or None."""
    needed = {c: p for c, p in TOOLS.items() if c != "debootstrap" or not os.environ.get("OPS_IMAGE")}
    missing = sorted({pkg for cmd, pkg in needed.items() if shutil.which(cmd) is None})
    if missing:
        return f"the ops image tests need {', '.join(missing)} (Debian/Ubuntu: apt-get install {' '.join(missing)})"
    if os.geteuid() != 0:
        return "the ops image tests need root (podman with runc and debootstrap make the image as root)"
    return None


def podman_env() -> dict[str, str]:
    """The environment every podman call runs with: our own configuration and storage."""
    CACHE.mkdir(parents=True, exist_ok=True)
    conf, storage = CACHE / "containers.conf", CACHE / "storage.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    text = f'[storage]\ndriver = "overlay"\ngraphroot = "{CACHE}/graph"\nrunroot = "{CACHE}/run"\n'
    if not storage.exists() or storage.read_text() != text:
        storage.write_text(text)
    return {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}


def podman(*argv: str, timeout: float = 900, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *argv], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )
    if check and result.returncode != 0:
        raise ImageUnavailableError(f"podman {argv[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result


def _exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One build at a time across the test workers; the others wait and then find the tag."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _record(tag: str, seconds: float) -> None:
    with (CACHE / "builds.jsonl").open("a") as log:
        log.write(json.dumps({"tag": tag, "seconds": round(seconds, 1)}) + "\n")


def base_image() -> str:
    """The local stand-in for ``python:3.11-slim-bookworm``: Debian's python in a venv at /usr/local."""
    recipe = json.dumps([SUITE, MIRROR, "minbase", BASE_PACKAGES, "venv:/usr/local"]).encode()
    tag = f"localhost/redisgw-ops-base:{hashlib.sha256(recipe).hexdigest()[:16]}"
    if _exists(tag):
        return tag
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rootfs = Path(tmp) / "rootfs"
        steps = [
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs), MIRROR],
            ["chroot", str(rootfs), "python3", "-m", "venv", "/usr/local"],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
            if result.returncode != 0:
                raise ImageUnavailableError(f"{' '.join(step[:2])} failed: {(result.stdout + result.stderr)[-2000:]}")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        podman("import", "--change", 'CMD ["python3"]', "-", tag, stdin=tar.stdout)
        tar.wait()
    _record(tag, time.monotonic() - t0)
    return tag


def _copied_inputs() -> list[Path]:
    """The Dockerfile and every file its COPY lines bring in (what decides the image's content)."""
    files = [ROOT / "Dockerfile"]
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                path = ROOT / src
                found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
                files += [p for p in found if "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return files


def _given(name: str) -> str:
    """``OPS_IMAGE``: from podman's storage, or loaded there from docker's; its name as podman knows it."""
    if _exists(name):
        return name
    if shutil.which("docker") is None:
        raise ImageUnavailableError(
            f"OPS_IMAGE {name}: not in podman's storage ({CACHE}) and no docker to load it from"
        )
    save = subprocess.Popen(["docker", "save", name], stdout=subprocess.PIPE)
    loaded = podman("load", stdin=save.stdout)
    if save.wait() != 0:
        raise ImageUnavailableError(f"OPS_IMAGE {name}: docker save failed")
    names = [line.split(":", 1)[1].strip() for line in loaded.stdout.splitlines() if line.startswith("Loaded image")]
    if not names:
        raise ImageUnavailableError(f"OPS_IMAGE {name}: podman load named no image ({loaded.stdout.strip()})")
    return names[0].split(",")[0].strip()


def ops_image() -> str:
    """Build the ops image from ``Dockerfile`` (FROM :func:`base_image`) unless this tree's is built;
    with ``OPS_IMAGE`` set, that image instead."""
    reason = unavailable()
    if reason:
        raise ImageUnavailableError(reason)
    given = os.environ.get("OPS_IMAGE")
    if given:
        with _locked():
            return _given(given)
    with _locked():
        base = base_image()
        digest = hashlib.sha256(base.encode())
        for path in _copied_inputs():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        tag = f"localhost/redisgw-ops:{digest.hexdigest()[:16]}"
        if _exists(tag):
            return tag
        t0 = time.monotonic()
        pip_conf = CACHE / "pip.conf"
        pip_conf.write_text(f"[global]\ncert = {HOST_CA}\n")
        argv = ["build", "--network", "host", "--build-arg", f"BASE={base}", "--layers", "-t", tag]
        argv += ["-v", f"{HOST_CA}:{HOST_CA}:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro", "-f", "Dockerfile", "."]
        podman(*argv, timeout=1800, cwd=ROOT)
        _record(tag, time.monotonic() - t0)
        podman("image", "prune", "-f", check=False)  # earlier trees' images go; layers still shared stay
        return tag


# -- running a pod of the plan ---------------------------------------------------------------------


@dataclass
class PodRun:
    """What a pod's run left: exit code, output, whether the kernel killed it for memory, peak memory."""

    returncode: int
    stdout: str
    stderr: str
    oom_killed: bool
    peak_bytes: int
    seconds: float

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / (1 << 20)


# priorityClassName is a scheduling matter: podman has no scheduler, so it has no effect here.
_KNOWN_POD = {
    "containers", "securityContext", "volumes", "restartPolicy", "nodeSelector", "serviceAccountName",
    "automountServiceAccountToken", "priorityClassName",
}  # fmt: skip
_KNOWN_CONTAINER = {
    "name", "image", "imagePullPolicy", "args", "env", "resources", "securityContext", "volumeMounts",
}  # fmt: skip
_KNOWN_SECURITY = {
    "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile", "allowPrivilegeEscalation",
    "readOnlyRootFilesystem", "capabilities",
}  # fmt: skip


def _unknown(where: str, got: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(got) - known)
    if extra:
        raise AssertionError(f"{where}: {extra} not mirrored by tests/image_env.py; teach run_pod what they mean")


def _security_flags(pod: Mapping[str, Any], container: Mapping[str, Any]) -> tuple[list[str], int, int]:
    """podman flags for the pod's and container's security contexts (container fields win)."""
    pod_sc, c_sc = pod.get("securityContext", {}), container.get("securityContext", {})
    _unknown("pod securityContext", pod_sc, _KNOWN_SECURITY)
    _unknown("container securityContext", c_sc, _KNOWN_SECURITY)
    sc = {**pod_sc, **c_sc}
    uid = int(sc.get("runAsUser", 0))
    if sc.get("runAsNonRoot") and uid == 0:
        raise AssertionError("runAsNonRoot with no runAsUser: the kubelet refuses to start the pod")
    # Without runAsGroup the runtime takes the user's group from the image (USER 10001:10001).
    gid = int(sc.get("runAsGroup", uid))
    flags = ["--user", f"{uid}:{gid}" if "runAsGroup" in sc else str(uid)]
    fs_group = pod_sc.get("fsGroup")
    if fs_group is not None:
        flags += ["--group-add", str(int(fs_group))]
    if sc.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]  # no tmpfs on /tmp, /run that a pod lacks
    caps = sc.get("capabilities", {})
    flags += [f"--cap-drop={c}" for c in caps.get("drop", [])] + [f"--cap-add={c}" for c in caps.get("add", [])]
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    seccomp = sc.get("seccompProfile", {}).get("type")
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]
    elif seccomp not in (None, "RuntimeDefault"):
        raise AssertionError(f"seccompProfile {seccomp!r} not mirrored")
    return flags, uid, int(fs_group if fs_group is not None else gid)


def _env(container: Mapping[str, Any], secrets: Mapping[tuple[str, str], str], extra: Mapping[str, str]) -> list[str]:
    flags: list[str] = []
    for item in container.get("env", []):
        if "value" in item:
            value = str(item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            if (ref["name"], ref["key"]) not in secrets:
                raise AssertionError(f"env {item['name']}: the test gives no Secret {ref['name']}/{ref['key']}")
            value = secrets[(ref["name"], ref["key"])]
        flags += ["--env", f"{item['name']}={value}"]
    return flags + [f"--env={k}={v}" for k, v in extra.items()]


CGROUP = Path("/sys/fs/cgroup")


def _peak(parent: str) -> int:
    """The pod's peak memory: the parent cgroup outlives the container and holds its high-water mark
    (cgroup v1 ``memory.max_usage_in_bytes``; v2 ``memory.peak``, kernel 5.19 and later)."""
    name = parent.strip("/")
    for path in (CGROUP / "memory" / name / "memory.max_usage_in_bytes", CGROUP / name / "memory.peak"):
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text())
    raise AssertionError(f"no memory high-water mark for cgroup {parent} (cgroup v1 or v2 with memory.peak needed)")


def _remove_cgroup(parent: str) -> None:
    """The pod's cgroups, deepest first (conmon leaves a ``conmon`` child under the parent)."""
    name = parent.strip("/")
    for controller in [*CGROUP.iterdir(), CGROUP]:  # v1: one tree per controller; v2: the one tree
        root = controller / name
        if not root.is_dir():
            continue
        for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def run_pod(
    image: str,
    pod: Mapping[str, Any],
    *,
    secrets: Mapping[tuple[str, str], str] = {},
    env: Mapping[str, str] = {},
    swap: Mapping[str, str] = {},
    memory_limit: str | None = None,
    service_account_token: Path | None = None,
    timeout: float = 600,
    workdir: Path,
) -> PodRun:
    """Run the pod's one container from ``image`` with the plan's exact arguments.

    ``swap`` replaces the service addresses in the arguments (each must occur: a plan that no longer
    names it breaks the test); ``env`` adds only the AWS endpoint and the like; ``memory_limit``
    scales the limit for a test that scales the dataset with it (the plan's value otherwise);
    ``service_account_token`` is the folder the kubelet would mount for the pod's service account."""
    _unknown("pod spec", pod, _KNOWN_POD)
    (container,) = pod["containers"]
    _unknown("container", container, _KNOWN_CONTAINER)
    argv = [str(a) for a in container.get("args", [])]
    for old, new in swap.items():
        if not any(old in a for a in argv):
            raise AssertionError(f"{old!r} is not in the job's arguments {argv}")
        argv = [a.replace(old, new) for a in argv]
    flags, uid, group = _security_flags(pod, container)
    limits = container.get("resources", {}).get("limits", {})
    memory = quantity_bytes(str(memory_limit or limits["memory"]))
    cpus = cpu_millis(str(limits["cpu"])) / 1000
    flags += ["--memory", str(memory), "--memory-swap", str(memory), "--cpus", str(cpus)]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    size_limits: dict[Path, float] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        host = workdir / f"volume-{mount['name']}"
        host.mkdir(parents=True, exist_ok=True)
        os.chown(host, uid, group)
        os.chmod(host, 0o2775)  # the kubelet's fsGroup ownership: group-owned, setgid, group-writable
        if "emptyDir" in volume and "sizeLimit" in volume["emptyDir"]:
            size_limits[host] = quantity_bytes(str(volume["emptyDir"]["sizeLimit"]))
        elif not ({"emptyDir", "ephemeral", "persistentVolumeClaim"} & set(volume)):
            raise AssertionError(f"volume {mount['name']}: kind {sorted(volume)} not mirrored")
        flags += ["-v", f"{host}:{mount['mountPath']}:{'ro' if mount.get('readOnly') else 'rw'}"]
    if service_account_token is not None:
        if pod.get("automountServiceAccountToken") is False:
            raise AssertionError("the pod mounts no service account token, yet the test gives one")
        flags += ["-v", f"{service_account_token}:/var/run/secrets/kubernetes.io/serviceaccount:ro"]
    parent = f"/redisgw-pod-{uuid.uuid4().hex[:12]}"
    name = parent.strip("/")
    argv_full = ["run", "--name", name, "--network", "host", "--cgroup-parent", parent, "--pull", "never"]
    argv_full += [*flags, *_env(container, secrets, env), image, *argv]
    t0 = time.monotonic()
    try:
        done = podman(*argv_full, timeout=timeout, check=False)
        seconds = time.monotonic() - t0
        state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
        peak = _peak(parent)
    finally:
        podman("rm", "-f", name, check=False)
        _remove_cgroup(parent)
    for host, limit in size_limits.items():
        used = sum(p.stat().st_size for p in host.rglob("*") if p.is_file())
        if used > limit:
            raise AssertionError(f"{host.name}: {used} bytes written, over its sizeLimit {limit:.0f} (evicted)")
    return PodRun(done.returncode, done.stdout, done.stderr, bool(state.get("OOMKilled")), peak, seconds)


def main() -> int:
    """Build (or find) the image; print its tag and how long it took."""
    reason = unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        tag = ops_image()
    except ImageUnavailableError as exc:
        print(f"ops image: {exc}", file=sys.stderr)
        return 1
    print(f"ops image {tag} ready in {time.monotonic() - t0:.1f}s (storage {CACHE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
