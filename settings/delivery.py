"""``redisgw:delivery``: progressive delivery of the gateway (strategy, analysis thresholds, canary
steps, surge, smoke image) and the CI runners in the stack's VPC (``delivery.runner``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from settings._base import _ROLE_ARN_RE, _image, _Model

KEY = "redisgw:delivery"
"""The config key this module validates (:attr:`StackSettings.delivery <settings.StackSettings.delivery>`)."""


_DURATION_RE = re.compile(r"^[1-9]\d*[smh]$")


def _duration(value: str, key: str) -> str:
    if not _DURATION_RE.fullmatch(value):
        raise ValueError(f"{key} {value!r} must be a duration like '30s', '2m' or '1h'")
    return value


class AnalysisSettings(_Model):
    """Thresholds of the automated analysis that promotes or aborts a rollout."""

    min_success_rate: float = Field(default=0.99, gt=0.5, le=1.0)
    """Share of non-5xx responses the new version must keep."""
    max_latency_p99_seconds: float = Field(default=0.25, gt=0, le=30)
    """p99 latency (histogram_quantile over the request-duration histogram) it must stay under."""
    interval: str = "1m"
    """How often each measurement is taken."""
    count: int = Field(default=5, ge=1, le=100)
    """Measurements per analysis run."""
    failure_limit: int = Field(default=1, ge=0, le=20)
    """Failed measurements tolerated before the rollout aborts."""

    @field_validator("interval")
    @classmethod
    def _iv(cls, v: str) -> str:
        return _duration(v, "interval")

    @model_validator(mode="after")
    def _limit(self) -> AnalysisSettings:
        if self.failure_limit >= self.count:
            raise ValueError(
                f"failureLimit ({self.failure_limit}) must be below count ({self.count}), else no measurement can fail"
            )
        return self


class CanaryStep(_Model):
    weight: int = Field(ge=1, le=99)
    """Share of traffic (percent) sent to the new version at this step."""
    pause: str
    """How long to hold the weight while the background analysis runs."""

    @field_validator("pause")
    @classmethod
    def _p(cls, v: str) -> str:
        return _duration(v, "pause")


class RunnerSettings(_Model):
    """CI runners in the stack's VPC (CodeBuild-hosted GitHub Actions runners, see DeployRunner)."""

    repository: str
    """GitHub repository, ``owner/name``."""
    deploy_role_arn: str
    """The deploy jobs' role (created by the bootstrap); must be one of ``cluster.adminRoleArns``."""
    preview_role_arn: str
    """The pull-request preview jobs' read-only role (created by the bootstrap)."""
    deploy_ref: str
    """Regular expression of the Git refs the deploy runner serves, e.g. ``^refs/tags/v.*``."""
    compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = (
        "BUILD_GENERAL1_MEDIUM"
    )

    @field_validator("repository")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", v):
            raise ValueError(f"repository {v!r} must be owner/name")
        return v

    @field_validator("deploy_role_arn", "preview_role_arn")
    @classmethod
    def _role(cls, v: str) -> str:
        if not _ROLE_ARN_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an IAM role ARN")
        return v

    @field_validator("deploy_ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"deployRef is not a regular expression ({exc})") from None
        if not v.startswith("^refs/"):
            raise ValueError("deployRef must be anchored on a full ref, like ^refs/heads/main$ or ^refs/tags/v.*")
        return v


class DeliverySettings(_Model):
    """Progressive delivery of the gateway (Argo Rollouts) and its automated rollback."""

    strategy: Literal["blue-green", "canary", "rolling"] = "blue-green"
    analysis: AnalysisSettings = AnalysisSettings()
    canary_steps: tuple[CanaryStep, ...] = (
        CanaryStep(weight=10, pause="2m"),
        CanaryStep(weight=25, pause="2m"),
        CanaryStep(weight=50, pause="5m"),
    )
    """Weights must increase; after the last step traffic goes to 100%."""
    scale_down_delay_seconds: int = Field(default=300, ge=30, le=3600)
    """Blue-green: how long the old version stays warm after promotion, so an abort flips straight back."""
    max_surge: str = "25%"
    max_unavailable: str = "0"
    smoke_image: str | None = None
    """Image of the smoke-test Job (defaults to the backup section's ops image)."""
    runner: RunnerSettings | None = None
    """CI runners in the VPC; without them CI cannot reach a private cluster endpoint."""

    @field_validator("canary_steps")
    @classmethod
    def _steps(cls, v: tuple[CanaryStep, ...]) -> tuple[CanaryStep, ...]:
        if not v:
            raise ValueError("canarySteps needs at least one step")
        weights = [s.weight for s in v]
        if weights != sorted(set(weights)):
            raise ValueError(f"canarySteps weights must strictly increase, got {weights}")
        return v

    @field_validator("max_surge", "max_unavailable")
    @classmethod
    def _bound(cls, v: str) -> str:
        if not re.fullmatch(r"\d+%?", v) or (v.endswith("%") and int(v[:-1]) > 100):
            raise ValueError(f"{v!r} must be a count like '1' or a percentage like '25%'")
        return v

    @field_validator("smoke_image")
    @classmethod
    def _img(cls, v: str | None) -> str | None:
        return None if v is None else _image(v, "smokeImage")

    @model_validator(mode="after")
    def _progress(self) -> DeliverySettings:
        if self.max_surge in ("0", "0%") and self.max_unavailable in ("0", "0%"):
            raise ValueError("maxSurge and maxUnavailable cannot both be zero: the rollout could never progress")
        return self
