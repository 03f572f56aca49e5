"""Evaluate the policy pack on recorded resources through the analyzer protocol, as the CLI does.

The pack in ``policies/`` is started as its own process exactly as ``pulumi preview --policy-pack``
starts it: it serves the Analyzer gRPC service and prints its port. We then speak that protocol:
``GetAnalyzerInfo`` for the policy list and config schemas, ``Configure`` with the enforcement
levels and properties resolved from ``policies/config/<stack>.json`` (the ``all`` key, then
per-policy entries, then schema defaults, as ``--policy-pack-config`` does), ``Analyze`` for every
resource and ``AnalyzeStack`` once for the whole stack.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ops.errors import OpsError
from ops.offline.engine import ROOT, Resource
from ops.readiness.pack import load_pack_config, resolve_entry

POLICY_DIR = ROOT / "policies"
_LEVELS = {"advisory", "mandatory", "disabled", "remediate"}


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    severity: str
    urn: str
    message: str


@dataclass
class PolicyResult:
    pack: str
    levels: dict[str, str]
    """Policy name -> enforcement level in force for this stack."""
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]


@contextmanager
def _pack_process(policy_dir: Path) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    proc = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=policy_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            raise OpsError(f"policy pack in {policy_dir} failed to start:\n{proc.stderr.read()[-2000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait()


def _shown(path: Path) -> Path:
    """``path`` as error messages show it: relative to the project when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _resolve(info: analyzer_pb2.AnalyzerInfo, doc: dict[str, Any], path: Path) -> dict[str, analyzer_pb2.PolicyConfig]:
    where = _shown(path)
    names = {p.name for p in info.policies}
    for key, value in doc.items():
        if key != "all" and key not in names:
            raise OpsError(f"{where}: {key}: no such policy in pack {info.name}", code=2)
        level = value if isinstance(value, str) else (value or {}).get("enforcementLevel", "advisory")
        if not isinstance(value, (str, dict)) or level not in _LEVELS:
            raise OpsError(f"{where}: {key}: enforcement level must be one of {sorted(_LEVELS)}", code=2)
    configs = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties) if policy.HasField("configSchema") else {}
        code_level = analyzer_pb2.EnforcementLevel.Name(policy.enforcementLevel).lower()
        level, props = resolve_entry(doc, policy.name, code_level, schema)
        if props or schema:
            full = {"type": "object", "properties": schema, "additionalProperties": False}
            try:
                jsonschema.validate(props, full)
            except jsonschema.ValidationError as exc:
                at = ".".join(str(p) for p in exc.absolute_path) or "(config)"
                raise OpsError(f"{where}: {policy.name}.{at}: {exc.message}", code=2) from None
        struct = struct_pb2.Struct()
        struct.update(props)
        configs[policy.name] = analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()), properties=struct
        )
    return configs


@dataclass(frozen=True)
class PolicyRow:
    name: str
    severity: str
    description: str
    levels: dict[str, str]
    """Stack -> enforcement level from ``policies/config/<stack>.json``."""


def describe(policy_dir: Path = POLICY_DIR) -> list[PolicyRow]:
    """Every policy of the pack (from the analyzer itself) with its level in each stack's config."""
    configs = sorted((policy_dir / "config").glob("*.json"))
    with _pack_process(policy_dir) as analyzer:
        info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    levels: dict[str, dict[str, str]] = {}
    for path in configs:
        resolved = _resolve(info, load_pack_config(path), path)
        levels[path.stem] = {
            n: analyzer_pb2.EnforcementLevel.Name(c.enforcementLevel).lower() for n, c in resolved.items()
        }
    return [
        PolicyRow(
            name=p.name,
            severity=analyzer_pb2.PolicySeverity.Name(p.severity).removeprefix("POLICY_SEVERITY_").lower(),
            description=p.description,
            levels={stack: lv[p.name] for stack, lv in levels.items()},
        )
        for p in info.policies
    ]


def exemptions(stack: str, policy_dir: Path = POLICY_DIR) -> list[dict[str, str]]:
    """The exemptions ``policies/config/<stack>.json`` grants, for the report."""
    doc = load_pack_config(policy_dir / "config" / f"{stack}.json")
    return [
        {"policy": name, **exemption}
        for name, entry in doc.items()
        if isinstance(entry, dict)
        for exemption in entry.get("exemptions", [])
    ]


def markdown_table(rows: Sequence[PolicyRow]) -> str:
    stacks = sorted({s for r in rows for s in r.levels})
    head = ["policy", "severity", *stacks, "what it checks"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            "| " + " | ".join([f"`{r.name}`", r.severity, *(r.levels[s] for s in stacks), r.description]) + " |"
        )
    return "\n".join(lines) + "\n"


def render_table(rows: Sequence[PolicyRow], console: Any) -> None:
    from rich.table import Table

    stacks = sorted({s for r in rows for s in r.levels})
    table = Table(title=f"{len(rows)} policies")
    for col in ("policy", "severity", *stacks, "what it checks"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, r.severity, *(r.levels[s] for s in stacks), r.description)
    console.print(table)


def _violations(response: analyzer_pb2.AnalyzeResponse, default_urn: str = "") -> Iterator[Violation]:
    for d in response.diagnostics:
        yield Violation(
            policy=d.policyName,
            enforcement=analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(),
            severity=analyzer_pb2.PolicySeverity.Name(d.severity).removeprefix("POLICY_SEVERITY_").lower(),
            urn=d.urn or default_urn,
            message=d.message,
        )


def evaluate(
    resources: Sequence[Resource],
    *,
    stack: str,
    project: str = "redisgw",
    policy_dir: Path = POLICY_DIR,
    config: str | None = None,
) -> PolicyResult:
    """Run the pack over ``resources`` with ``policies/config/<config>.json`` (default: the stack's)."""
    config_path = policy_dir / "config" / f"{config or stack}.json"
    doc = load_pack_config(config_path)
    by_urn = {r.urn: r for r in resources}

    def options(r: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or "")

    def provider(r: Resource) -> analyzer_pb2.AnalyzerProviderResource | None:
        urn = (r.provider or "").rsplit("::", 1)[0]
        p = by_urn.get(urn)
        return (
            analyzer_pb2.AnalyzerProviderResource(type=p.type, properties=p.properties, urn=p.urn, name=p.name)
            if p
            else None
        )

    with _pack_process(policy_dir) as analyzer:
        info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
        configs = _resolve(info, doc, config_path)
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=configs))
        analyzer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project=project, dry_run=True))
        result = PolicyResult(
            pack=info.name,
            levels={n: analyzer_pb2.EnforcementLevel.Name(c.enforcementLevel).lower() for n, c in configs.items()},
        )
        for r in resources:
            request = analyzer_pb2.AnalyzeRequest(
                type=r.type, properties=r.properties, urn=r.urn, name=r.name, options=options(r), provider=provider(r)
            )
            result.violations.extend(_violations(analyzer.Analyze(request), r.urn))
        stack_request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=r.properties,
                    urn=r.urn,
                    name=r.name,
                    options=options(r),
                    provider=provider(r),
                    parent=r.parent or "",
                    dependencies=r.dependencies,
                    propertyDependencies={
                        k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()
                    },
                )
                for r in resources
            ]
        )
        result.violations.extend(_violations(analyzer.AnalyzeStack(stack_request)))
    return result
