"""Manual commands from people: promote, abort, pause, resume.

Layer 1 (pure logic). A command stays where the CLI wrote it (an annotation or a field of the rollout
object) until it is replaced, so the engine hands it to every pass. The status records the issue time
of the last command handled, and the core ignores commands issued at or before that time.
"""

from __future__ import annotations

import datetime
import enum

import pydantic


class CommandKind(enum.StrEnum):
    PROMOTE = "promote"  # skip the remaining steps and promote the canary now
    ABORT = "abort"  # roll back now and mark the rollout Aborted
    PAUSE = "pause"  # freeze the weights at the current step
    RESUME = (
        "resume"  # continue a paused rollout with a fresh step deadline, or retry an aborted or failed one
    )


class Command(pydantic.BaseModel):
    """One manual command. `revision`, when set, limits it to the rollout of that revision."""

    model_config = pydantic.ConfigDict(frozen=True)

    kind: CommandKind
    issued_at: datetime.datetime
    issued_by: str = ""
    revision: str | None = None
