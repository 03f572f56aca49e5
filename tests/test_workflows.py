"""The delivery pipeline: valid GitHub workflows, pinned actions, least privilege, no overlap."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.offline.engine import ROOT
from tests.conftest import stack_values
from tests.state_exports import CRONJOB, MANIFEST, ROOT_URN, URN

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(doc)


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "deploy.yml"}


def test_workflows_validate_against_the_github_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)", path.read_text())
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_oidc(path: Path) -> None:
    doc = load(path)
    assert doc["permissions"] == {"contents": "read"}
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for job in doc["jobs"].values():
        if "configure-aws-credentials" in str(job.get("steps")):
            assert job["permissions"].get("id-token") == "write"


def test_deployments_never_overlap_and_production_is_gated() -> None:
    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert jobs["staging"]["concurrency"] == {"group": "deploy-staging", "cancel-in-progress": False}
    assert jobs["production"]["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert jobs["production"]["environment"] == "production"
    steps = [s.get("name", s.get("uses", s.get("run", ""))) for s in jobs["production"]["steps"]]
    up = next(i for i, s in enumerate(jobs["production"]["steps"]) if s.get("with", {}).get("command") == "up")
    assert steps.index("Readiness gate (policy pack, schemas)") < up
    assert steps[-1] == "Readiness scorecard after the rollout (must pass)"
    assert steps[up + 1] == "Post-deployment validation"
    on = load(ROOT / ".github" / "workflows" / "deploy.yml")["on"]
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert on["workflow_dispatch"]["inputs"]["strategy"]["options"] == ["configured", "blue-green", "canary", "rolling"]


def test_pull_requests_preview_every_stack_with_the_policy_pack() -> None:
    jobs = load(ROOT / ".github" / "workflows" / "pull-request.yml")["jobs"]
    assert jobs["offline-preview"]["strategy"]["matrix"]["stack"] == ["staging", "production"]
    real = jobs["pulumi-preview"]
    step = next(s for s in real["steps"] if "pulumi/actions" in s.get("uses", ""))
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert real["permissions"]["pull-requests"] == "write"


# -- which jobs run, for every trigger and input -------------------------------------------------

_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|,|'(?:[^']|'')*'|[A-Za-z_][\w.-]*|\d+)")


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """A GitHub Actions expression (the subset the workflows use: contexts, string literals,
    ``==`` ``!=`` ``!`` ``&&`` ``||``, parentheses, ``startsWith``/``endsWith``/``contains``)."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    tokens = [t for t in _TOKEN.findall(text)]
    assert "".join(tokens).replace(" ", "") == text.replace(" ", ""), f"unsupported syntax in {expression!r}"
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        token = tokens[pos]
        assert expected is None or token == expected, (token, expected)
        pos += 1
        return token

    def primary() -> Any:
        token = take()
        if token == "(":
            value = disjunction()
            take(")")
            return value
        if token == "!":
            return not primary()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token == "true"
        if peek() == "(":
            take("(")
            args = [disjunction()]
            while peek() == ",":
                take(",")
                args.append(disjunction())
            take(")")
            a, b = (str(x or "").lower() for x in args)
            return {"startsWith": a.startswith(b), "endsWith": a.endswith(b), "contains": b in a}[token]
        value: Any = context
        for part in token.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    def comparison() -> Any:
        left = primary()
        while peek() in ("==", "!="):
            op, right = take(), primary()
            left = (str(left).lower() == str(right).lower()) == (op == "==")
        return left

    def conjunction() -> Any:
        left = comparison()
        while peek() == "&&":
            take()
            right = comparison()
            left = right if left else left
        return left

    def disjunction() -> Any:
        left = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            left = left if left else right
        return left

    result = disjunction()
    assert pos == len(tokens), f"trailing tokens in {expression!r}"
    return result


def triggers() -> list[tuple[str, dict[str, Any]]]:
    """Every way the deploy workflow starts: pushes, and manual runs from main and from a tag."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("push main", {"github": {"event_name": "push", "ref": "refs/heads/main"}}),
        ("push tag v1.4.0", {"github": {"event_name": "push", "ref": "refs/tags/v1.4.0"}}),
    ]
    for ref, label in (("refs/heads/main", "main"), ("refs/tags/v1.4.0", "tag v1.4.0")):
        for stack in ("staging", "production"):
            for strategy in ("configured", "blue-green", "canary", "rolling"):
                cases.append(
                    (
                        f"manual from {label}: {stack}, {strategy}",
                        {
                            "github": {"event_name": "workflow_dispatch", "ref": ref},
                            "inputs": {"stack": stack, "strategy": strategy},
                        },
                    )
                )
    return cases


def outcome(context: dict[str, Any]) -> dict[str, str]:
    """Deploy job -> the strategy it deploys with (or 'refused'), for the jobs that run."""
    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    ran = {}
    for name, job in jobs.items():
        if name in ("checks", "ops-image") or ("if" in job and not evaluate(job["if"], context)):
            continue
        if name.startswith("refuse"):
            ran["production"] = "refused"
            continue
        chooser = next(s for s in job["steps"] if s.get("name") == "Choose the strategy")
        override = evaluate(chooser["if"], context)
        ran[name] = str(evaluate(chooser["env"]["STRATEGY"], context)) if override else "configured"
        assert job["environment"] == name and f"codebuild-redisgw-{name}-deploy-" in job["runs-on"]
    return ran


EXPECTED = {
    "push main": {"staging": "configured"},
    "push tag v1.4.0": {"production": "configured"},
    **{
        f"manual from {label}: staging, {s}": {"staging": s}
        for label in ("main", "tag v1.4.0")
        for s in ("configured", "blue-green", "canary", "rolling")
    },
    **{
        f"manual from main: production, {s}": {"production": "refused"}
        for s in ("configured", "blue-green", "canary", "rolling")
    },
    **{
        f"manual from tag v1.4.0: production, {s}": {"production": s}
        for s in ("configured", "blue-green", "canary", "rolling")
    },
}


@pytest.mark.parametrize(("trigger", "context"), triggers(), ids=[t for t, _ in triggers()])
def test_each_trigger_runs_exactly_the_expected_deployment(trigger: str, context: dict[str, Any]) -> None:
    assert outcome(context) == EXPECTED[trigger]


def test_the_runbook_table_is_what_the_workflow_does() -> None:
    runbook = (ROOT / "docs" / "runbooks" / "deployment-procedures.md").read_text()
    table = runbook.split("<!-- triggers:start -->\n", 1)[1].split("<!-- triggers:end -->", 1)[0]
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]
    documented = {row[0]: row[1] for row in rows}
    computed = {}
    for trigger, context in triggers():
        ran = outcome(context)
        computed[trigger] = ", ".join(f"{job} ({strategy})" for job, strategy in sorted(ran.items())) or "nothing"
    assert documented == computed


def test_the_evaluator_reads_github_semantics() -> None:
    ctx = {"github": {"ref": "refs/tags/V1", "event_name": "push"}, "inputs": {}}
    assert evaluate("${{ startsWith(github.ref, 'refs/tags/v') }}", ctx) is True  # case-insensitive, as GitHub
    assert evaluate("github.event_name == 'PUSH' && !contains(github.ref, 'heads')", ctx) is True
    assert evaluate("inputs.stack == 'production' || 'fallback'", ctx) == "fallback"


# -- the strategy override, run as the workflow writes it ----------------------------------------


@pytest.mark.parametrize("job", ["staging", "production"])
@pytest.mark.parametrize("strategy", ["blue-green", "canary", "rolling"])
def test_the_strategy_override_command_sets_the_strategy_and_nothing_else(
    tmp_path: Path, job: str, strategy: str
) -> None:
    step = next(
        s
        for s in load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"][job]["steps"]
        if s.get("name") == "Choose the strategy"
    )
    project = tmp_path / "checkout"
    project.mkdir()
    # settings checks the cluster version against the builds pinned in components/eks_cluster.py
    for item in ("ops", "settings", "components", "Pulumi.yaml"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, project / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / item)
    stack_file = project / f"Pulumi.{job}.yaml"
    shutil.copy(ROOT / f"Pulumi.{job}.yaml", stack_file)
    (project / ".venv").symlink_to(ROOT / ".venv")

    def run_step(value: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step["run"]],
            cwd=project,
            env={**os.environ, "STRATEGY": value},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    result = run_step(strategy)
    assert result.returncode == 0, result.stderr
    before = yaml.safe_load((ROOT / f"Pulumi.{job}.yaml").read_text())["config"]
    after = yaml.safe_load(stack_file.read_text())["config"]
    assert after["redisgw:delivery"]["strategy"] == strategy
    after["redisgw:delivery"]["strategy"] = before["redisgw:delivery"]["strategy"]
    assert after == before  # the one key, and no literal "redisgw:delivery.strategy" key
    # A value the settings refuse leaves the file as it was, with one line and exit 2.
    bad = run_step("sideways")
    assert bad.returncode == 2 and "redisgw:delivery.strategy" in bad.stderr
    assert yaml.safe_load(stack_file.read_text())["config"]["redisgw:delivery"]["strategy"] == strategy


# -- linters the Actions community uses ------------------------------------------------------------

ACTIONLINT = ROOT / ".tools" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"


def test_every_pulumi_step_installs_the_cli_whose_rules_the_offline_preview_applies() -> None:
    """pulumi/actions v7 installs "^3" unless told (``src/config.ts`` ``makeInstallationConfig``:
    ``pulumi-version`` or ``pulumi-version-file``): a newer CLI could refuse what the offline preview
    passed, or write a state feature ``ops deploy-state`` does not know. Every step pins the file."""
    from ops.offline.project_config import CLI_VERSION
    from ops.runtime import deploy_state

    assert (ROOT / ".pulumi.version").read_text().strip() == CLI_VERSION
    assert f"v{CLI_VERSION.rsplit('.', 1)[0]}" in (deploy_state.__doc__ or "")
    steps = [
        step
        for path in WORKFLOWS
        for job in yaml.safe_load(path.read_text())["jobs"].values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]
    assert len(steps) >= 4
    assert all(step.get("with", {}).get("pulumi-version-file") == ".pulumi.version" for step in steps), steps


def test_actionlint_reports_nothing() -> None:
    assert ACTIONLINT.exists(), "run `make .tools/.installed` (make test does) to install actionlint"
    result = subprocess.run(
        ["node", str(ACTIONLINT), ".github/workflows/*.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed lint checks" in result.stdout


def test_zizmor_reports_nothing_unjustified() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("zizmor")), "--offline", "--format", "plain", ".github/workflows/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every suppression sits next to the line it concerns, with its reason.
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if "zizmor: ignore" in line:
                assert re.search(r"zizmor: ignore\[[\w-]+\] .{15,}", line), line


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_never_keep_the_token(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            if "actions/checkout" in step.get("uses", ""):
                assert step.get("with", {}).get("persist-credentials") is False


# -- the live readiness scorecard around a production rollout -------------------------------------


def _production_steps() -> list[dict[str, Any]]:
    return list(load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]["production"]["steps"])


def _is_up(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith("pulumi/actions") and step.get("with", {}).get("command") == "up"


def _index(steps: list[dict[str, Any]], predicate: Any) -> int:
    (found,) = [i for i, s in enumerate(steps) if predicate(s)]
    return found


def test_production_runs_the_readiness_scorecard_before_and_after_the_rollout() -> None:
    steps = _production_steps()
    up = _index(steps, _is_up)
    kubeconfig = _index(steps, lambda s: "aws eks update-kubeconfig" in s.get("run", ""))
    before = _index(steps, lambda s: "ops readiness" in s.get("run", "") and "before" in s["name"])
    after = _index(steps, lambda s: "ops readiness" in s.get("run", "") and "must pass" in s["name"])
    assert kubeconfig < before < up < after == len(steps) - 1
    assert "--name redisgw-production" in steps[kubeconfig]["run"]  # the program names the cluster redisgw-<stack>
    for i in (before, after):
        assert "--stack production" in steps[i]["run"] and '--kubeconfig "$RUNNER_TEMP/kubeconfig"' in steps[i]["run"]
        assert "--skip" not in steps[i]["run"]  # every source: Kubernetes, AWS, Prometheus (through the API), docs
    assert (
        "continue-on-error" not in steps[after]
        and "||" not in steps[after]["run"]
        and "set +e" not in steps[after]["run"]
    )


def _run_scorecard_step(tmp_path: Path, which: Any, exit_code: int) -> subprocess.CompletedProcess[str]:
    """The production step ``which`` picks, run by bash with a stand-in for the scorecard (``.venv/bin/python``)
    that prints its arguments and exits with ``exit_code``."""
    steps = _production_steps()
    script = steps[_index(steps, which)]["run"]
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True, exist_ok=True)
    (venv / "python").write_text(f'#!/bin/sh\necho scorecard "$@"\nexit {exit_code}\n')
    (venv / "python").chmod(0o755)
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "RUNNER_TEMP": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("exit_code", "job_exit", "warned"), [(0, 0, False), (1, 0, True), (2, 2, False), (3, 3, False)]
)
def test_the_scorecard_before_the_rollout_tolerates_failing_items_only(
    tmp_path: Path, exit_code: int, job_exit: int, warned: bool
) -> None:
    """The step's script, run by bash with a stand-in for the scorecard that exits as told: a failing
    item (1) warns and goes on; an input the scorecard cannot judge (2) or a bug (3) stops the job."""
    result = _run_scorecard_step(
        tmp_path, lambda s: "ops readiness" in s.get("run", "") and "before" in s["name"], exit_code
    )
    assert result.returncode == job_exit, result.stdout + result.stderr
    assert ("::warning title=Readiness before the rollout::" in result.stdout) is warned
    assert "scorecard -m ops readiness --stack production" in result.stdout


# -- the ops image: built, tested, described, audited, scanned; pushed and signed on deploys only ----

DIGEST = "sha256:" + "c0" * 32


def _jobs(workflow: str) -> dict[str, Any]:
    return dict(load(ROOT / ".github" / "workflows" / workflow)["jobs"])


def _step(job: dict[str, Any], predicate: Any) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if predicate(s)]
    return dict(found)


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(action + "@")


@pytest.mark.parametrize(("trigger", "context"), triggers(), ids=[t for t, _ in triggers()])
def test_the_ops_image_is_published_for_exactly_the_stack_that_deploys(trigger: str, context: dict[str, Any]) -> None:
    job = _jobs("deploy.yml")["ops-image"]
    deployed = [stack for stack, strategy in EXPECTED[trigger].items() if strategy != "refused"]
    assert bool(evaluate(job["if"], context)) is bool(deployed), trigger
    if deployed:
        assert evaluate(job["env"]["STACK"], context) == deployed[0]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_deployment_pins_the_digest_it_pushed_before_anything_reads_the_stack(stack: str) -> None:
    job = _jobs("deploy.yml")[stack]
    assert "ops-image" in job["needs"]
    steps = job["steps"]
    pin = _index(steps, lambda s: s.get("name") == "Pin the ops image this run pushed and signed")
    assert steps[pin]["env"]["OPS_IMAGE"] == "${{ needs.ops-image.outputs.image }}"
    assert f"ops stack-set --stack {stack} redisgw:backup.opsImage" in steps[pin]["run"]
    readers = [
        i
        for i, s in enumerate(steps)
        if _uses(s, "pulumi/actions") or "make preview" in s.get("run", "") or "ops readiness" in s.get("run", "")
    ]
    assert readers and pin < min(readers)


def test_only_the_publishing_job_holds_an_oidc_token() -> None:
    holders = [
        (workflow, name)
        for workflow in ("deploy.yml", "pull-request.yml")
        for name, job in _jobs(workflow).items()
        if job.get("permissions", {}).get("id-token")
    ]
    assert holders == [("deploy.yml", "ops-image")]
    assert _jobs("deploy.yml")["ops-image"]["permissions"] == {"contents": "read", "id-token": "write"}


@pytest.mark.parametrize("workflow", ["deploy.yml", "pull-request.yml"])
def test_the_image_is_built_tested_described_audited_and_scanned_in_that_order(workflow: str) -> None:
    steps = _jobs(workflow)["ops-image"]["steps"]
    build = _index(steps, lambda s: "docker build" in s.get("run", ""))
    tested = _index(steps, lambda s: "make test-image" in s.get("run", ""))
    sbom = _index(steps, lambda s: _uses(s, "anchore/sbom-action"))
    audit = _index(steps, lambda s: "pip_audit" in s.get("run", ""))
    scan = _index(steps, lambda s: _uses(s, "anchore/scan-action"))
    assert build < tested < sbom < audit < scan
    assert steps[sbom]["with"]["format"] == "cyclonedx-json" and steps[scan]["with"]["sbom"] == "ops-image.cdx.json"
    assert steps[scan]["with"]["severity-cutoff"] == "high" and "fail-build" not in steps[scan]["with"]
    audit_run = steps[audit]["run"]
    for requirements in ("ops/runtime/requirements.txt", "ops/readiness/requirements.txt"):
        assert f"--requirement {requirements}" in audit_run
        assert (ROOT / requirements).is_file()
    assert re.search(r"pip-audit==\d+\.\d+\.\d+", audit_run)  # the auditor is pinned
    assert "--ignore-vuln" not in audit_run and "|| true" not in audit_run and "continue-on-error" not in steps[audit]


def test_pull_requests_never_push_or_sign() -> None:
    job = _jobs("pull-request.yml")["ops-image"]
    text = yaml.safe_dump(job)
    for forbidden in ("docker push", "cosign", "configure-aws-credentials", "ecr get-login-password", "id-token"):
        assert forbidden not in text


def test_the_deploy_job_pushes_then_signs_the_digest() -> None:
    steps = _jobs("deploy.yml")["ops-image"]["steps"]
    scan = _index(steps, lambda s: _uses(s, "anchore/scan-action"))
    credentials = _index(steps, lambda s: _uses(s, "aws-actions/configure-aws-credentials"))
    push = _index(steps, lambda s: s.get("id") == "push")
    sign = _index(steps, lambda s: "cosign sign" in s.get("run", ""))
    assert scan < credentials < push < sign  # nothing reaches the registry before every check passed
    assert steps[sign]["env"]["IMAGE"] == "${{ steps.push.outputs.image }}"
    assert 'cosign sign --yes "$IMAGE"' in steps[sign]["run"]  # the digest, never a tag
    assert "--type cyclonedx --predicate ops-image.cdx.json" in steps[sign]["run"]
    assert _jobs("deploy.yml")["ops-image"]["outputs"]["image"] == "${{ steps.push.outputs.image }}"


def _fake_tools(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(
        "#!/bin/sh\n"
        f'echo "aws $*" >> {log}\n'
        'case "$1 $2" in\n'
        '  "sts get-caller-identity") echo 123456789012 ;;\n'
        '  "ecr get-login-password") echo not-a-real-password ;;\n'
        "esac\n"
    )
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'echo "docker $*" >> {log}\n'
        'if [ "$1" = login ]; then cat > /dev/null; fi\n'
        'if [ "$1" = inspect ]; then\n'
        f'  echo "ghcr.io/elsewhere/ops@{DIGEST}"\n'
        f'  echo "${{4%:*}}@{DIGEST}"\n'
        "fi\n"
    )
    for tool in ("aws", "docker"):
        (bin_dir / tool).chmod(0o755)


@pytest.mark.parametrize(
    ("stack", "ref_name", "tag_prefix"), [("staging", "main", "main-"), ("production", "v1.4.0", "v1.4.0-")]
)
def test_the_push_step_outputs_the_digest_the_deployment_can_pin(
    tmp_path: Path, stack: str, ref_name: str, tag_prefix: str
) -> None:
    """The push step's script, run by bash against stand-ins for aws and docker; its output, fed to
    the deploy job's pin step, makes a stack file the settings accept."""
    push = _step(_jobs("deploy.yml")["ops-image"], lambda s: s.get("id") == "push")
    log, output = tmp_path / "calls.log", tmp_path / "github_output"
    _fake_tools(tmp_path / "bin", log)
    env = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "STACK": stack,
        "REGION": "eu-west-1",
        "LOCAL_IMAGE": "redisgw-ops:ci",
        "GITHUB_REF_NAME": ref_name,
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_OUTPUT": str(output),
    }
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", push["run"]], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    repository = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-{stack}/ops"
    assert output.read_text() == f"image={repository}@{DIGEST}\n"
    pushed = [line.split()[-1] for line in log.read_text().splitlines() if line.startswith("docker push ")]
    assert pushed == [f"{repository}:{tag_prefix}0123456-42.2"]
    assert "not-a-real-password" not in log.read_text()  # the password goes through stdin only

    project = tmp_path / "checkout"
    project.mkdir()
    for item in ("ops", "settings", "components", "Pulumi.yaml", f"Pulumi.{stack}.yaml"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, project / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / item)
    (project / ".venv").symlink_to(ROOT / ".venv")
    pin = _step(_jobs("deploy.yml")[stack], lambda s: s.get("name") == "Pin the ops image this run pushed and signed")

    def run_pin(image: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", pin["run"]],
            cwd=project,
            env={**os.environ, "OPS_IMAGE": image},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    pinned = run_pin(output.read_text().removeprefix("image=").strip())
    assert pinned.returncode == 0, pinned.stderr
    before = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    after = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert after["redisgw:backup"]["opsImage"] == f"{repository}@{DIGEST}"
    after["redisgw:backup"]["opsImage"] = before["redisgw:backup"]["opsImage"]
    assert after == before
    # An empty output (the push job did not run) or a tag leaves the file as it was and stops the job.
    for bad in ("", f"{repository}:v1.4.0"):
        refused = run_pin(bad)
        assert refused.returncode == 2 and "redisgw:backup.opsImage" in refused.stderr
    assert yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"]["redisgw:backup"]["opsImage"] == (
        f"{repository}@{DIGEST}"
    )


# -- the first deploy: the gates that need a running stack start with the second ------------------


def _export(resources: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``pulumi stack export`` as the CLI writes it: ``apitype.UntypedDeployment`` holding a
    ``DeploymentV3`` (pulumi/pulumi v3.259 ``sdk/go/common/apitype/core.go``); a stack created with
    ``pulumi stack init`` and never updated has a manifest and no ``resources``."""
    deployment: dict[str, Any] = {
        "manifest": MANIFEST,
        "secrets_providers": {"type": "cloud", "state": {"url": "awskms://alias/pulumi-redisgw?region=eu-west-1"}},
    }
    if resources is not None:
        deployment["resources"] = resources
    return {"version": 3, "deployment": deployment}


_URN = URN
_STACK_URN = ROOT_URN
_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_AWS_HALF = [
    {
        "urn": _STACK_URN,
        "type": "pulumi:pulumi:Stack",
        "custom": False,
        "outputs": {"backupBucket": "backups-bucket-1a2b3c"},
    },
    {
        "urn": "urn:pulumi:production::redisgw::redisgw:index:EksCluster$pulumi:providers:kubernetes::primary-k8s",
        "type": "pulumi:providers:kubernetes",
        "custom": True,
        "id": "0b0c4c4e-0000-4000-8000-000000000001",
        "outputs": {"kubeconfig": {_SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAAA"}},
    },
    {
        "urn": _URN + "redisgw:index:EksCluster$eks:index:Cluster$aws:eks/cluster:Cluster::redisgw-production",
        "type": "aws:eks/cluster:Cluster",
        "custom": True,
        "id": "redisgw-production",
        # What the stack file asks for (read by the step's --stack): no version change to refuse.
        "outputs": {"name": "redisgw-production", "version": stack_values("production")["redisgw:cluster"]["version"]},
    },
]
_ROLLOUT = {
    "urn": _URN + "redisgw:index:RedisGateway$kubernetes:argoproj.io/v1alpha1:Rollout::gateway",
    "type": "kubernetes:argoproj.io/v1alpha1:Rollout",
    "custom": True,
    "id": "redis-system/redis-gateway",
    "outputs": {"metadata": {"name": "redis-gateway", "namespace": "redis-system"}},
}
_DEPLOYED = [*_AWS_HALF, _ROLLOUT, CRONJOB]
# A first Kubernetes run that failed after the gateway, before the backup jobs: no backup can exist.
_HALF_DEPLOYED = [*_AWS_HALF, _ROLLOUT]
# The backup CronJob replaced and pending deletion only (``delete: true``) is not a live one.
_PENDING_DELETE = [*_AWS_HALF, {**CRONJOB, "delete": True}]


def _run_state_step(tmp_path: Path, export: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The workflow's state step, run by bash in the checkout with the real ``ops deploy-state`` and a
    stand-in ``pulumi`` that writes ``export`` where ``--file`` says."""
    steps = _production_steps()
    step = steps[_index(steps, lambda s: s.get("id") == "state")]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "export.json").write_text(json.dumps(export))
    (bin_dir / "pulumi").write_text(
        '#!/bin/sh\n[ "$1 $2 $3 $4" = "stack export --stack production" ] || { echo "unexpected: $*" >&2; exit 9; }\n'
        f'[ -n "$PULUMI_BACKEND_URL" ] || exit 8\ncp "{tmp_path}/export.json" "$6"\n'
    )
    (bin_dir / "pulumi").chmod(0o755)
    output = tmp_path / "github_output"
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=ROOT,
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_OUTPUT": str(output),
            "PULUMI_BACKEND_URL": "s3://state?region=eu-west-1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return result, outputs


def _steps_that_run(outputs: dict[str, str]) -> list[str]:
    context = {
        "github": {"event_name": "push", "ref": "refs/tags/v1.4.0"},
        "inputs": {},
        "steps": {"state": {"outputs": outputs}},
    }
    return [
        s.get("name", s.get("uses", "")) for s in _production_steps() if "if" not in s or evaluate(s["if"], context)
    ]


GATED = (
    "Readiness gate (the latest backup restores)",
    "Readiness scorecard before the rollout (a baseline; items already failing warn)",
    "Readiness scorecard after the rollout (must pass)",
)
REPORTED = "Readiness scorecard after the first deploy (reported; required from the next deploy on)"


@pytest.mark.parametrize(
    ("state", "resources", "first"),
    [
        ("stack init only", None, True),
        ("empty resources", [], True),
        ("the AWS half from the workstation", _AWS_HALF, True),
        ("only objects pending deletion", _PENDING_DELETE, True),
        ("the Kubernetes half failed before the backup jobs", _HALF_DEPLOYED, True),
        ("deployed whole", _DEPLOYED, False),
    ],
)
def test_a_first_deploy_skips_the_gates_that_need_a_running_stack_and_later_deploys_keep_them(
    tmp_path: Path, state: str, resources: list[dict[str, Any]] | None, first: bool
) -> None:
    result, outputs = _run_state_step(tmp_path, _export(resources))
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["first_deploy"] == ("true" if first else "false")
    ran = _steps_that_run(outputs)
    always = ("Readiness gate (policy pack, schemas)", "Post-deployment validation")
    assert all(name in ran for name in always)
    assert any(
        "pulumi/actions" in str(s.get("uses")) and s.get("with", {}).get("command") == "up" for s in _production_steps()
    )
    if first:
        assert not set(GATED) & set(ran) and REPORTED in ran
        assert "first deploy" in result.stdout
    else:
        assert set(GATED) <= set(ran) and REPORTED not in ran
        gate = next(s for s in _production_steps() if s.get("name") == GATED[0])
        context = {"steps": {"state": {"outputs": outputs}}}
        assert evaluate(gate["env"]["BACKUP_BUCKET"], context) == "backups-bucket-1a2b3c"  # from the state


def test_without_a_verdict_every_gate_runs() -> None:
    """Fail-safe: a state step that wrote nothing (or anything but 'true') skips no gate."""
    for outputs in ({}, {"first_deploy": ""}, {"first_deploy": "yes"}):
        ran = _steps_that_run(outputs)
        assert set(GATED) <= set(ran) and REPORTED not in ran


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"deployment": {}}, "`version` is None: `pulumi stack export` (Pulumi CLI v3) writes 3, or 4"),
        ({"version": 3}, "not a `pulumi stack export`"),
        ({"version": 3, "deployment": {"resources": {"urn": "x"}}}, "is not a list of resources"),
        (_export([{**_AWS_HALF[0], "outputs": {}}, CRONJOB]), "no backupBucket output"),
        (
            {
                "version": 3,
                "deployment": {
                    "resources": _DEPLOYED,
                    "pending_operations": [{"type": "creating", "resource": {"urn": CRONJOB["urn"]}}],
                },
            },
            "1 pending operation(s) from an interrupted update (the first: creating of",
        ),
        (
            _export([{**_AWS_HALF[0], "outputs": {"backupBucket": {_SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270"}}}]),
            "backupBucket is not a plain string",
        ),
    ],
)
def test_a_state_that_cannot_be_read_stops_the_job_naming_why(
    tmp_path: Path, export: dict[str, Any], message: str
) -> None:
    result, outputs = _run_state_step(tmp_path, export)
    assert result.returncode == 2 and message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and outputs == {}


def test_the_scorecard_after_the_first_deploy_warns_and_a_bug_still_stops_it(tmp_path: Path) -> None:
    for code, job_exit in ((0, 0), (1, 0), (2, 0), (3, 3)):
        result = _run_scorecard_step(tmp_path, lambda s: s.get("name") == REPORTED, code)
        assert result.returncode == job_exit, (code, result.stdout)
        assert ("::warning title=Readiness after the first deploy::" in result.stdout) is (code in (1, 2))
