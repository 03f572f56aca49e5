"""``python -m ops``: one CLI for the platform's operational tooling."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn

from ops.errors import OpsError, describe, redact
from ops.runtime import args as argtypes
from ops.runtime.report import STDOUT, add_json_flag, write_json

DESCRIPTION = (
    "One CLI for the Redis HTTP Gateway platform: offline preview, policies, backups, smoke tests, disaster recovery, "
    "benchmarks, capacity planning and the live readiness scorecard."
)
ENVIRONMENT = """environment:
  REDIS_PASSWORD, REDIS_USERNAME   Redis credentials of backup and restore (unless the URL carries them)
  REDIS_SENTINEL_PASSWORD          password of Sentinel, when it has one
  AWS_REGION (or AWS_DEFAULT_REGION), AWS_PROFILE, AWS_ENDPOINT_URL, ...
                                   the standard AWS variables of every S3 and KMS call
  TMPDIR                           default --work-dir of verify, restore and drill
  OPS_DEBUG=1                      print the traceback of an unexpected error

exit codes: 0 done, 1 a check failed (policy, smoke, verification), 2 a usage or input error, 3 an
unexpected error (a bug: run again with OPS_DEBUG=1 and report it)"""


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, naming the command and the flag, then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ops",
        description=DESCRIPTION,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    preview = commands.add_parser(
        "preview",
        help="offline preview: run the program under mocks, evaluate policies and Kubernetes schemas",
        description="Run the stack's program under Pulumi's mock runtime, evaluate the policy pack with the "
        "stack's enforcement config and validate Kubernetes objects. Exit 0 clean, 1 mandatory violation "
        "or schema error, 2 invalid stack config.",
    )
    preview.add_argument(
        "--stack", required=True, type=argtypes.stack_name, help="stack name: reads Pulumi.<stack>.yaml"
    )
    add_json_flag(preview)
    preview.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="read the stack's config from FILE instead of Pulumi.<stack>.yaml (try a variant against the "
        "stack's policies)",
    )
    preview.add_argument(
        "--project",
        choices=("program", "bootstrap"),
        default="program",
        help="program (default): the stack's Pulumi.<stack>.yaml at the top; bootstrap: bootstrap/Pulumi.<stack>.yaml, "
        "the account's bootstrap (state bucket, secrets key, CI roles), judged by the same pack",
    )
    preview.add_argument(
        "--diff",
        metavar="BASE",
        help="also show what changed against BASE: a preview report of the stack (--json of an earlier run) or a "
        "git ref whose Pulumi.<stack>.yaml is previewed (e.g. origin/main): resources added, removed, changed "
        "inputs (secrets masked) and policy verdicts",
    )
    preview.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="append the --diff as Markdown to FILE (a CI job summary, $GITHUB_STEP_SUMMARY)",
    )
    policies = commands.add_parser(
        "policies",
        help="list every policy of the pack with its severity and enforcement level per stack",
        description="List the policies of policies/ as the analyzer reports them, with the level each stack's "
        "policies/config/<stack>.json gives them.",
    )
    shown = policies.add_mutually_exclusive_group()
    shown.add_argument("--markdown", action="store_true", help="print a Markdown table (as in the README)")
    shown.add_argument(
        "--catalog",
        action="store_true",
        help="print docs/policy-catalog.md: each item of the Pod Security Standards, the CIS EKS Benchmark, AWS "
        "Foundational Security Best Practices and the readiness checklist, with its policy or the reason it does "
        "not apply (exit 1 if the catalog and the pack disagree)",
    )
    stack_set = commands.add_parser(
        "stack-set",
        help="set values of a stack file by key path, validated together before it is written",
        description="Set KEY (namespace:key.nested, with [N] for list items, e.g. redisgw:delivery.strategy or "
        "redisgw:delivery.canarySteps[0].weight) to VALUE in Pulumi.<stack>.yaml, as `pulumi config set --path` "
        "would: a nested true/false is a boolean and a decimal integer a number, anything else text; a top-level "
        "key takes the text; a value starting with [ or { is a list or object (JSON), "
        "keeping the file's comments: `KEY VALUE`, or several `KEY=VALUE` pairs set and validated together "
        "(changes valid only as a whole). The whole file is validated first; on any problem the file is left "
        "as it was and the exit code is 2. The deploy workflow uses it for one-off overrides.",
    )
    stack_set.add_argument(
        "--stack", required=True, type=argtypes.stack_name, help="stack name: edits Pulumi.<stack>.yaml"
    )
    stack_set.add_argument(
        "--config", type=argtypes.existing_file, metavar="FILE", help="edit FILE instead of Pulumi.<stack>.yaml"
    )
    stack_set.add_argument(
        "assignments",
        nargs="+",
        metavar="KEY VALUE | KEY=VALUE",
        help="namespace:key.path and its value, e.g. redisgw:delivery.strategy canary, or "
        "several redisgw:cluster.endpointPublicAccess=true redisgw:cluster.publicAccessCidrs='[\"52.19.0.0/16\"]'",
    )
    smoke = commands.add_parser(
        "smoke",
        help="post-deployment validation: health, readiness, metrics, key round trip",
        description="Check a gateway endpoint: /healthz, /readyz, the metrics endpoint and a write-read-delete "
        "round trip. Exit 0 when no check failed, 1 otherwise.",
    )
    smoke.add_argument(
        "--url", required=True, type=argtypes.http_url, help="base URL of the gateway, e.g. https://api.example.com"
    )
    smoke.add_argument(
        "--metrics-url", type=argtypes.http_url, help="metrics endpoint (default: the URL's host, port 9090, /metrics)"
    )
    smoke.add_argument(
        "--skip-metrics",
        action="store_true",
        help="do not check the metrics endpoint (it is cluster-internal; the in-cluster smoke Job checks it)",
    )
    smoke.add_argument(
        "--timeout", type=argtypes.positive_seconds, default=5.0, help="seconds per request (default: 5)"
    )
    add_json_flag(smoke)
    first_deploy = commands.add_parser(
        "first-deploy",
        help="the first `pulumi up` of a stack from a workstation: the AWS half, and what it leaves for the runner",
        description="Print the command of the first `pulumi up` of a stack from a workstation that cannot reach the "
        "private cluster API (every Kubernetes object and what depends on one excluded), run the program as that "
        "command would, and say what it creates and what it leaves for the first deploy job on the stack's runner. "
        "Exit 0 when that half creates what the runner needs and nothing through the Kubernetes provider, 1 "
        "otherwise, 2 invalid stack config.",
    )
    first_deploy.add_argument(
        "--stack", required=True, type=argtypes.stack_name, help="stack name: reads Pulumi.<stack>.yaml"
    )
    first_deploy.add_argument(
        "--config", type=argtypes.existing_file, metavar="FILE", help="read FILE instead of Pulumi.<stack>.yaml"
    )
    deploy_state = commands.add_parser(
        "deploy-state",
        help="has the stack been deployed whole before? (from `pulumi stack export`; the deploy workflow's gates)",
        description="Read a stack's state (`pulumi stack export --file FILE`): a stack with no backup CronJob in "
        "it has never had its Kubernetes half deployed, so the deploy workflow skips the backup and readiness gates "
        "that need a running stack. Prints the verdict; --github-output appends first_deploy=true|false and "
        "backup_bucket=<the backupBucket output> to FILE ($GITHUB_OUTPUT). Exit 2 when the file is not a state of this "
        "project (of --stack, when given).",
    )
    deploy_state.add_argument(
        "--state", required=True, type=argtypes.existing_file, metavar="FILE", help="`pulumi stack export` output"
    )
    deploy_state.add_argument(
        "--github-output", type=Path, metavar="FILE", help="append the verdict as step outputs to FILE"
    )
    deploy_state.add_argument(
        "--stack",
        type=argtypes.stack_name,
        help="the state must be this stack's; also check the Kubernetes versions Pulumi.<stack>.yaml asks for "
        "against the state's clusters and node groups: one minor per update, never back, node groups on their "
        "control plane's minor first (exit 2)",
    )
    capacity = commands.add_parser(
        "capacity",
        help="the capacity plan of a stack: pods, nodes, Redis memory and growth, backups, cost; exit 1 when short",
        description="Check that the stack carries its declared peak (redisgw:capacity) with the measured baselines "
        "(docs/capacity/baseline.json from `ops bench`, docs/capacity/backup-benchmark.json from `make bench`). Exit "
        "0 when it does, 1 naming every number that falls short, 2 on bad input.",
    )
    capacity.add_argument(
        "--stack", required=True, type=argtypes.stack_name, help="stack name: reads Pulumi.<stack>.yaml"
    )
    capacity.add_argument(
        "--baseline", type=argtypes.existing_file, metavar="FILE", help="a baseline other than the stack's"
    )
    capacity.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="read the stack's config from FILE instead of Pulumi.<stack>.yaml (plan a variant)",
    )
    capacity.add_argument(
        "--markdown",
        type=argtypes.new_file,
        metavar="FILE",
        help="also write the plan as Markdown (docs/capacity/<stack>.md)",
    )
    add_json_flag(capacity)
    from ops.readiness import cli as readiness_cli
    from ops.runtime import backup_cli, bench_cli, dr_cli

    backup_cli.add_commands(commands)
    dr_cli.add_commands(commands)
    bench_cli.add_commands(commands)
    readiness_cli.add_commands(commands)
    return parser


def _offline(module: str) -> Any:
    """A module of the offline engine, or a clear error where only the runtime half is installed (the ops image)."""
    try:
        return importlib.import_module(f"ops.offline.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == "ops.offline" or not exc.name.startswith("ops")):
            raise OpsError(
                f"this command needs the offline engine (ops/offline and its requirements; missing: {exc.name}), "
                "which the ops image does not ship: run it from a checkout with `make preview`",
                code=2,
            ) from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``AWS_REGION`` wins over ``AWS_DEFAULT_REGION``, as in the AWS CLI and SDKs; botocore reads only
    the latter, so for the command both are set to the winner (either one alone works everywhere)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    with argtypes.scoped_environment(AWS_REGION=region, AWS_DEFAULT_REGION=region) if region else nullcontext():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rich.console import Console  # here, not at the top: `--help` and argument errors stay quick

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)  # logs and CI: do not wrap the plan at 80 columns
    try:
        if args.command == "preview":
            preview = _offline("preview")
            if args.json == STDOUT:  # the report owns standard output; the plan goes to standard error
                console = Console(highlight=False, stderr=True, width=None if console.is_terminal else 160)
            if args.summary and not args.diff:
                raise OpsError("preview: --summary writes the --diff: give --diff BASE too", code=2)
            if args.summary and (args.summary.is_dir() or not args.summary.parent.is_dir()):
                # refused before the preview runs, so nothing (the --json report) is written half way
                raise OpsError(f"--summary {args.summary}: not a file in an existing directory", code=2)
            return preview.run(
                args.stack,
                args.json,
                console,
                args.config,
                diff_base=args.diff,
                summary=args.summary,
                project=args.project,
            )
        if args.command == "policies":
            policy_runner = _offline("policy_runner")
            if args.catalog:
                catalog = _offline("catalog")
                entries = catalog.load()
                catalog.render(entries, console)
                wrong = catalog.problems(entries, [r.name for r in policy_runner.describe()])
                for problem in wrong:
                    console.print(f"[red]catalog: {problem}[/red]")
                return 1 if wrong else 0
            rows = policy_runner.describe()
            if args.markdown:
                print(policy_runner.markdown_table(rows), end="")
            else:
                policy_runner.render_table(rows, console)
            return 0
        if args.command == "stack-set":
            stack_set_module = _offline("stack_set")
            pairs = stack_set_module.parse_assignments(args.assignments)
            written = stack_set_module.run(args.stack, pairs, args.config)
            console.print(f"{written}: {', '.join(key for key, _ in pairs)} set")
            return 0
        if args.command == "smoke":
            from ops.runtime import smoke

            report = smoke.run(args.url, args.metrics_url, args.timeout, check_metrics=not args.skip_metrics)
            write_json(args.json, report.as_dict())
            out = Console(stderr=True, highlight=False) if args.json == STDOUT else console
            for c in report.checks:
                out.print(f"{c.status.upper():5} {c.name:<11} {c.detail} ({c.seconds}s)", markup=False)
            out.print("smoke test " + ("passed" if report.ok else "FAILED"), markup=False)
            return 0 if report.ok else 1
        if args.command == "first-deploy":
            first_deploy_module = _offline("first_deploy")
            result = first_deploy_module.plan(args.stack, args.config)
            first_deploy_module.render(result, console)
            return 0 if result.ok else 1
        if args.command == "deploy-state":
            from ops.runtime import deploy_state

            state = deploy_state.read(args.state, args.stack)
            console.print(deploy_state.describe(state), markup=False)
            if args.stack:
                from ops.offline.engine import load_stack_config

                loaded = load_stack_config(args.stack)
                problems = deploy_state.version_problems(state, args.stack, loaded.values)
                if problems:
                    raise OpsError(f"{loaded.path.name}: " + "; ".join(problems), code=2)
            if args.github_output:
                lines = state.github_output()
                try:
                    with args.github_output.open("a", encoding="utf-8") as out:
                        out.write(lines)
                except OSError as exc:
                    raise OpsError(
                        f"--github-output {args.github_output}: cannot be written ({exc.strerror})", code=2
                    ) from None
            return 0
        if args.command == "capacity":
            capacity_plan = _offline("capacity")
            report = capacity_plan.build(args.stack, args.baseline, args.config)
            write_json(args.json, report.as_dict())
            if args.markdown:
                args.markdown.write_text(capacity_plan.markdown(report), encoding="utf-8")
            out = Console(stderr=True, highlight=False) if args.json == STDOUT else console
            capacity_plan.render(report, out)
            return 0 if report.plan.ok else 1
        if args.command == "bench":
            from ops.runtime import bench_cli

            return bench_cli.run(args, console)
        if args.command == "readiness":
            from ops.readiness import cli as readiness_cli

            return readiness_cli.run(args, console)
        if args.command == "dr":
            from ops.runtime import dr_cli

            return dr_cli.run(args, console)
        from ops.runtime import backup_cli

        return backup_cli.run(args, console)
    except OpsError as exc:
        print(redact(exc.message), file=sys.stderr)  # plain: one line per problem, never re-wrapped
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A bug, not a user's mistake: say so in one redacted line (a library's message may quote
        # credentials); OPS_DEBUG=1 shows the traceback.
        if os.environ.get("OPS_DEBUG"):
            raise
        print(
            f"internal error in `{args.command}`: {type(exc).__name__}: {describe(exc)} (OPS_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
