"""The phases of a canary rollout, as the decision core moves through them.

Layer 1 (pure logic). The phase is stored in the CanaryRollout status and shown by `canaryd status`;
each member's comment is its meaning for the person reading that output.
"""

from __future__ import annotations

import enum


class Phase(enum.StrEnum):
    """Stage of a Deployment's rollout."""

    IDLE = "Idle"  # no rollout: the primary serves all traffic and the canary is scaled to zero
    INITIALIZING = (
        "Initializing"  # first contact: creating the primary from the Deployment and moving traffic to it
    )
    PROGRESSING = "Progressing"  # walking the steps: waiting for the canary, shifting weight, analysing
    HOLDING = (
        "Holding"  # the step's analysis is inconclusive or has no data; waiting for data or the deadline
    )
    PAUSED = "Paused"  # weights frozen by a person or by the inconclusive policy, until resume or abort
    # The last step passed (and every step, with step-advance evidence): the primary is taking the
    # canary's pod template, then all traffic.
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"  # the primary runs the canary's exact pod template and serves all traffic
    ROLLING_BACK = "RollingBack"  # returning all traffic to the primary on its previous template
    FAILED = "Failed"  # rolled back after a failed or undecided analysis; waits for a new revision
    ABORTED = "Aborted"  # rolled back on request; waits for a new revision or a resume (which retries)
    INVALID = "Invalid"  # the annotations are invalid: nothing is changed until they are fixed


# Phases in which a rollout owns a traffic split and must be driven to an end.
ACTIVE_PHASES = frozenset(
    {Phase.PROGRESSING, Phase.HOLDING, Phase.PAUSED, Phase.PROMOTING, Phase.ROLLING_BACK}
)

# Phases that end a rollout attempt; the next change of the pod template starts a new one.
SETTLED_PHASES = frozenset({Phase.IDLE, Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED})

# Phases in which the current step's analysis counts.
ANALYSING_PHASES = frozenset({Phase.PROGRESSING, Phase.HOLDING})
