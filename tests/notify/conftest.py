from __future__ import annotations

import datetime

import pytest

from canaryd import verdicts
from canaryd.notify import notification


@pytest.fixture
def rolled_back() -> notification.Notification:
    """A rollback at step 2 of 3, caused by a failing error ratio."""
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.FAIL,
        reason="error_ratio failed",
        intervals_used=12,
        metrics=(
            verdicts.MetricResult(
                metric="error_ratio",
                verdict=verdicts.Verdict.FAIL,
                canary_value=0.041,
                control_value=0.002,
                effect=0.039,
                tolerance=0.005,
                canary_samples=812,
                control_samples=15_230,
                reason="canary error ratio 4.1% is 3.9 points above control, beyond the 0.5-point tolerance",
            ),
            verdicts.MetricResult(
                metric="latency",
                verdict=verdicts.Verdict.PASS,
                canary_value=0.02,
                control_value=0.019,
                effect=0.001,
                tolerance=0.05,
                canary_samples=812,
                control_samples=15_230,
            ),
        ),
    )
    return notification.Notification(
        kind=notification.NotificationKind.ROLLED_BACK,
        namespace="shop",
        deployment="web",
        rollout="web-7f9c-2",
        revision="7f9c",
        occurred_at=datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.UTC),
        reason="error_ratio failed: <4.1% vs 0.2%>",
        step=2,
        step_count=3,
        weight=5,
        judgement=judgement,
    )
