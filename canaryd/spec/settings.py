"""Typed rollout settings: steps, analysis, tolerances, metrics source and router.

Layer 1 (pure logic). These pydantic models are the one shape of a rollout's settings. The annotation
reader (`canaryd.spec.annotations`) fills them from a Deployment's `canaryd.io/*` annotations, and the
standalone mode fills the same models from its YAML file, so a setting means the same thing in both.

Each field accepts its annotation text ("2m", "1,5", "1%") as well as the plain YAML value, through the
parsers in `canaryd.spec.values`. Checks that involve two fields are listed by `conflicts()`, so that the
annotation reader can report them under the annotation keys and the models can reject them.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
from typing import Annotated

import pydantic

from canaryd.spec import values

# The metric presets that `canaryd.metrics` implements. The spec may not import the metrics package (it
# sits in a higher layer), so the names are listed here and a metrics test checks that they match.
METRIC_PRESETS: tuple[str, ...] = ("http", "istio", "envoy", "ingress-nginx")
DEFAULT_METRIC_PRESET = "http"

# With a baseline, the baseline receives the same share as the canary, so the canary can have at most half.
MAX_WEIGHT_WITH_BASELINE = 50


class InconclusivePolicy(enum.StrEnum):
    """What happens to a step that has neither passed nor failed when its deadline passes."""

    ROLLBACK = "rollback"  # route all traffic back to the primary and mark the rollout Failed
    PAUSE = "pause"  # keep the current weights and wait for a person to resume or abort


class StepAdvance(enum.StrEnum):
    """What lets an intermediate step advance; the last step needs a pass in both modes."""

    EVIDENCE = "evidence"  # a pass at every step
    NO_FAILURE = "no-failure"  # a pass, or an inconclusive verdict on the minimum sample with no failure


class RouterKind(enum.StrEnum):
    """How traffic is split between primary and canary."""

    GATEWAY_API = "gateway-api"  # weights of two backendRefs in a Gateway API HTTPRoute
    REPLICA_RATIO = "replica-ratio"  # the share of Ready pods behind one Service, for clusters with no mesh
    HAPROXY = "haproxy"  # server weights through the HAProxy runtime API, for the standalone mode


StepWeights = Annotated[tuple[int, ...], pydantic.BeforeValidator(values.parse_steps)]
Duration = Annotated[
    datetime.timedelta,
    pydantic.BeforeValidator(values.parse_duration),
    pydantic.PlainSerializer(values.format_duration, return_type=str),
]
ErrorRatio = Annotated[float, pydantic.BeforeValidator(functools.partial(values.parse_fraction, maximum=1.0))]
RelativeChange = Annotated[
    float, pydantic.BeforeValidator(functools.partial(values.parse_fraction, maximum=10.0))
]
ObjectName = Annotated[str, pydantic.BeforeValidator(values.parse_name)]
PositiveInt = Annotated[int, pydantic.BeforeValidator(values.parse_positive_int)]

_MODEL_CONFIG = pydantic.ConfigDict(frozen=True, extra="forbid")


@dataclasses.dataclass(frozen=True)
class Conflict:
    """Two or more settings that are valid alone but not together; `fields` are paths from RolloutSpec."""

    fields: tuple[tuple[str, ...], ...]
    message: str


class Tolerances(pydantic.BaseModel):
    """How much worse than control the canary may be before the difference counts against it."""

    model_config = _MODEL_CONFIG

    error_ratio_absolute: ErrorRatio = pydantic.Field(
        default=0.001,
        description="Error ratio the canary may exceed control by, in absolute terms "
        "(0.001 = 0.1 percentage points).",
    )
    error_ratio_relative: RelativeChange = pydantic.Field(
        default=0.2,
        description="Error ratio the canary may exceed control by, relative to control's "
        "(0.2 = 20% more errors). "
        "The larger of the absolute and relative allowance applies.",
    )
    latency_relative: RelativeChange = pydantic.Field(
        default=0.1,
        description="Latency the canary may exceed control by, relative to control's (0.1 = 10% slower).",
    )


class MetricsSettings(pydantic.BaseModel):
    """Where the SLIs come from: a built-in preset, or a query template by name. At most one is set."""

    model_config = _MODEL_CONFIG

    preset: str | None = pydantic.Field(
        default=None,
        description=f"Built-in SLI queries: one of {', '.join(METRIC_PRESETS)}. "
        f"Used when no template is named; {DEFAULT_METRIC_PRESET} when nothing is set.",
    )
    template: ObjectName | None = pydantic.Field(
        default=None, description="Name of a MetricTemplate in the Deployment's namespace."
    )
    cluster_template: ObjectName | None = pydantic.Field(
        default=None, description="Name of a cluster-scoped ClusterMetricTemplate."
    )

    @pydantic.field_validator("preset")
    @classmethod
    def _check_preset(cls, preset: str | None) -> str | None:
        if preset is not None and preset not in METRIC_PRESETS:
            raise ValueError(f"unknown metric preset; expected one of {', '.join(METRIC_PRESETS)}")
        return preset

    @pydantic.model_validator(mode="after")
    def _check_conflicts(self) -> MetricsSettings:
        _raise_conflicts(metrics_conflicts(self, path=()))
        return self

    @property
    def preset_name(self) -> str | None:
        """The preset to use: the one set, the default when no template is named, None with a template."""
        if self.preset is not None:
            return self.preset
        if self.template is None and self.cluster_template is None:
            return DEFAULT_METRIC_PRESET
        return None


class AnalysisSettings(pydantic.BaseModel):
    """How each step is analysed and for how long, and what an undecided step leads to."""

    model_config = _MODEL_CONFIG

    window: Duration = pydantic.Field(
        default=datetime.timedelta(minutes=2),
        description="Minimum time of analysis at each step, counted from when the router reports the step's "
        "weight. A pass covering less than this does not advance the step; a failure acts at once.",
    )
    deadline: Duration = pydantic.Field(
        default=datetime.timedelta(minutes=10),
        description="Maximum time at each step, counted from the step's start. A step with no pass by then "
        "is decided by the inconclusive policy. Must be at least the window.",
    )
    inconclusive_policy: InconclusivePolicy = pydantic.Field(
        default=InconclusivePolicy.ROLLBACK,
        description="What a step that reached its deadline without a pass does: rollback, or pause.",
    )
    step_advance: StepAdvance = pydantic.Field(
        default=StepAdvance.EVIDENCE,
        description="What lets a step before the last advance once its window has elapsed: evidence (a "
        "pass), or no-failure (a pass, or an inconclusive verdict with the judge's minimum sample reached "
        "on every metric and no failing critical metric). No data never advances a step, and the last step "
        "needs a pass before promotion in both modes.",
    )
    tolerances: Tolerances = pydantic.Field(default_factory=Tolerances)
    metrics: MetricsSettings = pydantic.Field(default_factory=MetricsSettings)
    baseline: bool = pydantic.Field(
        default=False,
        description="Compare the canary with a fresh copy of the primary at the canary's size and weight "
        "instead of with the primary's long-running pods. Needs the gateway-api router.",
    )

    @pydantic.field_validator("baseline", mode="before")
    @classmethod
    def _parse_baseline(cls, baseline: object) -> bool:
        return values.parse_bool(baseline)

    @pydantic.model_validator(mode="after")
    def _check_conflicts(self) -> AnalysisSettings:
        _raise_conflicts(analysis_conflicts(self, path=()))
        return self


class RouterSettings(pydantic.BaseModel):
    """Which router splits traffic, and the objects it changes."""

    model_config = _MODEL_CONFIG

    kind: RouterKind = pydantic.Field(
        default=RouterKind.REPLICA_RATIO,
        description="How traffic is split: gateway-api or replica-ratio (haproxy in standalone mode only).",
    )
    httproute: ObjectName | None = pydantic.Field(
        default=None,
        description="HTTPRoute whose backendRef weights canaryd sets, in the Deployment's namespace. "
        "Required with the gateway-api router.",
    )
    primary_backend: ObjectName | None = pydantic.Field(
        default=None,
        description="Name of the HTTPRoute backendRef (a Service) that serves the primary. "
        "Default: `<deployment>-primary`.",
    )
    canary_backend: ObjectName | None = pydantic.Field(
        default=None,
        description="Name of the HTTPRoute backendRef (a Service) that serves the canary. "
        "Default: `<deployment>-canary`.",
    )

    @pydantic.model_validator(mode="after")
    def _check_conflicts(self) -> RouterSettings:
        _raise_conflicts(router_conflicts(self, path=()))
        return self

    def primary_backend_name(self, *, deployment: str) -> str:
        return self.primary_backend or f"{deployment}-primary"

    def canary_backend_name(self, *, deployment: str) -> str:
        return self.canary_backend or f"{deployment}-canary"


class RolloutSpec(pydantic.BaseModel):
    """Every setting of one Deployment's canary rollouts."""

    model_config = _MODEL_CONFIG

    enabled: bool = pydantic.Field(default=False, description="Run canary rollouts for this Deployment.")
    steps: StepWeights = pydantic.Field(
        default=(1, 5),
        description="Canary weights in percent, walked in order; promotion to 100% follows the last step.",
    )
    analysis: AnalysisSettings = pydantic.Field(default_factory=AnalysisSettings)
    router: RouterSettings = pydantic.Field(default_factory=RouterSettings)
    canary_replicas: PositiveInt | None = pydantic.Field(
        default=None,
        description="Replicas of the canary during a rollout. Default: the primary's replicas times the last "
        "step's weight, rounded up, at least 1.",
    )

    @pydantic.field_validator("enabled", mode="before")
    @classmethod
    def _parse_enabled(cls, enabled: object) -> bool:
        return values.parse_bool(enabled)

    @pydantic.model_validator(mode="after")
    def _check_conflicts(self) -> RolloutSpec:
        _raise_conflicts(rollout_conflicts(self))
        return self

    @property
    def step_count(self) -> int:
        return len(self.steps)


def conflicts(spec: RolloutSpec) -> list[Conflict]:
    """List every cross-field conflict of a spec built without validation (`model_construct`)."""
    return (
        rollout_conflicts(spec)
        + analysis_conflicts(spec.analysis, path=("analysis",))
        + metrics_conflicts(spec.analysis.metrics, path=("analysis", "metrics"))
        + router_conflicts(spec.router, path=("router",))
    )


def rollout_conflicts(spec: RolloutSpec) -> list[Conflict]:
    found = []
    if spec.analysis.baseline and max(spec.steps) > MAX_WEIGHT_WITH_BASELINE:
        found.append(
            Conflict(
                fields=(("steps",), ("analysis", "baseline")),
                message="with a baseline, which receives the same weight as the canary, "
                f"every step must be at most {MAX_WEIGHT_WITH_BASELINE}; "
                "lower the last step or turn the baseline off",
            )
        )
    if spec.analysis.baseline and spec.router.kind is RouterKind.REPLICA_RATIO:
        # The replica-ratio router sets the canary's share through its pod count next to the primary's,
        # and has no way to give a baseline the same share.
        found.append(
            Conflict(
                fields=(("analysis", "baseline"), ("router", "kind")),
                message="a baseline needs the gateway-api router, because the replica-ratio router cannot "
                "route to a baseline, so set the router to gateway-api or turn the baseline off",
            )
        )
    return found


def analysis_conflicts(analysis: AnalysisSettings, *, path: tuple[str, ...]) -> list[Conflict]:
    found = []
    if analysis.deadline < analysis.window:
        found.append(
            Conflict(
                fields=(path + ("deadline",), path + ("window",)),
                message=f"the step deadline ({values.format_duration(analysis.deadline)}) "
                "is shorter than the "
                f"analysis window ({values.format_duration(analysis.window)}), so no step could ever pass; "
                "make the deadline at least the window",
            )
        )
    return found


def metrics_conflicts(metrics: MetricsSettings, *, path: tuple[str, ...]) -> list[Conflict]:
    chosen = [
        name for name in ("preset", "template", "cluster_template") if getattr(metrics, name) is not None
    ]
    if len(chosen) <= 1:
        return []
    return [
        Conflict(
            fields=tuple(path + (name,) for name in chosen),
            message="set only one of the metric preset, the metric template and the cluster metric template",
        )
    ]


def router_conflicts(router: RouterSettings, *, path: tuple[str, ...]) -> list[Conflict]:
    if router.kind is RouterKind.GATEWAY_API and router.httproute is None:
        return [
            Conflict(
                fields=(path + ("httproute",), path + ("kind",)),
                message="the gateway-api router needs the name of the HTTPRoute whose weights it sets",
            )
        ]
    return []


def _raise_conflicts(found: list[Conflict]) -> None:
    if found:
        raise ValueError("; ".join(conflict.message for conflict in found))
