"""How collected series become a Comparison: gaps, bucket layouts and malformed results.

These cases need series shapes a live Prometheus produces only by accident (a scrape gap in one
arm, a new version with other buckets), so a recorded source replays fixed query results.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from canaryd import observations
from canaryd.metrics import collect, outcomes, protocol, windows

WINDOW = windows.Window(start=1000, end=1012, step_seconds=4)
ENDS = [1004.0, 1008.0, 1012.0]
CANARY = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web")
CONTROL = protocol.ArmTarget(arm=observations.Arm.CONTROL, namespace="shop", workload="web-primary")


def series(values: dict[float, float], **labels: str) -> protocol.Series:
    return protocol.Series(
        labels=labels, timestamps=np.array(list(values), dtype=float), values=np.array(list(values.values()))
    )


def buckets(bounds_and_counts: dict[str, float], ends: list[float] = ENDS) -> tuple[protocol.Series, ...]:
    return tuple(series(dict.fromkeys(ends, count), le=bound) for bound, count in bounds_and_counts.items())


class RecordedPreset:
    name = "recorded"

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        arm = target.arm.value
        return protocol.ArmQueries(
            requests=f"{arm}:requests", errors=f"{arm}:errors", latency_buckets=f"{arm}:buckets"
        )


class RecordedSource:
    """Replays one result per query text; a query it does not know returns no series."""

    def __init__(self, results: dict[str, tuple[protocol.Series, ...]]) -> None:
        self.results = results

    def range_query(self, *, query: str, window: windows.Window) -> tuple[protocol.Series, ...]:
        return self.results.get(query, ())

    def check_health(self) -> None:
        return

    def check_window(self, *, step_seconds: float) -> None:
        return


def steady(arm: str, *, requests: float = 100, errors: float = 1) -> dict[str, tuple[protocol.Series, ...]]:
    return {
        f"{arm}:requests": (series(dict.fromkeys(ENDS, requests)),),
        f"{arm}:errors": (series(dict.fromkeys(ENDS, errors)),),
        f"{arm}:buckets": buckets({"0.1": requests * 0.9, "+Inf": requests}),
    }


def collect_from(results: dict[str, tuple[protocol.Series, ...]]) -> observations.Comparison:
    return collect.collect_comparison(
        source=RecordedSource(results), preset=RecordedPreset(), canary=CANARY, control=CONTROL, window=WINDOW
    )


def test_steady_arms_fill_every_interval() -> None:
    comparison = collect_from({**steady("canary", requests=50), **steady("control", requests=150)})

    np.testing.assert_array_equal(comparison.canary.interval_ends, ENDS)
    np.testing.assert_array_equal(comparison.canary.requests, [50, 50, 50])
    np.testing.assert_array_equal(comparison.control.errors, [1, 1, 1])
    np.testing.assert_array_equal(comparison.canary.bucket_bounds, [0.1, math.inf])
    np.testing.assert_array_equal(comparison.canary.bucket_counts, [[45, 50]] * 3)
    np.testing.assert_allclose(comparison.canary_share, [0.25, 0.25, 0.25])
    assert comparison.canary_ready.all()


def test_gap_drops_interval_from_both_arms() -> None:
    results = {**steady("canary"), **steady("control")}
    results["control:requests"] = (series({1004.0: 100, 1012.0: 100}),)

    comparison = collect_from(results)

    np.testing.assert_array_equal(comparison.canary.interval_ends, [1004.0, 1012.0])
    np.testing.assert_array_equal(comparison.control.interval_ends, [1004.0, 1012.0])


def test_no_common_interval_is_no_series() -> None:
    results = {**steady("canary"), **steady("control")}
    results["control:requests"] = (series({1000.5: 100}),)

    with pytest.raises(outcomes.NoSeries, match="no interval in common"):
        collect_from(results)


def test_different_bucket_layouts_keep_shared_bounds() -> None:
    results = {**steady("canary"), **steady("control")}
    results["canary:buckets"] = buckets({"0.05": 80, "0.1": 90, "+Inf": 100})
    results["control:buckets"] = buckets({"0.1": 95, "0.5": 99, "+Inf": 100})

    comparison = collect_from(results)

    np.testing.assert_array_equal(comparison.canary.bucket_bounds, [0.1, math.inf])
    np.testing.assert_array_equal(comparison.control.bucket_counts, [[95, 100]] * 3)


def test_arm_without_histogram_leaves_latency_out() -> None:
    results = {**steady("canary"), **steady("control")}
    results["canary:buckets"] = ()

    comparison = collect_from(results)

    assert not comparison.canary.has_latency
    assert not comparison.control.has_latency
    np.testing.assert_array_equal(comparison.canary.requests, [100, 100, 100])


@pytest.mark.parametrize(
    ("query", "result", "outcome", "message"),
    [
        pytest.param("canary:requests", (), outcomes.NoSeries, "no series", id="requests_missing"),
        pytest.param("control:errors", (), outcomes.NoSeries, "no series", id="errors_missing"),
        pytest.param(
            "canary:requests",
            (series({1004.0: 1}, pod="a"), series({1004.0: 1}, pod="b")),
            outcomes.SeveralSeries,
            "differ in the labels pod",
            id="two_request_series",
        ),
        pytest.param(
            "canary:errors",
            (series({1004.0: math.nan}),),
            outcomes.NotFinite,
            "returned nan",
            id="nan_errors",
        ),
        pytest.param(
            "control:requests",
            (series({1008.0: -math.inf}),),
            outcomes.NotFinite,
            "returned -inf",
            id="negative_inf",
        ),
        pytest.param(
            "canary:buckets",
            (series({1004.0: 1}),),
            outcomes.BucketLabelMissing,
            "without the le",
            id="no_le",
        ),
        pytest.param(
            "canary:buckets",
            buckets({"0.1": 1, "1": 2}),
            outcomes.BucketLabelMissing,
            "no \\+Inf",
            id="no_inf",
        ),
        pytest.param(
            "canary:buckets",
            (series({1004.0: 1}, le="+Inf", pod="a"), series({1004.0: 1}, le="+Inf", pod="b")),
            outcomes.SeveralSeries,
            "one series per le bound",
            id="bucket_per_pod",
        ),
    ],
)
def test_malformed_result_is_typed_outcome(
    query: str, result: tuple[protocol.Series, ...], outcome: type, message: str
) -> None:
    results = {**steady("canary"), **steady("control")}
    results[query] = result

    with pytest.raises(outcome, match=message) as raised:
        collect_from(results)

    assert raised.value.query == query
