"""Read what a report is made of: a standalone record file, or a CanaryRollout object.

Layer 4 tool. Both become a `canaryd.standalone.record.RolloutRecord`. A CanaryRollout exported
with `kubectl get canaryrollout NAME -o yaml` (or `-o json`) carries the decision core's status;
its steps keep the last judgement of each step but not the per-interval numbers, so the report
shows the verdicts and their evidence there without the per-interval plots.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pydantic
import yaml

from canaryd.core import explain
from canaryd.core import phase as phases
from canaryd.core import status as rollout_status
from canaryd.standalone import record as rollout_record

CANARY_ROLLOUT_KIND = "CanaryRollout"

# Phases that end an attempt, and how the report names their outcome.
_OUTCOMES = {
    phases.Phase.SUCCEEDED: rollout_record.Outcome.PROMOTED,
    phases.Phase.FAILED: rollout_record.Outcome.ROLLED_BACK,
    phases.Phase.ABORTED: rollout_record.Outcome.ABORTED,
    phases.Phase.PAUSED: rollout_record.Outcome.PAUSED,
}


# The canary's weight once an attempt ended in these phases: a rollback or an abort returns all
# traffic to the primary. After a promotion the primary runs the new revision, so the chart ends at
# the last step's weight rather than suggest that the new version lost its traffic.
_FINAL_WEIGHTS = {phases.Phase.FAILED: 0, phases.Phase.ABORTED: 0}


class SourceError(Exception):
    """The file is neither a standalone record nor a CanaryRollout object."""


def load(path: pathlib.Path) -> rollout_record.RolloutRecord:
    """Read a standalone record (JSON) or a CanaryRollout object (JSON or YAML) from `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from error
    try:
        document = yaml.safe_load(text)  # YAML is a superset of JSON, so this reads both
    except yaml.YAMLError as error:
        raise SourceError(f"{path} is neither JSON nor YAML: {error}") from error
    if not isinstance(document, dict):
        raise SourceError(f"{path} must hold one object: a canaryd record or a CanaryRollout")

    if document.get("kind") == CANARY_ROLLOUT_KIND:
        return from_canary_rollout(document, path=path)
    if "rollout" in document and "started_at" in document:
        try:
            return rollout_record.RolloutRecord.model_validate_json(json.dumps(document))
        except pydantic.ValidationError as error:
            raise SourceError(f"{path} is not a valid canaryd record: {error}") from error
    kind = document.get("kind")
    raise SourceError(
        f"{path} is neither a canaryd record (written by `canaryd run --standalone` or `canaryd demo`) "
        f"nor a CanaryRollout object (kind: {'missing' if kind is None else repr(kind)}); export one with "
        f"`kubectl get canaryrollout NAME -o yaml`"
    )


def from_canary_rollout(document: dict[str, Any], *, path: pathlib.Path) -> rollout_record.RolloutRecord:
    """Build a record from a CanaryRollout object's metadata, spec and status."""
    name = str(document.get("metadata", {}).get("name", path.stem))
    status_document = _snake_case_keys(document.get("status") or {})
    try:
        status = rollout_status.RolloutStatus.model_validate(status_document)
    except pydantic.ValidationError as error:
        raise SourceError(
            f"CanaryRollout {name} in {path} has a status canaryd cannot read: {error}"
        ) from error
    if status.started_at is None:
        raise SourceError(
            f"CanaryRollout {name} in {path} has not started a rollout yet (status.startedAt is empty)"
        )

    started_at = status.started_at.timestamp()
    finished = status.phase in phases.SETTLED_PHASES
    weights = [
        rollout_record.WeightChange(
            at=step.started_at.timestamp(), weight=step.weight, step=step.index, reason="step"
        )
        for step in status.steps
    ]
    final_weight = _FINAL_WEIGHTS.get(status.phase)
    if final_weight is not None and status.phase_changed_at is not None:
        # The steps record only where traffic moved to; the end of the rollout moved it once more.
        weights.append(
            rollout_record.WeightChange(
                at=status.phase_changed_at.timestamp(), weight=final_weight, step=None, reason=status.message
            )
        )
    analyses = [_analysis(step) for step in status.steps if step.judgement is not None]
    spec_steps = document.get("spec", {}).get("steps")
    steps = [step.weight for step in status.steps] if not isinstance(spec_steps, list) else spec_steps
    return rollout_record.RolloutRecord(
        rollout=name,
        source="kubernetes",
        started_at=started_at,
        finished_at=status.phase_changed_at.timestamp() if finished and status.phase_changed_at else None,
        steps=[int(weight) for weight in steps],
        outcome=_OUTCOMES.get(status.phase),
        reason=status.message,
        cause=explain.rollback_cause(status) or "",
        weights=weights,
        analyses=analyses,
        settings={
            "namespace": document.get("metadata", {}).get("namespace", ""),
            "revision": status.revision,
        },
    )


def _analysis(step: rollout_status.StepRecord) -> rollout_record.AnalysisRecord:
    at = step.decided_at or step.window_end or step.started_at
    return rollout_record.AnalysisRecord(
        at=at.timestamp(),
        step=step.index,
        weight=step.weight,
        judgement=step.judgement,
        decision=step.verdict.value if step.verdict else "undecided",
    )


def _snake_case_keys(value: Any) -> Any:
    # The Kubernetes API writes camelCase field names; the status model uses snake_case.
    if isinstance(value, dict):
        return {_snake_case(key): _snake_case_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snake_case_keys(item) for item in value]
    return value


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
