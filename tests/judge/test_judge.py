"""The judge's verdicts on hand-built comparisons: what passes, what fails, what never passes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from canaryd import judge, observations, verdicts

BOUNDS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf])
DEFAULTS = judge.JudgeSettings()
NO_WARMUP = judge.JudgeSettings(warmup_seconds=0)
# The default latency tolerance allows for canary pods that are slower by chance. With 50%, the
# judge fails a canary whose requests are all 20% slower.
TIGHT_LATENCY = judge.JudgeSettings(latency=judge.Tolerance(relative=0.5, absolute=0.001))
PASS, FAIL = verdicts.Verdict.PASS, verdicts.Verdict.FAIL
INCONCLUSIVE, NO_DATA = verdicts.Verdict.INCONCLUSIVE, verdicts.Verdict.NO_DATA


def expected_buckets(requests: np.ndarray, *, latency_scale: float) -> np.ndarray:
    """Cumulative bucket counts of log-normal latencies (median 50 ms, sigma 0.6), without noise."""
    shares = stats.lognorm.cdf(BOUNDS, 0.6, scale=0.05 * latency_scale)
    return np.outer(requests, shares)


def make_arm(*, requests, error_ratio, latency_scale=1.0, count=40) -> observations.ArmSeries:
    requests = np.broadcast_to(np.asarray(requests, dtype=float), (count,)).copy()
    errors = np.broadcast_to(np.asarray(error_ratio, dtype=float), (count,)) * requests
    return observations.ArmSeries(
        interval_ends=np.arange(count) * 15.0,
        requests=requests,
        errors=errors,
        bucket_bounds=BOUNDS,
        bucket_counts=expected_buckets(requests, latency_scale=latency_scale),
    )


def make_comparison(*, canary, control, share=0.1, ready=True) -> observations.Comparison:
    count = canary.interval_count
    return observations.Comparison(
        canary=canary,
        control=control,
        canary_share=np.broadcast_to(np.asarray(share, dtype=float), (count,)).copy(),
        canary_ready=np.broadcast_to(np.asarray(ready, dtype=bool), (count,)).copy(),
    )


def healthy_control(count=40) -> observations.ArmSeries:
    return make_arm(requests=9000, error_ratio=0.005, count=count)


def not_ready_first_half() -> observations.Comparison:
    # The first 20 intervals hold a terrible canary, but the canary was not Ready then.
    error_ratio = np.where(np.arange(40) < 20, 0.5, 0.005)
    ready = np.arange(40) >= 20
    canary = make_arm(requests=1000, error_ratio=error_ratio)
    return make_comparison(canary=canary, control=healthy_control(), ready=ready)


def control_without_errors() -> observations.Comparison:
    # 10 intervals: the control never failed, the canary failed in 3 of them.
    canary_errors = np.array([0, 2, 0, 0, 1, 0, 0, 3, 0, 0], dtype=float)
    canary = make_arm(requests=100, error_ratio=canary_errors / 100, count=10)
    control = make_arm(requests=900, error_ratio=0.0, count=10)
    return make_comparison(canary=canary, control=control)


def nan_everywhere() -> observations.Comparison:
    canary = make_arm(requests=math.nan, error_ratio=math.nan)
    control = make_arm(requests=math.nan, error_ratio=math.nan)
    return make_comparison(canary=canary, control=control)


CASES = {
    "good canary passes": (
        make_comparison(canary=make_arm(requests=1000, error_ratio=0.005), control=healthy_control()),
        PASS,
        DEFAULTS,
    ),
    "slightly better canary passes": (
        make_comparison(canary=make_arm(requests=1000, error_ratio=0.004), control=healthy_control()),
        PASS,
        DEFAULTS,
    ),
    "+1pp errors fails": (
        make_comparison(canary=make_arm(requests=1000, error_ratio=0.015), control=healthy_control()),
        FAIL,
        DEFAULTS,
    ),
    "+20% p99 fails at 50% tolerance": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.005, latency_scale=1.2), control=healthy_control()
        ),
        FAIL,
        TIGHT_LATENCY,
    ),
    "+20% p99 within default tolerance": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.005, latency_scale=1.2), control=healthy_control()
        ),
        PASS,
        DEFAULTS,
    ),
    "+50% p99 fails": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.005, latency_scale=1.5), control=healthy_control()
        ),
        FAIL,
        DEFAULTS,
    ),
    "no data": (
        observations.Comparison(
            canary=observations.ArmSeries.empty(),
            control=observations.ArmSeries.empty(),
            canary_share=np.zeros(0),
            canary_ready=np.zeros(0, dtype=bool),
        ),
        NO_DATA,
        DEFAULTS,
    ),
    "NaN counts": (nan_everywhere(), NO_DATA, DEFAULTS),
    "zero canary traffic": (
        make_comparison(canary=make_arm(requests=0, error_ratio=0.0), control=healthy_control()),
        NO_DATA,
        DEFAULTS,
    ),
    "zero canary share": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.005), control=healthy_control(), share=0.0
        ),
        NO_DATA,
        DEFAULTS,
    ),
    "all-zero control vs canary errors": (control_without_errors(), INCONCLUSIVE, DEFAULTS),
    "below minimum sample": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.5, count=2), control=healthy_control(count=2)
        ),
        INCONCLUSIVE,
        NO_WARMUP,
    ),
    "warm-up only": (
        make_comparison(
            canary=make_arm(requests=1000, error_ratio=0.5, count=8), control=healthy_control(count=8)
        ),
        NO_DATA,
        DEFAULTS,
    ),
    "not-ready intervals ignored": (not_ready_first_half(), PASS, DEFAULTS),
}


@pytest.mark.parametrize(("comparison", "expected", "settings"), CASES.values(), ids=CASES.keys())
def test_judge_verdict(comparison, expected, settings):
    judgement = judge.judge(comparison, settings=settings)

    assert judgement.verdict is expected, judgement


def test_not_ready_intervals_not_counted():
    judgement = judge.judge(not_ready_first_half(), settings=NO_WARMUP)

    assert judgement.intervals_used == 20
    assert judgement.metrics[0].canary_samples == 20 * 1000


def test_warmup_skips_first_two_minutes():
    # Ready from interval 20 on (ends 300 s to 585 s), so the intervals ending before 420 s are skipped.
    judgement = judge.judge(not_ready_first_half(), settings=DEFAULTS)

    assert judgement.intervals_used == 12
    assert judgement.metrics[0].canary_samples == 12 * 1000


def test_warmup_errors_do_not_fail_canary():
    error_ratio = np.where(np.arange(40) < 8, 0.05, 0.005)
    comparison = make_comparison(
        canary=make_arm(requests=1000, error_ratio=error_ratio), control=healthy_control()
    )

    assert judge.judge(comparison, settings=DEFAULTS).verdict is PASS
    assert judge.judge(comparison, settings=NO_WARMUP).verdict is FAIL


def test_all_zero_control_never_passes_long_run():
    comparison = control_without_errors()
    long = make_comparison(
        canary=make_arm(requests=100, error_ratio=np.tile(comparison.canary.errors / 100, 10), count=100),
        control=make_arm(requests=900, error_ratio=0.0, count=100),
    )

    judgement = judge.judge(long, settings=judge.JudgeSettings())

    assert judgement.metrics[0].verdict is not PASS
    assert judgement.verdict is not PASS


def test_failing_result_carries_numbers():
    comparison = CASES["+1pp errors fails"][0]

    result = judge.judge(comparison, settings=NO_WARMUP).metrics[0]

    assert result.metric == judge.ERROR_RATIO
    assert result.canary_value == pytest.approx(0.015)
    assert result.control_value == pytest.approx(0.005)
    assert result.effect == pytest.approx(0.01)
    assert result.tolerance == pytest.approx(0.005 * 0.4 + 0.003)
    assert result.evidence >= result.threshold == pytest.approx(100)
    assert result.canary_samples == 40 * 1000


def test_latency_result_names_bucket_bound():
    comparison = CASES["+50% p99 fails"][0]

    result = judge.judge(comparison, settings=DEFAULTS).metrics[1]

    assert result.metric == judge.LATENCY
    assert "0.25 s" in result.reason


def test_zero_events_pass_after_sufficient_sample():
    comparison = make_comparison(
        canary=make_arm(requests=1000, error_ratio=0.0), control=make_arm(requests=9000, error_ratio=0.0)
    )

    result = judge.judge(comparison, settings=judge.JudgeSettings()).metrics[0]

    # 40,000 canary requests without an error rule out an error ratio of 0.25%.
    assert result.verdict is PASS


def without_histograms(comparison: observations.Comparison) -> observations.Comparison:
    def strip(arm: observations.ArmSeries) -> observations.ArmSeries:
        return observations.ArmSeries(
            interval_ends=arm.interval_ends, requests=arm.requests, errors=arm.errors
        )

    return observations.Comparison(
        canary=strip(comparison.canary),
        control=strip(comparison.control),
        canary_share=comparison.canary_share,
        canary_ready=comparison.canary_ready,
    )


def test_errors_alone_pass_without_histograms():
    judgement = judge.judge(without_histograms(CASES["good canary passes"][0]), settings=DEFAULTS)

    assert judgement.verdict is PASS
    assert [result.metric for result in judgement.metrics] == [judge.ERROR_RATIO]


def test_histogram_on_one_arm_never_passes():
    good = CASES["good canary passes"][0]
    one_sided = observations.Comparison(
        canary=without_histograms(good).canary,
        control=good.control,
        canary_share=good.canary_share,
        canary_ready=good.canary_ready,
    )

    judgement = judge.judge(one_sided, settings=DEFAULTS)

    assert judgement.metrics[1].verdict is NO_DATA
    assert judgement.verdict is INCONCLUSIVE


def test_noncritical_failure_does_not_fail_canary():
    settings = judge.JudgeSettings(latency=judge.Tolerance(relative=0.5, absolute=0.001, critical=False))

    judgement = judge.judge(CASES["+50% p99 fails"][0], settings=settings)

    assert judgement.metrics[1].verdict is FAIL
    assert judgement.verdict is INCONCLUSIVE


counts_strategy = st.lists(
    st.one_of(st.floats(min_value=0, max_value=1e6), st.just(math.nan), st.just(math.inf)),
    min_size=1,
    max_size=30,
)


def comparison_from(values, *, canary_requests, share, ready, histograms=True):
    count = len(values)
    array = np.asarray(values, dtype=float)
    requests = np.asarray(canary_requests(array), dtype=float)
    canary = observations.ArmSeries(
        interval_ends=np.arange(count) * 15.0,
        requests=requests,
        errors=array * 0.01,
        bucket_bounds=BOUNDS,
        bucket_counts=expected_buckets(requests, latency_scale=1.0),
    )
    control = make_arm(requests=9000, error_ratio=0.005, count=count)
    comparison = observations.Comparison(
        canary=canary, control=control, canary_share=np.full(count, share), canary_ready=np.full(count, ready)
    )
    return comparison if histograms else without_histograms(comparison)


NO_DATA_SHAPES = {
    "canary never ready": dict(canary_requests=lambda values: values, share=0.1, ready=False),
    "zero share": dict(canary_requests=lambda values: values, share=0.0, ready=True),
    "NaN share": dict(canary_requests=lambda values: values, share=math.nan, ready=True),
    "zero canary requests": dict(canary_requests=np.zeros_like, share=0.1, ready=True),
    "NaN canary requests": dict(
        canary_requests=lambda values: np.full_like(values, math.nan), share=0.1, ready=True
    ),
    "zero canary requests, no histograms": dict(
        canary_requests=np.zeros_like, share=0.1, ready=True, histograms=False
    ),
    "canary never ready, no histograms": dict(
        canary_requests=lambda values: values, share=0.1, ready=False, histograms=False
    ),
}


@pytest.mark.parametrize("shape", NO_DATA_SHAPES.values(), ids=NO_DATA_SHAPES.keys())
@settings(max_examples=40, deadline=None)
@given(values=counts_strategy)
def test_no_data_never_passes(shape, values):
    comparison = comparison_from(values, **shape)

    judgement = judge.judge(comparison, settings=judge.JudgeSettings())

    assert judgement.verdict is not PASS
    assert all(result.verdict is not PASS for result in judgement.metrics)


def late_regression(count: int = 120) -> observations.Comparison:
    # Healthy for 20 minutes, then 2% errors for the last 10 minutes.
    error_ratio = np.where(np.arange(count) < 80, 0.005, 0.02)
    canary = make_arm(requests=300, error_ratio=error_ratio, count=count)
    return make_comparison(canary=canary, control=make_arm(requests=2700, error_ratio=0.005, count=count))


def test_late_regression_fails_with_restarts():
    without_restarts = judge.JudgeSettings(restart_seconds=1e9)

    assert judge.judge(late_regression(), settings=DEFAULTS).verdict is FAIL
    assert judge.judge(late_regression(), settings=without_restarts).verdict is not FAIL


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("below minimum sample", False, id="below-minimum-sample"),
        pytest.param("warm-up only", False, id="no-data"),
        pytest.param("+20% p99 within default tolerance", True, id="pass"),
        pytest.param("+50% p99 fails", True, id="fail"),
    ],
)
def test_results_tell_whether_minimum_sample_reached(case, expected):
    comparison, _, settings = CASES[case]

    judgement = judge.judge(comparison, settings=settings)

    assert judgement.metrics
    for result in judgement.metrics:
        assert result.has_minimum_sample is expected, result
