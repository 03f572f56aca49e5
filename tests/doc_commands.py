"""The shell commands the docs show, found and checked against each tool's grammar.

:func:`commands_in` finds every ``pulumi``, ``kubectl``, ``aws`` and ``python -m ops`` command of a
Markdown text: the lines of its shell code blocks (fenced ```` ```sh ````, ```` ```bash ```` or
untagged; continuations joined, comments dropped) and its inline code spans (a span that starts
with the tool). Each is cut into simple commands at ``|``, ``||``, ``&&`` and ``;``, and every
``$(...)`` inside it is a command of its own. Environment prefixes (``AWS_REGION=x pulumi ...``)
are skipped; placeholders (``<stack>``, ``'<urn of ...>'``, ``URL``, ``$VAR``, ``...``) are values,
never flags. A span in usage notation (``[--bucket B]``, ``--a \\| --b``, ``kill|cut``) stands for
each of its alternatives.

:func:`check` parses one command against its tool's grammar (:mod:`tests.cli_grammars` for
``pulumi``, ``kubectl`` and ``aws``; the real argparse parser of ``ops/cli.py`` for ``ops``) and
returns what is wrong, in words that name the subcommand and the flag.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests import cli_grammars

SHELL_LANGS = {"", "sh", "bash", "shell", "console", "zsh"}
_PYTHON = re.compile(r"(?:\S*/)?python3?(?:\.\d+)?")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PLACEHOLDER = re.compile(r"<[^\s<>][^<>]*>")
_METAVAR = re.compile(r"[A-Z][A-Z0-9_]*(?::\d+)?")
_SHELL_VAR = re.compile(r"\$\{?\w+\}?")
_REDIRECT = re.compile(r"\d?>>?(?:&\d)?|<")


@dataclass(frozen=True)
class Command:
    """One simple command of a doc: where it is, which tool, and its words after the tool."""

    path: Path
    line: int
    text: str  # as the doc shows it (the whole snippet it came from)
    tool: str
    argv: tuple[str, ...]
    in_block: bool  # a code block's line (meant to be run) rather than an inline span
    elided: bool = False  # `...` stands for words left out
    shell_error: str = ""  # the shell could not split it into words (an unbalanced quote)

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


# -- finding the snippets -------------------------------------------------------------------------


def snippets(text: str) -> Iterator[tuple[int, str, bool, bool]]:
    """(line, text, in_block, in_table) of every shell code-block command and every inline code span."""
    lines = text.splitlines()
    prose: list[str] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"\s*(```+|~~~+)\s*([\w+-]*)", lines[i])
        if not fence:
            prose.append(lines[i])
            i += 1
            continue
        marker, lang = fence.group(1), fence.group(2).lower()
        prose.append("")
        i += 1
        pending, start = "", 0
        while i < len(lines) and not lines[i].strip().startswith(marker):
            prose.append("")
            if lang in SHELL_LANGS:
                body = lines[i].strip().removeprefix("$ ")
                if not pending:
                    start = i + 1
                if body.endswith("\\"):
                    pending += body[:-1].rstrip() + " "
                else:
                    if (pending + body).strip():
                        yield start, pending + body, True, False
                    pending = ""
            i += 1
        if pending.strip():
            yield start, pending, True, False
        prose.append("")
        i += 1
    body = "\n".join(prose)
    for m in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", body, flags=re.S):
        span = m.group(2)
        if "\n\n" in span:
            continue
        line = body.count("\n", 0, m.start()) + 1
        row = lines[line - 1].lstrip().startswith("|")
        if row:
            span = span.replace("\\|", "|")
        yield line, re.sub(r"\s*\n\s*", " ", span).strip(), False, row


# -- shell words ------------------------------------------------------------------------------------


def _substitutions(text: str) -> tuple[str, list[str]]:
    """The text with every ``$(...)`` replaced by a placeholder, and the inner commands (nested ones too)."""
    inner: list[str] = []
    out, i, quote = [], 0, ""
    while i < len(text):
        c = text[i]
        if quote != "'" and text.startswith("$(", i):
            depth, j, q = 1, i + 2, ""
            while j < len(text) and depth:
                if q:
                    q = "" if text[j] == q else q
                elif text[j] in "'\"":
                    q = text[j]
                elif text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                j += 1
            body, nested = _substitutions(text[i + 2 : j - 1])
            inner += [body, *nested]
            out.append("<command-output>")
            i = j
            continue
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        out.append(c)
        i += 1
    return "".join(out), inner


def _split(text: str, synopsis: bool = False) -> list[str]:
    """Simple commands of a command line: cut at unquoted ``|``, ``||``, ``&&``, ``;``; an unquoted
    ``#`` that starts a word ends the line. In a usage synopsis ``a|b`` and ``X | --y`` are choices,
    not pipes: only a spaced ``|`` before a word that is not an option cuts there."""
    parts, cur, quote, i = [], [], "", 0
    while i < len(text):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            break
        elif (
            text.startswith("&&", i) or text.startswith("||", i) or c == ";" or (c == "|" and _pipe(text, i, synopsis))
        ):
            parts.append("".join(cur))
            cur = []
            i += 2 if text[i : i + 2] in ("&&", "||") else 1
            continue
        elif c == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _pipe(text: str, i: int, synopsis: bool) -> bool:
    if not synopsis:
        return True
    after = text[i + 1 :]
    return text[i - 1 : i].isspace() and after[:1].isspace() and not after.lstrip().startswith(("-", "["))


def is_placeholder(word: str, metavars: bool = True) -> bool:
    """A word that stands for a value the reader supplies: ``<stack>``, ``$VAR``, ``...``, and with
    ``metavars`` an upper-case name as usage lines write them (``URL``, ``B``, ``HOST:26379``)."""
    return bool(
        "<" in word
        or (metavars and _METAVAR.fullmatch(word))
        or _SHELL_VAR.fullmatch(word)
        or word.endswith("...")
        or word.startswith("...")
    )


@dataclass
class _Group:
    """An optional ``[...]`` or a choice ``a|b`` of a usage synopsis."""

    alternatives: list[list[Any]] = field(default_factory=lambda: [[]])
    optional: bool = False


def _synopsis(words: list[str]) -> list[list[str]]:
    """The commands a usage synopsis stands for: each optional group in, with its first alternative,
    then each other alternative of each group in turn."""
    top = _Group()
    stack = [top]
    groups: list[_Group] = []
    for word in words:
        opens = 0
        while word.startswith("[") and (len(word) == 1 or word[1] in "-<[" or word[1].isupper()):
            opens += 1
            word = word[1:]
        closes = 0
        while word.endswith("]") and len(stack) - 1 + opens > closes and word.count("[") < word.count("]"):
            closes += 1
            word = word[:-1]
        for _ in range(opens):
            group = _Group(optional=True)
            stack[-1].alternatives[-1].append(group)
            stack.append(group)
            groups.append(group)
        if word == "|":
            stack[-1].alternatives.append([])
        elif "|" in word and not word.startswith("-"):
            choice = _Group(alternatives=[[w] for w in word.split("|")])
            stack[-1].alternatives[-1].append(choice)
            groups.append(choice)
        elif word:
            stack[-1].alternatives[-1].append(word)
        for _ in range(closes):
            stack.pop()

    def render(items: list[Any], pick: dict[int, int]) -> list[str]:
        out: list[str] = []
        for item in items:
            if isinstance(item, _Group):
                out += render(item.alternatives[pick.get(id(item), 0)], pick)
            else:
                out.append(item)
        return out

    first = top.alternatives[0]
    variants = [render(first, {})]
    if len(top.alternatives) > 1:  # `A --x X | --y Y`: the alternatives replace the last option before them
        last = max((i for i, item in enumerate(first) if isinstance(item, str) and item.startswith("-")), default=0)
        variants += [render(first[:last] + alternative, {}) for alternative in top.alternatives[1:]]
    for group in groups:
        for k in range(1, len(group.alternatives)):
            variants.append(render(first, {id(group): k}))
    return variants


def _tool(words: list[str]) -> tuple[str, list[str]] | None:
    """The tool a command runs and its words after the tool, or None for another program."""
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("env", "exec", "time", "sudo")):
        words = words[1:]
    if not words:
        return None
    head = words[0]
    if head in ("pulumi", "kubectl", "aws", "ops"):
        return head, words[1:]
    if _PYTHON.fullmatch(head) and words[1:3] == ["-m", "ops"]:
        return "ops", words[3:]
    return None


def _drop_redirects(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif _REDIRECT.fullmatch(word):
            skip = not word.endswith(("&1", "&2"))
        elif re.fullmatch(r"\d?>>?\S+", word):
            continue
        else:
            out.append(word)
    return out


def commands_in(path: Path, text: str) -> Iterator[Command]:
    """Every command of a tool in a Markdown text (see the module's docstring)."""
    for line, snippet, in_block, in_table in snippets(text):
        if not re.search(r"\b(pulumi|kubectl|aws|ops)\b", snippet):
            continue
        protected = _PLACEHOLDER.sub(lambda m: m.group(0).replace(" ", "\x00"), snippet)
        outer, inner = _substitutions(protected)
        synopsis = bool(re.search(r"(?:^|\s)\[[-<A-Z]", outer)) or (in_table and "|" in outer)
        for piece in [*_split(outer, synopsis), *(p for s in inner for p in _split(s))]:
            shell_error = ""
            try:
                words = [w.replace("\x00", " ") for w in shlex.split(piece)]
            except ValueError as exc:
                words = piece.replace("\x00", " ").split()
                shell_error = f"the shell cannot read it: {exc}" if in_block else ""
            found = _tool(words)
            if found is None:
                continue
            tool, argv = found
            argv = _drop_redirects(argv)
            for variant in _synopsis(argv) if synopsis else [argv]:
                yield Command(
                    path=path,
                    line=line,
                    text=snippet,
                    tool=tool,
                    argv=tuple(variant),
                    in_block=in_block,
                    elided=any(w == "..." or w.endswith("...") for w in variant),
                    shell_error=shell_error,
                )


# -- grammars of the cobra-style CLIs (pulumi, kubectl, the argo rollouts plugin) and of aws -------------

_FLAG_SPEC = re.compile(r"([\w-]+)(?:/(\w))?([=?+]?)")
_BOOLEANS = {"true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"}


@dataclass
class Node:
    """A command of a CLI: the flags it accepts (long name -> "" switch, "=" value, "?" optional
    attached value, "+" one or more values), their shorthands, and its subcommands by name and alias."""

    name: str
    flags: dict[str, str] = field(default_factory=dict)
    shorts: dict[str, str] = field(default_factory=dict)
    children: dict[str, Node] = field(default_factory=dict)
    takes_words: bool = True  # positional words of its own (False: only subcommands)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the values a flag allows

    def add_flags(self, spec: str) -> None:
        for word in spec.split():
            m = _FLAG_SPEC.fullmatch(word)
            assert m, f"bad flag spec {word!r}"
            name, short, kind = m.groups()
            self.flags[name] = kind
            if short:
                self.shorts[short] = name


def tree(name: str, grammar: dict[str, str], global_flags: str) -> Node:
    """The command tree of a grammar table (see :mod:`tests.cli_grammars`); global flags at the root,
    which every command accepts."""
    root = Node(name)
    root.add_flags(global_flags)
    canonical: dict[tuple[str, ...], Node] = {(): root}
    for key, spec in grammar.items():
        *parents, last = key.split()
        names = last.split("|")
        parent = root
        for i, word in enumerate(parents):
            path = tuple(parents[: i + 1])
            if path not in canonical:
                canonical[path] = Node(word)
                parent.children[word] = canonical[path]
            parent = canonical[path]
        node = canonical.setdefault((*parents, names[0]), Node(names[0]))
        node.add_flags(spec)
        for alias in names:
            parent.children[alias] = node
    for node in canonical.values():
        node.takes_words = not node.children
    return root


def _is_flag(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not is_placeholder(word) and not _number(word)


def _number(word: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", word))


def _kind(node: Node, root: Node, name: str) -> str | None:
    return node.flags.get(name, root.flags.get(name))


def _short(node: Node, root: Node, letter: str) -> str | None:
    return node.shorts.get(letter, root.shorts.get(letter))


def _consumes(node: Node, root: Node, word: str) -> int:
    """How many following words a flag word takes as its value (0 or 1), for finding the path."""
    if word.startswith("--"):
        name, eq, _ = word[2:].partition("=")
        return int(not eq and _kind(node, root, name) in ("=", "+"))
    for i, letter in enumerate(word[1:], start=1):
        long = _short(node, root, letter)
        if long is None:
            return 0
        if _kind(node, root, long) in ("=", "+"):
            return int(i == len(word) - 1)
    return 0


def check_cobra(
    label: str, root: Node, argv: tuple[str, ...], forms: dict[tuple[str, str], tuple[str, str]]
) -> list[str]:
    """What is wrong with a command of a cobra CLI (pflag's parsing): the subcommand path must exist,
    every flag must be one the command or the root accepts, and a flag that takes a value has one."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    node, path, own_words, i = root, [label], False, 0
    while i < end:
        word = words[i]
        if _is_flag(word):
            i += 1 + _consumes(node, root, word)
            continue
        if node.children and not own_words:
            if is_placeholder(word):
                return []  # the path itself is left to the reader
            child = node.children.get(word)
            if child is None:
                return [f"unknown subcommand `{word}` of `{' '.join(path)}`"]
            node = child
            path.append(child.name)
        else:
            own_words = True
        i += 1
    where = f"`{' '.join(path)}`"
    problems: list[str] = []
    i = 0
    while i < end:
        word = words[i]
        i += 1
        if not _is_flag(word):
            continue
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            kind = _kind(node, root, name)
            if kind is None:
                problems.append(f"unknown flag --{name} for {where}")
                continue
            if kind in ("=", "+") and not eq:
                if i >= end or _is_flag(words[i]):
                    problems.append(f"--{name} of {where} needs a value")
                    continue
                value = words[i]
                i += 1
            elif kind in ("=", "+") and not value:
                problems.append(f"--{name} of {where} needs a value")
                continue
            elif kind == "" and eq and value not in _BOOLEANS and not is_placeholder(value):
                problems.append(f"--{name} of {where} is a switch: it takes no value (got {value!r})")
                continue
            form = forms.get((" ".join(path[1:]), name))
            if (form and value and not is_placeholder(value) and not re.fullmatch(form[0], value)) or (
                form and value and is_placeholder(value) and not re.fullmatch(r"[^=\s<>]+=.+", value)
            ):
                problems.append(f"--{name} of {where} takes {form[1]}, got {value!r}")
            continue
        for j, letter in enumerate(word[1:], start=1):
            long = _short(node, root, letter)
            if long is None:
                problems.append(f"unknown flag -{letter} for {where}")
                break
            if _kind(node, root, long) in ("=", "+"):
                if j == len(word) - 1 and (i >= end or _is_flag(words[i])):
                    problems.append(f"-{letter} (--{long}) of {where} needs a value")
                elif j == len(word) - 1:
                    i += 1
                break
    return problems


@cache
def _trees() -> dict[str, Node]:
    g = cli_grammars
    return {
        "pulumi": tree("pulumi", g.PULUMI, g.PULUMI_GLOBAL),
        "kubectl": tree("kubectl", g.KUBECTL, g.KUBECTL_GLOBAL),
        "argo": tree("kubectl argo rollouts", g.ARGO_ROLLOUTS, g.ARGO_ROLLOUTS_GLOBAL),
    }


def check_kubectl(argv: tuple[str, ...]) -> list[str]:
    """kubectl, or the Argo Rollouts plugin when the words start ``argo rollouts`` (kubectl looks for
    a plugin only in the words before the first flag)."""
    if argv[:2] == ("argo", "rollouts"):
        return check_cobra("kubectl argo rollouts", _trees()["argo"], argv[2:], {})
    if argv[:1] == ("argo",):
        return ["`kubectl argo` is not a command: the plugin is `kubectl argo rollouts ...`"]
    return check_cobra("kubectl", _trees()["kubectl"], argv, {})


# -- aws: the AWS CLI's commands, from botocore's service models ----------------------------------------


@cache
def _aws_loader() -> Any:
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


@cache
def _aws_services() -> frozenset[str]:
    names = set(_aws_loader().list_available_services("service-2")) - {"s3"}
    return frozenset(names | {"s3api"} | {key.split()[0] for key in cli_grammars.AWS_CUSTOM})


@cache
def aws_service(service: str) -> Node:
    """The commands of ``aws <service>``: the model's operations (``s3api`` is the s3 model), each with
    an option per input member, and the hand-written commands of :data:`cli_grammars.AWS_CUSTOM`."""
    from botocore import xform_name

    node = Node(service, takes_words=False)
    if service != "s3":
        loader = _aws_loader()
        model_name = "s3" if service == "s3api" else service
        model = loader.load_service_model(model_name, "service-2")
        try:
            paginated = set(loader.load_service_model(model_name, "paginators-1")["pagination"])
        except Exception:
            paginated = set()
        shapes = model["shapes"]
        for op_name, op in model["operations"].items():
            cli_name = xform_name(op_name, "-")
            command = Node(cli_name, takes_words=False)
            members = shapes[op["input"]["shape"]]["members"] if "input" in op else {}
            for member, ref in members.items():
                arg = xform_name(member, "-")
                typ = shapes[ref["shape"]]["type"]
                if typ == "boolean":
                    command.flags[arg] = ""
                    command.flags[f"no-{arg}"] = ""
                else:
                    command.flags[arg] = "+" if typ == "list" else "="
                if "enum" in shapes[ref["shape"]]:
                    command.choices[arg] = tuple(shapes[ref["shape"]]["enum"])
            command.add_flags("cli-input-json= cli-input-yaml= generate-cli-skeleton?")
            if op_name in paginated:
                command.add_flags("starting-token= page-size= max-items=")
            for key, new in cli_grammars.AWS_RENAMES.items():
                svc, op_pattern, old = key.split(".")
                if svc == model_name and op_pattern in ("*", cli_name) and old in command.flags:
                    command.flags[new] = command.flags.pop(old)
            for key, alias in cli_grammars.AWS_ALIASES.items():
                svc, op_pattern, old = key.split(".")
                if svc == model_name and op_pattern in ("*", cli_name) and old in command.flags:
                    command.flags[alias] = command.flags[old]
            node.children[cli_name] = command
    for key, spec in cli_grammars.AWS_CUSTOM.items():
        svc, name = key.split()
        if svc == service:
            command = Node(name, takes_words=True)
            command.add_flags(spec)
            node.children[name] = command
    return node


@cache
def _aws_root() -> Node:
    root = Node("aws", takes_words=False)
    root.add_flags(cli_grammars.AWS_GLOBAL)
    root.choices.update(cli_grammars.AWS_GLOBAL_CHOICES)
    return root


def check_aws(argv: tuple[str, ...]) -> list[str]:
    """``aws [options] <service> <operation> [options]``: global options anywhere (the CLI's main
    parser reads them first), the service and its operation, then the operation's options, each with
    its value when it takes one (one of the model's enum values when it has them); a word that is
    neither an option nor a value is refused, as ``aws`` does ("Unknown options")."""
    root = _aws_root()
    words = list(argv)
    command: Node | None = None
    path = ["aws"]
    problems: list[str] = []
    i, last = 0, ""
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("--"):
            if len(path) < 3 and is_placeholder(word):
                return problems  # the service or the operation is left to the reader
            if len(path) == 1:
                if word not in _aws_services():
                    return [f"unknown service `{word}` of `aws` (not in botocore's models nor the CLI's own commands)"]
                path.append(word)
            elif len(path) == 2:
                command = aws_service(path[1]).children.get(word)
                if command is None:
                    return [f"unknown operation `{word}` of `aws {path[1]}`"]
                path.append(word)
            elif last != "+" and command is not None and not command.takes_words:
                problems.append(f"unexpected word {word!r} for `{' '.join(path)}` (not a value of an option)")
            continue
        name, eq, value = word[2:].partition("=")
        owner = root if name in root.flags else command
        where = f"`{' '.join(path)}`"
        kind = owner.flags.get(name) if owner is not None else None
        if kind is None:
            problems.append(f"unknown option --{name} for {where}")
            last = ""
            continue
        last = kind
        if kind in ("=", "+") and not eq:
            if i >= len(words) or words[i].startswith("--"):
                problems.append(f"--{name} of {where} needs a value")
                continue
            value = words[i]
            i += 1
        elif kind == "?" and not eq and i < len(words) and not words[i].startswith("--"):
            value = words[i]
            i += 1
        elif kind == "" and eq:
            problems.append(f"--{name} of {where} is a switch: it takes no value (got {value!r})")
            continue
        allowed = owner.choices.get(name) if owner is not None else None
        if allowed and value and not is_placeholder(value, metavars=False) and value not in allowed:
            problems.append(f"--{name} of {where} is one of {', '.join(allowed)}; got {value!r}")
    return problems


# -- python -m ops: the real parser of ops/cli.py ------------------------------------------------------


class UsageError(Exception):
    """What argparse would have printed before exiting 2."""


class _AnyPlaceholder(list[Any]):
    """A parser's choices, which a placeholder satisfies too (the reader picks one)."""

    def __contains__(self, value: object) -> bool:
        return (isinstance(value, str) and is_placeholder(value)) or super().__contains__(value)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


@cache
def ops_parser() -> argparse.ArgumentParser:
    """``ops/cli.py``'s parser as ``python -m ops`` builds it, made to raise instead of exiting, to take no
    abbreviation of a flag, to take a placeholder for any value, and to leave files alone: a path is
    the reader's (``--config /tmp/variant.yaml`` need not exist here), every other value is converted
    by the parser's own type (``--deadline 780``, ``--url https://...``)."""
    from ops.cli import _parser
    from ops.runtime import args as argtypes
    from ops.runtime.report import json_target

    files = {argtypes.existing_file, argtypes.work_dir, argtypes.new_file, json_target, Path}
    parser = _parser()
    for each in _parsers(parser):

        def error(message: str, prog: str = each.prog) -> Any:
            raise UsageError(f"{prog}: {message}")

        each.error = error  # type: ignore[method-assign]
        each.allow_abbrev = False
        for action in each._actions:
            if action.type in files:
                action.type = None
            elif callable(action.type):
                action.type = _placeholder_or(action.type)
            if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
                action.choices = _AnyPlaceholder(action.choices)
    return parser


def _placeholder_or(convert: Any) -> Any:
    def converted(value: str) -> Any:
        return value if is_placeholder(value) else convert(value)

    converted.__name__ = getattr(convert, "__name__", "value")
    return converted


def check_ops(argv: tuple[str, ...], complete: bool) -> list[str]:
    """Parse with the real parser. ``complete``: the doc shows the whole command (a code-block line
    with nothing left out), so missing required arguments are an error too; an inline mention
    (``ops dr failover``, ``ops smoke --url URL``) is checked for everything else."""
    words = [w for w in argv if w != "..." and w not in ("-h", "--help")]
    complete = complete and len(words) == len(argv)
    if not words:
        return []
    try:
        ops_parser().parse_args(words)
    except UsageError as exc:
        message = str(exc)
        if not complete and "the following arguments are required" in message:
            return []
        return [message]
    return []


def check(command: Command) -> list[str]:
    """What is wrong with a documented command, per its tool's grammar (empty: nothing)."""
    if command.shell_error:
        return [command.shell_error]
    if command.tool == "pulumi":
        return check_cobra("pulumi", _trees()["pulumi"], command.argv, cli_grammars.PULUMI_VALUE_FORMS)
    if command.tool == "kubectl":
        return check_kubectl(command.argv)
    if command.tool == "aws":
        return check_aws(command.argv)
    return check_ops(command.argv, complete=command.in_block and not command.elided)
