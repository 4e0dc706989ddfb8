"""The verdict on one SLI given as event counts (failed requests, or requests slower than a bound).

Layer 1 (pure). Order of the checks: no data, then the minimum sample, then the anytime-valid
"worse" test (fail), then the guards that keep suspicious data from passing, then the "no worse"
test (pass). Anything else is inconclusive.
"""

from __future__ import annotations

import math

import numpy as np

from canaryd import verdicts
from canaryd.judge import counts as judge_counts
from canaryd.judge import sequential
from canaryd.judge import settings as judge_settings

# Half an event added to the control's count, so a control without events still gives a finite rate.
CONTROL_RATE_PRIOR_EVENTS = 0.5


def judge_rate(
    *,
    metric: str,
    counts: judge_counts.RateCounts,
    tolerance: judge_settings.Tolerance,
    settings: judge_settings.JudgeSettings,
) -> verdicts.MetricResult:
    """Judge whether the canary's event rate is worse than the control's beyond `tolerance`."""
    canary_events, canary_total = float(counts.canary_events.sum()), float(counts.canary_totals.sum())
    control_events, control_total = float(counts.control_events.sum()), float(counts.control_totals.sum())

    def result(verdict: verdicts.Verdict, reason: str, **numbers) -> verdicts.MetricResult:
        return verdicts.MetricResult(
            metric=metric,
            verdict=verdict,
            critical=tolerance.critical,
            canary_samples=_sample_count(canary_total),
            control_samples=_sample_count(control_total),
            reason=reason + _dropped_note(counts.dropped),
            **numbers,
        )

    if not np.isfinite([canary_events, canary_total, control_events, control_total]).all():
        return result(verdicts.Verdict.NO_DATA, "counts too large to sum: the source returned nonsense")
    if canary_total <= 0 or control_total <= 0:
        arm = "canary" if canary_total <= 0 else "control"
        return result(verdicts.Verdict.NO_DATA, f"no {arm} requests in the counted intervals")

    # From here on the observed values and the tolerance in the metric's unit are known.
    canary_value, control_value = canary_events / canary_total, control_events / control_total
    numbers = {
        "canary_value": canary_value,
        "control_value": control_value,
        "effect": canary_value - control_value,
        "tolerance": control_value * tolerance.relative + tolerance.absolute,
    }
    shortfall = _minimum_sample_shortfall(counts, canary_total, control_total, settings)
    if shortfall:
        return result(verdicts.Verdict.INCONCLUSIVE, f"minimum sample not reached: {shortfall}", **numbers)

    evidence = _weigh(counts, control_events, control_total, tolerance, settings)
    numbers |= {
        "evidence": evidence.worse,
        "threshold": 1 / settings.alpha,
        "pass_evidence": evidence.no_worse,
        "pass_threshold": 1 / settings.pass_alpha,
    }
    if evidence.worse >= 1 / settings.alpha:
        return result(verdicts.Verdict.FAIL, "canary is worse than control beyond the tolerance", **numbers)

    if control_events == 0 and canary_events > 0:
        reason = f"control had no events while the canary had {canary_events:g}: no pass on this data"
        return result(verdicts.Verdict.INCONCLUSIVE, reason, **numbers)
    if canary_events == 0 and control_events == 0:
        return _judge_without_events(result, numbers, canary_total, tolerance, settings)
    if evidence.no_worse >= 1 / settings.pass_alpha:
        return result(
            verdicts.Verdict.PASS, "canary is no worse than control within the tolerance", **numbers
        )
    return result(verdicts.Verdict.INCONCLUSIVE, "not enough evidence either way yet", **numbers)


def _minimum_sample_shortfall(counts, canary_total, control_total, settings) -> str:
    missing = []
    if counts.interval_count < settings.min_intervals:
        missing.append(f"{counts.interval_count} of {settings.min_intervals} intervals")
    if canary_total < settings.min_canary_requests:
        missing.append(f"{canary_total:g} of {settings.min_canary_requests} canary requests")
    if control_total < settings.min_control_requests:
        missing.append(f"{control_total:g} of {settings.min_control_requests} control requests")
    return ", ".join(missing)


def _weigh(counts, control_events, control_total, tolerance, settings) -> sequential.Evidence:
    # The absolute tolerance becomes part of the boundary ratio through the control's rate.
    # NOTE: the control rate is a plug-in estimate, so the absolute part of the boundary moves
    # slightly with the data; the relative part alone is exactly anytime-valid.
    control_rate = (control_events + CONTROL_RATE_PRIOR_EVENTS) / (control_total + 1)
    null_ratio = 1 + tolerance.relative + tolerance.absolute / control_rate

    # Intervals where one arm served nothing carry no information about the ratio.
    informative = (counts.canary_totals > 0) & (counts.control_totals > 0)
    return sequential.weigh_ratio(
        canary_events=counts.canary_events[informative],
        canary_totals=counts.canary_totals[informative],
        control_events=counts.control_events[informative],
        control_totals=counts.control_totals[informative],
        null_ratio=null_ratio,
        variance_inflation=settings.variance_inflation,
    )


def _judge_without_events(result, numbers, canary_total, tolerance, settings) -> verdicts.MetricResult:
    # With no events at all the ratio test has nothing to weigh. Zero events in n canary requests
    # rule out a rate of `absolute` or more when (1 - absolute)^n <= pass_alpha; the first n where
    # that holds is fixed in advance, so checking it at every look keeps the error rate.
    if tolerance.absolute <= 0:
        return result(
            verdicts.Verdict.INCONCLUSIVE,
            "no events in either arm and no absolute tolerance to test against",
            **numbers,
        )
    needed = math.log(1 / settings.pass_alpha) / -math.log1p(-tolerance.absolute)
    if canary_total >= needed:
        return result(verdicts.Verdict.PASS, "no events in either arm over a sufficient sample", **numbers)
    reason = f"no events in either arm yet; a pass needs {math.ceil(needed)} canary requests"
    return result(verdicts.Verdict.INCONCLUSIVE, reason, **numbers)


def _sample_count(total: float) -> int:
    return int(total) if math.isfinite(total) else 0


def _dropped_note(dropped: int) -> str:
    if dropped == 0:
        return ""
    return f" ({dropped} intervals left out for missing, non-finite or inconsistent numbers)"
