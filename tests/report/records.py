"""A rolled-back rollout record for the report tests: step 1 passed, step 2 failed on errors."""

from __future__ import annotations

from canaryd import verdicts
from canaryd.standalone import record as rollout_record

STARTED_AT = 1_800_000_000.0
ERROR_QUERY = (
    'sum(increase(http_requests_total{namespace="demo",app="demo-canary",code=~"5.."}[5s])) or vector(0)'
)


def arm(*, start: float, requests: float, errors: float, slow: float) -> rollout_record.ArmPoints:
    """Four 5-second intervals; `slow` requests per interval take longer than 0.1 s."""
    ends = [start + 5 * (index + 1) for index in range(4)]
    return rollout_record.ArmPoints(
        interval_ends=ends,
        requests=[requests] * 4,
        errors=[errors] * 4,
        latency_bounds=[0.05, 0.1, 0.5],
        latency_counts=[[requests - slow - 1, requests - slow, requests, requests]] * 4,
    )


def judgement(verdict: verdicts.Verdict, reason: str) -> verdicts.Judgement:
    return verdicts.Judgement(
        verdict=verdict,
        intervals_used=4,
        reason=reason,
        metrics=(
            verdicts.MetricResult(
                metric="error_ratio",
                verdict=verdict,
                canary_value=0.2 if verdict is verdicts.Verdict.FAIL else 0.0,
                control_value=0.0,
                evidence=250.0,
                threshold=100.0,
                canary_samples=80,
                control_samples=400,
                reason=f"error ratio {verdict.value}",
                queries=(ERROR_QUERY,),
            ),
            verdicts.MetricResult(metric="latency", verdict=verdicts.Verdict.PASS, canary_samples=80),
        ),
    )


def rolled_back() -> rollout_record.RolloutRecord:
    return rollout_record.RolloutRecord(
        rollout="demo",
        started_at=STARTED_AT,
        finished_at=STARTED_AT + 60,
        steps=[10, 50],
        outcome=rollout_record.Outcome.ROLLED_BACK,
        reason="step 2 failed: the canary's error ratio is above the control's",
        weights=[
            rollout_record.WeightChange(at=STARTED_AT, weight=10, step=0, reason="step 1"),
            rollout_record.WeightChange(at=STARTED_AT + 25, weight=50, step=1, reason="step 2"),
            rollout_record.WeightChange(at=STARTED_AT + 50, weight=0, step=None, reason="rollback"),
        ],
        analyses=[
            rollout_record.AnalysisRecord(
                at=STARTED_AT + 22,
                step=0,
                weight=10,
                judgement=judgement(verdicts.Verdict.PASS, "pass over 4 intervals"),
                canary=arm(start=STARTED_AT, requests=20, errors=0, slow=0),
                control=arm(start=STARTED_AT, requests=180, errors=0, slow=0),
                canary_requests=80,
                primary_requests=720,
                decision="next step",
            ),
            rollout_record.AnalysisRecord(
                at=STARTED_AT + 48,
                step=1,
                weight=50,
                judgement=judgement(verdicts.Verdict.FAIL, "fail over 4 intervals, decided by error_ratio"),
                canary=arm(start=STARTED_AT + 25, requests=100, errors=20, slow=5),
                control=arm(start=STARTED_AT + 25, requests=100, errors=0, slow=0),
                canary_requests=400,
                primary_requests=400,
                decision="roll back",
            ),
        ],
    )
