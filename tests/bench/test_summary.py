"""Intervals and calibration behind the reported figures."""

from __future__ import annotations

import numpy as np
import pytest

from canaryd.bench import decisions, runner, scenarios, simulator, summary


def test_wilson_interval_contains_rate():
    rate = summary.wilson(5, 1000)

    assert rate["value"] == 0.005
    assert rate["ci95"][0] < 0.005 < rate["ci95"][1]
    assert rate["ci95"][0] == pytest.approx(0.0021, abs=0.0002)
    assert rate["ci95"][1] == pytest.approx(0.0117, abs=0.0003)


def test_wilson_without_trials_is_empty():
    assert summary.wilson(0, 0) == {"value": None, "ci95": None}


def test_median_interval_brackets_median():
    values = np.arange(1001, dtype=float)

    result = summary.median(values)

    assert result["value"] == 500
    assert 460 < result["ci95"][0] < 500 < result["ci95"][1] < 540
    assert result["p90"] == pytest.approx(900)


def test_error_budget_at_100_rps():
    scenario = scenarios.Scenario("budget", 100.0, simulator.Change(error_increase=0.01))

    # 0.5% of 100 requests/s over 30 days.
    assert summary.error_budget(scenario) == pytest.approx(0.005 * 100 * 30 * 86_400)


def records_with_failure_rate(rate: float, runs: int = 1000) -> runner.Records:
    records = runner.Records()
    outcome = np.where(np.arange(runs) < rate * runs, decisions.Outcome.FAILED, decisions.Outcome.PROMOTED)
    records.outcome.append(outcome)
    return records


def test_calibration_picks_most_sensitive_value_under_one_percent():
    knob = runner.KNOBS["argo"]
    # Failure rates fall as the threshold scale grows; 1.5 is the first at or below 1%.
    rates = {0.5: 0.3, 0.75: 0.1, 1.0: 0.02, 1.5: 0.01, 2.0: 0.004, 3.0: 0.0, 5.0: 0.0}
    records = {("argo", value): records_with_failure_rate(rates[value]) for value in knob.grid}

    assert summary.calibrate(records, "argo") == (1.5, True)


def test_calibration_reports_unreached_target():
    knob = runner.KNOBS["argo"]
    records = {("argo", value): records_with_failure_rate(0.5) for value in knob.grid}

    assert summary.calibrate(records, "argo") == (max(knob.grid), False)
