"""Every ``pulumi``, ``kubectl``, ``aws`` and ``python -m ops`` command in README.md and docs/ parses
against its tool's grammar: the subcommand exists, every flag is one it accepts, and a flag that
takes a value has one (:mod:`tests.doc_commands`; the grammars and their sources:
:mod:`tests.cli_grammars`, the real parser of ``ops/cli.py`` for ``ops``).

The checker is itself tested on commands made wrong on purpose, and the docs must yield a realistic
number of commands per tool, so an extraction that finds nothing cannot pass."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests import cli_grammars
from tests.doc_commands import Command, check, commands_in

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
ALL = [command for path in DOCS for command in commands_in(path, path.read_text(encoding="utf-8"))]


# Commands of README.md's "First deployment (bootstrap)" steps that fail and are being rewritten in
# another change; remove an entry once that rewrite lands (a command no longer in the docs is ignored).
def _param(command: Command) -> object:
    where = command.where(ROOT)
    text = " ".join([command.tool, *command.argv])
    return pytest.param(command, id=f"{where}:{text[:60]}")


@pytest.mark.parametrize("command", [_param(c) for c in ALL])
def test_every_documented_command_parses(command: Command) -> None:
    problems = check(command)
    assert not problems, f"{command.where(ROOT)}: `{command.text}`: " + "; ".join(problems)


def test_the_docs_hold_commands_of_every_tool() -> None:
    """The extraction finds what the docs really hold (counts measured when this test was written,
    with room for edits), so an extractor broken into finding nothing fails here."""
    per_tool = Counter(c.tool for c in ALL)
    assert per_tool["pulumi"] >= 40, per_tool
    assert per_tool["kubectl"] >= 30, per_tool
    assert per_tool["aws"] >= 10, per_tool
    assert per_tool["ops"] >= 80, per_tool
    in_blocks = Counter(c.tool for c in ALL if c.in_block)
    assert min(in_blocks[tool] for tool in ("pulumi", "kubectl", "aws", "ops")) >= 3, in_blocks
    shown = {" ".join([c.tool, *c.argv[:2]]) for c in ALL}
    for expected in (
        "pulumi import kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisSentinel",
        "pulumi stack select",
        "kubectl argo rollouts",
        "aws eks update-kubeconfig",
        "aws secretsmanager get-secret-value",
        "ops dr restore-from-backup",
        "ops restore-job --bucket",
    ):
        assert any(s.startswith(expected) for s in shown), expected


# -- the checker on commands made wrong on purpose ------------------------------------------------------


def _problems(markdown: str) -> list[list[str]]:
    return [check(c) for c in commands_in(ROOT / "README.md", markdown)]


def _one(markdown: str) -> list[str]:
    found = _problems(markdown)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pulumi up --stack production --frobnicate", "unknown flag --frobnicate for `pulumi up`"),
        ("pulumi stak select production", "unknown subcommand `stak` of `pulumi`"),
        ("pulumi stack select production --secret", "unknown flag --secret for `pulumi stack select`"),
        ("pulumi up --stack", "--stack of `pulumi up` needs a value"),
        ("pulumi up --stack --yes", "--stack of `pulumi up` needs a value"),
        ("pulumi destroy -s", "-s (--stack) of `pulumi destroy` needs a value"),
        ("pulumi config set --secret=maybe x y", "--secret of `pulumi config set` is a switch"),
        ("kubectl -n redis-system get pods --watchh", "unknown flag --watchh for `kubectl get`"),
        ("kubectl -n redis-system logz redis-0", "unknown subcommand `logz` of `kubectl`"),
        ("kubectl logs redis-0 -c", "-c (--container) of `kubectl logs` needs a value"),
        ("kubectl -n", "-n (--namespace) of `kubectl` needs a value"),
        ("kubectl argo rollouts promot redis-gateway", "unknown subcommand `promot` of `kubectl argo rollouts`"),
        ("kubectl argo rollouts promote redis-gateway --fulll", "unknown flag --fulll for"),
        ("kubectl -n x argo rollouts get rollout r", "unknown subcommand `argo` of `kubectl`"),
        ("aws eks update-kubeconfg --name c", "unknown operation `update-kubeconfg` of `aws eks`"),
        ("aws ekz update-kubeconfig --name c", "unknown service `ekz` of `aws`"),
        ("aws eks update-kubeconfig --name c --context dr", "unknown option --context for `aws eks update-kubeconfig`"),
        ("aws secretsmanager get-secret-value --secret-id", "--secret-id of `aws secretsmanager get-secret-value`"),
        ("aws ec2 describe-volumes --output txt", "--output of `aws ec2 describe-volumes` is one of json"),
        ("aws codebuild import-source-credentials --auth-type GITHUB", "--auth-type of"),
        ("aws iam create-role --role-name r extra", "unexpected word 'extra' for `aws iam create-role`"),
        ("python -m ops dr failovr --stack production", "invalid choice: 'failovr'"),
        ("python -m ops list --bucket", "argument --bucket: expected one argument"),
        ("python -m ops list --bucket redisgw-b --regio eu-west-1", "unrecognized arguments: --regio"),
        ("python -m ops backup --sentinel s:26379 --bucket redisgw-b --deadline soon", "argument --deadline"),
        ("python -m ops list --bucket Bad_Bucket", "argument --bucket: 'Bad_Bucket' is not an S3 bucket name"),
        ("python -m ops dr drill --scenario melt", "invalid choice: 'melt'"),
        ("python -m ops smoke", "the following arguments are required: --url"),
    ],
)
def test_a_wrong_command_in_a_code_block_is_named(command: str, expected: str) -> None:
    problems = _one(f"```sh\n{command}\n```\n")
    assert any(expected in p for p in problems), problems


def test_a_code_block_line_the_shell_cannot_read_is_named() -> None:
    assert _one("```sh\npulumi up --message 'unfinished\n```\n") == ["the shell cannot read it: No closing quotation"]


def test_pulumi_import_takes_parent_and_provider_as_name_equals_urn() -> None:
    """The engine's own form (import.go: "in the format name=urn"); a bare URN is the bug the DR
    runbook once had."""
    bare = _one("`pulumi import t n id --parent urn:pulumi:production::redisgw::x::p`")
    assert bare == ["--parent of `pulumi import` takes NAME=URN, got 'urn:pulumi:production::redisgw::x::p'"]
    assert _one("`pulumi import t n id --parent '<urn of the parent>'`")[0].startswith("--parent of")
    assert _one("`pulumi import t n id --parent 'p=<urn>' --provider 'k8s=urn:pulumi:s::p::t::k8s'`") == []


def test_placeholders_are_values_never_flags() -> None:
    for markdown in (
        "`pulumi up --stack <stack> --target '<urn of redisgw:index:Vpc::primary>' --target-dependents`",
        "`kubectl get ... -A -o json`",
        "`kubectl -n redis-system exec redis-sentinel-<n> -- redis-cli -p 26379 SENTINEL get-master-addr-by-name x`",
        "`aws codebuild import-source-credentials --server-type GITHUB --auth-type <type> --token <connection ARN>`",
        "`python -m ops list --bucket <backupBucket> --region <region>`",
        "`python -m ops smoke --url URL --timeout <seconds>`",
        "`python -m ops dr failover ... --dry-run`",
        "`python -m ops dr drill --scenario <scenario>`",
    ):
        assert _one(markdown) == [], markdown


def test_a_mention_in_prose_needs_no_required_argument_but_a_subcommand_must_exist() -> None:
    assert _one("the `python -m ops dr failover` step") == []
    assert _one("the `ops restore-job` Job") == []
    assert "invalid choice: 'restore-jobs'" in _one("the `ops restore-jobs` Job")[0]


def test_ops_values_are_converted_by_the_parsers_own_types_but_paths_need_not_exist() -> None:
    assert _one("```sh\npython -m ops preview --stack production --config /nonexistent/variant.yaml\n```") == []
    assert _one("```sh\npython -m ops smoke --url https://api.example.com --timeout 5\n```") == []
    assert "argument --url" in _one("```sh\npython -m ops smoke --url ftp://api.example.com\n```")[0]


def test_aws_switches_and_their_negations_take_no_value() -> None:
    assert _one("`aws iam list-roles --no-paginate --max-items 5`") == []
    assert _one("`aws ec2 describe-volumes --dry-run`") == []
    assert _one("`aws ec2 describe-volumes --no-dry-run`") == []
    assert "takes no value" in _one("`aws ec2 describe-volumes --dry-run=yes`")[0]


# -- finding the commands ----------------------------------------------------------------------------------


def _found(markdown: str) -> list[tuple[int, str, tuple[str, ...], bool]]:
    return [(c.line, c.tool, c.argv, c.in_block) for c in commands_in(ROOT / "README.md", markdown)]


def test_commands_are_found_in_shell_blocks_with_their_line_across_continuations_and_comments() -> None:
    markdown = (
        "Intro\n\n"
        "```console\n"
        "# a comment line\n"
        "AWS_REGION=eu-west-1 pulumi up --stack production \\\n"
        "  --yes   # the rest is a comment | kubectl nothing\n"
        "$ aws eks update-kubeconfig --name c && kubectl get pods; python -m ops list --bucket b | tee x\n"
        "```\n\n"
        "```yaml\n"
        "pulumi: not a command\n"
        "```\n\n"
        "```\n"
        'export X="$(aws secretsmanager get-secret-value --secret-id s --query SecretString --output text | jq .x)"\n'
        "```\n"
    )
    assert _found(markdown) == [
        (5, "pulumi", ("up", "--stack", "production", "--yes"), True),
        (7, "aws", ("eks", "update-kubeconfig", "--name", "c"), True),
        (7, "kubectl", ("get", "pods"), True),
        (7, "ops", ("list", "--bucket", "b"), True),
        (
            15,
            "aws",
            ("secretsmanager", "get-secret-value", "--secret-id", "s", "--query", "SecretString", "--output", "text"),
            True,
        ),
    ]


def test_commands_are_found_in_inline_spans_across_lines_and_in_usage_tables() -> None:
    markdown = (
        "Run `pulumi up --stack\n"
        "  production` then `kubectl get pods`; not `pulumi.com/waitFor` nor `aws:region`.\n\n"
        "| command | what |\n"
        "|---|---|\n"
        "| `ops dr failback ... [--recover-writes \\| --accept-data-loss]` | x |\n"
        "| `ops restore --bucket B [--backup ID] --target-rdb FILE \\| --target-url redis://...` | y |\n"
        "| `ops dr drill [--scenario kill\\|cut]` | `ops restore-job ... \\| kubectl apply -f -` |\n"
    )
    assert _found(markdown) == [
        (1, "pulumi", ("up", "--stack", "production"), False),
        (2, "kubectl", ("get", "pods"), False),
        (6, "ops", ("dr", "failback", "...", "--recover-writes"), False),
        (6, "ops", ("dr", "failback", "...", "--accept-data-loss"), False),
        (7, "ops", ("restore", "--bucket", "B", "--backup", "ID", "--target-rdb", "FILE"), False),
        (7, "ops", ("restore", "--bucket", "B", "--backup", "ID", "--target-url", "redis://..."), False),
        (8, "ops", ("dr", "drill", "--scenario", "kill"), False),
        (8, "ops", ("dr", "drill", "--scenario", "cut"), False),
        (8, "ops", ("restore-job", "..."), False),
        (8, "kubectl", ("apply", "-f", "-"), False),
    ]


def test_a_command_substitution_is_checked_as_a_command_of_its_own() -> None:
    markdown = (
        '`pulumi config set --path k "<repository>@$(aws ecr describe-images --repository-name r '
        "--image-ids imageTag=<tag> --query 'imageDetails[0].imageDigest' --output text)\"`"
    )
    found = _found(markdown)
    assert [tool for _, tool, _, _ in found] == ["pulumi", "aws"]
    assert found[0][2] == ("config", "set", "--path", "k", "<repository>@<command-output>")
    assert _problems(markdown) == [[], []]
    broken = markdown.replace("--image-ids", "--image-id")
    assert _problems(broken)[1][0] == "unknown option --image-id for `aws ecr describe-images`"


def test_every_grammar_names_its_source() -> None:
    for source in (
        cli_grammars.PULUMI_SOURCE,
        cli_grammars.KUBECTL_SOURCE,
        cli_grammars.ARGO_ROLLOUTS_SOURCE,
        cli_grammars.AWS_SOURCE,
    ):
        assert "github.com/" in source
