"""The ops image: pinned base, non-root, and enough of the project to run the CronJobs' commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ops.engine import ROOT


def test_dockerfile_pins_its_base_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "redis-server" in text  # redis-check-rdb for verify, redis-server for drills


def test_ops_image_requirements_are_a_subset_of_the_project_requirements() -> None:
    def names(path: Path) -> dict[str, str]:
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return {re.split(r"[<>=\[]", ln)[0].lower(): ln for ln in lines if ln}

    image, project = names(ROOT / "requirements-ops.txt"), names(ROOT / "requirements.txt")
    for name, spec in image.items():
        assert project.get(name) == spec, f"{name}: image pins {spec!r}, project {project.get(name)!r}"


def test_backup_commands_need_nothing_but_the_image_requirements() -> None:
    # The CronJob commands import only what requirements-ops.txt installs (no Pulumi, no pydantic).
    code = (
        "import sys, ops.cli\n"
        "for cmd in ('backup', 'verify', 'restore', 'list', 'prune', 'drill'):\n"
        "    try:\n"
        "        ops.cli.main([cmd, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(loaded & {'pulumi', 'pydantic', 'yaml', 'kubernetes_validate'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
