"""The simulator draws reproducible traces that follow the traffic model."""

from __future__ import annotations

import numpy as np
import pytest

from canaryd.bench import simulator

NO_CHANGE = simulator.Change()


def streams(count: int, seed: int = 3) -> list[np.random.Generator]:
    return [
        np.random.Generator(np.random.PCG64(child)) for child in np.random.SeedSequence(seed).spawn(count)
    ]


def simulate(change=NO_CHANGE, *, runs=200, rate=100.0, control=simulator.ControlKind.PRIMARY, seed=3):
    return simulator.simulate(rate=rate, change=change, control=control, streams=streams(runs, seed))


def test_same_seed_gives_same_traces():
    first, second = simulate(runs=5), simulate(runs=5)

    assert np.array_equal(first.canary_errors, second.canary_errors)
    assert np.array_equal(first.control_buckets, second.control_buckets)


def test_other_seed_gives_other_traces():
    assert not np.array_equal(simulate(runs=5).canary_requests, simulate(runs=5, seed=4).canary_requests)


def test_weights_follow_schedule():
    weights = simulator.step_weights()
    per_step = int(simulator.STEP_SECONDS / simulator.SCRAPE_SECONDS)

    assert weights[0] == 0.01
    assert weights[per_step] == 0.05
    assert weights[4 * per_step] == 0.5
    assert weights[-1] == 0.5  # the hold keeps the last step's weight
    assert len(weights) == simulator.interval_count()


def test_request_rate_matches_mean():
    traces = simulate()
    total = traces.canary_requests + traces.control_requests

    assert total.mean() / simulator.SCRAPE_SECONDS == pytest.approx(100.0, rel=0.1)


def test_canary_share_follows_weight():
    traces = simulate()
    share = traces.canary_requests.sum(axis=0) / (traces.canary_requests + traces.control_requests).sum(
        axis=0
    )

    assert share[:40].mean() == pytest.approx(0.01, rel=0.1)
    assert share[160:200].mean() == pytest.approx(0.5, rel=0.05)


def test_baseline_gets_canary_share():
    traces = simulate(control=simulator.ControlKind.BASELINE)

    ratio = traces.control_requests.sum() / traces.canary_requests.sum()

    assert ratio == pytest.approx(1.0, rel=0.05)


def test_error_ratio_near_baseline():
    traces = simulate()
    # Pods' log-normal multipliers have mean exp(0.3^2 / 2); incidents add a little more.
    observed = traces.control_errors.sum() / traces.control_requests.sum()

    assert 0.004 < observed < 0.008


def test_error_increase_reaches_canary():
    traces = simulate(simulator.Change(error_increase=0.01))

    difference = traces.canary_error_ratio - traces.control_error_ratio

    assert np.median(difference[:, 100]) == pytest.approx(0.01, abs=0.002)


def test_onset_delays_change():
    traces = simulate(simulator.Change(error_increase=0.05, onset_seconds=1800.0), runs=50)
    difference = traces.canary_error_ratio - traces.control_error_ratio

    assert np.all(difference[:, 100] < 0.03)
    assert np.all(difference[:, 150] > 0.03)


def test_buckets_are_cumulative_and_complete():
    traces = simulate(runs=20)

    assert np.all(np.diff(traces.canary_buckets, axis=-1) >= 0)
    assert np.array_equal(traces.canary_buckets[..., -1], traces.canary_requests)


def test_latency_change_raises_slow_share():
    same = simulate(runs=100)
    slower = simulate(simulator.Change(latency_factor=1.2), runs=100)

    # The same seed gives the same pods, so only the change differs.
    assert np.all(slower.canary_slow_share[:, 100] > same.canary_slow_share[:, 100])
    assert np.median(same.control_slow_share[:, 100]) == pytest.approx(0.01, rel=0.3)
