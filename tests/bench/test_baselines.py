"""The re-implemented methods of Flagger, Argo Rollouts and Kayenta, the oracle and the rollout policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from canaryd.bench import baselines, decisions, simulator

INTERVALS = simulator.interval_count()
SCHEDULE = simulator.schedule_intervals()
BOUNDS = simulator.BUCKET_BOUNDS


def buckets_for(requests: np.ndarray, *, latency_scale: float = 1.0) -> np.ndarray:
    shares = stats.lognorm.cdf(
        BOUNDS, simulator.LATENCY_SIGMA, scale=simulator.LATENCY_MEDIAN_SECONDS * latency_scale
    )
    return np.round(requests[..., None] * shares)


def make_traces(*, canary_requests=60.0, canary_error_ratio=0.0, latency_scale=1.0, true_error_ratio=None):
    """Build one run's traces with fixed per-interval counts and a 10 times larger, error-free control."""
    canary_requests = np.broadcast_to(np.asarray(canary_requests, dtype=float), (1, INTERVALS)).copy()
    canary_errors = np.round(canary_requests * canary_error_ratio)
    control_requests = canary_requests * 10
    true_canary = np.full(
        (1, INTERVALS), canary_error_ratio if true_error_ratio is None else true_error_ratio
    )
    return simulator.Traces(
        weights=simulator.step_weights(),
        canary_requests=canary_requests,
        canary_errors=canary_errors,
        canary_buckets=buckets_for(canary_requests, latency_scale=latency_scale),
        control_requests=control_requests,
        control_errors=np.zeros_like(control_requests),
        control_buckets=buckets_for(control_requests),
        canary_error_ratio=true_canary,
        control_error_ratio=np.full((1, INTERVALS), 0.005),
        canary_slow_share=np.full((1, INTERVALS), 0.01),
        control_slow_share=np.full((1, INTERVALS), 0.01),
        canary_bucket_slow_share=np.full((1, INTERVALS), 0.004),
        control_bucket_slow_share=np.full((1, INTERVALS), 0.004),
        request_rate=np.full((1, INTERVALS), 100.0),
        requests=canary_requests + control_requests,
        canary_cdf=np.broadcast_to(shares_below(latency_scale), (1, INTERVALS, len(BOUNDS))),
        control_cdf=np.broadcast_to(shares_below(1.0), (1, INTERVALS, len(BOUNDS))),
    )


def shares_below(latency_scale: float) -> np.ndarray:
    return stats.lognorm.cdf(
        BOUNDS, simulator.LATENCY_SIGMA, scale=simulator.LATENCY_MEDIAN_SECONDS * latency_scale
    )


def test_histogram_quantile_interpolates_like_promql():
    # 100 requests: 50 at or below 0.05 s, 100 at or below 0.1 s, so p75 sits halfway between.
    buckets = np.array([0, 0, 0, 50, 100, 100, 100, 100, 100, 100, 100, 100], dtype=float)

    assert decisions.histogram_quantile(0.75, buckets, BOUNDS) == pytest.approx(0.075)


def test_histogram_quantile_in_inf_bucket_returns_highest_bound():
    buckets = np.array([0] * 11 + [10], dtype=float)

    assert decisions.histogram_quantile(0.99, buckets, BOUNDS) == 10.0


def test_histogram_quantile_without_requests_is_nan():
    assert math.isnan(decisions.histogram_quantile(0.99, np.zeros(12), BOUNDS))


POLICY_CASES = {
    "fail before promotion rolls back": ([5], [], decisions.Outcome.FAILED, 5),
    "no pass needed promotes at schedule end": ([], None, decisions.Outcome.PROMOTED, SCHEDULE - 1),
    "pass during hold promotes": ([], [SCHEDULE + 3], decisions.Outcome.PROMOTED, SCHEDULE + 3),
    "early pass waits for schedule end": ([], [10, SCHEDULE - 1], decisions.Outcome.PROMOTED, SCHEDULE - 1),
    "no pass by hold end is inconclusive": ([], [], decisions.Outcome.INCONCLUSIVE, INTERVALS - 1),
}


@pytest.mark.parametrize(
    ("fails", "passes", "outcome", "decided_at"), POLICY_CASES.values(), ids=POLICY_CASES.keys()
)
def test_rollout_policy(fails, passes, outcome, decided_at):
    fail_looks = np.zeros((1, INTERVALS), dtype=bool)
    fail_looks[0, fails] = True
    pass_looks = None
    if passes is not None:
        pass_looks = np.zeros((1, INTERVALS), dtype=bool)
        pass_looks[0, passes] = True

    decided = decisions.Decisions.from_looks(fail_looks=fail_looks, pass_looks=pass_looks)

    assert decided.outcome[0] == outcome
    assert decided.decided_at[0] == decided_at


def test_flagger_rolls_back_after_five_failed_checks():
    # 2% errors every minute: each check fails, so the fifth minute's last interval decides.
    decided = baselines.decide_flagger(make_traces(canary_error_ratio=0.02))

    assert decided.outcome[0] == decisions.Outcome.FAILED
    assert decided.decided_at[0] == 5 * 4 - 1


def test_flagger_counts_no_data_as_failed():
    decided = baselines.decide_flagger(make_traces(canary_requests=0.0))

    assert decided.outcome[0] == decisions.Outcome.FAILED


def test_flagger_fails_slow_p99():
    decided = baselines.decide_flagger(make_traces(latency_scale=4.0))

    assert decided.outcome[0] == decisions.Outcome.FAILED


def test_flagger_promotes_healthy_canary():
    decided = baselines.decide_flagger(make_traces(canary_error_ratio=0.005))

    assert decided.outcome[0] == decisions.Outcome.PROMOTED


def test_argo_rolls_back_on_third_failed_measurement():
    decided = baselines.decide_argo(make_traces(canary_error_ratio=0.02))

    assert decided.outcome[0] == decisions.Outcome.FAILED
    assert decided.decided_at[0] == 3 * 4 - 1


def test_argo_threshold_scale_widens_limit():
    decided = baselines.decide_argo(make_traces(canary_error_ratio=0.02), threshold_scale=3.0)

    assert decided.outcome[0] == decisions.Outcome.PROMOTED


def test_kayenta_fails_clearly_worse_canary_at_first_interval():
    rng = np.random.default_rng(1)
    traces = make_traces(canary_requests=rng.poisson(600, INTERVALS).astype(float), canary_error_ratio=0.05)

    decided = baselines.decide_kayenta(traces, interval_minutes=10)

    assert decided.outcome[0] == decisions.Outcome.FAILED
    assert decided.decided_at[0] == 10 * 4 - 1


def test_kayenta_60_minutes_decides_only_at_end():
    rng = np.random.default_rng(1)
    traces = make_traces(canary_requests=rng.poisson(600, INTERVALS).astype(float), canary_error_ratio=0.05)

    decided = baselines.decide_kayenta(traces, interval_minutes=60)

    assert decided.decided_at[0] == SCHEDULE - 1


def test_oracle_rejects_bad_canary_quickly():
    traces = make_traces(canary_requests=600.0, canary_error_ratio=0.05)

    decided = baselines.decide_oracle(traces, metric="errors")

    assert decided.outcome[0] == decisions.Outcome.FAILED
    assert decided.decided_at[0] <= 2


def test_oracle_accepts_good_canary():
    traces = make_traces(canary_requests=600.0, canary_error_ratio=0.005, true_error_ratio=0.015)

    decided = baselines.decide_oracle(traces, metric="errors")

    assert decided.outcome[0] == decisions.Outcome.PROMOTED
