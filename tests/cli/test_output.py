"""Number and time formatting shared by the CLI's tables, and the documented exit codes."""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest

from canaryd.cli import output


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "-"), (0.0, "0%"), (0.004, "0.4%"), (0.04123, "4.12%"), (1.0, "100%")],
    ids=["none", "zero", "small", "three-digits", "all"],
)
def test_format_ratio(value: float | None, expected: str) -> None:
    assert output.format_ratio(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "-"), (0.039, "+3.9pp"), (-0.0001, "-0.01pp"), (0.0, "+0pp")],
    ids=["none", "worse", "better", "equal"],
)
def test_format_effect(value: float | None, expected: str) -> None:
    assert output.format_effect(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(250, "in 4m10s"), (-7380, "2h3m ago"), (-5, "5s ago"), (0, "0s ago")],
    ids=["minutes-ahead", "hours-ago", "seconds-ago", "now"],
)
def test_format_relative(seconds: int, expected: str) -> None:
    assert output.format_relative(datetime.timedelta(seconds=seconds)) == expected


def test_format_time_in_utc_with_distance() -> None:
    now = datetime.datetime(2026, 12, 4, 3, 10, tzinfo=datetime.UTC)

    text = output.format_time("2026-12-04T04:14:00+01:00", now=now)

    assert text == "2026-12-04 03:14:00 UTC (in 4m0s)"


def test_json_line_is_one_line() -> None:
    moment = datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.UTC)

    line = output.json_line({"phase": "Holding", "at": moment})

    assert "\n" not in line
    assert json.loads(line) == {"phase": "Holding", "at": "2026-12-04T03:00:00+00:00"}


def test_exit_codes_are_the_documented_numbers() -> None:
    documented = {
        "OK": 0, "ERROR": 1, "USAGE": 2, "NOT_FOUND": 3, "UNREACHABLE": 4, "REJECTED": 5, "INVALID_CONFIG": 6,
        "FAILED": 10, "NEEDS_ATTENTION": 11, "NO_DATA": 12, "TIMED_OUT": 13,
    }  # fmt: skip

    assert {code.name: code.value for code in output.ExitCode} == documented


def test_exit_codes_table_in_docs_matches() -> None:
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()

    for code in output.ExitCode:
        assert f"| {code.value} | {code.name} |" in text
