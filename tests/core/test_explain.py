"""The one-line cause of a failed step names each failing SLI with its numbers."""

from __future__ import annotations

import pytest

from canaryd import verdicts
from canaryd.core import explain


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        pytest.param("error_ratio", "error_ratio 4% on the canary vs 0.5% on the control", id="error-ratio"),
        pytest.param(
            "latency",
            "latency (share of requests slower than the bound taken from the control) 4% on the canary vs "
            "0.5% on the control",
            id="latency-says-what-it-measures",
        ),
    ],
)
def test_metric_evidence_names_the_measure(metric, expected):
    result = verdicts.MetricResult(
        metric=metric,
        verdict=verdicts.Verdict.FAIL,
        canary_value=0.04,
        control_value=0.005,
        effect=0.035,
        tolerance=0.004,
        canary_samples=1200,
        control_samples=9000,
    )

    evidence = explain.metric_evidence(result)

    assert evidence.startswith(expected)
    assert evidence.endswith(
        "effect +3.5pp beyond the tolerance of 0.4pp, over 1,200 canary and 9,000 control requests"
    )
