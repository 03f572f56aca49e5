"""What the section modules share: the base model, :class:`SettingsError`, and the validators and
quantities more than one ``redisgw:`` section uses (CIDRs, log retention, cron schedules, images,
Kubernetes quantities and container resources). Validates no key of its own."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pulumi
from croniter import croniter
from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "redisgw"
"""Config namespace of this project (``redisgw:<key>`` in the stack files)."""

_PRIVATE_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class SettingsError(pulumi.RunError):
    """Invalid stack configuration. Raised before any resource is declared; printed without traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True)


def _network(value: str, key: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{key} {value!r} is not a valid IPv4 CIDR block ({exc})") from None


def _private_cidr(value: str, key: str) -> str:
    net = _network(value, key)
    if not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        raise ValueError(f"{key} must lie inside an RFC 1918 private range (10/8, 172.16/12, 192.168/16)")
    if not 16 <= net.prefixlen <= 20:
        raise ValueError(f"{key} must be a /16 to /20 block to fit three private and three public subnets")
    return value


LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for a log group's retention (anything else fails at ``pulumi up``)."""


def log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        closest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - days))
        raise ValueError(
            f"{days} is not a retention CloudWatch Logs accepts (nearest: {closest}; see LOG_RETENTION_DAYS)"
        )
    return days


def cron_schedule(value: str, key: str) -> str:
    """A schedule the CronJob controller accepts: five fields or a macro, parsed by croniter."""
    fields = value.split()
    macro = len(fields) == 1 and value.startswith("@") and value != "@reboot"
    if not (len(fields) == 5 or macro) or not croniter.is_valid(value):
        raise ValueError(f"{key} {value!r} is not a valid cron schedule (five fields, e.g. '*/15 * * * *')")
    # The API server parses CronJob schedules with robfig/cron v3 (standard parser): no L, W, # or H,
    # and day-of-week 0-6 (7 is refused); croniter accepts all of these.
    tokens = [tok for field in fields for tok in re.split(r"[,/-]", field)] if len(fields) == 5 else []
    odd = [tok for tok in tokens if "#" in tok or re.fullmatch(r"\d*[LWH]", tok, re.I)]
    if odd or any(int(n) > 6 for n in re.findall(r"\d+", fields[4] if len(fields) == 5 else "")):
        raise ValueError(f"{key} {value!r} is not a schedule Kubernetes accepts (no L, W, # or H; day of week 0-6)")
    import datetime

    from croniter import CroniterError

    try:  # a valid expression may still name no real date (the 30th of February): it would never run
        it = croniter(value, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        it.get_next(float)
        it.get_next(float)
    except (CroniterError, ValueError, OverflowError):
        raise ValueError(f"{key} {value!r} never fires on a real date (e.g. the 30th of February)") from None
    return value


_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*(:\d+)?(/[a-z0-9._-]+)+(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$")
_BYTES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(value: str) -> int:
    """Bytes in a Kubernetes memory quantity (``512Mi``, ``2Gi``, ``1G``)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?", value)
    if not m:
        raise ValueError(f"{value!r} is not a memory quantity like '512Mi'")
    return int(float(m.group(1)) * _BYTES[m.group(2) or ""])


def cpu_millis(value: str) -> int:
    """Millicores in a Kubernetes CPU quantity (``250m``, ``1``, ``1.5``)."""
    m = re.fullmatch(r"(\d+(?:\.\d{1,3})?)|(\d+)m", value)
    if not m or (m.group(2) is not None and int(m.group(2)) == 0) or value in ("0", "0.0"):
        raise ValueError(f"{value!r} is not a CPU quantity like '250m' or '1.5'")
    return int(m.group(2)) if m.group(2) is not None else round(float(m.group(1)) * 1000)


def _image(value: str, key: str) -> str:
    if not _IMAGE_RE.fullmatch(value):
        raise ValueError(f"{key} {value!r} must be registry/repository:tag or @sha256 digest")
    if value.endswith(":latest"):
        raise ValueError(f"{key} must pin a version, not ':latest'")
    return value


class ResourcesSettings(_Model):
    """Requests and limits of one container."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu(cls, v: str) -> str:
        cpu_millis(v)
        return v

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        quantity_bytes(v)
        return v

    @model_validator(mode="after")
    def _order(self) -> ResourcesSettings:
        if cpu_millis(self.cpu_request) > cpu_millis(self.cpu_limit):
            raise ValueError(f"cpuRequest ({self.cpu_request}) exceeds cpuLimit ({self.cpu_limit})")
        if quantity_bytes(self.memory_request) > quantity_bytes(self.memory_limit):
            raise ValueError(f"memoryRequest ({self.memory_request}) exceeds memoryLimit ({self.memory_limit})")
        return self


def _config_key(loc: tuple[Any, ...]) -> str:
    if not loc:
        return f"{NAMESPACE}:"
    head, *rest = (str(p) for p in loc)
    key = "aws:region" if head == "region" else f"{NAMESPACE}:{head}"
    return ".".join([key, *rest])
