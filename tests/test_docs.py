"""Docs that cannot drift: every ``python -m ops`` command in the docs parses with the real parser,
and the README's configuration table names exactly the keys the settings model accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import settings
from ops.cli import _parser
from ops.offline.engine import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SAMPLES = {
    "--stack": "production",
    "--bucket": "redisgw-backups",
    "--backup": "20261126T131500.000000Z",
    "--primary": "10.0.1.5:6379",
    "--image": (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/redisgw-production/ops"
        "@sha256:7edf7809dcfacef9d62cb22a4ed1003510960625b41abf4423d4a2da22bd1a79"
    ),
    "--region": "eu-west-1",
    "--target-url": "redis://10.0.1.5:6379",
    "--redis-url": "redis://10.0.1.5:6379",
    "--sentinel": "redis-sentinel:26379",
    "--kms-key-id": "alias/redis-backups",
    "--deadline": "780",
    "--url": "https://api.example.com",
    "--advertise": "10.0.0.1",
    "--primary-redis": "redis://10.20.1.5:6379",
    "--dr-redis": "redis://10.30.1.5:6379",
    "--dr-replica": "redis://10.30.2.5:6379",
    "--primary-link": "10.20.1.5:6379",
    "--dr-link": "10.30.1.5:6379",
    "--dr-url": "https://eu-central-1.api.example.com",
    "--primary-url": "https://eu-west-1.api.example.com",
    "--rate": "100",
}
PATH_FLAGS = {
    "--target-rdb": "dump.rdb",
    "--json": "report.json",
    "--work-dir": ".",
    "--spool-dir": ".",
    "--dr-kubeconfig": "kubeconfig",
    "--save": "baseline.json",
    "--markdown": "plan.md",
}


def _is_placeholder(token: str) -> bool:
    return bool(re.fullmatch(r"<[^>]+>(:\d+)?|[A-Z][A-Z_]*(:\d+)?|\$\w+|\"\$\w+\"|redis://\.\.\.", token))


def commands_in(text: str) -> list[str]:
    """Every ``python -m ops`` command of a Markdown text: code-block lines (with continuations)
    and inline code spans, in usage notation or not."""
    found: list[str] = []
    joined = re.sub(r"\\\n\s*", " ", text)
    outside = re.sub(r"```.*?```", "", joined, flags=re.S)
    found += re.findall(r"`([^`\n]*python -m ops [^`\n]*)`", outside)
    in_block = False
    for line in joined.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block and line.strip().startswith("python -m ops "):
            found.append(line.strip())
    return found


def to_argv(command: str, scratch: Path) -> list[str] | None:
    """The argument vector the doc's command stands for; None when the doc elides it (``...``)."""
    text = command.split(" \\| ")[0].split(" | ")[0].split(" #")[0].split(" / ")[0]
    text = text.replace("[", "").replace("]", "")
    tokens = shlex.split(text)[3:]
    if not tokens or "..." in tokens or any(t.endswith("...") for t in tokens):
        return None
    argv: list[str] = []
    for i, token in enumerate(tokens):
        flag = tokens[i - 1] if i else ""
        if flag in PATH_FLAGS and argv and argv[-1] == flag:
            argv.append(str(scratch / PATH_FLAGS[flag]) if PATH_FLAGS[flag] != "." else str(scratch))
        elif _is_placeholder(token) or (flag in SAMPLES and argv and argv[-1] == flag and "<" in token):
            argv.append(SAMPLES.get(flag, "canary"))
        else:
            argv.append(token)
    return argv


ALL = [(path, command) for path in DOCS for command in commands_in(path.read_text())]


def test_the_docs_hold_the_commands_we_expect() -> None:
    names = {c.split()[3] for _, c in ALL if len(c.split()) > 3}
    assert {
        "preview",
        "policies",
        "smoke",
        "backup",
        "verify",
        "restore",
        "restore-job",
        "list",
        "prune",
        "drill",
        "dr",
    } <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[f"{p.relative_to(ROOT)}:{c[:50]}" for p, c in ALL])
def test_every_documented_command_parses(path: Path, command: str, tmp_path: Path) -> None:
    argv = to_argv(command, tmp_path)
    if argv is None:
        return  # elided on purpose ("python -m ops ...")
    (tmp_path / "variant.yaml").write_text((ROOT / "Pulumi.production.yaml").read_text())
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    for a in argv:  # scratch files the docs name under /tmp (a variant, a new baseline)
        if a.startswith("/tmp/") and a.endswith(".json"):
            (tmp_path / Path(a).name).write_text("{}")
    argv = [str(tmp_path / "variant.yaml") if a.startswith("/tmp/variant") else a for a in argv]
    argv = [str(tmp_path / Path(a).name) if a.startswith("/tmp/") else a for a in argv]
    try:
        _parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{path.relative_to(ROOT)}: `{command}` does not parse (exit {exc.code})")


# -- the configuration table ---------------------------------------------------------------------


def _model_keys(model: type[BaseModel], prefix: str) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        alias = field.alias or name
        key = f"{prefix}.{alias}" if prefix else alias
        keys.add(key)
        annotation: Any = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        nested = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else (inner[0] if inner else None)
        )
        if nested is not None and nested.__name__ != "CanaryStep":
            keys |= _model_keys(nested, key)
    return keys


def documented_keys() -> set[str]:
    table = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `redisgw:") or line.startswith("| `aws:")
    ]
    keys: set[str] = set()
    for line in table:
        cell = line.split(" | ")[0].strip("| ")
        names = re.findall(r"`([^`]+)`", cell)
        base = names[0]
        for name in names:
            full = base.rsplit(".", 1)[0] + name if name.startswith(".") else name
            for expanded in (
                re.sub(r"\{([^}]*)\}", lambda m: "|".join(m.group(1).split(",")), full).split("|")
                if "{" in full
                else [full]
            ):
                keys.add(expanded)
        if "{" in base:
            head, options, tail = re.match(r"(.*)\{([^}]*)\}(.*)", base).groups()  # type: ignore[union-attr]
            keys |= {f"{head}{o}{tail}" for o in options.split(",")}
    return {k.removeprefix("redisgw:").removesuffix(".*") for k in keys if "{" not in k}


def test_every_documented_key_exists_and_every_top_level_key_is_documented() -> None:
    model = _model_keys(settings.StackSettings, "")
    documented = documented_keys()
    secrets = {f"{k}" for k in settings.SECRET_KEYS}
    unknown = {k for k in documented - secrets if k != "aws:region" and k not in model}
    assert not unknown, unknown
    top = {k for k in model if "." not in k} - {"region"}
    undocumented = {k for k in top if not any(d == k or d.startswith(f"{k}.") for d in documented)}
    assert not undocumented, undocumented
