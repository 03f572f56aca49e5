"""Build the scorecard of a live environment from its sources: Kubernetes (always), the docs,
AWS (boto3) and Prometheus (its HTTP API)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.readiness import docs_checks, kubernetes_checks
from ops.readiness import targets as targets_module
from ops.readiness.kube import Snapshot
from ops.readiness.model import CATEGORIES, Scorecard

SOURCES = ("kubernetes", "docs", "aws", "prometheus")
OPTIONAL_SOURCES = ("docs", "aws", "prometheus")


def build(
    stack: str,
    snapshot: Snapshot,
    *,
    skip: Collection[str] = (),
    targets: targets_module.Targets | None = None,
    docs: Path,
    prometheus_url: str | None = None,
    prometheus_proxy: Callable[[str], tuple[str, Any]] | None = None,
    now: datetime.datetime | None = None,
    timeout: float = 10.0,
) -> Scorecard:
    """Every item of every source not in ``skip``. OpsError (exit 2) when the input cannot be judged:
    no object of the stack, no targets for AWS or Prometheus, credentials refused. ``prometheus_proxy``
    turns the targets' in-cluster Prometheus URL into (what it reaches, fetch) through the API server,
    for a run from outside the cluster without ``prometheus_url``."""
    now = now or datetime.datetime.now(datetime.UTC)
    objects = snapshot.objects
    targets = targets or targets_module.from_objects(objects)
    namespaces = list(targets.namespaces) if targets else kubernetes_checks.stack_namespaces(objects)
    if not kubernetes_checks.declared(objects) or not kubernetes_checks.in_namespaces(objects, namespaces):
        raise OpsError(
            f"{snapshot.target}: no object of the stack (labelled app.kubernetes.io/part-of=redis-gateway, without "
            "an owner) in it: is it the stack's cluster?",
            code=2,
        )
    used = [s for s in SOURCES if s not in skip]
    card = Scorecard(stack, snapshot.target, tuple(used))
    card.items += kubernetes_checks.pack_items(objects, stack, namespaces, snapshot.unreadable)
    card.items += kubernetes_checks.runtime_items(objects, namespaces, now, targets)
    if "docs" in used:
        card.items += docs_checks.docs_items(objects, docs, namespaces)
    needs_targets = [s for s in ("aws", "prometheus") if s in used]
    if needs_targets and targets is None:
        raise OpsError(
            f"{snapshot.target}: no ConfigMap {targets_module.CONFIGMAP} (key {targets_module.KEY}) to say which "
            f"AWS resources and Prometheus to check: pass --targets FILE, or --skip {' --skip '.join(needs_targets)}",
            code=2,
        )
    if "aws" in used:
        assert targets is not None
        from ops.readiness import aws_checks

        card.items += aws_checks.aws_items(stack, targets, objects, now, timeout)
    if "prometheus" in used:
        assert targets is not None
        from ops.readiness import prometheus_checks

        url = prometheus_url or targets.prometheus_url
        shown, fetch = prometheus_proxy(url) if prometheus_proxy and not prometheus_url else (url, None)
        card.items += prometheus_checks.prometheus_items(targets, url, timeout, fetch, shown)
    return card


def catalogue(stack: str, *, dr: bool) -> dict[str, list[str]]:
    """Category -> the ids of the items a full scorecard of ``stack`` holds (``dr``: a standby region
    replicates, so the replica, health-check and lag items are there). The README's figures."""
    from ops.readiness import aws_checks, pack, prometheus_checks

    config = pack.pack_config(stack)
    ids = {f"policy:{p}": c for p, c in kubernetes_checks.LIVE_POLICIES.items() if config[p][0] != "disabled"}
    ids |= {check_id: category for check_id, category, *_ in kubernetes_checks.RUNTIME_CHECKS}
    ids |= docs_checks.ITEMS | aws_checks.ITEMS | prometheus_checks.ITEMS
    if not dr:
        for dr_only in ("replica-backup-fresh", "route53-health-checks", "replication-lag"):
            ids.pop(dr_only)
    out: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for check_id, category in sorted(ids.items()):
        out[category].append(check_id)
    return out
