"""Validate every Kubernetes object a stack declares against the OpenAPI schema of its cluster version.

Objects are rebuilt from the recorded inputs (``apiVersion`` and ``kind`` from the resource type
token) and checked with ``kubernetes-validate`` in strict mode, so unknown fields fail as well as
wrong types. Custom resources (Rollout, ServiceMonitor, ...) and Helm releases have no schema there;
they are counted as not schema-checked and their fields are covered by tests instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate

from ops.offline.engine import Resource

_SKIPPED_PREFIXES = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")


@dataclass
class SchemaResult:
    version: str
    checked: list[str] = field(default_factory=list)
    """URNs validated against a schema."""
    not_checked: list[dict[str, str]] = field(default_factory=list)
    """Objects without a schema in the Kubernetes OpenAPI (custom resources), with the reason."""
    errors: list[dict[str, str]] = field(default_factory=list)
    """``urn``, ``kind``, ``path``, ``message`` per schema error."""


def manifest(resource: Resource) -> dict[str, Any] | None:
    """The Kubernetes object a ``kubernetes:<group>/<version>:<Kind>`` resource declares, else None."""
    if not resource.type.startswith("kubernetes:") or resource.type.startswith(_SKIPPED_PREFIXES):
        return None
    _, group_version, kind = resource.type.split(":")
    group, _, version = group_version.rpartition("/")
    api_version = version if group in ("core", "") else f"{group}/{version}"
    obj = dict(resource.inputs)
    obj.setdefault("apiVersion", api_version)
    obj.setdefault("kind", kind)
    return obj


def validate(resources: Sequence[Resource], version: str) -> SchemaResult:
    result = SchemaResult(version=version)
    for r in resources:
        obj = manifest(r)
        if obj is None:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            result.not_checked.append(
                {
                    "urn": r.urn,
                    "kind": f"{obj['apiVersion']}/{obj['kind']}",
                    "reason": "custom resource: no schema in the Kubernetes OpenAPI",
                }
            )
            continue
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(root)"
            result.errors.append({"urn": r.urn, "kind": obj["kind"], "path": path, "message": exc.message})
            continue
        result.checked.append(r.urn)
    return result
