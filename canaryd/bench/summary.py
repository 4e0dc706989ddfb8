"""Turn per-run records into the reported figures, with 95% intervals, calibration and targets.

Layer 4 (bench tool). Rates get Wilson score intervals; medians get distribution-free intervals
from order statistics (the binomial ranks around n/2).
"""

from __future__ import annotations

import math

import numpy as np

from canaryd.bench import decisions, runner, scenarios, simulator

Z95 = 1.959963984540054
TARGET_FALSE_POSITIVE_RATE = 0.01
TARGET_DETECTION_RATE = 0.95
TARGET_BASELINE_FRACTION = 0.5
TARGET_ORACLE_MULTIPLE = 2.0
SLO = 0.995
BUDGET_DAYS = 30


def wilson(successes: int, trials: int) -> dict[str, object]:
    """Return a rate with its 95% Wilson score interval; None when there were no trials."""
    if trials == 0:
        return {"value": None, "ci95": None}
    rate = successes / trials
    denominator = 1 + Z95**2 / trials
    centre = (rate + Z95**2 / (2 * trials)) / denominator
    half = Z95 * math.sqrt(rate * (1 - rate) / trials + Z95**2 / (4 * trials**2)) / denominator
    return {"value": rate, "ci95": [max(0.0, centre - half), min(1.0, centre + half)]}


def median(values: np.ndarray) -> dict[str, object]:
    """Return the median with a 95% interval from order statistics, and the 90th percentile."""
    values = np.sort(values[np.isfinite(values)])
    count = len(values)
    if count == 0:
        return {"value": None, "ci95": None, "p90": None, "count": 0}
    half_width = Z95 * math.sqrt(count) / 2
    low = int(max(0, math.floor(count / 2 - half_width)))
    high = int(min(count - 1, math.ceil(count / 2 + half_width)))
    return {
        "value": float(np.median(values)),
        "ci95": [float(values[low]), float(values[high])],
        "p90": float(np.quantile(values, 0.9)),
        "count": count,
    }


def error_budget(scenario: scenarios.Scenario) -> float:
    """Count the bad requests a 30-day error budget at a 99.5% SLO allows at the scenario's traffic."""
    return (1 - SLO) * scenario.rate * BUDGET_DAYS * 86_400


def figures(scenario: scenarios.Scenario, records: runner.Records) -> dict[str, object]:
    """Compute the reported figures of one judge at one knob value in one scenario."""
    outcome = records.array("outcome")
    decided_at = records.array("decided_at")
    failed = outcome == decisions.Outcome.FAILED
    promoted = outcome == decisions.Outcome.PROMOTED
    runs = len(outcome)
    rate_name = "detection_rate" if scenario.is_regression else "false_positive_rate"
    seconds = (decided_at + 1) * simulator.SCRAPE_SECONDS
    result = {
        "runs": runs,
        rate_name: wilson(int(failed.sum()), runs),
        "inconclusive_rate": wilson(int((outcome == decisions.Outcome.INCONCLUSIVE).sum()), runs),
        "median_requests_to_detect": median(records.array("requests_to_decide")[failed].astype(float)),
        "median_seconds_to_detect": median(seconds[failed].astype(float)),
        "median_seconds_to_promote": median(seconds[promoted].astype(float)),
    }
    if scenario.is_regression:
        excess = median(records.array("excess_bad_requests"))
        budget = error_budget(scenario)
        excess["error_budget_share"] = None if excess["value"] is None else excess["value"] / budget
        result["median_excess_bad_requests"] = excess
    return result


def calibrate(aa_records: dict[tuple[str, float | None], runner.Records], judge: str) -> tuple[float, bool]:
    """Pick the most sensitive knob value whose A/A false-positive rate is at most 1%.

    Returns the value and whether any value reached 1%; without one, the least sensitive value.
    """
    knob = runner.KNOBS[judge]
    for value in knob.sensitive_first:
        outcome = aa_records[(judge, value)].array("outcome")
        if np.mean(outcome == decisions.Outcome.FAILED) <= TARGET_FALSE_POSITIVE_RATE:
            return value, True
    return knob.sensitive_first[-1], False


def ratio(numerator: object, denominator: object) -> float | None:
    if numerator is None or denominator in (None, 0) or denominator <= 0:
        return None
    return float(numerator) / float(denominator)
