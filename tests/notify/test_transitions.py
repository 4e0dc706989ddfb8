"""Which notifications a change of rollout status calls for."""

from __future__ import annotations

import datetime

import pytest

from canaryd import verdicts
from canaryd.core import phase as phases
from canaryd.core import status as core_status
from canaryd.notify import notification, transitions

Phase = phases.Phase
Kind = notification.NotificationKind
NOW = datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.UTC)


def judgement(verdict: verdicts.Verdict) -> verdicts.Judgement:
    result = verdicts.MetricResult(
        metric="error_ratio", verdict=verdict, canary_samples=500, control_samples=9000
    )
    return verdicts.Judgement(verdict=verdict, metrics=(result,), reason=f"{verdict.value} on error_ratio")


def step(index: int, weight: int, verdict: verdicts.Verdict | None = None) -> core_status.StepRecord:
    latest = judgement(verdict or verdicts.Verdict.INCONCLUSIVE)
    return core_status.StepRecord(
        index=index, weight=weight, started_at=NOW, verdict=verdict, judgement=latest
    )


def status(
    phase: Phase, *steps: core_status.StepRecord, attempt: int = 1, **fields: object
) -> core_status.RolloutStatus:
    weight = steps[-1].weight if steps else 0
    values: dict[str, object] = {
        "phase": phase, "revision": "7f9c", "stable_revision": "3a1b", "attempt": attempt, "steps": steps,
        "step_index": steps[-1].index if steps else 0, "desired_weight": weight, "message": f"now {phase}",
    }  # fmt: skip
    values.update(fields)
    return core_status.RolloutStatus.model_validate(values)


PASS = verdicts.Verdict.PASS
FAIL = verdicts.Verdict.FAIL
IDLE = core_status.RolloutStatus(phase=Phase.IDLE, revision="3a1b", stable_revision="3a1b", attempt=0)


def kinds(before: core_status.RolloutStatus, after: core_status.RolloutStatus) -> list[Kind]:
    found = transitions.notifications_for(
        before=before,
        after=after,
        namespace="shop",
        deployment="web",
        rollout="web-1",
        step_count=2,
        occurred_at=NOW,
    )
    return [message.kind for message in found]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (IDLE, status(Phase.PROGRESSING, step(0, 1)), [Kind.STARTED]),
        (status(Phase.PROGRESSING, step(0, 1)), status(Phase.PROGRESSING, step(0, 1)), []),
        (status(Phase.PROGRESSING, step(0, 1)), status(Phase.HOLDING, step(0, 1)), []),
        (
            status(Phase.HOLDING, step(0, 1)),
            status(Phase.PROGRESSING, step(0, 1, PASS), step(1, 5)),
            [Kind.STEP_PASSED],
        ),
        (
            status(Phase.PROGRESSING, step(0, 1, PASS), step(1, 5)),
            status(Phase.PROMOTING, step(0, 1, PASS), step(1, 5, PASS)),
            [Kind.STEP_PASSED],
        ),
        (
            status(Phase.PROMOTING, step(0, 1, PASS), step(1, 5, PASS)),
            status(Phase.SUCCEEDED, step(0, 1, PASS), step(1, 5, PASS)),
            [Kind.PROMOTED],
        ),
        (status(Phase.SUCCEEDED, step(0, 1, PASS)), status(Phase.SUCCEEDED, step(0, 1, PASS)), []),
        (
            status(Phase.PROGRESSING, step(0, 1, PASS), step(1, 5)),
            status(Phase.ROLLING_BACK, step(0, 1, PASS), step(1, 5, FAIL), desired_weight=0),
            [Kind.ROLLED_BACK],
        ),
        (
            status(Phase.ROLLING_BACK, step(0, 1, FAIL), desired_weight=0),
            status(Phase.FAILED, step(0, 1, FAIL), desired_weight=0),
            [],
        ),
        (status(Phase.HOLDING, step(0, 1)), status(Phase.PAUSED, step(0, 1)), [Kind.BLOCKED]),
        (status(Phase.PAUSED, step(0, 1)), status(Phase.PAUSED, step(0, 1)), []),
        (status(Phase.PROGRESSING, step(0, 1)), status(Phase.INVALID, step(0, 1)), [Kind.BLOCKED]),
        (
            status(Phase.FAILED, step(0, 1, FAIL)),
            status(Phase.ROLLING_BACK, step(0, 1, FAIL), reason="RollbackBlocked"),
            [Kind.BLOCKED],
        ),
        (
            status(Phase.HOLDING, step(0, 1, PASS), step(1, 5)),
            status(Phase.PROGRESSING, step(0, 1), attempt=2),
            [Kind.STARTED],
        ),
        (
            status(Phase.FAILED, step(0, 1, FAIL)),
            status(Phase.PROGRESSING, step(0, 1), attempt=2),
            [Kind.STARTED],
        ),
    ],
    ids=[
        "rollout-started",
        "no-change",
        "holding-is-quiet",
        "step-passed",
        "last-step-passed",
        "promoted",
        "stays-succeeded",
        "rollback-started",
        "rollback-finished-is-quiet",
        "paused",
        "stays-paused",
        "annotations-invalid",
        "rollback-blocked",
        "revision-replaced",
        "retry",
    ],
)
def test_notifications_for_status_change(
    before: core_status.RolloutStatus, after: core_status.RolloutStatus, expected: list[Kind]
) -> None:
    assert kinds(before, after) == expected


def test_rollback_names_the_failing_weight_and_evidence() -> None:
    before = status(Phase.HOLDING, step(0, 1, PASS), step(1, 5))
    after = status(Phase.ROLLING_BACK, step(0, 1, PASS), step(1, 5, FAIL), desired_weight=0)

    [rollback] = transitions.notifications_for(
        before=before,
        after=after,
        namespace="shop",
        deployment="web",
        rollout="web-1",
        step_count=2,
        occurred_at=NOW,
    )

    assert rollback.weight == 5
    assert rollback.step == 2
    assert rollback.judgement is not None
    assert rollback.judgement.verdict is FAIL
    assert rollback.reason == "now RollingBack"


def test_step_passed_carries_its_own_judgement() -> None:
    before = status(Phase.HOLDING, step(0, 1))
    after = status(Phase.PROGRESSING, step(0, 1, PASS), step(1, 5))

    [passed] = transitions.notifications_for(
        before=before,
        after=after,
        namespace="shop",
        deployment="web",
        rollout="web-1",
        step_count=2,
        occurred_at=NOW,
    )

    assert (passed.step, passed.weight) == (1, 1)
    assert passed.judgement is not None
    assert passed.judgement.verdict is PASS
    assert passed.summary == "shop/web passed a canary step at step 1/2 (1%): pass on error_ratio"
