"""Bootstrap decisions: create the primary from the Deployment and move all traffic to it, once.

Layer 1 (pure logic). Before canaryd manages a Deployment, the Deployment's own pods serve its traffic.
The primary is created from the same template and takes the traffic only when all its replicas are
Ready. The Deployment is then scaled to zero and becomes the canary template.
"""

from __future__ import annotations

from canaryd.core import actions, context, reasons
from canaryd.core import phase as phases

_ROLLED_BACK = (phases.Phase.FAILED, phases.Phase.ABORTED)


def is_needed(current: context.PassContext) -> bool:
    """True when no primary exists yet and no rollout depends on one, or a bootstrap is under way.

    A primary deleted after a Failed or Aborted rollout is re-created on the stable revision, not from
    the Deployment, whose template is then the rolled-back revision.
    """
    if current.status.phase is phases.Phase.INITIALIZING:
        return True
    return current.observations.primary is None and current.status.phase in phases.SETTLED_PHASES


def drive(current: context.PassContext) -> None:
    """Start the bootstrap, or advance it by one stage."""
    revision = current.observations.canary.revision
    if current.status.phase is not phases.Phase.INITIALIZING:
        if revision is None:
            return
        stable = current.status.stable_revision
        if current.status.phase in _ROLLED_BACK and stable is not None and stable != revision:
            # The Deployment still has the rolled-back template, so the primary comes back on the
            # stable one, recorded with the attempt. The failed revision stays the last one seen, so
            # it does not start another rollout.
            current.update(desired_weight=100, desired_baseline_weight=0)
            current.act(actions.RestorePrimary(revision=stable))
            current.move(phases.Phase.INITIALIZING, reasons.BOOTSTRAPPING, revision=stable)
            return
        current.update(
            revision=revision, stable_revision=revision, desired_weight=100, desired_baseline_weight=0
        )
        current.act(actions.CopyTemplateToPrimary(revision=revision))
        current.move(phases.Phase.INITIALIZING, reasons.BOOTSTRAPPING, revision=revision)
        return

    stable = current.status.stable_revision
    primary = current.observations.primary
    if primary is None or primary.revision != stable or not primary.is_ready:
        current.move(phases.Phase.INITIALIZING, reasons.WAITING_FOR_PRIMARY, revision=stable)
        return
    if context.route(current, canary=0):
        current.move(phases.Phase.INITIALIZING, reasons.SHIFTING_TO_PRIMARY, revision=stable)
        return
    if current.status.actual_weight != 0:
        return

    current.act(actions.ScaleCanary(replicas=0))
    current.move(phases.Phase.IDLE, reasons.INITIALIZED, revision=stable)
