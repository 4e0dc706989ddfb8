"""The working state of one decision pass, and the helpers every decision function shares.

Layer 1 (pure logic). A `PassContext` contains the pass's inputs (spec, observations, `now`) and what has been
decided so far (the next status, the actions). Decision functions read and extend it; only
`canaryd.core.transition` creates one and turns it into a Decision.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

from canaryd import verdicts
from canaryd.core import actions as core_actions
from canaryd.core import observed, reasons
from canaryd.core import phase as phases
from canaryd.core import status as statuses
from canaryd.spec import settings, values


@dataclasses.dataclass
class PassContext:
    """One pass: `before` is the status handed in, `status` the next status as decided so far."""

    spec: settings.RolloutSpec
    observations: observed.Observations
    now: datetime.datetime
    before: statuses.RolloutStatus
    status: statuses.RolloutStatus
    actions: list[core_actions.Action] = dataclasses.field(default_factory=list)

    def update(self, **fields: object) -> None:
        self.status = self.status.model_copy(update=fields)

    def act(self, action: core_actions.Action) -> None:
        self.actions.append(action)

    def move(self, phase: phases.Phase, reason: reasons.Reason, **params: object) -> None:
        """Enter `phase` for `reason`, posting an Event only if phase, step, revision or message changed."""
        message = reason.render(**params)
        current = self.status
        is_change = (
            current.phase != phase
            or current.reason != reason.name
            or current.message != message
            or self.before.step_index != current.step_index
            or self.before.revision != current.revision
        )
        if current.phase != phase:
            self.update(phase_changed_at=self.now)
        self.update(phase=phase, reason=reason.name, message=message)
        if is_change and not self._has_event(reason.name, message):
            self.act(core_actions.RecordEvent(type=reason.event_type, reason=reason.name, message=message))

    def note(self, reason: reasons.Reason, **params: object) -> None:
        """Post an Event that changes no status, such as an ignored command."""
        self.act(
            core_actions.RecordEvent(
                type=reason.event_type, reason=reason.name, message=reason.render(**params)
            )
        )

    def _has_event(self, reason: str, message: str) -> bool:
        return any(
            isinstance(action, core_actions.RecordEvent)
            and action.reason == reason
            and action.message == message
            for action in self.actions
        )

    # Facts about the spec and the status, named for the decisions that use them.

    @property
    def step_count(self) -> int:
        return len(self.spec.steps)

    @property
    def has_baseline(self) -> bool:
        return self.spec.analysis.baseline

    def step_params(self) -> dict[str, object]:
        """Template values that describe the current step, for reason messages."""
        index = self.status.step_index
        weight = self.spec.steps[index] if index < self.step_count else 100
        return {
            "step": index + 1,
            "steps": self.step_count,
            "weight": weight,
            "revision": self.status.revision,
            "stable": self.status.stable_revision,
            "attempt": self.status.attempt,
        }

    def canary_replicas(self) -> int:
        """Canary size: the spec's, or enough for the last step's share of the primary's replicas."""
        if self.spec.canary_replicas is not None:
            return self.spec.canary_replicas
        primary = self.observations.primary
        primary_replicas = primary.replicas if primary is not None else 1
        return max(1, math.ceil(primary_replicas * self.spec.steps[-1] / 100))

    def deadline_text(self, start: datetime.datetime | None) -> str:
        if start is None:
            return values.format_duration(self.spec.analysis.deadline)
        return (start + self.spec.analysis.deadline).isoformat(timespec="seconds")

    def record_step(self, index: int, **fields: object) -> None:
        """Update the record of step `index` of this attempt."""
        records = tuple(
            record.model_copy(update=fields) if record.index == index else record
            for record in self.status.steps
        )
        self.update(steps=records)

    def start_step(self, index: int) -> None:
        """Make `index` the current step: a fresh record, a fresh deadline and no analysis window yet."""
        weight = self.spec.steps[index]
        record = statuses.StepRecord(index=index, weight=weight, started_at=self.now)
        other_records = tuple(existing for existing in self.status.steps if existing.index != index)
        self.update(
            step_index=index,
            steps=other_records + (record,),
            step_started_at=self.now,
            analysis_started_at=None,
        )


def route(context: PassContext, *, canary: int) -> bool:
    """Ask the router for `canary` percent (and as much for the baseline), if every receiving side is Ready.

    Returns whether a SetWeight was emitted. Traffic never goes to a side with no Ready pods: the
    canary (and baseline) must have some for a weight above 0, and the primary for a weight below 100.
    """
    observations = context.observations
    baseline = canary if context.has_baseline else 0
    if context.status.desired_weight == canary and context.status.desired_baseline_weight == baseline:
        return False

    if canary > 0 and not observations.canary.has_ready_pods:
        return False
    if baseline > 0 and (observations.baseline is None or not observations.baseline.has_ready_pods):
        return False
    if canary + baseline < 100 and (observations.primary is None or not observations.primary.has_ready_pods):
        return False

    context.act(core_actions.SetWeight(canary=canary, baseline=baseline))
    context.update(desired_weight=canary, desired_baseline_weight=baseline)
    return True


def is_weight_confirmed(context: PassContext) -> bool:
    """True when the router reports the canary weight canaryd asked for."""
    return context.status.actual_weight == context.status.desired_weight


def fresh_analysis(context: PassContext) -> observed.AnalysisResult | None:
    """Return the observed analysis if it judges this attempt's data, including some at the current weight.

    Other analyses are ignored. A judgement of an older revision or attempt, or one whose window ends
    before the current weight was in place, is not evidence about the canary as it is now. A window
    that ends after `now` claims data that cannot exist yet.
    """
    analysis = context.observations.analysis
    started = context.status.analysis_started_at
    since = context.status.judged_since
    if analysis is None or started is None or since is None:
        return None
    if analysis.revision != context.status.revision:
        return None
    if analysis.window_start < since or analysis.window_end <= started or analysis.window_end > context.now:
        return None
    return analysis


def time_at_weight(context: PassContext, analysis: observed.AnalysisResult) -> datetime.timedelta:
    """Return how much of the analysis window lies at the current step's confirmed weight."""
    started = context.status.analysis_started_at
    if started is None:
        return datetime.timedelta(0)
    return max(datetime.timedelta(0), analysis.window_end - max(started, analysis.window_start))


def is_failed(analysis: observed.AnalysisResult | None) -> bool:
    return analysis is not None and analysis.verdict is verdicts.Verdict.FAIL
