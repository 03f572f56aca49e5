"""The ops image: pinned base, non-root, and exactly the runtime half of ``ops`` with its own requirements."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ops.offline.engine import ROOT
from tests.conftest import Recording

DOCKERFILE = ROOT / "Dockerfile"


def _names(path: Path) -> dict[str, str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return {re.split(r"[<>=\[]", ln)[0].lower(): ln for ln in lines if ln and not ln.startswith("-r")}


def test_dockerfile_pins_its_base_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    (base,) = re.findall(r"^ARG BASE=(\S+)", text, re.M)  # the pinned default; tests build FROM a local one
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE}"]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "redis-server" in text  # redis-check-rdb for verify, redis-server for drills


def test_each_half_of_ops_has_its_requirements_and_the_project_includes_both() -> None:
    project = (ROOT / "requirements.txt").read_text().splitlines()
    for half in ("offline", "runtime", "readiness"):
        assert f"-r ops/{half}/requirements.txt" in project
    runtime, offline = _names(ROOT / "ops/runtime/requirements.txt"), _names(ROOT / "ops/offline/requirements.txt")
    readiness, pack = _names(ROOT / "ops/readiness/requirements.txt"), _names(ROOT / "policies/requirements.txt")
    assert not {"pulumi", "pulumi-policy", "pyyaml"} & set(runtime), runtime
    assert "pulumi-policy" in offline and "redis" not in offline and "boto3" not in offline
    assert set(pack) <= set(readiness) and not {"kubernetes-validate", "pulumi-aws", "pyyaml"} & set(readiness)
    program = _names(ROOT / "requirements.txt")
    merged = {**offline, **runtime, **readiness}
    for name, spec in merged.items():  # one pin per package across the files pip reads together
        assert program.get(name, spec) == spec, f"{name}: ops pins {spec!r}, project {program[name]!r}"
        for part in (offline, runtime, readiness, pack):
            assert part.get(name, spec) == spec, name


def _image_tree(tmp: Path) -> Path:
    """The files the Dockerfile copies into /app, laid out as in the image."""
    app = tmp / "app"
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, dest = line.split()[1:]
        for src in sources:
            target = app / dest / (Path(src).name if dest.endswith("/") else "")
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(ROOT / src, target)
    return app


def test_the_image_holds_the_runtime_half_and_none_of_the_engine(tmp_path: Path) -> None:
    app = _image_tree(tmp_path)
    assert (app / "requirements.txt").read_text() == (ROOT / "ops/runtime/requirements.txt").read_text()
    assert (app / "ops/runtime/backups.py").is_file() and (app / "ops/cli.py").is_file()
    assert not (app / "ops/offline").exists()
    assert (app / "ops/readiness/scorecard.py").is_file() and (app / "policies/redisgw_policies/__init__.py").is_file()
    assert (app / "policies/config/production.json").is_file() and (
        app / "docs/runbooks/incident-response.md"
    ).is_file()
    code = (
        "import sys, ops.cli\n"
        "for cmd in ('backup', 'verify', 'restore', 'list', 'prune', 'drill', 'smoke'):\n"
        "    try:\n"
        "        ops.cli.main([cmd, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'pulumi', 'pulumi_policy', 'yaml', 'kubernetes_validate', 'grpc'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=app, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_engine_commands_in_the_image_say_what_is_missing(tmp_path: Path) -> None:
    app = _image_tree(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ops", "preview", "--stack", "production"], cwd=app, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "ops/offline" in result.stderr, result.stderr


def test_the_image_runs_the_readiness_scorecard_with_its_own_pack_and_runbooks(
    tmp_path: Path, stack_run: Callable[[str], Recording]
) -> None:
    """As the CronJob runs it: the pack from /app/policies, the runbooks from /app/docs."""
    from tests.readiness_env import healthy_dump

    app = _image_tree(tmp_path)
    dump = tmp_path / "cluster.json"
    dump.write_text(json.dumps(healthy_dump(stack_run("production").primary())))
    argv = ["readiness", "--stack", "production", "--from-file", str(dump), "--skip", "aws", "--skip", "prometheus"]
    result = subprocess.run(
        [sys.executable, "-m", "ops", *argv, "--docs", str(app / "docs"), "--json", "-"],
        cwd=app,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(app)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["ok"] and len(report["items"]) > 50
