"""Run the real Pulumi program under Pulumi's mock runtime and record what it declares.

:func:`run_program` is shared by the offline preview and the tests: it configures
:func:`pulumi.runtime.set_mocks` with :class:`ops.offline.mocks.RealisticMocks`, loads the stack's config
the way the CLI passes it (strings, objects as JSON, secrets marked), runs the program to completion
and returns every registered resource with its type, name, URN, parent, dependencies, inputs (with
secrets masked) and the wire-format properties the policy analyzer receives.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.settings
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.sync_await import _sync_await

from ops.errors import OpsError
from ops.offline import go_yaml, project_config
from ops.offline.mocks import RealisticMocks

ROOT = Path(__file__).resolve().parents[2]  # the project: ops/offline/engine.py -> ../../..
"""The project directory (holds ``Pulumi.yaml``)."""

SECRET_PLACEHOLDER = "[secret]"
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class StackConfig:
    """One ``Pulumi.<stack>.yaml`` as the engine reads it."""

    stack: str
    path: Path
    values: Mapping[str, Any]
    """Config key -> value; secure values are replaced by a placeholder."""
    secret_keys: frozenset[str]


@dataclass
class Resource:
    """One registered resource."""

    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    """Inputs as plain JSON, secrets replaced by ``[secret]``."""
    properties: struct_pb2.Struct = field(repr=False)
    """Inputs in wire format, as the engine hands them to analyzers."""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input name -> URNs the input's value came from."""
    provider: str | None = None
    """Provider reference (``<provider urn>::<id>``), if the resource is custom."""
    update_timeout: str = ""
    """The ``customTimeouts.update`` the program sets (empty: the provider's default)."""
    protect: bool = False


def _redact(value: Any) -> Any:
    """Keep the shape of a secret (keys, list lengths) and replace every scalar in it."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items() if k != _SIG}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return SECRET_PLACEHOLDER


def mask(value: Any) -> Any:
    """Turn wire-format JSON into plain JSON: secret scalars -> ``[secret]``, references -> URN."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return _redact(mask(value.get("value")))
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        if sig == _OUTPUT_SIG:
            inner = mask(value.get("value"))
            return _redact(inner) if value.get("secret") else inner
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if value == _UNKNOWN:
        return "[unknown]"
    return value


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


class RecordingMonitor(MockMonitor):
    """The mock resource monitor, keeping every registration in order."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN as the Pulumi engine builds it (pulumi/pulumi sdk/go/common/resource/urn.go
        ``NewURN``): the parent's whole qualified type chain, then the type; the root stack is never
        in the chain. (The SDK's mock monitor keeps only the parent's last type and includes
        ``pulumi:pulumi:Stack``: URNs copied from such a report into ``pulumi state`` or
        ``--target`` would name nothing.)"""
        if parent:
            qualified = parent.split("::")[2]
            if qualified != ROOT_STACK_TYPE:
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                Resource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent or None,
                    custom=request.custom,
                    dependencies=list(request.dependencies),
                    inputs=mask(json_format.MessageToDict(request.object)),
                    properties=request.object,
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    provider=request.provider or None,
                    protect=request.protect,
                    update_timeout=request.customTimeouts.update,
                )
            )
        return response


def duplicate_keys(
    node: yaml.Node | None, trail: tuple[str, ...] = (), seen_nodes: set[int] | None = None
) -> list[tuple[str, int]]:
    """(key path, line) of every key given twice in one mapping, at any depth.

    The Pulumi CLI refuses such stack files; PyYAML would silently keep the last value. Aliases
    are visited once (a recursive alias does not recurse forever).
    """
    found: list[tuple[str, int]] = []
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return found
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(getattr(key_node, "value", "?"))
            if key in seen:
                found.append((".".join([*trail, key]), key_node.start_mark.line + 1))
            seen.add(key)
            found += duplicate_keys(value_node, (*trail, key), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += duplicate_keys(item, (*trail[:-1], f"{trail[-1] if trail else ''}[{i}]"), seen_nodes)
    return found


def load_stack_config(stack: str, path: Path | None = None, root: Path = ROOT) -> StackConfig:
    """Read ``Pulumi.<stack>.yaml`` (or ``path``, a variant of it).

    Raises :class:`OpsError` (exit 2) naming the file on any problem.
    """
    path = path or root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
        raise OpsError(f"{path.name}: no such stack file (stacks: {', '.join(known) or 'none'})", code=2)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise OpsError(f"{path.name}: not UTF-8 text (byte {exc.start})", code=2) from None
    except OSError as exc:
        raise OpsError(f"{path.name}: cannot be read ({exc.strerror})", code=2) from None
    try:
        duplicates = duplicate_keys(yaml.compose(text, Loader=go_yaml.Loader))
        if duplicates:
            key, line = duplicates[0]
            raise OpsError(f"{path.name}: line {line}: {key}: duplicate key (the Pulumi CLI refuses it)", code=2)
        doc = go_yaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise OpsError(f"{path.name}{where}: not valid YAML ({problem})", code=2) from None
    stray = sorted(str(k) for k in doc if ":" in str(k)) if isinstance(doc, dict) else []
    if stray:  # config keys at the top level of the file, where the Pulumi CLI does not read them
        named = f"{', '.join(stray[:3])}{' and others' if len(stray) > 3 else ''}"
        if "config" not in doc:
            raise OpsError(
                f"{path.name}: the config: mapping is missing: {named} sit at the top level; indent them under config:",
                code=2,
            )
        raise OpsError(
            f"{path.name}: {named}: outside the config: mapping, beside it; move them under config: (the Pulumi "
            "CLI reads only what is under it)",
            code=2,
        )
    doc = {} if doc is None else doc  # an empty file: a stack with no config (as `pulumi stack init` leaves it)
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise OpsError(f"{path.name}: config: must be a mapping of config keys to values", code=2)
    project, declarations = project_config.load_project(root)
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for raw_key, value in (doc.get("config") or {}).items():
        # loaders.go stackConfigNamespacedWithProject: a bare key is the project's; ParseKey then
        # reads `ns:config:name` as `ns:name`
        name = project_config.config_key(project, str(raw_key))
        if name is None:
            raise OpsError(f"{path.name}: config.{raw_key}: {project_config.key_error(str(raw_key))}", code=2)
        if name in values:
            raise OpsError(
                f"{path.name}: config.{raw_key}: {name} is given twice (the Pulumi CLI would keep either)", code=2
            )
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[name] = SECRET_PLACEHOLDER
            secrets.add(name)
        else:
            values[name] = value
    values = project_config.apply_defaults(project, declarations, values)
    return StackConfig(stack=stack, path=path, values=values, secret_keys=frozenset(secrets))


def assume_secrets(config: StackConfig, keys: Iterable[str]) -> tuple[StackConfig, list[str]]:
    """Stand in for secret keys a stack file does not hold (users set them with ``--secret``).

    Committed stack files cannot carry ciphertext (it is bound to each user's secrets provider),
    so the offline engine treats missing secret keys as set, with a placeholder, and says so.
    """
    missing = [k for k in keys if k not in config.values]
    values = {**config.values, **dict.fromkeys(missing, SECRET_PLACEHOLDER)}
    return StackConfig(config.stack, config.path, values, config.secret_keys | set(missing)), missing


def cli_config(config: StackConfig) -> dict[str, str]:
    """Config as the Pulumi CLI passes it to the language host: strings, objects JSON-encoded."""
    out = {}
    for key, value in config.values.items():
        # A key with no value is an empty string to the CLI (yaml.v3 never unmarshals a null node
        # into its Value; loaders.go checkForEmptyConfig warns that it is "treated as an empty string").
        out[key] = go_yaml.go_json(value) if isinstance(value, list | dict) else go_yaml.scalar_text(value)
    return out


def run_program(
    program: Callable[[], Any] | Path,
    *,
    stack: str,
    config: Mapping[str, str],
    secret_keys: frozenset[str] = frozenset(),
    region: str,
    project: str = "redisgw",
    transformations: Iterable[pulumi.ResourceTransformation] = (),
    monitor_class: Callable[[pulumi.runtime.Mocks], RecordingMonitor] = RecordingMonitor,
    preview: bool = True,
) -> list[Resource]:
    """Run ``program`` (a callable, or a path to ``__main__.py``) under mocks; return what it registered.

    ``transformations`` are registered on the stack before the program runs (SDK-side, as
    ``pulumi.runtime.register_stack_transformation`` does in a real run): the tests use them to
    derive broken variants of the real program. ``monitor_class`` answers the registrations (a
    subclass models a partial update, :mod:`ops.offline.first_deploy`); ``preview=False`` runs the
    program as ``pulumi up`` does, where an output the engine does not return is a known ``None``
    rather than unknown.
    """
    monitor = monitor_class(RealisticMocks(region))
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)

    def body() -> Any:
        for transformation in transformations:
            pulumi.runtime.register_stack_transformation(transformation)
        if isinstance(program, Path):
            return runpy.run_path(str(program), run_name="__main__")
        return program()  # may return an awaitable; run_pulumi_func awaits it

    _sync_await(pulumi.runtime.stack.run_pulumi_func(body))
    return monitor.recorded
