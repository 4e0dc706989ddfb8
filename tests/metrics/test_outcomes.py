"""Typed outcomes: distinct classes, the families callers branch on, and messages with the query."""

from __future__ import annotations

import pytest

from canaryd.metrics import outcomes


def test_several_series_names_only_the_differing_labels() -> None:
    outcome = outcomes.SeveralSeries(
        query="sum by (pod) (x)",
        series_labels=[
            {"pod": "a", "job": "web"},
            {"pod": "b", "job": "web"},
            {"pod": "c", "job": "web", "zone": "1"},
        ],
    )

    assert outcome.differing_labels == ("pod", "zone")
    assert "returned 3 series" in str(outcome)
    assert "sum without (pod, zone)" in str(outcome)
    assert str(outcome).endswith("(query: sum by (pod) (x))")


def test_query_rejected_carries_prometheus_text() -> None:
    outcome = outcomes.QueryRejected(
        query="sum(", status_code=400, prometheus_error="unexpected end of input"
    )

    assert outcome.prometheus_error == "unexpected end of input"
    assert "HTTP 400: unexpected end of input" in str(outcome)
    assert outcome.query == "sum("


OUTCOMES = [
    (outcomes.NoSeries("nothing", query="q"), outcomes.DataMissing, "NoSeries"),
    (
        outcomes.NotFinite("NaN", query="q", value=float("nan"), timestamp=1.0),
        outcomes.DataMissing,
        "NotFinite",
    ),
    (outcomes.SourceUnreachable("down", query="q"), outcomes.SourceUnreachable, "SourceUnreachable"),
    (
        outcomes.SeveralSeries(query="q", series_labels=[{"a": "1"}, {"a": "2"}]),
        outcomes.ConfigurationError,
        "SeveralSeries",
    ),
    (
        outcomes.QueryRejected(query="q", status_code=400, prometheus_error="e"),
        outcomes.ConfigurationError,
        "QueryRejected",
    ),
    (outcomes.TemplateRejected("bad", query="q"), outcomes.ConfigurationError, "TemplateRejected"),
    (outcomes.BucketLabelMissing("no le", query="q"), outcomes.ConfigurationError, "BucketLabelMissing"),
    (outcomes.WindowTooShort("short"), outcomes.ConfigurationError, "AnalysisWindowTooShort"),
]


@pytest.mark.parametrize(
    ("outcome", "family", "reason"),
    [pytest.param(outcome, family, reason, id=reason) for outcome, family, reason in OUTCOMES],
)
def test_outcome_belongs_to_one_family(outcome: outcomes.MetricsOutcome, family: type, reason: str) -> None:
    families = (outcomes.DataMissing, outcomes.SourceUnreachable, outcomes.ConfigurationError)

    assert isinstance(outcome, family)
    assert sum(isinstance(outcome, other) for other in families) == 1
    assert outcome.reason == reason


def test_outcome_reasons_are_unique() -> None:
    reasons = [outcome.reason for outcome, _, _ in OUTCOMES]

    assert len(set(reasons)) == len(reasons)
