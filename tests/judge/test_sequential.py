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


def crossing_share(*, ratio, relative, test, threshold, seed, restarts=None):
    """Share of paths whose e-value of `test` ("worse" or "no_worse") reaches `threshold` at any look."""
    canary_events, control_events, (canary_totals, control_totals) = simulate_paths(ratio=ratio, seed=seed)
    evidence = sequential.evidence_paths(
        restarts=restarts,
        canary_events=canary_events,
        canary_totals=np.broadcast_to(canary_totals, canary_events.shape),
        control_events=control_events,
        control_totals=np.broadcast_to(control_totals, control_events.shape),
        relative=relative,
        absolute=0.0,
        variance_inflation=1.0,
    )
    return float(np.mean(np.any(getattr(evidence, test) >= threshold, axis=-1)))


# At alpha 0.05 over 400 paths the share may exceed 0.05 by sampling noise of about 0.011.
NULL_CASES = {
    "worse test at the boundary": ("worse", None),
    "worse test restarting every 5 looks": ("worse", np.arange(0, LOOKS, 5)),
    "no-worse test at the boundary": ("no_worse", None),
}


@pytest.mark.parametrize(("test", "restarts"), NULL_CASES.values(), ids=NULL_CASES.keys())
def test_error_rate_holds_under_continuous_monitoring(test, restarts):
    share = crossing_share(ratio=1.5, relative=0.5, test=test, threshold=20, seed=7, restarts=restarts)

    assert share <= 0.05 + 0.025


def test_worse_test_detects_tripled_rate():
    share = crossing_share(ratio=4.5, relative=0.5, test="worse", threshold=100, seed=8)

    assert share >= 0.95


def test_no_worse_test_confirms_equal_rates():
    share = crossing_share(ratio=1.0, relative=1.0, test="no_worse", threshold=20, seed=9)

    assert share >= 0.9


def test_variance_inflation_shrinks_evidence():
    log_likelihoods = np.array([[4.0], [8.0]])

    plain = sequential.mixture_e_values(log_likelihoods, variance_inflation=1.0)[0]
    tempered = sequential.mixture_e_values(log_likelihoods, variance_inflation=2.0)[0]

    assert plain == pytest.approx((np.exp(4.0) + np.exp(8.0)) / 2)
    assert tempered == pytest.approx((np.exp(2.0) + np.exp(4.0)) / 2)


def test_evidence_is_capped():
    value = sequential.mixture_e_values(np.array([[5000.0]]), variance_inflation=1.0)[0]

    assert value == sequential.MAX_REPORTED_EVIDENCE


def test_boundary_uses_control_rate_before_each_interval():
    ratios = sequential.boundary_ratios(
        control_events=np.array([1.0, 9.0, 0.0]),
        control_totals=np.array([99.0, 100.0, 100.0]),
        relative=0.5,
        absolute=0.01,
    )

    # The first interval has no history and uses its own rate; the others use the rate before them.
    assert ratios[0] == pytest.approx(1.5 + 0.01 / (1.5 / 100))
    assert ratios[1] == pytest.approx(1.5 + 0.01 / (1.5 / 100))
    assert ratios[2] == pytest.approx(1.5 + 0.01 / (10.5 / 200))


def test_restart_weights_sum_below_one():
    weights = sequential.restart_weights(1000)

    assert weights[0] == 0.5
    assert weights[1] == 0.25
    assert weights.sum() < 1


def test_restarts_find_late_regression():
    canary_events, control_events, (canary_totals, control_totals) = simulate_paths(ratio=1.0, seed=10)
    late_canary_events, _, _ = simulate_paths(ratio=4.5, seed=11)
    canary_events[:, 30:] = late_canary_events[:, 30:]
    counts = {
        "canary_events": canary_events,
        "canary_totals": np.broadcast_to(canary_totals, canary_events.shape),
        "control_events": control_events,
        "control_totals": np.broadcast_to(control_totals, control_events.shape),
        "relative": 0.5,
        "absolute": 0.0,
        "variance_inflation": 1.0,
    }

    plain = sequential.evidence_paths(**counts).worse[:, -1]
    restarted = sequential.evidence_paths(**counts, restarts=np.arange(0, LOOKS, 10)).worse[:, -1]

    assert np.median(restarted) > np.median(plain)
