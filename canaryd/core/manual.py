"""Manual command decisions: promote, abort, pause and resume, each honoured once.

Layer 1 (pure logic). A command issued at or before the status' `last_command_at` was handled already
and is skipped, so a command that stays in place across passes acts once. A command that does not apply
to the current phase is recorded as handled and reported in an Event, never queued for later.
"""

from __future__ import annotations

from collections.abc import Sequence

from canaryd.core import commands as manual_commands
from canaryd.core import context, promotion, reasons, rollback, steps
from canaryd.core import phase as phases

Kind = manual_commands.CommandKind

_PROMOTABLE = frozenset({phases.Phase.PROGRESSING, phases.Phase.HOLDING, phases.Phase.PAUSED})
_ABORTABLE = frozenset(
    {phases.Phase.PROGRESSING, phases.Phase.HOLDING, phases.Phase.PAUSED, phases.Phase.PROMOTING}
)
_PAUSABLE = frozenset({phases.Phase.PROGRESSING, phases.Phase.HOLDING})
_RETRYABLE = frozenset({phases.Phase.FAILED, phases.Phase.ABORTED})


def apply(current: context.PassContext, commands: Sequence[manual_commands.Command]) -> None:
    """Apply the commands not handled yet, oldest first."""
    for command in sorted(commands, key=lambda command: command.issued_at):
        handled = current.status.last_command_at
        if handled is not None and command.issued_at <= handled:
            continue
        current.update(last_command_at=command.issued_at)
        _apply_one(current, command)


def _apply_one(current: context.PassContext, command: manual_commands.Command) -> None:
    phase = current.status.phase
    by = command.issued_by or "an unnamed user"
    if command.revision is not None and command.revision != current.status.revision:
        _ignore(
            current,
            command,
            explanation=f"it names revision {command.revision}, not {current.status.revision}",
        )
        return

    if command.kind is Kind.ABORT and phase in _ABORTABLE:
        rollback.start(current, reasons.ABORT_REQUESTED, is_aborted=True, by=by)
    elif command.kind is Kind.PROMOTE and phase in _PROMOTABLE:
        promotion.start(current, reasons.PROMOTE_REQUESTED, by=by, step=current.status.step_index + 1)
    elif command.kind is Kind.PAUSE and phase in _PAUSABLE:
        current.update(resume_phase=phase)
        current.move(phases.Phase.PAUSED, reasons.PAUSE_REQUESTED, **current.step_params(), by=by)
    elif command.kind is Kind.RESUME and phase is phases.Phase.PAUSED:
        _resume(current, by=by)
    elif command.kind is Kind.RESUME and phase in _RETRYABLE and _is_same_revision(current):
        steps_text = ",".join(str(weight) for weight in current.spec.steps)
        steps.start_rollout(current, reasons.RETRY_REQUESTED, by=by, steps=steps_text)
    else:
        _ignore(current, command, explanation=f"the rollout is {phase}")


def _resume(current: context.PassContext, *, by: str) -> None:
    # The step starts over: a fresh deadline, and an analysis window that opens once the weight holds, so
    # a verdict from before the pause is not reused.
    target = current.status.resume_phase or phases.Phase.PROGRESSING
    current.update(resume_phase=None, step_started_at=current.now, analysis_started_at=None)
    current.move(target, reasons.RESUMED, **current.step_params(), by=by)


def _is_same_revision(current: context.PassContext) -> bool:
    return current.observations.canary.revision == current.status.revision


def _ignore(current: context.PassContext, command: manual_commands.Command, *, explanation: str) -> None:
    by = command.issued_by or "an unnamed user"
    current.note(reasons.COMMAND_IGNORED, command=command.kind.value, by=by, explanation=explanation)
