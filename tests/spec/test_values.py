"""Parsers of setting values: what each accepts, and the ValueError for everything else."""

from __future__ import annotations

import datetime

import pytest

from canaryd.spec import values


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("1,5", (1, 5), id="default"),
        pytest.param(" 3, 7 ,33 ", (3, 7, 33), id="spaces"),
        pytest.param("5%,25%", (5, 25), id="percent-signs"),
        pytest.param("99", (99,), id="single-step"),
        pytest.param([1, 2, 3], (1, 2, 3), id="yaml-list"),
    ],
)
def test_steps_accepted(text, expected):
    assert values.parse_steps(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        pytest.param("5,1", "strictly increasing", id="decreasing"),
        pytest.param("5,5", "strictly increasing", id="repeated"),
        pytest.param("0,5", "between 0 and 100 exclusive", id="zero"),
        pytest.param("5,100", "between 0 and 100 exclusive", id="hundred"),
        pytest.param("2.5,5", 'e.g. "1,5,25"', id="fraction"),
        pytest.param("", 'e.g. "1,5,25"', id="empty"),
        pytest.param("1,,5", 'e.g. "1,5,25"', id="empty-item"),
        pytest.param("-1,5", 'e.g. "1,5,25"', id="negative"),
        pytest.param("1e2", 'e.g. "1,5,25"', id="exponent"),
        pytest.param("１,５", 'e.g. "1,5,25"', id="full-width-digits"),
        pytest.param([True, 5], 'e.g. "1,5,25"', id="boolean-item"),
        pytest.param(5, 'e.g. "1,5,25"', id="bare-number"),
    ],
)
def test_steps_rejected(text, fragment):
    with pytest.raises(ValueError, match="expected") as caught:
        values.parse_steps(text)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("90s", datetime.timedelta(seconds=90), id="seconds"),
        pytest.param("2m", datetime.timedelta(minutes=2), id="minutes"),
        pytest.param("1h30m", datetime.timedelta(minutes=90), id="hours-minutes"),
        pytest.param("24h", datetime.timedelta(hours=24), id="maximum"),
        pytest.param(45, datetime.timedelta(seconds=45), id="yaml-seconds"),
    ],
)
def test_duration_accepted(text, expected):
    assert values.parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0s", id="zero"),
        pytest.param("25h", id="over-a-day"),
        pytest.param("99999999999h", id="huge"),
        pytest.param("2 m", id="inner-space"),
        pytest.param("2min", id="long-unit"),
        pytest.param("m", id="unit-only"),
        pytest.param("", id="empty"),
        pytest.param("2m\nx", id="text-after-newline"),
        pytest.param("２m", id="full-width-digit"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(True, id="boolean"),
    ],
)
def test_duration_rejected(text):
    with pytest.raises(ValueError, match="a duration in hours, minutes and seconds"):
        values.parse_duration(text)


@pytest.mark.parametrize(
    "duration, text",
    [
        pytest.param(datetime.timedelta(minutes=2), "2m", id="minutes"),
        pytest.param(datetime.timedelta(seconds=5430), "1h30m30s", id="mixed"),
    ],
)
def test_duration_formats_as_parsed(duration, text):
    assert values.format_duration(duration) == text
    assert values.parse_duration(text) == duration


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("0.01", 0.01, id="fraction"),
        pytest.param("1%", 0.01, id="percent"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param(0.5, 0.5, id="yaml-number"),
    ],
)
def test_fraction_accepted(text, expected):
    assert values.parse_fraction(text, maximum=1.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1.5", id="above-maximum"),
        pytest.param("-0.1", id="negative"),
        pytest.param("nan", id="nan"),
        pytest.param("inf", id="infinite"),
        pytest.param("a lot", id="words"),
        pytest.param(False, id="boolean"),
    ],
)
def test_fraction_rejected(text):
    with pytest.raises(ValueError, match="a number between 0 and 1"):
        values.parse_fraction(text, maximum=1.0)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("true", True, id="true"),
        pytest.param("False", False, id="capitalised-false"),
        pytest.param(True, True, id="yaml-boolean"),
    ],
)
def test_bool_accepted(text, expected):
    assert values.parse_bool(text) is expected


@pytest.mark.parametrize(
    "text", [pytest.param("yes", id="yes"), pytest.param("1", id="one"), pytest.param("", id="empty")]
)
def test_bool_rejected(text):
    with pytest.raises(ValueError, match='"true" or "false"'):
        values.parse_bool(text)


@pytest.mark.parametrize(
    "text, is_valid",
    [
        pytest.param("web", True, id="plain"),
        pytest.param("web-primary.v2", True, id="dash-and-dot"),
        pytest.param("Web", False, id="uppercase"),
        pytest.param("-web", False, id="leading-dash"),
        pytest.param("web\n", False, id="trailing-newline"),
        pytest.param("a" * 254, False, id="too-long"),
        pytest.param("web/other", False, id="slash"),
    ],
)
def test_object_name_check(text, is_valid):
    if is_valid:
        assert values.parse_name(text) == text
    else:
        with pytest.raises(ValueError, match="a Kubernetes object name"):
            values.parse_name(text)


@pytest.mark.parametrize(
    "text, is_valid",
    [
        pytest.param("2", True, id="two"),
        pytest.param("0", False, id="zero"),
        pytest.param("-1", False, id="negative"),
        pytest.param("1.5", False, id="fraction"),
        pytest.param("9999999", False, id="too-large"),
        pytest.param("２", False, id="full-width-digit"),
    ],
)
def test_positive_int_check(text, is_valid):
    if is_valid:
        assert values.parse_positive_int(text) == int(text)
    else:
        with pytest.raises(ValueError, match="a whole number of at least 1"):
            values.parse_positive_int(text)
