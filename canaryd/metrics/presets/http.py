"""The `http` preset: application metrics in the shape common client libraries export.

A request counter with a status-code label (`http_requests_total{code="200"}`) and a duration
histogram in seconds (`http_request_duration_seconds_bucket{le="0.1"}`). Metric and label names
are settings, because libraries differ (`status` vs `code`, `..._milliseconds` histograms).

Arms are selected either by pod name (the Deployment's pods are `<workload>-<hash>-<suffix>`, so
a regex on the `pod` label separates `web` from `web-primary`) or by a label whose value is the
workload name (for example `app="web-primary"`).
"""

from __future__ import annotations

from typing import Literal

import pydantic

from canaryd.metrics import promql, protocol
from canaryd.metrics.presets import common

NAME = "http"


class HttpPresetSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    requests_metric: str = "http_requests_total"
    duration_histogram: str | None = "http_request_duration_seconds"  # None: no latency SLI
    duration_unit_seconds: float = pydantic.Field(default=1.0, gt=0)  # 0.001 for a milliseconds histogram
    status_label: str = "code"
    error_status_regex: str = "5.."
    namespace_label: str = "namespace"
    arm_selection: Literal["pod", "label"] = "pod"
    pod_label: str = "pod"
    workload_label: str = "app"  # used when arm_selection is "label"
    extra_matchers: dict[str, str] = {}  # fixed equality matchers, for example {"handler": "/api"}

    @pydantic.field_validator("requests_metric", "duration_histogram")
    @classmethod
    def _check_metric(cls, value: str | None) -> str | None:
        if value is not None:
            promql.validate_metric_name(value)
        return value

    @pydantic.field_validator("status_label", "namespace_label", "pod_label", "workload_label")
    @classmethod
    def _check_label(cls, value: str) -> str:
        promql.validate_label_name(value)
        return value

    @pydantic.field_validator("extra_matchers")
    @classmethod
    def _check_extra(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            promql.validate_label_name(name)
        return value


class HttpPreset:
    name = NAME

    def __init__(self, *, settings: HttpPresetSettings | None = None) -> None:
        self.settings = settings or HttpPresetSettings()

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        settings = self.settings
        arm = self._arm_matchers(target)
        errors = [
            *arm,
            promql.LabelMatcher(settings.status_label, settings.error_status_regex, promql.MatchOp.REGEX),
        ]

        latency = None
        if settings.duration_histogram is not None:
            latency = common.bucket_increase(
                metric=f"{settings.duration_histogram}_bucket", matchers=arm, step_seconds=step_seconds
            )
        return protocol.ArmQueries(
            requests=common.sum_increase(
                metric=settings.requests_metric, matchers=arm, step_seconds=step_seconds
            ),
            errors=common.sum_increase_or_zero(
                metric=settings.requests_metric, matchers=errors, step_seconds=step_seconds
            ),
            latency_buckets=latency,
            bucket_unit_seconds=settings.duration_unit_seconds,
        )

    def _arm_matchers(self, target: protocol.ArmTarget) -> list[promql.LabelMatcher]:
        settings = self.settings
        matchers = [promql.LabelMatcher(settings.namespace_label, target.namespace)]
        if settings.arm_selection == "pod":
            matchers.append(promql.LabelMatcher(settings.pod_label, target.pod_regex, promql.MatchOp.REGEX))
        else:
            matchers.append(promql.LabelMatcher(settings.workload_label, target.workload))
        matchers.extend(
            promql.LabelMatcher(name, value) for name, value in sorted(settings.extra_matchers.items())
        )
        return matchers
