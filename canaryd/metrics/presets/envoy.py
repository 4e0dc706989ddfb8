"""The `envoy` preset: Envoy's upstream cluster statistics, one cluster per backend Service.

Envoy exports `envoy_cluster_upstream_rq_total` (requests), `envoy_cluster_upstream_rq_xx` (requests
by status class, `envoy_response_code_class="5"` for 5xx) and the histogram
`envoy_cluster_upstream_rq_time_bucket` in milliseconds, all labelled with `envoy_cluster_name`.
When a Gateway API HTTPRoute splits traffic between the primary and canary Services, control planes
that build one Envoy cluster per backend Service let the cluster name tell the arms apart.

The cluster name's format belongs to the control plane, so it is a setting: a regex with
`{namespace}`, `{service}` and `{workload}` placeholders. The default, `{namespace}/{service}/.*`,
fits names of the form `<namespace>/<service>/<port>/<hash>` (the format Contour uses). Istio's
sidecars name clusters `outbound|<port>||<service>.<namespace>.svc.cluster.local`.

The Envoy proxy usually runs in the gateway's namespace, so its series carry no label with the
backend's namespace; the namespace is matched inside the cluster name.
"""

from __future__ import annotations

import pydantic

from canaryd.metrics import outcomes, promql, protocol
from canaryd.metrics.presets import common

NAME = "envoy"
_PLACEHOLDERS = ("namespace", "service", "workload")


class EnvoyPresetSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    cluster_name_pattern: str = "{namespace}/{service}/.*"
    cluster_label: str = "envoy_cluster_name"
    include_latency: bool = True

    @pydantic.field_validator("cluster_name_pattern")
    @classmethod
    def _check_pattern(cls, value: str) -> str:
        try:
            value.format(**dict.fromkeys(_PLACEHOLDERS, "x"))
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"cluster_name_pattern {value!r} uses an unknown placeholder ({error}); "
                f"known: {', '.join('{' + name + '}' for name in _PLACEHOLDERS)}"
            ) from error
        return value

    @pydantic.field_validator("cluster_label")
    @classmethod
    def _check_label(cls, value: str) -> str:
        promql.validate_label_name(value)
        return value


class EnvoyPreset:
    name = NAME

    def __init__(self, *, settings: EnvoyPresetSettings | None = None) -> None:
        self.settings = settings or EnvoyPresetSettings()

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        cluster = self._cluster_regex(target)
        arm = [promql.LabelMatcher(self.settings.cluster_label, cluster, promql.MatchOp.REGEX)]
        errors = [*arm, promql.LabelMatcher("envoy_response_code_class", "5")]

        latency = None
        if self.settings.include_latency:
            latency = common.bucket_increase(
                metric="envoy_cluster_upstream_rq_time_bucket", matchers=arm, step_seconds=step_seconds
            )
        return protocol.ArmQueries(
            requests=common.sum_increase(
                metric="envoy_cluster_upstream_rq_total", matchers=arm, step_seconds=step_seconds
            ),
            errors=common.sum_increase_or_zero(
                metric="envoy_cluster_upstream_rq_xx", matchers=errors, step_seconds=step_seconds
            ),
            latency_buckets=latency,
            bucket_unit_seconds=0.001,
        )

    def _cluster_regex(self, target: protocol.ArmTarget) -> str:
        # Names are escaped so a dot in a Service name matches only a dot.
        values = {
            "namespace": promql.escape_regex(target.namespace),
            "service": promql.escape_regex(target.service_name),
            "workload": promql.escape_regex(target.workload),
        }
        pattern = self.settings.cluster_name_pattern
        try:
            return pattern.format(**values)
        except (KeyError, IndexError, ValueError) as error:
            raise outcomes.ConfigurationError(
                f"envoy preset: cluster_name_pattern {pattern!r} is invalid: {error}"
            ) from error
