"""The e-processes keep their error rate under repeated looks and still find real differences."""

from __future__ import annotations

import numpy as np
import pytest

from canaryd.judge import sequential

LOOKS = 40
PATHS = 400


def simulate_paths(*, ratio, seed, canary_requests=200, control_requests=1800, base_rate=0.01):
    """Draw per-interval event counts of both arms for PATHS independent rollouts."""
    rng = np.random.default_rng(seed)
    canary_events = rng.binomial(canary_requests, base_rate * ratio, size=(PATHS, LOOKS)).astype(float)
    control_events = rng.binomial(control_requests, base_rate, size=(PATHS, LOOKS)).astype(float)
    totals = (np.full(LOOKS, float(canary_requests)), np.full(LOOKS, float(control_requests)))
    return canary_events, control_events, totals


def crossing_share(*, ratio, null_ratio, steps, threshold, seed):
    """Share of paths whose mixture e-value exceeds `threshold` at any of the LOOKS looks."""
    canary_events, control_events, (canary_totals, control_totals) = simulate_paths(ratio=ratio, seed=seed)
    crossed = 0
    for path in range(PATHS):
        for look in range(1, LOOKS + 1):
            log_likelihoods = sequential.ratio_log_likelihoods(
                canary_events=canary_events[path, :look],
                canary_totals=canary_totals[:look],
                control_events=control_events[path, :look],
                control_totals=control_totals[:look],
                null_ratio=null_ratio,
                alternative_ratios=null_ratio * steps,
            )
            if sequential.mixture_e_value(log_likelihoods, variance_inflation=1.0) >= threshold:
                crossed += 1
                break
    return crossed / PATHS


# At alpha 0.05 over 400 paths the share may exceed 0.05 by sampling noise of about 0.011.
NULL_CASES = {
    "worse test at the boundary": (sequential.WORSE_RATIO_STEPS, 1.5),
    "no-worse test at the boundary": (sequential.NO_WORSE_RATIO_STEPS, 1.5),
}


@pytest.mark.parametrize(("steps", "null_ratio"), NULL_CASES.values(), ids=NULL_CASES.keys())
def test_error_rate_holds_under_continuous_monitoring(steps, null_ratio):
    share = crossing_share(ratio=null_ratio, null_ratio=null_ratio, steps=steps, threshold=20, seed=7)

    assert share <= 0.05 + 0.025


def test_worse_test_detects_tripled_rate():
    share = crossing_share(
        ratio=4.5, null_ratio=1.5, steps=sequential.WORSE_RATIO_STEPS, threshold=100, seed=8
    )

    assert share >= 0.95


def test_no_worse_test_confirms_equal_rates():
    share = crossing_share(
        ratio=1.0, null_ratio=2.0, steps=sequential.NO_WORSE_RATIO_STEPS, threshold=20, seed=9
    )

    assert share >= 0.9


def test_variance_inflation_shrinks_evidence():
    log_likelihoods = np.array([4.0, 8.0])

    plain = sequential.mixture_e_value(log_likelihoods, variance_inflation=1.0)
    tempered = sequential.mixture_e_value(log_likelihoods, variance_inflation=2.0)

    assert plain == pytest.approx((np.exp(4.0) + np.exp(8.0)) / 2)
    assert tempered == pytest.approx((np.exp(2.0) + np.exp(4.0)) / 2)


def test_evidence_is_capped():
    value = sequential.mixture_e_value(np.array([5000.0]), variance_inflation=1.0)

    assert value == sequential.MAX_REPORTED_EVIDENCE
