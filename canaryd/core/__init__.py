"""The decision core: pure rollout decisions, from spec, status, observations, commands and `now`.

Layer 1 (pure logic): no I/O, no clock, no Kubernetes or HTTP client. The engines (the Kubernetes
controller and the standalone mode) observe the world, call `decide`, apply the returned actions and
store the returned status. Modules: `phase` (Phase), `status` (RolloutStatus), `observed`
(Observations), `commands` (manual commands), `actions` (what to do), `reasons` (reason constants and
message templates) and `transition` (`decide`), which composes `bootstrap`, `manual`, `steps`,
`promotion` and `rollback`.
"""

from canaryd.core.actions import (
    Action,
    CopyTemplateToPrimary,
    EventType,
    RecordEvent,
    RestorePrimary,
    ScaleBaseline,
    ScaleCanary,
    SetWeight,
)
from canaryd.core.commands import Command, CommandKind
from canaryd.core.observed import AnalysisResult, Observations, WorkloadState
from canaryd.core.phase import Phase
from canaryd.core.status import Condition, RolloutStatus, StepRecord
from canaryd.core.transition import Decision, decide

__all__ = [
    "Action",
    "AnalysisResult",
    "Command",
    "CommandKind",
    "Condition",
    "CopyTemplateToPrimary",
    "Decision",
    "EventType",
    "Observations",
    "Phase",
    "RecordEvent",
    "RestorePrimary",
    "RolloutStatus",
    "ScaleBaseline",
    "ScaleCanary",
    "SetWeight",
    "StepRecord",
    "WorkloadState",
    "decide",
]
