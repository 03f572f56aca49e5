"""``python -m ops preview --diff BASE``: what a change does to the plan and to the verdicts.

A canary switch and an image rotation each show exactly their own changes; a base that is a git
ref previews that ref's stack file; secrets stay masked; a long value changed near its end shows
the change; bad bases, and reports of another stack or project, are one line and exit 2.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from ops.errors import OpsError
from ops.offline import plan_diff
from tests.conftest import write_variant


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, preview_report: Callable[[str], dict[str, Any]]) -> Path:
    """The committed production stack's report (``ops preview --json``), as a file."""
    report = tmp_path_factory.mktemp("base") / "production.json"
    report.write_text(json.dumps(preview_report("production")))
    return report


def _diff(tmp_path: Path, base: Path, changes: list[tuple[str, Any]]) -> tuple[dict[str, Any], str]:
    variant = write_variant(tmp_path, "production", changes)
    head, summary = tmp_path / "head.json", tmp_path / "summary.md"
    summary.write_text("## earlier steps\n")
    argv = ["preview", "--stack", "production", "--config", str(variant), "--json", str(head)]
    assert main([*argv, "--diff", str(base), "--summary", str(summary)]) == 0
    return plan_diff.diff(json.loads(base.read_text()), json.loads(head.read_text())), summary.read_text()


def test_an_image_rotation_changes_the_two_rollouts_image_and_nothing_else(tmp_path: Path, base: Path) -> None:
    image = "ghcr.io/ai-decenter/redis-http-gateway:1.6.1"
    d, summary = _diff(tmp_path, base, [("redisgw:gateway.image", image)])
    assert d["added"] == d["removed"] == [] and d["verdicts"] == {"new": [], "gone": []}
    assert [(c["urn"].split("::")[-1], [x["path"] for x in c["changes"]]) for c in d["changed"]] == [
        ("dr-gateway-rollout", ["spec.template.spec.containers[0].image"]),
        ("gateway-rollout", ["spec.template.spec.containers[0].image"]),
    ]
    assert all(x["after"] == image for c in d["changed"] for x in c["changes"])
    assert summary.startswith("## earlier steps\n")  # appended, as a job summary is
    assert "0 to add, 0 to remove, 2 to change" in summary and f"`{image}`" in summary


def test_a_canary_switch_changes_the_strategy_and_its_services_only(tmp_path: Path, base: Path) -> None:
    d, summary = _diff(tmp_path, base, [("redisgw:delivery.strategy", "canary")])
    names = lambda rows: sorted(r["urn"].split("::")[-1] for r in rows)  # noqa: E731
    assert names(d["added"]) == ["dr-gateway-svc-canary", "gateway-svc-canary"]
    assert names(d["removed"]) == ["dr-gateway-svc-preview", "gateway-svc-preview"]
    touched = {r["urn"].split("::")[-1]: {x["path"].split(".")[1] for x in r["changes"]} for r in d["changed"]}
    assert {"gateway-rollout", "dr-gateway-rollout"} <= set(touched)
    assert touched["gateway-rollout"] == {"strategy"}  # the Rollout's strategy, nothing else of it
    assert all("RedisGateway" in r["urn"] or "DrRegion" in r["urn"] for r in d["changed"])  # no other part
    assert "**Added**" in summary and "`spec.strategy.canary.canaryService`" in summary
    assert "(absent)" in summary  # an input one side does not set is said so, not shown as null


def test_no_change_says_so(base: Path) -> None:
    report = json.loads(base.read_text())
    assert "No change to the plan or to the verdicts." in plan_diff.markdown(plan_diff.diff(report, report))


def test_new_and_resolved_verdicts_are_listed() -> None:
    resources = [
        {"urn": "urn:pulumi:p::redisgw::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "inputs": {}}
    ]
    violation = {"policy": "s3-bucket-require-versioning", "enforcement": "mandatory", "urn": resources[0]["urn"]}
    before = {"stack": "p", "resources": resources, "policies": {"violations": []}}
    after = {"stack": "p", "resources": resources, "policies": {"violations": [violation]}}
    d = plan_diff.diff(before, after)
    assert d["verdicts"] == {"new": [violation], "gone": []}
    assert "- mandatory `s3-bucket-require-versioning` on `aws:s3/bucket:Bucket::b`" in plan_diff.markdown(d)
    assert plan_diff.diff(after, before)["verdicts"] == {"new": [], "gone": [violation]}


def test_secrets_stay_masked_on_both_sides() -> None:
    urn = "urn:pulumi:p::redisgw::kubernetes:core/v1:Secret::s"
    before = {
        "resources": [{"urn": urn, "type": "t", "inputs": {"stringData": {"password": "[secret]"}}}],
        "policies": {},
    }
    after = {"resources": [{"urn": urn, "type": "t", "inputs": {"stringData": {"password": "[secret]", "user": "x"}}}]}
    after["policies"] = {}
    d = plan_diff.diff(before, after)
    assert d["changed"][0]["changes"] == [{"path": "stringData.user", "before": "(absent)", "after": "x"}]


def test_a_git_ref_base_previews_that_refs_stack_file(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git, "git is needed to read a ref"
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run([git, "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "Pulumi.production.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    run("add", "Pulumi.production.yaml")
    run("-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-q", "-m", "base")
    path = plan_diff.stack_file_at(repo, "HEAD", "production")
    try:
        assert path.read_text() == "config:\n  aws:region: eu-west-1\n"
    finally:
        path.unlink()


@pytest.mark.parametrize(
    ("base_arg", "says"),
    [
        ("no-such-ref-or-file", "--diff no-such-ref-or-file: neither a preview report nor a git ref"),
        ("--bad", "not a preview report or a git ref"),
    ],
)
def test_a_base_that_is_neither_a_report_nor_a_ref_is_one_line_exit_2(
    base_arg: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "--stack", "production", f"--diff={base_arg}"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.splitlines() == [err]


def test_a_file_that_is_not_a_report_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    assert main(["preview", "--stack", "production", "--diff", str(bogus)]) == 2
    assert "not a preview report" in capsys.readouterr().err
    assert main(["preview", "--stack", "production", "--summary", str(tmp_path / "s.md")]) == 2


def test_a_long_value_changed_near_its_end_shows_the_change(preview_report: Callable[[str], dict[str, Any]]) -> None:
    """The AWS providers' ``defaultTags`` is one JSON string (the engine passes a provider's object
    inputs as JSON), longer than a line: the service tag, its last (the CLI hands the program the
    tags as Go writes JSON, keys sorted), changes, as ``redisgw:tags.service=...`` would."""
    before = preview_report("production")
    after = json.loads(json.dumps(before))
    providers = [r for r in after["resources"] if r["type"] == "pulumi:providers:aws"]
    for provider in providers:
        tags = provider["inputs"]["defaultTags"]
        assert tags.endswith('"service": "redis-gateway"}}')
        provider["inputs"]["defaultTags"] = tags.replace('"redis-gateway"}}', '"redis-gateway-v2"}}')
    assert len(providers) == 2
    d = plan_diff.diff(before, after)
    summary = plan_diff.markdown(d)
    rows = [line for line in summary.splitlines() if "`defaultTags`" in line]
    assert {line.split("|")[1].strip() for line in rows} == {
        "`pulumi:providers:aws::primary`",
        "`pulumi:providers:aws::dr`",
    }
    for line in rows:
        before, after = (cell.strip().strip("`") for cell in line.split("|")[3:5])
        assert before != after and before.startswith("…") and after.startswith("…"), line
        assert '"redis-gateway"' in before and '"redis-gateway-v2"' in after, line
        assert len(before) <= plan_diff.MAX_SHOWN and len(after) <= plan_diff.MAX_SHOWN
    change = next(c for r in d["changed"] for c in r["changes"] if c["path"] == "defaultTags")
    assert len(change["before"]) > plan_diff.MAX_SHOWN  # the case this is about: a value cut to fit


def test_a_cut_value_shows_where_the_sides_differ_and_secrets_stay_masked() -> None:
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::backups/*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    urn = "urn:pulumi:p::redisgw::aws:iam/policy:Policy::ops"
    inputs = {"policy": policy, "tags": {"token": "[secret]"}}
    later = {"policy": policy.replace("backups/*", "backups/redis/*"), "tags": {"token": "[secret]", "k": "[secret]"}}
    before = {"stack": "p", "resources": [{"urn": urn, "type": "t", "inputs": inputs}], "policies": {}}
    after = {"stack": "p", "resources": [{"urn": urn, "type": "t", "inputs": later}], "policies": {}}
    text = plan_diff.markdown(plan_diff.diff(before, after))
    assert "| `…" in text and 'backups/*"}]}` |' in text and 'backups/redis/*"}]}` |' in text, text
    assert "| `tags.k` | `(absent)` | `[secret]` |" in text
    # Short values, and a long one against a short one, are shown from their start.
    assert plan_diff._shown("a", "b") == ("a", "b")
    shown = plan_diff._shown(plan_diff.ABSENT, policy)
    assert shown[0] == plan_diff.ABSENT and shown[1].startswith('{"Version"') and shown[1].endswith("…")


@pytest.fixture(scope="module")
def bootstrap_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bootstrap") / "report.json"
    assert main(["preview", "--project", "bootstrap", "--stack", "production", "--json", str(out)]) == 0
    return dict(json.loads(out.read_text()))


def _without(report: dict[str, Any], key: str) -> dict[str, Any]:
    """A report written before it carried ``key``."""
    return {k: v for k, v in report.items() if k != key}


@pytest.mark.parametrize(
    ("which", "says"),
    [
        ("staging", "a report of stack staging, but the stack previewed is production"),
        ("staging-as-production", "a report of stack staging, but the stack previewed is production"),
        ("bootstrap", "a report of stack production of project redisgw-bootstrap, not of redisgw"),
        ("bootstrap-unnamed", "a report of stack production of project redisgw-bootstrap, not of redisgw"),
    ],
    ids=["staging", "staging-as-production", "bootstrap", "bootstrap-unnamed"],
)
def test_a_report_of_another_stack_or_project_is_refused_naming_both(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    preview_report: Callable[[str], dict[str, Any]],
    bootstrap_report: dict[str, Any],
    which: str,
    says: str,
) -> None:
    """``--stack production --diff`` of the staging stack's report, or of the bootstrap project's
    (``ops preview --project bootstrap``: the same stack name); a report's ``stack`` field edited, or
    a report without ``project``, is judged by its URNs."""
    report = {
        "staging": lambda: preview_report("staging"),
        "staging-as-production": lambda: {**preview_report("staging"), "stack": "production"},
        "bootstrap": lambda: bootstrap_report,
        "bootstrap-unnamed": lambda: _without(bootstrap_report, "project"),
    }[which]()
    base, summary = tmp_path / "base.json", tmp_path / "summary.md"
    base.write_text(json.dumps(report))
    summary.write_text("## earlier steps\n")
    argv = ["preview", "--stack", "production", "--diff", str(base), "--summary", str(summary)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.splitlines() == [err] and "Traceback" not in err
    assert summary.read_text() == "## earlier steps\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"stack": "production", "resources": [1], "policies": {}}', "`resources[0]` is not a resource with a `urn`"),
        ('{"stack": "production", "resources": [{"urn": "u", "inputs": []}], "policies": {}}', "`resources[0].inputs`"),
        ('{"stack": "production", "resources": [], "policies": []}', "`policies` is not the verdicts of a preview"),
        ('{"stack": "production", "resources": [], "policies": {"violations": [1]}}', "`policies.violations`"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
        (
            '{"stack": "production", "policies": {}, "resources": [{"urn": "u", "inputs": {"a": '
            + "[" * 900
            + "]" * 900
            + "}}]}",
            "`resources[0].inputs` nests deeper than 100",
        ),
    ],
    ids=["resource-number", "inputs-list", "policies-list", "violation-number", "deep-json", "deep-inputs"],
)
def test_a_malformed_report_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    base = tmp_path / "base.json"
    base.write_text(text)
    assert main(["preview", "--stack", "production", "--diff", str(base)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and err.splitlines() == [err] and "Traceback" not in err


def test_a_value_with_a_pipe_a_line_break_or_a_backtick_keeps_the_table_whole() -> None:
    urn = "urn:pulumi:p::redisgw::kubernetes:core/v1:ConfigMap::rules"
    before = {"stack": "p", "resources": [{"urn": urn, "type": "t", "inputs": {"data": "a | b\nc"}}], "policies": {}}
    after = {"stack": "p", "resources": [{"urn": urn, "type": "t", "inputs": {"data": "a | b\n`c`"}}], "policies": {}}
    (row,) = [line for line in plan_diff.markdown(plan_diff.diff(before, after)).splitlines() if "`data`" in line]
    assert len(re.split(r"(?<!\\)\|", row)) == 6 and "\n" not in row and row.count("`") == 8, row


def test_a_report_without_a_stack_field_is_judged_by_its_urns() -> None:
    urn = "urn:pulumi:production::redisgw::aws:s3/bucket:Bucket::b"
    plan_diff.check_same_stack({"resources": [{"urn": urn}]}, "production", "r.json")
    with pytest.raises(OpsError, match="a report of stack production, but the stack previewed is staging"):
        plan_diff.check_same_stack({"resources": [{"urn": urn}]}, "staging", "r.json")
