"""The rollout's status: what the decision core remembers between passes.

Layer 1 (pure logic). The engine stores it in the CanaryRollout status and hands it back on the next
pass, so a restarted controller resumes exactly where the last one stopped.
"""

from __future__ import annotations

import datetime

import pydantic

from canaryd import verdicts
from canaryd.core import phase as phases

_FROZEN = pydantic.ConfigDict(frozen=True)


class StepRecord(pydantic.BaseModel):
    """One step of the current attempt: its weight, its timing and the verdict with its numbers."""

    model_config = _FROZEN

    index: int  # 0-based position in the spec's steps
    weight: int  # canary percent at this step
    started_at: datetime.datetime
    verdict: verdicts.Verdict | None = None  # the verdict that decided the step; None while undecided
    decided_at: datetime.datetime | None = None
    judgement: verdicts.Judgement | None = None  # the latest judgement made at this step
    window_start: datetime.datetime | None = None  # the window that judgement covers, from the first step
    window_end: datetime.datetime | None = None
    # The step was left for the next one on an inconclusive verdict with no failure, under
    # step-advance no-failure; `verdict` then stays inconclusive.
    advanced_without_pass: bool = False


class Condition(pydantic.BaseModel):
    """A Kubernetes-style condition: `last_transition_time` changes only when `status` flips."""

    model_config = _FROZEN

    type: str
    status: str  # "True" or "False"
    reason: str
    message: str
    last_transition_time: datetime.datetime


class RolloutStatus(pydantic.BaseModel):
    """The decision core's memory of one Deployment's rollout."""

    model_config = _FROZEN

    phase: phases.Phase = phases.Phase.IDLE
    revision: str | None = None  # canary revision of the current or last attempt
    stable_revision: str | None = None  # revision the primary runs (or returns to on rollback)
    attempt: int = 0  # number of rollout attempts started, for this Deployment
    step_index: int = 0  # 0-based current step; equals the step count while promoting
    desired_weight: int = 0  # canary percent canaryd last asked the router for
    desired_baseline_weight: int = 0
    actual_weight: int | None = None  # canary percent the router last reported; None when unknown
    steps: tuple[StepRecord, ...] = ()  # one record per step started in this attempt
    started_at: datetime.datetime | None = None  # start of this attempt
    step_started_at: datetime.datetime | None = (
        None  # start of the current step; the deadline counts from here
    )
    analysis_started_at: datetime.datetime | None = None  # when the router confirmed the step's weight
    # When the first step's weight was confirmed: every analysis of this attempt judges all the data
    # since then, so evidence carries over from step to step and the warm-up is left out only once.
    judged_since: datetime.datetime | None = None
    phase_changed_at: datetime.datetime | None = None
    reason: str = ""  # reason constant of the last transition (canaryd.core.reasons)
    message: str = ""
    resume_phase: phases.Phase | None = None  # phase to return to after Paused or Invalid
    is_aborted: bool = False  # the rollback in progress was requested by a person
    last_command_at: datetime.datetime | None = None  # issue time of the last manual command handled
    conditions: tuple[Condition, ...] = ()

    @property
    def canary_weight(self) -> int:
        return self.desired_weight

    @property
    def primary_weight(self) -> int:
        return 100 - self.desired_weight - self.desired_baseline_weight

    def condition(self, condition_type: str) -> Condition | None:
        return next((condition for condition in self.conditions if condition.type == condition_type), None)

    def step_record(self, index: int) -> StepRecord | None:
        return next((record for record in self.steps if record.index == index), None)
