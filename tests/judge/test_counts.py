"""Which intervals and which latency bound the judge counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from canaryd import observations
from canaryd.judge import counts

BOUNDS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf])
# Cumulative shares of log-normal latencies with median 50 ms and sigma 0.6 at BOUNDS, rounded.
SHARES = np.array([0.0001, 0.0002, 0.1241, 0.5, 0.8759, 0.9963, 0.99995, 1, 1, 1, 1, 1])


def arm(requests, errors, bounds=BOUNDS) -> observations.ArmSeries:
    requests = np.asarray(requests, dtype=float)
    return observations.ArmSeries(
        interval_ends=np.arange(len(requests)) * 15.0,
        requests=requests,
        errors=np.asarray(errors, dtype=float),
        bucket_bounds=bounds,
        bucket_counts=np.outer(requests, SHARES[: len(bounds)]) if len(bounds) == len(SHARES) else None,
    )


def comparison(canary, control, *, share=(0.1, 0.1, 0.1, 0.1), ready=(True, True, True, True)):
    return observations.Comparison(
        canary=canary, control=control, canary_share=np.array(share), canary_ready=np.array(ready)
    )


def test_intervals_need_ready_canary_and_share():
    pair = comparison(
        arm([10] * 4, [0] * 4),
        arm([90] * 4, [0] * 4),
        share=(0.1, 0.0, math.nan, 0.1),
        ready=(True, True, True, False),
    )

    assert counts.counted_intervals(pair).tolist() == [True, False, False, False]


def test_inconsistent_intervals_are_dropped():
    pair = comparison(arm([10, 10, math.nan, 10], [0, 11, 0, -1]), arm([90] * 4, [1] * 4))

    errors = counts.error_counts(pair)

    assert errors.interval_count == 1
    assert errors.dropped == 3


def test_latency_bound_nearest_control_p99():
    pair = comparison(arm([1000] * 4, [0] * 4), arm([9000] * 4, [0] * 4))

    latency = counts.latency_counts(pair, quantile=0.99)

    assert latency.bound == 0.25
    assert latency.control_events == pytest.approx(9000 * (1 - 0.9963))


def test_latency_bound_nearest_control_p95():
    pair = comparison(arm([1000] * 4, [0] * 4), arm([9000] * 4, [0] * 4))

    assert counts.latency_counts(pair, quantile=0.95).bound == 0.25
    assert counts.latency_counts(pair, quantile=0.9).bound == 0.1


def test_latency_needs_same_bounds_on_both_arms():
    other_bounds = BOUNDS * 2
    canary = observations.ArmSeries(
        interval_ends=np.arange(4) * 15.0,
        requests=np.full(4, 10.0),
        errors=np.zeros(4),
        bucket_bounds=other_bounds,
        bucket_counts=np.outer(np.full(4, 10.0), SHARES),
    )
    pair = comparison(canary, arm([90] * 4, [0] * 4))

    assert counts.latency_counts(pair, quantile=0.99) is None
