"""Actions that the decision core requests from the adapters, as plain data.

Layer 1 (pure logic). The engine applies a Decision's actions in order and writes the new status only
after all of them succeeded. A pass whose action failed is therefore decided again from the old status,
and the same actions come out. Every action must therefore be safe to apply twice.
"""

from __future__ import annotations

import dataclasses
import enum


@dataclasses.dataclass(frozen=True, kw_only=True)
class SetWeight:
    """Route `canary` percent to the canary, `baseline` percent to the baseline, the rest to the primary."""

    canary: int
    baseline: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.canary <= 100 and 0 <= self.baseline <= 100 and self.canary + self.baseline <= 100):
            raise ValueError(
                f"SetWeight(canary={self.canary}, baseline={self.baseline}) does not leave a primary weight "
                "between 0 and 100"
            )

    @property
    def primary(self) -> int:
        return 100 - self.canary - self.baseline


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScaleCanary:
    """Set the canary Deployment's replicas (0 between rollouts)."""

    replicas: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScaleBaseline:
    """Set the baseline's replicas; the adapter creates the baseline from the primary's template if needed."""

    replicas: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class CopyTemplateToPrimary:
    """Give the primary the canary's current pod template, whose revision hash is `revision`.

    Also used once at bootstrap, when the primary does not exist yet: the adapter then creates it from
    the Deployment, with the Deployment's replicas.
    """

    revision: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestorePrimary:
    """Return the primary to the pod template of `revision`, the one it ran before a promotion began.

    The adapter keeps that template (for example the primary's previous ReplicaSet) until the rollout ends.
    """

    revision: str


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordEvent:
    """Post a Kubernetes Event (and a log line) on the Deployment and the rollout object."""

    type: EventType
    reason: str
    message: str


Action = SetWeight | ScaleCanary | ScaleBaseline | CopyTemplateToPrimary | RestorePrimary | RecordEvent
