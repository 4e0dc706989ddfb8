"""Observations made by the engine before a pass: workloads, the router's weight, the latest analysis.

Layer 1 (pure logic). The engine fills an Observations from its caches and the metrics source; the
decision core reads it and nothing else about the world.
"""

from __future__ import annotations

import datetime

import pydantic

from canaryd import verdicts

_FROZEN = pydantic.ConfigDict(frozen=True)


class WorkloadState(pydantic.BaseModel):
    """One Deployment (primary, canary or baseline) as observed.

    `revision` is canaryd's hash of the pod template, computed the same way for every workload, so that
    the primary and the canary have the same revision exactly when they run the same template.
    `ready_replicas` counts only Ready pods of that template, not pods left over from an older one.
    `is_observed` is false while the Deployment controller has not yet observed the latest spec (a new
    template or a scale): its counts then describe an older spec, so they prove neither that pods are
    Ready nor that they are lost, and every readiness check waits for the next observation.
    """

    model_config = _FROZEN

    revision: str | None = None
    replicas: int = 0  # desired replicas (spec.replicas)
    ready_replicas: int = 0
    is_observed: bool = True

    @property
    def has_ready_pods(self) -> bool:
        return self.is_observed and self.ready_replicas > 0

    @property
    def has_lost_pods(self) -> bool:
        """True when the counts are current and show no Ready pod of the current template."""
        return self.is_observed and self.ready_replicas == 0

    @property
    def is_ready(self) -> bool:
        """True when every desired replica of the current template is Ready, and there is at least one."""
        return self.is_observed and self.replicas > 0 and self.ready_replicas >= self.replicas


class AnalysisResult(pydantic.BaseModel):
    """A Judgement tagged with what it judged: which revision, at which step, over which window."""

    model_config = _FROZEN

    revision: str
    step_index: int  # 0-based index into the spec's steps
    window_start: datetime.datetime
    window_end: datetime.datetime
    judgement: verdicts.Judgement

    @property
    def verdict(self) -> verdicts.Verdict:
        return self.judgement.verdict

    @property
    def window(self) -> datetime.timedelta:
        return self.window_end - self.window_start


class Observations(pydantic.BaseModel):
    """Everything the decision core may know about the world in one pass."""

    model_config = _FROZEN

    canary: WorkloadState  # the user's Deployment, whose pod template is the canary's
    primary: WorkloadState | None = None  # None until the bootstrap created the primary
    baseline: WorkloadState | None = None  # None when there is no baseline Deployment
    actual_weight: int | None = None  # canary percent the router reports; None when it could not be read
    analysis: AnalysisResult | None = None  # the latest judgement, whatever revision or step it is for
