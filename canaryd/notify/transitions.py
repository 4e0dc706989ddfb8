"""Notifications for one reconcile pass, found by comparing the status before and after the decision.

Part of `canaryd.notify` (layer 2); reads the decision core's `RolloutStatus` (layer 1). A notification
goes out only when something changed between the two statuses, so a rollout that holds for an hour
sends one message, not one per pass:

- started: a new attempt began (a new revision, a revision replaced mid-rollout, or a retry);
- step_passed: a step's verdict became pass;
- promoted: the phase became Succeeded;
- rolled_back: a rollback began (the phase became RollingBack, Failed or Aborted);
- blocked: the phase became Paused or Invalid, or a rollback found no Ready primary to return to.
"""

from __future__ import annotations

import dataclasses
import datetime

from canaryd import verdicts
from canaryd.core import phase as phases
from canaryd.core import reasons
from canaryd.core import status as core_status
from canaryd.notify import notification

Kind = notification.NotificationKind
Phase = phases.Phase

_ROLLBACK_PHASES = frozenset({Phase.ROLLING_BACK, Phase.FAILED, Phase.ABORTED})
_BLOCKED_PHASES = frozenset({Phase.PAUSED, Phase.INVALID})
_ROLLBACK_BLOCKED = reasons.ROLLBACK_BLOCKED.name


def notifications_for(
    *,
    before: core_status.RolloutStatus,
    after: core_status.RolloutStatus,
    namespace: str,
    deployment: str,
    rollout: str,
    step_count: int | None,
    occurred_at: datetime.datetime,
) -> list[notification.Notification]:
    """Return the notifications for the change from `before` to `after`, in the order they happened."""
    template = notification.Notification(
        kind=Kind.STARTED,
        namespace=namespace,
        deployment=deployment,
        rollout=rollout,
        revision=after.revision or "",
        occurred_at=occurred_at,
        reason=after.message,
        step=after.step_index + 1 if after.steps else None,
        step_count=step_count,
        weight=after.desired_weight,
    )
    found: list[notification.Notification] = []

    is_new_attempt = after.attempt > before.attempt
    if is_new_attempt and after.phase not in (Phase.IDLE, Phase.INITIALIZING):
        first_weight = after.steps[0].weight if after.steps else None
        found.append(dataclasses.replace(template, kind=Kind.STARTED, step=1, weight=first_weight))

    # Each step that passed in this pass; a new attempt starts with no step decided.
    passed_before = set() if is_new_attempt else _passed_steps(before)
    for record in after.steps:
        if record.verdict is verdicts.Verdict.PASS and record.index not in passed_before:
            reason = record.judgement.reason if record.judgement else ""
            found.append(
                dataclasses.replace(
                    template, kind=Kind.STEP_PASSED, step=record.index + 1, weight=record.weight,
                    judgement=record.judgement, reason=reason,
                )
            )  # fmt: skip

    evidence = _last_judgement(after)
    if after.phase is Phase.SUCCEEDED and before.phase is not Phase.SUCCEEDED and after.revision:
        found.append(dataclasses.replace(template, kind=Kind.PROMOTED, weight=100, judgement=evidence))
    if after.phase in _ROLLBACK_PHASES and (before.phase not in _ROLLBACK_PHASES or is_new_attempt):
        weight = _rollback_weight(before, after)
        found.append(dataclasses.replace(template, kind=Kind.ROLLED_BACK, weight=weight, judgement=evidence))
    if _is_newly_blocked(before, after):
        found.append(dataclasses.replace(template, kind=Kind.BLOCKED, judgement=evidence))
    return found


def _passed_steps(status: core_status.RolloutStatus) -> set[int]:
    return {record.index for record in status.steps if record.verdict is verdicts.Verdict.PASS}


def _last_judgement(status: core_status.RolloutStatus) -> verdicts.Judgement | None:
    """Return the judgement of the latest step that has one: the evidence behind the latest change."""
    judged = [record for record in status.steps if record.judgement is not None]
    return max(judged, key=lambda record: record.index).judgement if judged else None


def _rollback_weight(before: core_status.RolloutStatus, after: core_status.RolloutStatus) -> int:
    # The weight at which the canary failed is the one people ask about; after the rollback it is 0.
    return before.desired_weight if after.desired_weight == 0 else after.desired_weight


def _is_newly_blocked(before: core_status.RolloutStatus, after: core_status.RolloutStatus) -> bool:
    if after.phase in _BLOCKED_PHASES and before.phase is not after.phase:
        return True
    return after.reason == _ROLLBACK_BLOCKED and before.reason != _ROLLBACK_BLOCKED
