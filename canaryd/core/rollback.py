"""Rollback decisions: return all traffic to the primary on its stable revision, then scale the canary away.

Layer 1 (pure logic). A rollback can start in any phase of a rollout, and what it must undo depends on
that phase. Before promotion only the weights changed. During promotion the primary's pod template
changed too, so the primary is first returned to the stable revision.

Traffic moves to the primary only once it has Ready pods of that revision. The canary is scaled to zero
only once the primary is fully Ready and the router reports all traffic on it, so the only healthy pods
are never scaled away.
"""

from __future__ import annotations

from canaryd.core import actions, context, reasons
from canaryd.core import phase as phases


def start(
    current: context.PassContext, reason: reasons.Reason, *, is_aborted: bool = False, **params: object
) -> None:
    """Enter RollingBack for `reason`, restoring the primary's template if the phase may have changed it."""
    stable = current.status.stable_revision
    primary = current.observations.primary
    was_promoting = current.status.phase is phases.Phase.PROMOTING
    primary_differs = primary is not None and primary.revision != stable

    if stable is not None and (was_promoting or primary_differs):
        current.act(actions.RestorePrimary(revision=stable))
    current.update(is_aborted=is_aborted, resume_phase=None)
    current.move(phases.Phase.ROLLING_BACK, reason, **{**current.step_params(), **params})

    # Traffic leaves a failed canary in the same pass, not one reconcile later.
    drive(current)


def drive(current: context.PassContext) -> None:
    """Advance a rollback in progress: weight to the primary when it can serve, then the canary to zero."""
    stable = current.status.stable_revision
    primary = current.observations.primary

    # Until the primary has Ready pods of the stable revision, moving traffic to it would drop requests
    # or send them to the template being rolled back.
    if primary is None or primary.revision != stable or not primary.has_ready_pods:
        current.move(phases.Phase.ROLLING_BACK, reasons.ROLLBACK_BLOCKED, stable=stable)
        return
    context.route(current, canary=0)

    # Scaling the canary away is safe only when the primary can carry everything and already does.
    if not (primary.is_ready and current.status.desired_weight == 0 and current.status.actual_weight == 0):
        if current.status.reason == reasons.ROLLBACK_BLOCKED.name:
            current.move(phases.Phase.ROLLING_BACK, reasons.ROLLING_BACK, stable=stable)
        return
    _scale_rollout_workloads_to_zero(current)
    if current.status.is_aborted:
        current.move(phases.Phase.ABORTED, reasons.ABORTED, revision=current.status.revision, stable=stable)
    else:
        current.move(
            phases.Phase.FAILED, reasons.ROLLED_BACK, revision=current.status.revision, stable=stable
        )


def _scale_rollout_workloads_to_zero(current: context.PassContext) -> None:
    current.act(actions.ScaleCanary(replicas=0))
    if current.has_baseline:
        current.act(actions.ScaleBaseline(replicas=0))
