"""CanaryRollout objects in the shapes the controller writes, for the CLI tests.

`holding_status` is a rollout of `shop/web` held at step 2 of 2 after step 1 passed. `failed_status`
rolled back at step 2 on the error ratio. Both carry the numbers a person reads in `canaryd status`.
"""

from __future__ import annotations

import datetime
from typing import Any

from canaryd import spec, verdicts
from canaryd.controller import records
from canaryd.core import phase as phases
from canaryd.core import status as core_status

STARTED = datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.UTC)


def minutes(count: float) -> datetime.datetime:
    return STARTED + datetime.timedelta(minutes=count)


def passing_step() -> core_status.StepRecord:
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.PASS,
        intervals_used=8,
        reason="pass over 8 intervals, decided by error_ratio, latency",
        metrics=(
            verdicts.MetricResult(
                metric="error_ratio",
                verdict=verdicts.Verdict.PASS,
                canary_value=0.002,
                control_value=0.0021,
                effect=-0.0001,
                tolerance=0.0035,
                canary_samples=1_210,
                control_samples=118_400,
                reason="no worse than control within the tolerance",
            ),
            verdicts.MetricResult(
                metric="latency",
                verdict=verdicts.Verdict.PASS,
                canary_value=0.009,
                control_value=0.01,
                effect=-0.001,
                tolerance=0.006,
                canary_samples=1_210,
                control_samples=118_400,
            ),
        ),
    )
    return core_status.StepRecord(
        index=0,
        weight=1,
        started_at=STARTED,
        verdict=verdicts.Verdict.PASS,
        decided_at=minutes(4),
        judgement=judgement,
        window_start=minutes(1),
        window_end=minutes(4),
    )


def inconclusive_step() -> core_status.StepRecord:
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.INCONCLUSIVE,
        intervals_used=3,
        reason="inconclusive over 3 intervals, decided by error_ratio",
        metrics=(
            verdicts.MetricResult(
                metric="error_ratio",
                verdict=verdicts.Verdict.INCONCLUSIVE,
                canary_value=0.004,
                control_value=0.002,
                effect=0.002,
                tolerance=0.0035,
                canary_samples=640,
                control_samples=12_100,
                reason="not enough evidence either way yet",
            ),
            verdicts.MetricResult(
                metric="latency",
                verdict=verdicts.Verdict.PASS,
                canary_value=0.01,
                control_value=0.01,
                effect=0.0,
                tolerance=0.006,
                canary_samples=640,
                control_samples=12_100,
            ),
        ),
    )
    return core_status.StepRecord(
        index=1,
        weight=5,
        started_at=minutes(4),
        judgement=judgement,
        window_start=minutes(5),
        window_end=minutes(8),
    )


def failing_step() -> core_status.StepRecord:
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.FAIL,
        intervals_used=4,
        reason="fail over 4 intervals, decided by error_ratio",
        metrics=(
            verdicts.MetricResult(
                metric="error_ratio",
                verdict=verdicts.Verdict.FAIL,
                canary_value=0.041,
                control_value=0.002,
                effect=0.039,
                tolerance=0.0035,
                canary_samples=812,
                control_samples=15_230,
                reason="canary error ratio 4.1% is above control's 0.2% beyond the tolerance",
            ),
        ),
    )
    return core_status.StepRecord(
        index=1,
        weight=5,
        started_at=minutes(4),
        verdict=verdicts.Verdict.FAIL,
        decided_at=minutes(9),
        judgement=judgement,
        window_start=minutes(5),
        window_end=minutes(9),
    )


def holding_status() -> core_status.RolloutStatus:
    return core_status.RolloutStatus(
        phase=phases.Phase.HOLDING,
        revision="7f9c",
        stable_revision="3a1b",
        attempt=2,
        step_index=1,
        desired_weight=5,
        actual_weight=5,
        steps=(passing_step(), inconclusive_step()),
        started_at=STARTED,
        step_started_at=minutes(4),
        analysis_started_at=minutes(5),
        phase_changed_at=minutes(8),
        reason="AnalysisInconclusive",
        message="step 2/2 held at 5%: the analysis is inconclusive; deadline 2026-12-04T03:14:00+00:00",
    )


def failed_status() -> core_status.RolloutStatus:
    return core_status.RolloutStatus(
        phase=phases.Phase.FAILED,
        revision="7f9c",
        stable_revision="3a1b",
        attempt=2,
        step_index=1,
        desired_weight=0,
        actual_weight=0,
        steps=(passing_step(), failing_step()),
        started_at=STARTED,
        step_started_at=minutes(4),
        phase_changed_at=minutes(10),
        reason="RolledBack",
        message="revision 7f9c rolled back: the primary serves all traffic on revision 3a1b",
    )


def deployment(
    *, name: str = "web", namespace: str = "shop", annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """Build a Deployment with canaryd enabled; its uid is made up unless the API server assigns one."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "00000000-0000-0000-0000-000000000000",
            "labels": labels,
            "annotations": annotations or {"canaryd.io/enabled": "true"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "example.invalid/web:2"}]},
            },
        },
    }


def document(
    *,
    status: core_status.RolloutStatus | None,
    owner: dict[str, Any] | None = None,
    camel_case: bool = True,
) -> dict[str, Any]:
    """Build the CanaryRollout the controller writes for `status`, with the controller's own encoders.

    With `camel_case=False`, the status keeps the decision core's snake_case keys instead.
    """
    owner = owner or deployment()
    rollout_spec = spec.parse_annotations(owner["metadata"]["annotations"], source="Deployment")
    body = records.new_rollout(
        deployment=owner,
        status=status or core_status.RolloutStatus(attempt=1),
        spec=rollout_spec,
        stable_template=None,
    )
    if status is not None:
        if camel_case:
            body["status"] = records.encode_status(
                status, spec=rollout_spec, routed_weight=status.actual_weight
            )
        else:
            body["status"] = status.model_dump(mode="json", exclude_none=True)
    return body
