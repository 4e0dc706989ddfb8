"""PromQL text helpers: escaping, matchers and durations."""

from __future__ import annotations

import promql_parser
import pytest

from canaryd.metrics import promql


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("plain", id="plain"),
        pytest.param('a"b', id="double_quote"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("line\nbreak\ttab", id="control_characters"),
        pytest.param('"} or other{namespace="kube-system', id="selector_breakout"),
        pytest.param("grüße ✓", id="non_ascii"),
        pytest.param("\\.*", id="regex_escape"),
    ],
)
def test_quoted_value_parses_back_to_itself(value: str) -> None:
    selector = promql.render_selector("x", [promql.LabelMatcher("job", value)])

    parsed = promql_parser.parse(selector)

    assert isinstance(parsed, promql_parser.VectorSelector)
    assert [(matcher.name, matcher.value) for matcher in parsed.matchers.matchers] == [("job", value)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("web", "web", id="name"),
        pytest.param("web.v2", "web\\.v2", id="dot"),
        pytest.param("a(b)|c*", "a\\(b\\)\\|c\\*", id="groups_and_operators"),
        pytest.param("my-app", "my-app", id="dash_stays"),
    ],
)
def test_regex_escape(value: str, expected: str) -> None:
    assert promql.escape_regex(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(30, "30s", id="whole_seconds"),
        pytest.param(1.5, "1500ms", id="fraction"),
        pytest.param(600, "600s", id="minutes_in_seconds"),
    ],
)
def test_duration_format(seconds: float, expected: str) -> None:
    assert promql.format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan")])
def test_duration_rejects_non_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        promql.format_duration(seconds)


@pytest.mark.parametrize("name", ["1abc", "a-b", 'a"', ""])
def test_label_matcher_rejects_invalid_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid Prometheus label name"):
        promql.LabelMatcher(name, "x")


def test_selector_rejects_invalid_metric_name() -> None:
    with pytest.raises(ValueError, match="invalid Prometheus metric name"):
        promql.render_selector("x{y}", [])
