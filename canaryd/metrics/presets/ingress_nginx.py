"""The `ingress-nginx` preset: the NGINX Ingress Controller's per-request metrics.

`nginx_ingress_controller_requests` counts requests with a `status` label and
`nginx_ingress_controller_request_duration_seconds_bucket` is the latency histogram in seconds.
Both carry the `namespace`, `ingress` and `service` of the Ingress rule that served the request.
With ingress-nginx's canary annotations the primary and the canary are two Ingress objects backed
by two Services, so the preset selects each arm by its Service (`ArmTarget.service`, defaulting
to the workload name).

When Prometheus scrapes the controller with pod discovery, its own `namespace` target label may
push the metric's label to `exported_namespace`; `namespace_label` covers that setup.
"""

from __future__ import annotations

import pydantic

from canaryd.metrics import promql, protocol
from canaryd.metrics.presets import common

NAME = "ingress-nginx"


class IngressNginxPresetSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    namespace_label: str = "namespace"
    service_label: str = "service"
    ingress: str | None = None  # narrow to one Ingress when a Service is behind several
    error_status_regex: str = "5.."
    include_latency: bool = True

    @pydantic.field_validator("namespace_label", "service_label")
    @classmethod
    def _check_label(cls, value: str) -> str:
        promql.validate_label_name(value)
        return value


class IngressNginxPreset:
    name = NAME

    def __init__(self, *, settings: IngressNginxPresetSettings | None = None) -> None:
        self.settings = settings or IngressNginxPresetSettings()

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        settings = self.settings
        arm = [
            promql.LabelMatcher(settings.namespace_label, target.namespace),
            promql.LabelMatcher(settings.service_label, target.service_name),
        ]
        if settings.ingress is not None:
            arm.append(promql.LabelMatcher("ingress", settings.ingress))
        errors = [*arm, promql.LabelMatcher("status", settings.error_status_regex, promql.MatchOp.REGEX)]

        latency = None
        if settings.include_latency:
            latency = common.bucket_increase(
                metric="nginx_ingress_controller_request_duration_seconds_bucket",
                matchers=arm,
                step_seconds=step_seconds,
            )
        requests_metric = "nginx_ingress_controller_requests"
        return protocol.ArmQueries(
            requests=common.sum_increase(metric=requests_metric, matchers=arm, step_seconds=step_seconds),
            errors=common.sum_increase_or_zero(
                metric=requests_metric, matchers=errors, step_seconds=step_seconds
            ),
            latency_buckets=latency,
        )
