"""The `istio` preset: the mesh's standard request metrics, by destination workload.

`istio_requests_total` counts requests with a `response_code` label, and
`istio_request_duration_milliseconds_bucket` is the latency histogram, in milliseconds (the preset
converts bounds to seconds). Both are reported by the client and the server sidecar; the preset
keeps only `reporter="destination"` so each request counts once. Arms are selected by
`destination_workload` (the Deployment name) and `destination_workload_namespace`.
"""

from __future__ import annotations

import pydantic

from canaryd.metrics import promql, protocol
from canaryd.metrics.presets import common

NAME = "istio"


class IstioPresetSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    reporter: str = "destination"
    error_status_regex: str = "5.."
    include_latency: bool = True


class IstioPreset:
    name = NAME

    def __init__(self, *, settings: IstioPresetSettings | None = None) -> None:
        self.settings = settings or IstioPresetSettings()

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        arm = [
            promql.LabelMatcher("reporter", self.settings.reporter),
            promql.LabelMatcher("destination_workload_namespace", target.namespace),
            promql.LabelMatcher("destination_workload", target.workload),
        ]
        errors = [
            *arm,
            promql.LabelMatcher("response_code", self.settings.error_status_regex, promql.MatchOp.REGEX),
        ]
        latency = None
        if self.settings.include_latency:
            latency = common.bucket_increase(
                metric="istio_request_duration_milliseconds_bucket", matchers=arm, step_seconds=step_seconds
            )
        return protocol.ArmQueries(
            requests=common.sum_increase(
                metric="istio_requests_total", matchers=arm, step_seconds=step_seconds
            ),
            errors=common.sum_increase_or_zero(
                metric="istio_requests_total", matchers=errors, step_seconds=step_seconds
            ),
            latency_buckets=latency,
            bucket_unit_seconds=0.001,
        )
