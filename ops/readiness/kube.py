"""The live Kubernetes objects, read from a cluster (the official client and a kubeconfig, or the
pod's service account in the CronJob) or from a ``kubectl get ... -o json`` dump.

Both give the same thing: a list of objects as the API serves them (``apiVersion``, ``kind``,
``metadata``, ``spec``, ``status``). Secrets are kept as metadata only: their data never reaches
a check, a report or a log. Every failure to read is one :class:`OpsError` line (exit 2): a
scorecard is never built from nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ops.errors import OpsError, describe

KINDS: tuple[tuple[str, str, str, bool], ...] = (
    # (group/version, kind, plural, namespaced)
    ("v1", "Namespace", "namespaces", False),
    ("v1", "Pod", "pods", True),
    ("v1", "Service", "services", True),
    ("v1", "ServiceAccount", "serviceaccounts", True),
    ("v1", "ConfigMap", "configmaps", True),
    ("v1", "Secret", "secrets", True),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ("v1", "ResourceQuota", "resourcequotas", True),
    ("v1", "LimitRange", "limitranges", True),
    ("apps/v1", "Deployment", "deployments", True),
    ("apps/v1", "StatefulSet", "statefulsets", True),
    ("apps/v1", "DaemonSet", "daemonsets", True),
    ("batch/v1", "CronJob", "cronjobs", True),
    ("batch/v1", "Job", "jobs", True),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress", "ingresses", True),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", False),
    ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False),
    ("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors", True),
    ("monitoring.coreos.com/v1", "PodMonitor", "podmonitors", True),
    ("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules", True),
    ("argoproj.io/v1alpha1", "Rollout", "rollouts", True),
    ("argoproj.io/v1alpha1", "AnalysisTemplate", "analysistemplates", True),
    ("redis.redis.opstreelabs.in/v1beta2", "RedisReplication", "redisreplications", True),
    ("redis.redis.opstreelabs.in/v1beta2", "RedisSentinel", "redissentinels", True),
)
"""What the scorecard reads: the kinds the program declares, plus pods and jobs for the runtime facts.
``kubectl get`` with these plurals (``-A -o json``) makes a dump ``--from-file`` reads."""

MAX_DUMP_BYTES = 256 << 20


@dataclass(frozen=True)
class Snapshot:
    """The objects read, and what was read: ``target`` names the context or the file."""

    objects: list[dict[str, Any]]
    target: str
    unreadable: frozenset[str] = frozenset()
    """Kinds the credentials may not list, by design (Secrets, for the CronJob's role)."""


def _strip_secret(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "Secret":
        return {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    return obj


def _items(doc: Any, where: str) -> Iterable[dict[str, Any]]:
    """The objects of a ``kubectl get -o json`` answer: a List (nested Lists too) or one object."""
    if not isinstance(doc, Mapping):
        raise OpsError(f"{where}: expected a Kubernetes object or List, got {type(doc).__name__}", code=2)
    if isinstance(doc.get("items"), list):
        for n, entry in enumerate(doc["items"]):
            if not isinstance(entry, Mapping):
                raise OpsError(f"{where}: items[{n}] is not an object", code=2)
            yield from _items(entry, f"{where}: items[{n}]")
        return
    if not isinstance(doc.get("kind"), str) or not isinstance(doc.get("apiVersion"), str):
        raise OpsError(f"{where}: an object without apiVersion and kind", code=2)
    if not isinstance(doc.get("metadata"), Mapping) or not isinstance(doc["metadata"].get("name"), str):
        raise OpsError(f"{where}: {doc['kind']} without metadata.name", code=2)
    yield _strip_secret(dict(doc))


def from_file(path: Path) -> Snapshot:
    """A dump written by ``kubectl get <kinds> -A -o json`` (one document, or several concatenated)."""
    try:
        if path.stat().st_size > MAX_DUMP_BYTES:
            raise OpsError(f"{path}: larger than {MAX_DUMP_BYTES >> 20} MiB: not a kubectl dump", code=2)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OpsError(f"{path}: cannot be read ({exc.strerror})", code=2) from None
    except UnicodeDecodeError:
        raise OpsError(f"{path}: not UTF-8 text: not a kubectl JSON dump", code=2) from None
    decoder, docs, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        try:
            doc, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise OpsError(
                f"{path}: line {exc.lineno} column {exc.colno}: not JSON ({exc.msg}); write the dump with "
                "`kubectl get ... -o json`",
                code=2,
            ) from None
        docs.append(doc)
    if not docs:
        raise OpsError(f"{path}: empty: no Kubernetes objects to judge", code=2)
    objects = [obj for n, doc in enumerate(docs) for obj in _items(doc, f"{path}: document {n + 1}")]
    if not objects:
        raise OpsError(f"{path}: the dump holds no objects: nothing to judge", code=2)
    # A dump without Secrets was written without them on purpose (their data would be in the file).
    unreadable = frozenset() if any(o.get("kind") == "Secret" for o in objects) else frozenset({"Secret"})
    return Snapshot(objects, str(path), unreadable)


METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
"""Secrets are listed as metadata: their data never leaves the API server."""
OPTIONAL_KINDS = {"Secret"}
"""Kinds a role may be denied without making the scorecard impossible (the checks that need them warn)."""


def from_cluster(
    kubeconfig: Path | None,
    context: str | None,
    in_cluster: bool,
    timeout: float = 15.0,
    namespaces: tuple[str, ...] = (),
) -> Snapshot:
    """Every object of :data:`KINDS` the credentials can list, cluster-wide or, with ``namespaces``,
    the namespaced kinds in those namespaces only (what a namespaced Role allows). A kind whose API is
    not served (a CRD not installed) reads as none; a denied Secret list is noted in ``unreadable``.
    Unreachable API, rejected or expired credentials, any other denial: OpsError."""
    try:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
    except ModuleNotFoundError:
        raise OpsError(
            "reading a cluster needs the kubernetes client (pip install -r requirements.txt)", code=2
        ) from None
    try:
        if in_cluster:
            config.load_incluster_config()
            target = "in-cluster service account"
        else:
            if kubeconfig is not None and not kubeconfig.is_file():
                raise OpsError(f"--kubeconfig {kubeconfig}: no such file", code=2)
            api = config.new_client_from_config(
                config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
            )
            target = f"context {context}" if context else f"kubeconfig {kubeconfig or '~/.kube/config'}"
    except ConfigException as exc:
        raise OpsError(f"no usable kubeconfig: {describe(exc)}", code=2) from None
    except (OSError, ValueError, TypeError) as exc:
        raise OpsError(f"no usable kubeconfig: {describe(exc)}", code=2) from None
    if in_cluster:
        api = client.ApiClient()
    host = api.configuration.host
    objects: list[dict[str, Any]] = []
    unreadable: set[str] = set()
    try:
        for group_version, kind, plural, namespaced in KINDS:
            base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
            paths = [f"{base}/namespaces/{ns}/{plural}" for ns in namespaces] if namespaced and namespaces else []
            for path in paths or [f"{base}/{plural}"]:
                try:
                    response = api.call_api(
                        path,
                        "GET",
                        auth_settings=["BearerToken"],
                        _preload_content=False,
                        _request_timeout=timeout,
                        header_params={"Accept": METADATA_ONLY if kind == "Secret" else "application/json"},
                    )
                except ApiException as exc:
                    if exc.status == 404:
                        continue  # the API (a CRD) is not installed, or the namespace is gone: no such objects
                    if exc.status == 403 and kind in OPTIONAL_KINDS:
                        unreadable.add(kind)
                        continue
                    if exc.status in (401, 403):
                        why = "rejected or expired" if exc.status == 401 else "not allowed to list " + plural
                        raise OpsError(
                            f"Kubernetes API at {host}: credentials {why} (HTTP {exc.status})", code=2
                        ) from None
                    raise OpsError(
                        f"Kubernetes API at {host}: {plural}: HTTP {exc.status} {exc.reason}", code=2
                    ) from None
                body = json.loads(response[0].data if isinstance(response, tuple) else response.data)
                for entry in body.get("items") or []:
                    # List items carry no apiVersion or kind (metadata-only items carry meta.k8s.io's).
                    entry["apiVersion"], entry["kind"] = group_version, kind
                    objects.append(_strip_secret(entry))
    except OpsError:
        raise
    except Exception as exc:  # urllib3 connection errors, TLS failures, timeouts, a body that is not JSON
        raise OpsError(f"cannot read the Kubernetes API at {host}: {describe(exc)}", code=2) from None
    finally:
        api.close()
    return Snapshot(objects, target, frozenset(unreadable))


def service_proxy(
    kubeconfig: Path | None, context: str | None, service_url: str, timeout: float
) -> tuple[str, Callable[[str], tuple[int, bytes]]]:
    """(what it reaches, fetch) for ``http://<service>.<namespace>.svc...:<port>`` through the API
    server's service proxy, with the kubeconfig's credentials: Prometheus from outside the cluster."""
    from kubernetes import config
    from kubernetes.client.exceptions import ApiException

    parts = urlsplit(service_url)
    labels = (parts.hostname or "").split(".")
    if len(labels) < 2 or not labels[0] or not labels[1]:
        raise OpsError(
            f"{service_url}: not a cluster service URL (<service>.<namespace>.svc); pass --prometheus-url", code=2
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    scheme = "https:" if parts.scheme == "https" else ""
    base = f"/api/v1/namespaces/{labels[1]}/services/{scheme}{labels[0]}:{port}/proxy"
    api = config.new_client_from_config(
        config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
    )

    def fetch(path: str) -> tuple[int, bytes]:
        route, _, query = path.partition("?")
        try:
            response = api.call_api(
                base + route,
                "GET",
                query_params=parse_qsl(query),
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except ApiException as exc:
            body = exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
            return int(exc.status or 0), body
        raw = response[0] if isinstance(response, tuple) else response
        return int(raw.status), bytes(raw.data)

    return f"{api.configuration.host}{base}", fetch


def resource_type(obj: Mapping[str, Any]) -> str:
    """The Pulumi type token of a live object: ``kubernetes:apps/v1:Deployment``, ``kubernetes:core/v1:Pod``."""
    api_version = str(obj.get("apiVersion", ""))
    return f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{obj.get('kind')}"


def ref(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (cluster-scoped: ``Kind name``), as evidence names an object."""
    md = obj.get("metadata") or {}
    where = f"{md.get('namespace')}/" if md.get("namespace") else ""
    return f"{obj.get('kind')} {where}{md.get('name')}"
