"""The content of a notification: one rollout event with the numbers behind it.

Part of `canaryd.notify` (layer 2). The controller fills a `Notification`; `payloads` renders it
for each receiver format. It imports only `canaryd.verdicts`, so a notification carries the same
per-metric results that the `CanaryRollout` status records.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from canaryd import verdicts


class NotificationKind(enum.StrEnum):
    """The rollout events that canaryd sends notifications for."""

    STARTED = "started"  # a new revision began its canary steps
    STEP_PASSED = "step_passed"  # a step's analysis passed and traffic moves to the next weight
    PROMOTED = "promoted"  # the canary became the primary and serves all traffic
    ROLLED_BACK = "rolled_back"  # traffic went back to the primary because the canary failed or was aborted
    BLOCKED = "blocked"  # the rollout cannot proceed without a person (invalid spec, missing data, paused)


@dataclasses.dataclass(frozen=True)
class Notification:
    """One rollout event, addressed by namespace, Deployment and `CanaryRollout` name.

    `step` counts from 1 and is None before the first step; `weight` is the canary's traffic share
    in percent at the time of the event. `judgement` is the analysis behind a step, promotion or
    rollback, and None for events that no analysis caused.
    """

    kind: NotificationKind
    namespace: str
    deployment: str
    rollout: str
    revision: str
    occurred_at: datetime.datetime
    reason: str = ""
    step: int | None = None
    step_count: int | None = None
    weight: int | None = None
    judgement: verdicts.Judgement | None = None

    @property
    def summary(self) -> str:
        """One line for people, such as `shop/web rolled back at step 2/3 (5%): error ratio failed`."""
        where = f"{self.namespace}/{self.deployment}"
        text = f"{where} {_KIND_PHRASES[self.kind]}"
        if self.step is not None:
            text += f" at step {self.step}"
            if self.step_count is not None:
                text += f"/{self.step_count}"
        if self.weight is not None:
            text += f" ({self.weight}%)"
        if self.reason:
            text += f": {self.reason}"
        return text


_KIND_PHRASES: dict[NotificationKind, str] = {
    NotificationKind.STARTED: "started a canary rollout",
    NotificationKind.STEP_PASSED: "passed a canary step",
    NotificationKind.PROMOTED: "promoted the canary",
    NotificationKind.ROLLED_BACK: "rolled back",
    NotificationKind.BLOCKED: "is blocked",
}
