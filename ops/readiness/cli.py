"""``python -m ops readiness``: the live production-readiness scorecard.

Kubernetes state comes from a cluster (``--kubeconfig``/``--context``, the standard kubeconfig
otherwise, or ``--in-cluster`` in the CronJob) or from a ``kubectl get ... -o json`` dump
(``--from-file``, for audits). What lies outside Kubernetes (buckets, vault, certificate, web ACL,
health checks, Prometheus) is named by the cluster's own ConfigMap ``redis-gateway-readiness``, or
``--targets FILE``. Exit 0 when no item fails, 1 when one does, 2 when the input cannot be judged
(no kubeconfig, an unreachable API, refused credentials, a dump that is not JSON): never a pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.readiness.kube import KINDS
from ops.readiness.scorecard import OPTIONAL_SOURCES
from ops.runtime import args as argtypes
from ops.runtime.report import STDOUT, add_json_flag, write_json

if TYPE_CHECKING:
    from rich.console import Console

DOCS = Path(__file__).resolve().parents[2] / "docs"
DUMP_COMMAND = "kubectl get " + ",".join(
    f"{plural}.{gv.split('/')[0]}" if "/" in gv else plural for gv, kind, plural, _ in KINDS if kind != "Secret"
)
"""Secrets are left out of a dump (their data would be in the file); the one rule that needs them warns."""


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "readiness",
        help="the live production-readiness scorecard: Kubernetes, AWS, Prometheus and the docs; exit 1 on a failure",
        description=__doc__,
        epilog=f"a dump for --from-file: {DUMP_COMMAND} -A -o json > cluster.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--stack",
        required=True,
        type=argtypes.stack_name,
        help="stack name: its policies/config/<stack>.json gives the rules' levels, config and exemptions",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--from-file", type=argtypes.existing_file, metavar="FILE", help="judge a `kubectl get ... -o json` dump"
    )
    source.add_argument(
        "--kubeconfig", type=Path, metavar="FILE", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)"
    )
    source.add_argument("--in-cluster", action="store_true", help="use the pod's service account (the CronJob)")
    p.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    p.add_argument(
        "--namespace",
        action="append",
        default=[],
        type=argtypes.stack_name,
        metavar="NS",
        help="read namespaced objects only in NS (repeatable; what a namespaced Role allows; default: all)",
    )
    p.add_argument(
        "--targets", type=argtypes.existing_file, metavar="FILE", help="targets JSON instead of the ConfigMap"
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=OPTIONAL_SOURCES,
        help="leave a source out (repeatable); the scorecard lists the sources it used",
    )
    p.add_argument(
        "--prometheus-url",
        type=argtypes.http_url,
        metavar="URL",
        help="Prometheus (default: the targets' in-cluster URL, reached through the API server's service proxy "
        "when reading a cluster with a kubeconfig)",
    )
    p.add_argument("--docs", type=Path, default=DOCS, metavar="DIR", help="the runbooks' docs/ directory")
    p.add_argument("--timeout", type=argtypes.positive_seconds, default=15.0, help="seconds per request (default: 15)")
    add_json_flag(p)
    p.add_argument("--junit", type=argtypes.new_file, metavar="FILE", help="also write JUnit XML (one case per item)")


def run(args: argparse.Namespace, console: Console) -> int:
    from rich.console import Console as RichConsole

    from ops.errors import OpsError
    from ops.readiness import kube, scorecard
    from ops.readiness import targets as targets_module

    if args.from_file and args.namespace:
        raise OpsError("readiness: --namespace applies to a cluster, not to --from-file", code=2)
    if args.context and (args.from_file or args.in_cluster):
        raise OpsError("readiness: --context applies to a kubeconfig, not to --from-file or --in-cluster", code=2)
    if "docs" not in args.skip and not args.docs.is_dir():
        raise OpsError(f"readiness: --docs {args.docs}: no such directory (or --skip docs)", code=2)
    targets = targets_module.from_file(args.targets) if args.targets else None
    if args.from_file:
        snapshot = kube.from_file(args.from_file)
    else:
        snapshot = kube.from_cluster(
            args.kubeconfig, args.context, args.in_cluster, args.timeout, tuple(args.namespace)
        )
    proxy = None
    if not args.from_file and not args.in_cluster:  # outside the cluster: Prometheus through the API server

        def proxy(url: str) -> tuple[str, Any]:
            return kube.service_proxy(args.kubeconfig, args.context, url, args.timeout)

    card = scorecard.build(
        args.stack,
        snapshot,
        skip=set(args.skip),
        targets=targets,
        docs=args.docs,
        prometheus_url=args.prometheus_url,
        prometheus_proxy=proxy,
        timeout=args.timeout,
    )
    write_json(args.json, card.as_dict())
    if args.junit:
        card.junit(args.junit)
    out = RichConsole(stderr=True, highlight=False) if args.json == STDOUT else console
    card.render(out)
    return 0 if card.ok else 1
