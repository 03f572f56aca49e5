"""``python -m ops preview``: the offline engine.

Loads ``Pulumi.<stack>.yaml`` (secure values become placeholders), validates the settings before
anything is declared, runs ``__main__.py`` under Pulumi's mock runtime, evaluates the policy pack
through the analyzer protocol with ``policies/config/<stack>.json``, validates every Kubernetes
object against the schema of the stack's cluster version, prints the plan and optionally writes it
as JSON.

Exit codes: 0 clean; 1 a mandatory policy violation or a schema error; 2 invalid stack config.
"""

from __future__ import annotations

import io
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
from rich.console import Console
from rich.table import Table

import settings
from ops.errors import OpsError
from ops.offline import k8s_schema, policy_runner, project_config
from ops.offline.engine import (
    ROOT,
    Resource,
    StackConfig,
    assume_secrets,
    cli_config,
    load_stack_config,
    run_program,
)
from ops.runtime.report import STDOUT, write_json

COMPONENT_PREFIX = "redisgw:index:"


def component_of(resource: Resource, by_urn: dict[str, Resource]) -> str:
    """The outermost project component a resource belongs to (``Vpc:primary``), or ``stack``."""
    found = "stack"
    current: Resource | None = resource
    while current is not None:
        if current.type.startswith(COMPONENT_PREFIX):
            found = f"{current.type.removeprefix(COMPONENT_PREFIX)}:{current.name}"
        current = by_urn.get(current.parent or "")
    return found


def build_report(
    stack: str,
    resources: list[Resource],
    policies: policy_runner.PolicyResult,
    schema: k8s_schema.SchemaResult,
    seconds: float,
    project: str = "redisgw",
) -> dict[str, Any]:
    by_urn = {r.urn: r for r in resources}
    return {
        "stack": stack,
        "project": project,
        "elapsed_seconds": round(seconds, 3),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "component": component_of(r, by_urn),
                "custom": r.custom,
                "protect": r.protect,
                "dependencies": r.dependencies,
                "inputs": r.inputs,
            }
            for r in resources
        ],
        "policies": {
            "pack": policies.pack,
            "evaluated": [{"policy": n, "enforcement": lvl} for n, lvl in sorted(policies.levels.items())],
            "violations": [v.__dict__ for v in policies.violations],
        },
        "schema": {
            "kubernetes_version": schema.version,
            "checked": len(schema.checked),
            "not_checked": schema.not_checked,
        },
        "schema_errors": schema.errors,
    }


def render(report: dict[str, Any], console: Console) -> None:
    for key in report.get("secrets_assumed_set", []):
        console.print(f"[dim]secret {key} not in the stack file: assumed set with pulumi config set --secret[/dim]")
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in report["resources"]:
        groups[r["component"]][r["type"]] += 1
    table = Table(title=f"Plan for stack {report['stack']}: {len(report['resources'])} resources", show_lines=False)
    table.add_column("component")
    table.add_column("type")
    table.add_column("count", justify="right")
    for component in sorted(groups):
        first = True
        for typ, n in sorted(groups[component].items()):
            table.add_row(component if first else "", typ, str(n))
            first = False
        table.add_row("", "[bold]total[/bold]", f"[bold]{sum(groups[component].values())}[/bold]", end_section=True)
    console.print(table)

    pol = report["policies"]
    levels = Counter(p["enforcement"] for p in pol["evaluated"])
    console.print(
        f"Policies: {len(pol['evaluated'])} evaluated from {pol['pack']} "
        f"({', '.join(f'{n} {lvl}' for lvl, n in sorted(levels.items()))})"
    )
    for e in pol.get("exemptions", []):
        until = f" until {e['expires']}" if e.get("expires") else ""
        console.print(f"  [dim]exempt{until}: {e['policy']} on {e['resource']}: {e['reason']}[/dim]")
    for v in pol["violations"]:
        colour = "red" if v["enforcement"] == "mandatory" else "yellow"
        console.print(f"  [{colour}]{v['enforcement']}[/{colour}] {v['policy']} ({v['severity']}): {v['message']}")
        if v["urn"]:
            console.print(f"    at {v['urn']}")
    sch = report["schema"]
    console.print(
        f"Kubernetes schema {sch['kubernetes_version']} (strict): {sch['checked']} checked, "
        f"{len(report['schema_errors'])} errors, {len(sch['not_checked'])} custom resources not schema-checked"
    )
    for e in report["schema_errors"]:
        console.print(f"  [red]schema[/red] {e['kind']} {e['path']}: {e['message']}\n    at {e['urn']}")


def base_report(stack: str, base: str) -> dict[str, Any]:
    """The report ``--diff BASE`` compares with: a report file, or a preview of the stack file at git ref ``base``."""
    from rich.console import Console as RichConsole

    from ops.offline import plan_diff

    if Path(base).is_file():
        report = plan_diff.load_report(Path(base))
        plan_diff.check_same_stack(report, stack, f"--diff {base}")
        return report
    stack_file = plan_diff.stack_file_at(ROOT, base, stack)
    report_file = stack_file.with_suffix(".json")
    try:
        quiet = RichConsole(file=io.StringIO(), width=160)
        try:
            run(stack, str(report_file), quiet, stack_file)
        except OpsError as exc:
            raise OpsError(f"--diff {base}: its Pulumi.{stack}.yaml: {exc.message}", code=2) from None
        return plan_diff.load_report(report_file)
    finally:
        stack_file.unlink(missing_ok=True)
        report_file.unlink(missing_ok=True)


BOOTSTRAP = ROOT / "bootstrap"
BOOTSTRAP_PROJECT = "redisgw-bootstrap"


def bootstrap_config(stack: str, config_file: Path | None = None) -> tuple[StackConfig, str]:
    """``bootstrap/Pulumi.<stack>.yaml`` after the CLI's project-config rules and the bootstrap's own
    validation (which reads and validates the stacks it serves): the config and its region."""
    from bootstrap.config import NAMESPACE, BootstrapError, load

    config = load_stack_config(stack, config_file, root=BOOTSTRAP)
    project_config.check(BOOTSTRAP, stack, f"bootstrap/{config.path.name}", config.values, config.secret_keys)
    region = config.values.get("aws:region")
    if not isinstance(region, str) or not region:
        raise OpsError(f"bootstrap/{config.path.name}: aws:region is not set", code=2)
    own = {k.split(":", 1)[1]: v for k, v in config.values.items() if k.startswith(f"{NAMESPACE}:")}
    try:
        load(own, root=ROOT, region=region, source=f"bootstrap/{config.path.name}")
    except BootstrapError as exc:
        raise OpsError(str(exc), code=2) from None
    return config, region


def checked_config(
    stack: str, config_file: Path | None = None
) -> tuple[StackConfig, settings.StackSettings, list[str]]:
    """The stack's config as ``pulumi`` would pass it, after the CLI's project-config rules and our
    settings validation (either failing is :class:`OpsError`, exit 2), with secret keys it does not
    hold assumed set; also the validated settings and the keys assumed."""
    config = load_stack_config(stack, config_file)
    project_config.check(ROOT, stack, config.path.name, config.values, config.secret_keys)
    try:
        cfg = settings.load_settings(config.values, source=config.path.name, secret_keys=config.secret_keys)
    except settings.SettingsError as exc:
        raise OpsError(str(exc), code=2) from None
    config, assumed = assume_secrets(config, settings.required_secret_keys(cfg))
    return config, cfg, assumed


def run(
    stack: str,
    json_path: str | None,
    console: Console,
    config_file: Path | None = None,
    transformations: Sequence[pulumi.ResourceTransformation] = (),
    diff_base: str | None = None,
    summary: Path | None = None,
    project: str = "program",
) -> int:
    """Preview ``stack``; ``config_file`` replaces ``Pulumi.<stack>.yaml`` (to try a variant), and
    ``transformations`` alter what the program declares (see :func:`ops.offline.engine.run_program`).
    ``diff_base`` (a report or a git ref, :mod:`ops.offline.plan_diff`) adds what changed against it;
    ``summary`` appends that as Markdown. The exit code is the preview's own."""
    if project == "bootstrap" and diff_base:
        raise OpsError("preview: --diff compares the program's stacks; not with --project bootstrap", code=2)
    base = base_report(stack, diff_base) if diff_base else None
    start = time.perf_counter()
    if project == "bootstrap":
        config, region = bootstrap_config(stack, config_file)
        version, program, name = "none", BOOTSTRAP / "__main__.py", BOOTSTRAP_PROJECT
        assumed: list[str] = []
    else:
        config, cfg, assumed = checked_config(stack, config_file)
        region, version, program, name = cfg.region, cfg.cluster.version, ROOT / "__main__.py", "redisgw"
    resources = run_program(
        program,
        stack=stack,
        config=cli_config(config),
        secret_keys=config.secret_keys,
        region=region,
        project=name,
        transformations=transformations,
    )
    pack_config = "bootstrap" if project == "bootstrap" else stack
    policies = policy_runner.evaluate(resources, stack=stack, project=name, config=pack_config)
    schema = k8s_schema.validate(resources, version)
    report = build_report(stack, resources, policies, schema, time.perf_counter() - start, project=name)
    report["secrets_assumed_set"] = assumed
    report["policies"]["exemptions"] = policy_runner.exemptions(pack_config)
    render(report, console)
    write_json(json_path, report)
    if json_path not in (None, STDOUT):
        console.print(f"Report written to {json_path}")
    if base is not None:
        from ops.offline import plan_diff

        changes = plan_diff.diff(base, report)
        text = plan_diff.markdown(changes)
        console.print(text, markup=False)
        if summary is not None:
            try:
                with summary.open("a", encoding="utf-8") as out:
                    out.write(text)
            except OSError as exc:
                raise OpsError(f"--summary {summary}: cannot be written ({exc.strerror})", code=2) from None
    failed = bool(policies.mandatory or schema.errors)
    console.print(
        f"[{'red' if failed else 'green'}]{'FAILED' if failed else 'OK'}[/]: {len(policies.mandatory)} mandatory "
        f"violations, {len(schema.errors)} schema errors ({report['elapsed_seconds']:.1f}s)"
    )
    return 1 if failed else 0
