"""The report's plots and the numbers they draw."""

from __future__ import annotations

import math

import pytest

from canaryd.report import plots
from canaryd.standalone import record as rollout_record
from tests.report import records


def points(counts: list[list[float]]) -> rollout_record.ArmPoints:
    return rollout_record.ArmPoints(
        interval_ends=[float(index) for index in range(len(counts))],
        requests=[row[-1] for row in counts],
        errors=[0.0] * len(counts),
        latency_bounds=[0.1, 0.2, 0.4],
        latency_counts=counts,
    )


@pytest.mark.parametrize(
    ("row", "quantile", "expected"),
    [
        ([50, 100, 100, 100], 0.5, 0.1),
        ([50, 100, 100, 100], 0.75, 0.15),
        ([0, 0, 100, 100], 0.5, 0.3),
        ([0, 0, 0, 100], 0.99, 0.4),
    ],
    ids=["at-bound", "inside-second-bucket", "inside-third-bucket", "beyond-last-bound"],
)
def test_latency_quantile_interpolates_in_bucket(row, quantile, expected):
    estimated = plots.latency_quantiles(points([row]), quantile=quantile)

    assert estimated is not None
    assert estimated[0] == pytest.approx(expected)


def test_latency_quantile_of_empty_interval_is_nan():
    estimated = plots.latency_quantiles(points([[0, 0, 0, 0]]), quantile=0.99)

    assert estimated is not None
    assert math.isnan(estimated[0])


def test_latency_quantile_without_histogram_is_none():
    no_histogram = rollout_record.ArmPoints(interval_ends=[1.0], requests=[5.0], errors=[0.0])

    assert plots.latency_quantiles(no_histogram, quantile=0.99) is None


def test_error_ratio_is_nan_without_requests():
    ratios = plots.error_ratios(
        rollout_record.ArmPoints(interval_ends=[1.0, 2.0], requests=[10.0, 0.0], errors=[2.0, 0.0])
    )

    assert ratios[0] == pytest.approx(0.2)
    assert math.isnan(ratios[1])


def test_step_plot_without_data_still_draws():
    analysis = records.rolled_back().analyses[0].model_copy(update={"canary": None, "control": None})

    png = plots.step_plot(analysis, started_at=records.STARTED_AT)

    assert png.startswith(b"\x89PNG")
