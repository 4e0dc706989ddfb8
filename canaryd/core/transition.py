"""The transition function: spec + status + observations + commands + now -> next status + actions.

Layer 1 (pure logic): no I/O, no clock. `decide` is the decision core's one entry point. It runs a flat
list of stages; each reads the pass context, may extend the next status and the actions, and may end the
pass. The engine applies the actions in order and stores the status only when all of them succeeded.

Stages, in order:
  1. an invalid spec freezes everything (an InvalidSpec condition and a Warning Event, no traffic action);
  2. the router's reported weight is recorded;
  3. a Deployment without a primary is bootstrapped;
  4. manual commands are applied;
  5. a new pod template starts a rollout, or restarts the one in progress;
  6. a failing judgement of this revision, or a canary left with no Ready pods while it receives
     traffic, rolls back from any phase of a rollout;
  7. the phase's own decision advances the rollout by one stage.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from canaryd.core import actions as core_actions
from canaryd.core import bootstrap, context, manual, observed, promotion, reasons, rollback, steps
from canaryd.core import commands as manual_commands
from canaryd.core import phase as phases
from canaryd.core import status as statuses
from canaryd.spec import errors, settings

Phase = phases.Phase


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of one pass: the status to store and the actions to apply first, in order."""

    status: statuses.RolloutStatus
    actions: tuple[core_actions.Action, ...]

    @property
    def events(self) -> tuple[core_actions.RecordEvent, ...]:
        return tuple(action for action in self.actions if isinstance(action, core_actions.RecordEvent))


def decide(
    *,
    spec: settings.RolloutSpec | errors.SpecError,
    status: statuses.RolloutStatus,
    observations: observed.Observations,
    commands: Sequence[manual_commands.Command] = (),
    now: datetime.datetime,
) -> Decision:
    """Decide one reconcile pass of a Deployment whose rollouts are enabled.

    `spec` is the parsed spec, or the SpecError its annotations raised. `now` must be timezone-aware and
    is the only clock the decision reads.
    """
    if now.tzinfo is None:
        raise ValueError(f"decide() needs a timezone-aware `now`, got the naive datetime {now.isoformat()}")
    if isinstance(spec, errors.SpecError):
        return _decide_invalid_spec(spec, status=status, observations=observations, now=now)

    current = context.PassContext(spec=spec, observations=observations, now=now, before=status, status=status)
    _leave_invalid_phase(current)
    current.update(actual_weight=observations.actual_weight)

    if bootstrap.is_needed(current):
        bootstrap.drive(current)
        return _finish(current)
    manual.apply(current, commands)
    _follow_new_revision(current)
    _roll_back_on_failure(current)
    _drive_phase(current)
    return _finish(current)


def _decide_invalid_spec(
    error: errors.SpecError,
    *,
    status: statuses.RolloutStatus,
    observations: observed.Observations,
    now: datetime.datetime,
) -> Decision:
    # Nothing is changed while the spec is invalid: acting on half a spec could send traffic where the
    # user did not intend. The phase to return to is remembered for when the annotations are fixed.
    current = context.PassContext(
        spec=settings.RolloutSpec(), observations=observations, now=now, before=status, status=status
    )
    if status.phase is not Phase.INVALID:
        current.update(resume_phase=status.phase)
    current.update(actual_weight=observations.actual_weight)
    keys = ", ".join(dict.fromkeys(problem.key for problem in error.problems))
    current.move(Phase.INVALID, reasons.INVALID_SPEC, keys=keys, problems=error.summary())
    return _finish(current)


def _leave_invalid_phase(current: context.PassContext) -> None:
    if current.status.phase is not Phase.INVALID:
        return
    target = current.status.resume_phase or Phase.IDLE
    if target in phases.ANALYSING_PHASES:
        current.update(step_started_at=current.now, analysis_started_at=None)
    current.update(resume_phase=None)
    current.move(target, reasons.SPEC_FIXED)


def _follow_new_revision(current: context.PassContext) -> None:
    """Start a rollout when the Deployment's pod template changed; restart one in progress."""
    revision = current.observations.canary.revision
    phase = current.status.phase
    if revision is None or revision == current.status.revision:
        return

    if phase in phases.SETTLED_PHASES and revision == current.status.stable_revision:
        current.update(revision=revision, steps=(), step_index=0)
        current.move(Phase.IDLE, reasons.TEMPLATE_MATCHES_PRIMARY, revision=revision)
    elif phase in phases.SETTLED_PHASES:
        steps.start_rollout(current, reasons.ROLLOUT_STARTED)
    elif phase in (Phase.PROGRESSING, Phase.HOLDING, Phase.PAUSED):
        steps.restart_for_new_revision(current)
    elif phase is Phase.PROMOTING:
        _restart_during_promotion(current)
    # A rollback in progress finishes first; the new revision starts from Failed or Aborted.


def _restart_during_promotion(current: context.PassContext) -> None:
    # The promoted revision passed its last step, so a primary that already runs it is the new stable
    # revision. Otherwise the half-done copy is undone, because a primary must not keep a half promotion.
    primary = current.observations.primary
    if primary is not None and primary.revision == current.status.revision and primary.is_ready:
        current.update(stable_revision=current.status.revision)
    elif current.status.stable_revision is not None:
        current.act(core_actions.RestorePrimary(revision=current.status.stable_revision))
    steps.restart_for_new_revision(current)


def _roll_back_on_failure(current: context.PassContext) -> None:
    """Roll back on a failing judgement or a canary without Ready pods, in any phase that sends it traffic."""
    phase = current.status.phase
    if phase not in (Phase.PROGRESSING, Phase.HOLDING, Phase.PAUSED, Phase.PROMOTING):
        return

    # During promotion the canary has passed its last step, so losing its pods is no evidence against it.
    # The promotion moves its traffic to the primary anyway.
    if phase is not Phase.PROMOTING and steps.has_lost_canary(current):
        rollback.start(current, reasons.CANARY_UNAVAILABLE, weight=current.status.desired_weight)
        return

    analysis = context.fresh_analysis(current)
    if analysis is None or not context.is_failed(analysis):
        return

    index = min(current.status.step_index, current.step_count - 1)
    current.record_step(
        index,
        verdict=analysis.verdict,
        decided_at=current.now,
        judgement=analysis.judgement,
        window_start=analysis.window_start,
        window_end=analysis.window_end,
    )
    detail = analysis.judgement.reason or "the canary is worse than control beyond the tolerance"
    rollback.start(
        current, reasons.ANALYSIS_FAILED, step=index + 1, weight=current.spec.steps[index], detail=detail
    )


def _drive_phase(current: context.PassContext) -> None:
    phase = current.status.phase
    if phase in phases.ANALYSING_PHASES:
        steps.progress(current)
    elif phase is Phase.PROMOTING:
        promotion.drive(current)
    elif phase is Phase.ROLLING_BACK:
        rollback.drive(current)


def _finish(current: context.PassContext) -> Decision:
    current.update(conditions=_conditions(current))
    return Decision(status=current.status, actions=tuple(current.actions))


def _conditions(current: context.PassContext) -> tuple[statuses.Condition, ...]:
    """Derive the conditions from the phase; a condition's transition time changes only when it flips."""
    phase = current.status.phase
    truth_by_type = {
        "InvalidSpec": phase is Phase.INVALID,
        "Progressing": phase in phases.ACTIVE_PHASES or phase is Phase.INITIALIZING,
        "Paused": phase is Phase.PAUSED,
    }
    conditions = []
    for condition_type, is_true in truth_by_type.items():
        value = "True" if is_true else "False"
        previous = current.before.condition(condition_type)
        changed_at = (
            previous.last_transition_time
            if previous is not None and previous.status == value
            else current.now
        )
        conditions.append(
            statuses.Condition(
                type=condition_type,
                status=value,
                reason=current.status.reason or "Idle",
                message=current.status.message,
                last_transition_time=changed_at,
            )
        )
    return tuple(conditions)
