"""What ``ops dr`` acts on besides Redis: the Route 53 failover records and the DR gateway's scale.

* :class:`Route53Dns` finds the hostname's PRIMARY and SECONDARY failover records in the zone and the
  health check of the PRIMARY one. The manual override sets that health check ``Disabled`` and
  ``Inverted`` together, which Route 53 treats as unhealthy whatever the primary answers, so it
  answers with SECONDARY; lifting it restores normal checking. Route 53 is a global service: the
  override works with the primary region gone.
* :class:`KubernetesScaler` activates or stands down the DR region's in-cluster half through the
  official Kubernetes client and a kubeconfig, one postcondition per method so that each step checks
  its own: ``minReplicas`` of the gateway's HorizontalPodAutoscaler (the HPA then scales the
  Rollout), the Sentinel quorum, which a standby does not run (it would fail over a primary that
  reports itself a replica) and whose manifest the program keeps in the ConfigMap
  ``redis-dr-sentinel``, and the ``replicaof`` line of the tier's Redis configuration, dropped at
  activation so that a restarted pod does not go back to replicating from the lost region, and put
  back (from an annotation) at failback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.errors import OpsError, describe


def _aws_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return f"{err.get('Code', type(exc).__name__)}: {err.get('Message', '')}".strip(": ")
    return describe(exc)


class Route53Dns:
    """The failover records of ``hostname`` in ``zone_id``.

    ``probe`` replaces Route 53's health observations (the drill probes its loopback endpoint the
    way Route 53's checkers probe the ALB); by default they are read with GetHealthCheckStatus."""

    def __init__(
        self, zone_id: str, hostname: str, client: Any | None = None, probe: Callable[[], bool] | None = None
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "route53", config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3})
            )
        self.client = client
        self.zone_id = zone_id
        self.hostname = hostname.rstrip(".") + "."
        self.probe = probe
        self._records: dict[str, dict[str, Any]] | None = None

    def records(self) -> dict[str, dict[str, Any]]:
        """``{"PRIMARY": record, "SECONDARY": record}``; a clear error when either is missing."""
        if self._records is None:
            try:
                found = self.client.list_resource_record_sets(
                    HostedZoneId=self.zone_id, StartRecordName=self.hostname, MaxItems="20"
                )["ResourceRecordSets"]
            except Exception as exc:  # botocore's ClientError, connection and credential errors alike
                raise OpsError(f"cannot read the records of zone {self.zone_id}: {_aws_error(exc)}") from None
            mine = {r["Failover"]: r for r in found if r.get("Name") == self.hostname and r.get("Failover")}
            missing = [role for role in ("PRIMARY", "SECONDARY") if role not in mine]
            if missing:
                raise OpsError(
                    f"zone {self.zone_id} has no {' and no '.join(missing)} failover record for {self.hostname} "
                    "(is DR enabled on this stack, and deployed?)",
                    code=2,
                )
            if not mine["PRIMARY"].get("HealthCheckId"):
                raise OpsError(f"the PRIMARY record of {self.hostname} has no health check: failover cannot work")
            self._records = mine
        return self._records

    @property
    def health_check_id(self) -> str:
        return str(self.records()["PRIMARY"]["HealthCheckId"])

    def _config(self) -> dict[str, Any]:
        try:
            return dict(
                self.client.get_health_check(HealthCheckId=self.health_check_id)["HealthCheck"]["HealthCheckConfig"]
            )
        except Exception as exc:
            raise OpsError(f"cannot read health check {self.health_check_id}: {_aws_error(exc)}") from None

    def pinned(self) -> bool:
        config = self._config()
        return bool(config.get("Disabled")) and bool(config.get("Inverted"))

    def pin(self, to_dr: bool) -> None:
        try:
            self.client.update_health_check(HealthCheckId=self.health_check_id, Disabled=to_dr, Inverted=to_dr)
        except Exception as exc:
            raise OpsError(f"cannot update health check {self.health_check_id}: {_aws_error(exc)}") from None

    def primary_healthy(self) -> bool:
        if self.probe is not None:
            return self.probe()
        try:
            observations = self.client.get_health_check_status(HealthCheckId=self.health_check_id)[
                "HealthCheckObservations"
            ]
        except Exception as exc:
            raise OpsError(
                f"cannot read the status of health check {self.health_check_id}: {_aws_error(exc)}"
            ) from None
        good = sum(1 for o in observations if str(o.get("StatusReport", {}).get("Status", "")).startswith("Success"))
        return good * 2 > len(observations)  # Route 53: healthy when more than half of its checkers agree

    def answering(self) -> str:
        return "dr" if self.pinned() or not self.primary_healthy() else "primary"

    def address(self, role: str) -> str:
        """The value (alias target or first record) the ``role`` record answers with."""
        record = self.records()[role]
        if "AliasTarget" in record:
            return str(record["AliasTarget"]["DNSName"])
        return str(record["ResourceRecords"][0]["Value"])


SENTINEL_CONFIGMAP = "redis-dr-sentinel"
REDIS_CONFIGMAP, REDIS_CONFIG_KEY = "redis-extra-config", "redis-additional.conf"
SENTINEL_GROUP, SENTINEL_VERSION, SENTINEL_PLURAL = "redis.redis.opstreelabs.in", "v1beta2", "redissentinels"
UNLINKED_ANNOTATION = "redisgw.io/unlinked-replicaof"
"""Where :meth:`KubernetesScaler.unlink` keeps the ``replicaof`` line it dropped, for failback."""


class KubernetesScaler:
    """The DR gateway's ``minReplicas`` and the DR Sentinel quorum, through a kubeconfig."""

    def __init__(self, kubeconfig: str, namespace: str, name: str, context: str | None = None) -> None:
        try:
            from kubernetes import client, config
        except ModuleNotFoundError:
            raise OpsError(
                "the Kubernetes client is not installed (pip install -r ops/runtime/requirements.txt)", code=2
            ) from None
        try:
            api = config.new_client_from_config(config_file=kubeconfig, context=context)
        except Exception as exc:  # a missing file, no such context, a malformed kubeconfig
            raise OpsError(f"--dr-kubeconfig {kubeconfig}: {describe(exc)}", code=2) from None
        self.api = client.AutoscalingV2Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.name = namespace, name

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            raise OpsError(
                f"cannot {what} HorizontalPodAutoscaler {self.namespace}/{self.name}: {describe(exc)}"
            ) from None

    def current(self) -> int:
        hpa = self._call("read", lambda: self.api.read_namespaced_horizontal_pod_autoscaler(self.name, self.namespace))
        return int(hpa.spec.min_replicas or 1)

    def scale(self, minimum: int) -> None:
        body = {"spec": {"minReplicas": minimum}}
        self._call(
            "patch", lambda: self.api.patch_namespaced_horizontal_pod_autoscaler(self.name, self.namespace, body)
        )

    def _config(self) -> tuple[str, dict[str, str]]:
        cm = self._call_on(
            f"read ConfigMap {self.namespace}/{REDIS_CONFIGMAP}",
            lambda: self.core.read_namespaced_config_map(REDIS_CONFIGMAP, self.namespace),
        )
        return str((cm.data or {}).get(REDIS_CONFIG_KEY, "")), dict(cm.metadata.annotations or {})

    def linked(self) -> bool:
        conf, _ = self._config()
        return any(line.strip().startswith(("replicaof ", "slaveof ")) for line in conf.splitlines())

    def unlink(self) -> None:
        """Drop ``replicaof`` from the promoted tier's ``redis-extra-config``: a pod restarting after the
        failover must come back as the primary, not as a replica of the lost region. The line is kept
        in an annotation, for :meth:`relink`."""
        conf, _ = self._config()
        lines = conf.splitlines()
        dropped = [line for line in lines if line.strip().startswith(("replicaof ", "slaveof "))]
        if not dropped:
            return
        kept = [line for line in lines if line not in dropped]
        body = {
            "metadata": {"annotations": {UNLINKED_ANNOTATION: dropped[-1].strip()}},
            "data": {REDIS_CONFIG_KEY: "\n".join(kept) + "\n"},
        }
        self._patch_config(body)

    def relink(self) -> None:
        """Put back the ``replicaof`` line :meth:`unlink` dropped (the plan's, from its annotation)."""
        conf, annotations = self._config()
        line = annotations.get(UNLINKED_ANNOTATION)
        if not line:
            raise OpsError(
                f"ConfigMap {self.namespace}/{REDIS_CONFIGMAP} has no replicaof line and no "
                f"{UNLINKED_ANNOTATION} annotation to restore it from: run `pulumi up` on the stack"
            )
        if any(x.strip().startswith(("replicaof ", "slaveof ")) for x in conf.splitlines()):
            return
        body = {
            "metadata": {"annotations": {UNLINKED_ANNOTATION: None}},
            "data": {REDIS_CONFIG_KEY: conf.rstrip("\n") + "\n" + line + "\n"},
        }
        self._patch_config(body)

    def _patch_config(self, body: dict[str, Any]) -> None:
        self._call_on(
            f"patch ConfigMap {self.namespace}/{REDIS_CONFIGMAP}",
            lambda: self.core.patch_namespaced_config_map(REDIS_CONFIGMAP, self.namespace, body),
        )

    def _sentinel_manifest(self) -> dict[str, Any]:
        import json

        cm = self._call_on(
            f"read ConfigMap {self.namespace}/{SENTINEL_CONFIGMAP}",
            lambda: self.core.read_namespaced_config_map(SENTINEL_CONFIGMAP, self.namespace),
        )
        try:
            return dict(json.loads((cm.data or {})["sentinel.json"]))
        except (KeyError, ValueError):
            raise OpsError(
                f"ConfigMap {self.namespace}/{SENTINEL_CONFIGMAP} holds no valid sentinel.json: run `pulumi up`"
            ) from None

    def sentinel_present(self) -> bool:
        from kubernetes.client.exceptions import ApiException

        name = self._sentinel_manifest()["metadata"]["name"]
        try:
            self.custom.get_namespaced_custom_object(
                SENTINEL_GROUP, SENTINEL_VERSION, self.namespace, SENTINEL_PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise OpsError(f"cannot read the DR Sentinel: {describe(exc)}") from None
        except Exception as exc:
            raise OpsError(f"cannot read the DR Sentinel: {describe(exc)}") from None
        return True

    def sentinel(self, *, present: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        manifest = self._sentinel_manifest()
        try:
            if present:
                self.custom.create_namespaced_custom_object(
                    SENTINEL_GROUP, SENTINEL_VERSION, self.namespace, SENTINEL_PLURAL, manifest
                )
            else:
                self.custom.delete_namespaced_custom_object(
                    SENTINEL_GROUP, SENTINEL_VERSION, self.namespace, SENTINEL_PLURAL, manifest["metadata"]["name"]
                )
        except ApiException as exc:
            if exc.status in (404, 409):  # already gone, already there: the step is idempotent
                return
            raise OpsError(f"cannot {'create' if present else 'delete'} the DR Sentinel: {describe(exc)}") from None

    def _call_on(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except OpsError:
            raise
        except Exception as exc:
            raise OpsError(f"cannot {what}: {describe(exc)}") from None
