"""The rollout spec: typed settings of a Deployment's canary rollouts, read from `canaryd.io/*` annotations.

Layer 1 (pure logic): no I/O and no clock. `settings` holds the pydantic models (shared with the
standalone mode's config file), `annotations` reads them from a Deployment, `errors` reports every
problem at once, and `reference` renders the annotation reference in docs/annotations.md.
"""

from canaryd.spec.annotations import ANNOTATIONS, PREFIX, is_enabled, parse_annotations
from canaryd.spec.errors import SpecError, SpecProblem
from canaryd.spec.settings import (
    METRIC_PRESETS,
    AnalysisSettings,
    InconclusivePolicy,
    MetricsSettings,
    RolloutSpec,
    RouterKind,
    RouterSettings,
    StepAdvance,
    Tolerances,
)

__all__ = [
    "ANNOTATIONS",
    "METRIC_PRESETS",
    "PREFIX",
    "AnalysisSettings",
    "InconclusivePolicy",
    "MetricsSettings",
    "RolloutSpec",
    "RouterKind",
    "RouterSettings",
    "SpecError",
    "SpecProblem",
    "StepAdvance",
    "Tolerances",
    "is_enabled",
    "parse_annotations",
]
