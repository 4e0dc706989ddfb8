"""Promotion decisions: the primary takes the canary's pod template, then all traffic.

Layer 1 (pure logic). Success is declared only when the primary runs the canary's exact template (same
revision hash) on every replica and the router reports all traffic on it. Step weights play no part,
so a schedule such as 3,7,33 promotes the same way as 25,50.
"""

from __future__ import annotations

from canaryd.core import actions, context, reasons, rollback
from canaryd.core import phase as phases
from canaryd.spec import values


def start(current: context.PassContext, reason: reasons.Reason, **params: object) -> None:
    """Enter Promoting: copy the canary's template to the primary.

    Traffic stays where it is until the primary is Ready on the new template.
    """
    revision = current.status.revision
    assert revision is not None, "a rollout in progress always has a revision"
    current.update(step_index=current.step_count, resume_phase=None)
    current.act(actions.CopyTemplateToPrimary(revision=revision))
    current.move(phases.Phase.PROMOTING, reason, **{**current.step_params(), **params})


def drive(current: context.PassContext) -> None:
    """Advance a promotion: wait for the primary, shift all traffic to it, then scale the canary to zero."""
    revision = current.status.revision
    primary = current.observations.primary

    # The primary rolls out the new template itself; until every replica runs it, the split stays.
    if primary is None or primary.revision != revision or not primary.is_ready:
        if _is_past_deadline(current):
            rollback.start(
                current,
                reasons.PROMOTION_DEADLINE_EXCEEDED,
                deadline=values.format_duration(current.spec.analysis.deadline),
            )
        return

    if context.route(current, canary=0):
        current.move(phases.Phase.PROMOTING, reasons.SHIFTING_TO_PRIMARY, revision=revision)
        return
    if not (current.status.desired_weight == 0 and current.status.actual_weight == 0):
        return

    current.act(actions.ScaleCanary(replicas=0))
    if current.has_baseline:
        current.act(actions.ScaleBaseline(replicas=0))
    current.update(stable_revision=revision)
    current.move(phases.Phase.SUCCEEDED, reasons.PROMOTED, revision=revision)


def _is_past_deadline(current: context.PassContext) -> bool:
    started = current.status.phase_changed_at
    return started is not None and current.now - started >= current.spec.analysis.deadline
