"""Every command of ``python -m ops``, fed the mistakes users make: one line naming the flag or file,
exit 2 (usage or input) or 1 (a check failed), no traceback, and nothing left behind.

The cases run in-process against the real parser and commands, in a scratch working directory
whose contents are compared before and after. Mistakes that need a live peer (an unreachable
Sentinel, a bad password, a dead S3 endpoint) are covered with real peers in test_backup_faults.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.cli import main
from ops.offline.engine import ROOT

Case = tuple[str, Callable[[Path], list[str]], int, str]


def _args(*argv: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [a.replace("{tmp}", str(tmp)) for a in argv]


def _state_file(tmp: Path, name: str, text: str) -> list[str]:
    (tmp / name).write_text(text)
    return ["deploy-state", "--state", str(tmp / name)]


def _stack_copy(tmp: Path) -> str:
    copy = tmp / "variant.yaml"
    if not copy.exists():
        shutil.copy(ROOT / "Pulumi.production.yaml", copy)
    return str(copy)


def _with_copy(*argv: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [a.replace("{copy}", _stack_copy(tmp)).replace("{tmp}", str(tmp)) for a in argv]


def _file(tmp: Path) -> str:
    path = tmp / "a-file"
    path.write_text("x")
    return str(path)


BUCKET = ("--bucket", "redisgw-backups")


def _restore_job(
    *extra: str,
    backup: str = "20261126T131500.000000Z",
    primary: str | None = "10.0.0.1:6379",
    image: str = "ghcr.io/a/ops:1",
) -> Callable[[Path], list[str]]:
    """A restore-job command line, sound but for what a case changes (None leaves a flag out)."""
    flags = {"--backup": backup, "--primary": primary, "--image": image, "--region": "eu-west-1"}
    return _args("restore-job", *(a for k, v in flags.items() if v is not None for a in (k, v)), *extra, *BUCKET)


def _dr(action: str, *argv: str) -> Callable[[Path], list[str]]:
    """An ``ops dr`` command line on the production stack with an existing (but not valid) kubeconfig."""
    return lambda tmp: ["dr", action, "--stack", "production", *argv, "--dr-kubeconfig", _file(tmp)]


WORK_DIR = "argument --work-dir/--spool-dir: "
CASES: list[Case] = [
    # the top level
    ("no-command", _args(), 2, "the following arguments are required: COMMAND"),
    ("unknown-command", _args("deploy"), 2, "invalid choice: 'deploy'"),
    ("unknown-flag", _args("policies", "--verbose"), 2, "unrecognized arguments: --verbose"),
    # preview
    ("preview-no-stack", _args("preview"), 2, "the following arguments are required: --stack"),
    ("preview-unknown-stack", _args("preview", "--stack", "prod"), 2, "Pulumi.prod.yaml: no such stack file"),
    ("preview-stack-is-a-path", _args("preview", "--stack", "../etc/passwd"), 2, "argument --stack: '../etc/passwd'"),
    ("preview-empty-stack", _args("preview", "--stack", ""), 2, "argument --stack: '' is not a stack name"),
    (
        "preview-config-missing",
        _args("preview", "--stack", "production", "--config", "{tmp}/nope.yaml"),
        2,
        "argument --config: ",
    ),
    ("preview-config-a-directory", _args("preview", "--stack", "production", "--config", "{tmp}"), 2, "is a directory"),
    (
        "preview-json-no-directory",
        _args("preview", "--stack", "production", "--json", "{tmp}/no/r.json"),
        2,
        "argument --json: directory",
    ),
    ("preview-json-a-directory", _args("preview", "--stack", "production", "--json", "{tmp}"), 2, "argument --json: "),
    (
        "preview-summary-a-directory",  # refused before the preview writes its --json report
        _args(
            "preview", "--stack", "staging", "--json", "{tmp}/r.json", "--diff", "{tmp}/r.json", "--summary", "{tmp}"
        ),
        2,
        ": not a file in an existing directory",
    ),
    (
        "preview-json-no-value",
        _args("preview", "--stack", "production", "--json"),
        2,
        "argument --json: expected one argument",
    ),
    # policies
    ("policies-two-views", _args("policies", "--markdown", "--catalog"), 2, "not allowed with argument"),
    ("policies-positional", _args("policies", "production"), 2, "unrecognized arguments: production"),
    # first-deploy and deploy-state
    ("first-deploy-no-stack", _args("first-deploy"), 2, "the following arguments are required: --stack"),
    ("first-deploy-unknown-stack", _args("first-deploy", "--stack", "qa"), 2, "Pulumi.qa.yaml"),
    ("deploy-state-no-file", _args("deploy-state", "--state", "{tmp}/nope.json"), 2, "nope.json: no such file"),
    ("deploy-state-not-json", lambda tmp: _state_file(tmp, "state.json", "{"), 2, "not JSON"),
    ("deploy-state-not-a-state", lambda tmp: _state_file(tmp, "state.json", "[]"), 2, "not a `pulumi stack export`"),
    (
        "preview-bootstrap-diff",
        _args("preview", "--project", "bootstrap", "--stack", "production", "--diff", "HEAD"),
        2,
        "not with --project bootstrap",
    ),
    # stack-set
    (
        "stack-set-no-value",
        _args("stack-set", "--stack", "production", "redisgw:delivery.strategy"),
        2,
        "redisgw:delivery.strategy: give a value",
    ),
    (
        "stack-set-empty-namespace",  # a bare key is the project's (pulumi config set); an empty namespace is none
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", ":delivery.strategy", "canary"),
        2,
        ":delivery.strategy: a key path is namespace:key",
    ),
    (
        "stack-set-empty-key",
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", "redisgw:", "x"),
        2,
        "redisgw:: a key path",
    ),
    (
        "stack-set-trailing-dot",
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", "redisgw:delivery.strategy.", "x"),
        2,
        "a key path",
    ),
    (
        "stack-set-bad-value",
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", "redisgw:delivery.strategy", "sideways"),
        2,
        "redisgw:delivery.strategy: Input should be",
    ),
    (
        "stack-set-unknown-key",
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", "redisgw:delivery.stratgy", "canary"),
        2,
        "redisgw:delivery.stratgy: unknown key",
    ),
    (
        "stack-set-into-a-string",
        _with_copy("stack-set", "--stack", "production", "--config", "{copy}", "redisgw:delivery.strategy.x", "1"),
        2,
        "redisgw:delivery.strategy.x: redisgw:delivery.strategy: expected a map",
    ),
    (
        "stack-set-config-missing",
        _args("stack-set", "--stack", "production", "--config", "{tmp}/nope.yaml", "redisgw:x", "1"),
        2,
        "argument --config: ",
    ),
    (
        "stack-set-unknown-stack",
        _args("stack-set", "--stack", "nope", "redisgw:x", "1"),
        2,
        "Pulumi.nope.yaml: no such stack file",
    ),
    (
        "stack-set-secret-value",
        _with_copy(
            "stack-set", "--stack", "production", "--config", "{copy}", "redisgw:tags.owner", "AKIAABCDEFGHIJKLMNOP"
        ),
        2,
        "redisgw:tags.owner: the value looks like an AWS access key",
    ),
    # smoke
    ("smoke-no-url", _args("smoke"), 2, "the following arguments are required: --url"),
    (
        "smoke-url-no-scheme",
        _args("smoke", "--url", "api.example.com"),
        2,
        "argument --url: expected an http:// or https:// URL",
    ),
    ("smoke-url-no-host", _args("smoke", "--url", "http://"), 2, "argument --url: 'http://' names no host"),
    ("smoke-url-ftp", _args("smoke", "--url", "ftp://api.example.com"), 2, "argument --url: expected an http"),
    ("smoke-url-file", _args("smoke", "--url", "file:///etc/passwd"), 2, "argument --url: expected an http"),
    (
        "smoke-url-bad-port",
        _args("smoke", "--url", "https://api.example.com:99999"),
        2,
        "argument --url: 'https://api.example.com:99999' has an invalid port",
    ),
    (
        "smoke-metrics-url",
        _args("smoke", "--url", "https://a.example", "--metrics-url", "nope"),
        2,
        "argument --metrics-url: ",
    ),
    (
        "smoke-negative-timeout",
        _args("smoke", "--url", "https://a.example", "--timeout", "-1"),
        2,
        "argument --timeout: must be more than 0",
    ),
    (
        "smoke-timeout-not-a-number",
        _args("smoke", "--url", "https://a.example", "--timeout", "soon"),
        2,
        "argument --timeout: expected a number",
    ),
    (
        "smoke-json-no-directory",
        _args("smoke", "--url", "https://a.example", "--json", "{tmp}/no/r.json"),
        2,
        "argument --json: directory",
    ),
    # backup
    ("backup-no-source", _args("backup", *BUCKET), 2, "one of the arguments --redis-url --sentinel is required"),
    (
        "backup-two-sources",
        _args("backup", "--redis-url", "redis://h:1", "--sentinel", "h:2", *BUCKET),
        2,
        "not allowed with argument",
    ),
    (
        "backup-no-bucket",
        _args("backup", "--redis-url", "redis://h:1"),
        2,
        "the following arguments are required: --bucket",
    ),
    (
        "backup-url-no-scheme",
        _args("backup", "--redis-url", "127.0.0.1:6391", *BUCKET),
        2,
        "argument --redis-url: expected redis://host:port, got no scheme",
    ),
    (
        "backup-url-http",
        _args("backup", "--redis-url", "http://127.0.0.1:6379", *BUCKET),
        2,
        "argument --redis-url: expected redis://host:port, got http://",
    ),
    ("backup-url-no-host", _args("backup", "--redis-url", "redis://", *BUCKET), 2, "the URL names no host"),
    ("backup-url-bad-port", _args("backup", "--redis-url", "redis://h:99999", *BUCKET), 2, "argument --redis-url: "),
    ("backup-url-database", _args("backup", "--redis-url", "redis://h:6379/2", *BUCKET), 2, "a database number"),
    (
        "backup-sentinel-no-port",
        _args("backup", "--sentinel", "nohostport", *BUCKET),
        2,
        "argument --sentinel: expected host:port",
    ),
    (
        "backup-sentinel-bad-port",
        _args("backup", "--sentinel", "h:port", *BUCKET),
        2,
        "argument --sentinel: port must be a number",
    ),
    (
        "backup-negative-deadline",
        _args("backup", "--redis-url", "redis://h:1", "--deadline", "-1", *BUCKET),
        2,
        "argument --deadline: must be more than 0",
    ),
    (
        "backup-io-timeout-word",
        _args("backup", "--redis-url", "redis://h:1", "--io-timeout", "soon", *BUCKET),
        2,
        "argument --io-timeout: expected a number",
    ),
    (
        "backup-compression",
        _args("backup", "--redis-url", "redis://h:1", "--compression", "lz4", *BUCKET),
        2,
        "argument --compression: invalid choice: 'lz4'",
    ),
    (
        "backup-bucket-name",
        _args("backup", "--redis-url", "redis://h:1", "--bucket", "Bad_Bucket!"),
        2,
        "argument --bucket: 'Bad_Bucket!' is not an S3 bucket name",
    ),
    (
        "backup-bucket-an-ip",
        _args("backup", "--redis-url", "redis://h:1", "--bucket", "192.168.1.1"),
        2,
        "argument --bucket: ",
    ),
    (
        "backup-prefix-absolute",
        _args("backup", "--redis-url", "redis://h:1", "--prefix", "/redis", *BUCKET),
        2,
        "argument --prefix: '/redis' is not a key prefix",
    ),
    (
        "backup-prefix-dot-dot",
        _args("backup", "--redis-url", "redis://h:1", "--prefix", "a/../b/", *BUCKET),
        2,
        "argument --prefix: ",
    ),
    (
        "backup-region",
        _args("backup", "--redis-url", "redis://h:1", "--region", "mars-1", *BUCKET),
        2,
        "argument --region: 'mars-1' is not an AWS region",
    ),
    (
        "backup-work-dir-missing",
        _args("backup", "--redis-url", "redis://h:1", "--verify", "--work-dir", "{tmp}/nope", *BUCKET),
        2,
        "argument --work-dir/--spool-dir: ",
    ),
    (
        "backup-json-a-directory",
        _args("backup", "--redis-url", "redis://h:1", "--json", "{tmp}", *BUCKET),
        2,
        "argument --json: ",
    ),
    # verify
    ("verify-no-bucket", _args("verify"), 2, "the following arguments are required: --bucket"),
    (
        "verify-backup-path",
        _args("verify", "--backup", "../../etc", *BUCKET),
        2,
        "--backup '../../etc': expected 'latest' or an id",
    ),
    ("verify-work-dir-missing", _args("verify", "--work-dir", "{tmp}/nope", *BUCKET), 2, WORK_DIR),
    ("verify-work-dir-a-file", lambda tmp: ["verify", "--work-dir", _file(tmp), *BUCKET], 2, "is not a directory"),
    # restore
    ("restore-no-target", _args("restore", *BUCKET), 2, "one of the arguments --target-rdb --target-url is required"),
    (
        "restore-two-targets",
        _args("restore", "--target-rdb", "{tmp}/d.rdb", "--target-url", "redis://h:1", *BUCKET),
        2,
        "not allowed with argument",
    ),
    (
        "restore-target-url-host-only",
        _args("restore", "--target-url", "localhost", *BUCKET),
        2,
        "argument --target-url: expected redis://host:port",
    ),
    (
        "restore-target-rdb-no-directory",
        _args("restore", "--target-rdb", "{tmp}/no/dump.rdb", *BUCKET),
        2,
        "argument --target-rdb: directory",
    ),
    (
        "restore-target-rdb-a-directory",
        _args("restore", "--target-rdb", "{tmp}", *BUCKET),
        2,
        "argument --target-rdb: ",
    ),
    (
        "restore-advertise",
        _args("restore", "--target-url", "redis://h:1", "--advertise", "not an address", *BUCKET),
        2,
        "argument --advertise: ",
    ),
    (
        "restore-work-dir-a-file",
        lambda tmp: ["restore", "--target-url", "redis://h:1", "--work-dir", _file(tmp), *BUCKET],
        2,
        "argument --work-dir/--spool-dir: ",
    ),
    (
        "restore-target-rdb-not-empty",
        lambda tmp: ["restore", "--target-rdb", _file(tmp), "--work-dir", str(tmp), *BUCKET],
        2,
        "exists and is not empty; refusing to overwrite it without --force",
    ),
    # restore-job
    ("restore-job-no-primary", _restore_job(primary=None), 2, "required: --primary"),
    ("restore-job-latest", _restore_job(backup="latest"), 2, "--backup 'latest': name one backup id"),
    ("restore-job-unpinned-image", _restore_job(image="ops"), 2, "argument --image: 'ops' is not a pinned image"),
    (
        "restore-job-namespace",
        _restore_job("--namespace", "Redis System"),
        2,
        "argument --namespace: 'Redis System'",
    ),
    # list, prune, drill
    ("list-no-bucket", _args("list"), 2, "the following arguments are required: --bucket"),
    ("list-prefix-absolute", _args("list", "--prefix", "/x", *BUCKET), 2, "argument --prefix: "),
    ("list-json-no-directory", _args("list", "--json", "{tmp}/no/x.json", *BUCKET), 2, "argument --json: directory"),
    ("prune-no-bucket", _args("prune", "--dry-run"), 2, "the following arguments are required: --bucket"),
    ("prune-region-empty", _args("prune", "--region", "", *BUCKET), 2, "argument --region: "),
    ("prune-bucket-short", _args("prune", "--bucket", "ab"), 2, "argument --bucket: 'ab'"),
    ("capacity-no-stack", _args("capacity"), 2, "the following arguments are required: --stack"),
    (
        "capacity-missing-baseline",
        _args("capacity", "--stack", "production", "--baseline", "{tmp}/nope.json"),
        2,
        "argument --baseline: ",
    ),
    ("capacity-unknown-stack", _args("capacity", "--stack", "nope"), 2, "Pulumi.nope.yaml: no such stack file"),
    ("readiness-no-stack", _args("readiness", "--in-cluster"), 2, "required: --stack"),
    (
        "readiness-from-file-and-kubeconfig",
        _args("readiness", "--stack", "production", "--in-cluster", "--kubeconfig", "k"),
        2,
        "not allowed with argument",
    ),
    (
        "readiness-negative-timeout",
        _args("readiness", "--stack", "production", "--timeout", "-1"),
        2,
        "argument --timeout: ",
    ),
    (
        "readiness-bad-prometheus-url",
        _args("readiness", "--stack", "production", "--prometheus-url", "kps-prometheus:9090"),
        2,
        "argument --prometheus-url: expected an http:// or https:// URL",
    ),
    ("bench-no-target", _args("bench"), 2, "the following arguments are required: TARGET"),
    (
        "bench-http-zero-rate",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--rate", "0"),
        2,
        "argument --rate: must be more than 0",
    ),
    (
        "bench-http-negative-rate",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--rate=-5"),
        2,
        "argument --rate: must be more than 0",
    ),
    (
        "bench-http-nonsense-sizes",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--value-bytes", "big"),
        2,
        "argument --value-bytes: 'big' is not a size in bytes",
    ),
    (
        "bench-http-reversed-range",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--value-bytes", "4096-128"),
        2,
        "the low end first",
    ),
    (
        "bench-http-read-share",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--read-share", "1.5"),
        2,
        "argument --read-share: must be between 0 and 1",
    ),
    ("bench-http-not-a-url", _args("bench", "http", "--url", "127.0.0.1:8080"), 2, "argument --url: expected an http"),
    (
        "bench-http-unreachable",
        _args("bench", "http", "--url", "http://127.0.0.1:1", "--rate", "50", "--duration", "0.2", "--warmup", "0.1"),
        1,
        "http://127.0.0.1:1 is unreachable: every request failed",
    ),
    ("bench-redis-no-url", _args("bench", "redis"), 2, "the following arguments are required: --redis-url"),
    (
        "bench-redis-unreachable",
        _args("bench", "redis", "--redis-url", "redis://127.0.0.1:1"),
        1,
        "cannot reach Redis at 127.0.0.1:1",
    ),
    ("bench-compare-missing", _args("bench", "compare", "{tmp}/a.json", "{tmp}/b.json"), 2, "argument old: "),
    (
        "bench-compare-not-json",
        lambda tmp: ["bench", "compare", _file(tmp), _file(tmp)],
        2,
        "not a baseline (JSON expected",
    ),
    ("dr-no-action", _args("dr"), 2, "the following arguments are required: ACTION"),
    (
        "dr-status-unknown-stack",
        _args(
            "dr", "status", "--stack", "nope", "--primary-redis", "redis://10.0.0.1", "--dr-redis", "redis://10.0.0.2"
        ),
        2,
        "Pulumi.nope.yaml: no such stack file",
    ),
    (
        "dr-status-stack-without-dr",
        _args("dr", "status", "--stack", "staging", "--primary-redis", "redis://a", "--dr-redis", "redis://b"),
        2,
        "stack staging has no DR region (redisgw:dr.enabled is false in Pulumi.staging.yaml)",
    ),
    (
        "dr-failover-no-kubeconfig",
        _args("dr", "failover", "--stack", "production", "--primary-redis", "redis://a", "--dr-redis", "redis://b"),
        2,
        "the following arguments are required: --dr-kubeconfig",
    ),
    (
        "dr-failover-http-url",
        _dr("failover", "--primary-redis", "http://a:6379", "--dr-redis", "redis://b"),
        2,
        "argument --primary-redis: expected redis://host:port, got http://",
    ),
    (
        "dr-failover-no-password",
        _dr("failover", "--primary-redis", "redis://a", "--dr-redis", "redis://b"),
        2,
        "no Redis password for a:6379: set REDIS_PASSWORD",
    ),
    (
        "dr-failover-kubeconfig-missing",
        _args(
            *("dr", "failover", "--stack", "production", "--primary-redis", "redis://a", "--dr-redis", "redis://b"),
            *("--dr-kubeconfig", "{tmp}/nope"),
        ),
        2,
        "argument --dr-kubeconfig: ",
    ),
    (
        "dr-failover-link-without-port",
        _dr("failover", "--primary-redis", "redis://a", "--dr-redis", "redis://b", "--primary-link", "nlb.example.com"),
        2,
        "argument --primary-link: expected host:port",
    ),
    (
        "dr-failover-negative-timeout",
        _dr("failover", "--primary-redis", "redis://a", "--dr-redis", "redis://b", "--catch-up-timeout", "-1"),
        2,
        "argument --catch-up-timeout: must be more than 0",
    ),
    (
        "dr-failback-broken-kubeconfig",
        _dr("failback", "--primary-redis", "redis://:pw12@a", "--dr-redis", "redis://:pw12@b"),
        2,
        "--dr-kubeconfig ",
    ),
    (
        "dr-failback-no-dr-redis",
        _args("dr", "failback", "--stack", "production", "--primary-redis", "redis://a"),
        2,
        "the following arguments are required: --dr-redis",
    ),
    (
        "dr-restore-from-backup-primary-region",
        _args(
            "dr",
            "restore-from-backup",
            "--stack",
            "production",
            "--dr-redis",
            "redis://b",
            "--region",
            "eu-west-1",
            *BUCKET,
        ),
        2,
        "--region eu-west-1 is not the DR region of stack production (eu-central-1)",
    ),
    (
        "dr-restore-from-backup-no-bucket",
        _args("dr", "restore-from-backup", "--stack", "production", "--dr-redis", "redis://b"),
        2,
        "the following arguments are required: --bucket",
    ),
    ("dr-drill-unknown-scenario", _args("dr", "drill", "--scenario", "nuke"), 2, "argument --scenario: invalid choice"),
    ("dr-drill-stack-without-dr", _args("dr", "drill", "--stack", "staging"), 2, "stack staging has no DR region"),
    ("drill-no-bucket", _args("drill"), 2, "the following arguments are required: --bucket"),
    ("drill-work-dir-missing", _args("drill", "--work-dir", "{tmp}/nope", *BUCKET), 2, WORK_DIR),
    ("drill-work-dir-a-file", lambda tmp: ["drill", "--work-dir", _file(tmp), *BUCKET], 2, WORK_DIR),
]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


def test_the_table_covers_every_command_with_at_least_60_cases() -> None:
    from ops.cli import _parser

    commands = set(_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    uncovered = {name for name in commands if not any(c[0].startswith(f"{name}-") for c in CASES)}
    assert not uncovered
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("build", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mistake_is_one_line_naming_the_culprit(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[[Path], list[str]],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    argv = build(tmp_path)
    copy = tmp_path / "variant.yaml"
    original = copy.read_text() if copy.exists() else None
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _run(argv) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0], lines[0]
    assert "Traceback" not in out + err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind
    if original is not None:
        assert copy.read_text() == original  # a refused edit leaves the file as it was


def test_every_flag_has_help_and_every_command_a_description() -> None:
    from ops.cli import _parser

    parser = _parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and len(action.help) > 10, (name, action.option_strings)
    top = parser.format_help()
    assert "``" not in top
    for variable in ("REDIS_PASSWORD", "REDIS_USERNAME", "REDIS_SENTINEL_PASSWORD", "AWS_REGION", "OPS_DEBUG"):
        assert variable in top


def test_json_is_one_convention_a_file_or_standard_output() -> None:
    from ops.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    with_json = {n for n, c in commands.items() if any("--json" in a.option_strings for a in c._actions)}
    assert with_json == {
        "preview",
        "smoke",
        "backup",
        "verify",
        "restore",
        "list",
        "prune",
        "drill",
        "capacity",
        "readiness",
    }
    nested = [
        action
        for name in ("dr", "bench")
        for sub in commands[name]._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        for action in sub._actions
        if "--json" in action.option_strings
    ]
    assert (
        len(nested) == 9
    )  # dr: status, failover, failback, guard, restore-from-backup, drill; bench: http, redis, compare
    for action in [
        *(next(a for a in commands[name]._actions if "--json" in a.option_strings) for name in with_json),
        *nested,
    ]:
        assert action.metavar == "FILE" and action.nargs is None and "'-'" in (action.help or "")


def test_a_json_report_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    from ops.runtime.report import write_json

    target = tmp_path / "r.json"
    write_json(str(target), {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    with pytest.raises(TypeError):
        write_json(str(target), {"a": object()})
    assert target.read_text() == '{\n  "a": 1\n}\n' and os.listdir(tmp_path) == ["r.json"]
