"""Analysis windows, and the check that an interval covers enough scrapes."""

from __future__ import annotations

import pytest

from canaryd.metrics import outcomes, windows


@pytest.mark.parametrize(
    ("step_seconds", "scrape_interval_seconds", "min_scrapes"),
    [
        pytest.param(60, 15, 4, id="four_scrapes_exactly"),
        pytest.param(120, 30, 4, id="two_minutes_at_30s"),
        pytest.param(4, 1, 4, id="test_harness_interval"),
        pytest.param(60, 30, 2, id="lowered_minimum"),
    ],
)
def test_window_long_enough_is_accepted(
    step_seconds: float, scrape_interval_seconds: float, min_scrapes: int
) -> None:
    windows.check_window(
        step_seconds=step_seconds,
        scrape_interval_seconds=scrape_interval_seconds,
        min_scrapes_per_interval=min_scrapes,
    )


@pytest.mark.parametrize(
    ("step_seconds", "scrape_interval_seconds", "needed"),
    [
        pytest.param(60, 30, "120 s", id="one_minute_at_30s"),
        pytest.param(30, 30, "120 s", id="one_scrape"),
        pytest.param(59, 15, "60 s", id="just_short"),
    ],
)
def test_window_too_short_is_configuration_error(
    step_seconds: float, scrape_interval_seconds: float, needed: str
) -> None:
    with pytest.raises(outcomes.WindowTooShort) as raised:
        windows.check_window(step_seconds=step_seconds, scrape_interval_seconds=scrape_interval_seconds)

    assert isinstance(raised.value, outcomes.ConfigurationError)
    assert f"at least {needed}" in str(raised.value)
    assert f"{scrape_interval_seconds:g} s" in str(raised.value)


def test_window_counts_whole_intervals() -> None:
    window = windows.Window(start=1000, end=1030, step_seconds=4)

    assert window.first_interval_end == 1004
    assert window.interval_count == 7


@pytest.mark.parametrize(
    ("start", "end", "step_seconds"),
    [
        pytest.param(1000, 1003, 4, id="shorter_than_one_step"),
        pytest.param(1000, 1010, 0, id="zero_step"),
        pytest.param(1000, 1010, float("nan"), id="nan_step"),
    ],
)
def test_window_rejects_invalid_bounds(start: float, end: float, step_seconds: float) -> None:
    with pytest.raises(ValueError, match="Window"):
        windows.Window(start=start, end=end, step_seconds=step_seconds)
