"""The pod-spec translation of the in-image tests: what it mirrors, and that it refuses what it cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from settings import cpu_millis, quantity_bytes
from tests.image_env import _security_flags, run_pod

RESTRICTED = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def test_the_restricted_context_becomes_podman_flags() -> None:
    pod = {"securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}}
    flags, uid, group = _security_flags(pod, {"securityContext": RESTRICTED})
    assert (uid, group) == (10001, 10001)
    joined = " ".join(flags)
    assert "--user 10001:10001" in joined and "--group-add 10001" in joined
    assert "--read-only --read-only-tmpfs=false" in joined  # no tmpfs /tmp the pod does not have
    assert "--cap-drop=ALL" in joined and "no-new-privileges" in joined and "seccomp" not in joined


def test_without_run_as_group_the_images_group_is_kept() -> None:
    flags, _, _ = _security_flags({"securityContext": {"runAsUser": 10001}}, {})
    assert flags[:2] == ["--user", "10001"]


@pytest.mark.parametrize(
    ("pod", "container", "message"),
    [
        ({"securityContext": {"runAsNonRoot": True}}, {}, "runAsNonRoot with no runAsUser"),
        ({"securityContext": {"runAsUser": 1, "sysctls": []}}, {}, r"\['sysctls'\] not mirrored"),
        ({}, {"securityContext": {"seccompProfile": {"type": "Localhost"}}}, "seccompProfile 'Localhost'"),
    ],
)
def test_what_it_cannot_mirror_is_an_error(pod: dict[str, Any], container: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        _security_flags(pod, container)


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        ({"containers": [{"name": "x"}], "hostNetwork": True}, r"pod spec: \['hostNetwork'\]"),
        ({"containers": [{"name": "x", "command": ["sh"]}]}, r"container: \['command'\]"),
        (
            {"containers": [{"name": "x", "args": ["backup", "--sentinel", "a:1"]}]},
            r"'redis-sentinel.svc:26379' is not in the job's arguments",
        ),
    ],
)
def test_a_pod_it_cannot_run_as_the_plan_says_is_refused_before_podman(
    pod: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(AssertionError, match=message):
        run_pod("unused", pod, swap={"redis-sentinel.svc:26379": "127.0.0.1:1"}, workdir=tmp_path)


@pytest.mark.parametrize(
    ("value", "number"), [("512Mi", 512 * 2**20), ("5632Mi", 5632 * 2**20), ("250m", 0.25), (1, 1)]
)
def test_quantities(value: Any, number: float) -> None:
    """The mirror reads limits with the program's own functions: memory in bytes, CPU in cores."""
    text = str(value)
    assert (quantity_bytes(text) if text.endswith("i") else cpu_millis(text) / 1000) == number
