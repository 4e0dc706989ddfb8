"""The verdict on one SLI given as event counts (failed requests, or requests slower than a bound).

Layer 1 (pure). Order of the checks: no data, then the minimum sample, then the anytime-valid
"worse" test (fail), then the guards that keep suspicious data from passing, then the "no worse"
test (pass). Anything else is inconclusive.

`verdict_paths` applies these rules after every interval of many runs at once, for the bench.
`judge_rate` applies them after the last interval of one comparison and explains the verdict.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from canaryd import verdicts
from canaryd.judge import counts as judge_counts
from canaryd.judge import sequential
from canaryd.judge import settings as judge_settings


class Rule(enum.IntEnum):
    """The rule that decided a verdict, in the order the rules are checked."""

    NO_CANARY_DATA = 0
    NO_CONTROL_DATA = 1
    MINIMUM_SAMPLE = 2
    WORSE = 3
    CONTROL_WITHOUT_EVENTS = 4
    NO_EVENTS_SUFFICIENT = 5
    NO_EVENTS_TOO_FEW = 6
    NO_WORSE = 7
    UNDECIDED = 8


RULE_VERDICTS = {
    Rule.NO_CANARY_DATA: verdicts.Verdict.NO_DATA,
    Rule.NO_CONTROL_DATA: verdicts.Verdict.NO_DATA,
    Rule.MINIMUM_SAMPLE: verdicts.Verdict.INCONCLUSIVE,
    Rule.WORSE: verdicts.Verdict.FAIL,
    Rule.CONTROL_WITHOUT_EVENTS: verdicts.Verdict.INCONCLUSIVE,
    Rule.NO_EVENTS_SUFFICIENT: verdicts.Verdict.PASS,
    Rule.NO_EVENTS_TOO_FEW: verdicts.Verdict.INCONCLUSIVE,
    Rule.NO_WORSE: verdicts.Verdict.PASS,
    Rule.UNDECIDED: verdicts.Verdict.INCONCLUSIVE,
}


@dataclasses.dataclass(frozen=True)
class RulePaths:
    """The deciding rule and both e-values after every interval; the last axis is time."""

    rules: np.ndarray
    evidence: sequential.Evidence

    def is_verdict(self, verdict: verdicts.Verdict) -> np.ndarray:
        """Mark the looks whose verdict is `verdict`."""
        matching = [rule for rule, rule_verdict in RULE_VERDICTS.items() if rule_verdict is verdict]
        return np.isin(self.rules, matching)


def events_needed_without_events(*, absolute: float, pass_alpha: float) -> float:
    """Count the canary requests without any event that rule out a rate of `absolute` or more.

    The rule is (1 - absolute)^n <= pass_alpha. The first such n is fixed in advance, so checking
    it at every look keeps the error rate.
    """
    if absolute <= 0:
        return math.inf
    return math.log(1 / pass_alpha) / -math.log1p(-absolute)


def restart_points(interval_ends: np.ndarray, *, every_seconds: float) -> np.ndarray:
    """Return the first interval index at or after each multiple of `every_seconds` past the first end."""
    if interval_ends.size == 0:
        return np.array([0])
    elapsed = interval_ends - interval_ends[0]
    multiples = every_seconds * np.arange(int(elapsed[-1] // every_seconds) + 1)
    return np.unique(np.searchsorted(elapsed, multiples))


def verdict_paths(
    *,
    canary_events: np.ndarray,
    canary_totals: np.ndarray,
    control_events: np.ndarray,
    control_totals: np.ndarray,
    interval_ends: np.ndarray,
    tolerance: judge_settings.Tolerance,
    settings: judge_settings.JudgeSettings,
) -> RulePaths:
    """Apply the verdict rules after every interval (last axis) of any number of runs.

    Intervals that do not count must arrive as zeros in all four count arrays. `interval_ends`
    (seconds, one per interval along the last axis) places the restarts of the "worse" test.
    """
    evidence = sequential.evidence_paths(
        canary_events=canary_events,
        canary_totals=canary_totals,
        control_events=control_events,
        control_totals=control_totals,
        relative=tolerance.relative,
        absolute=tolerance.absolute,
        variance_inflation=settings.variance_inflation,
        restarts=restart_points(
            np.asarray(interval_ends, dtype=float), every_seconds=settings.restart_seconds
        ),
    )
    canary_sum, canary_event_sum = np.cumsum(canary_totals, axis=-1), np.cumsum(canary_events, axis=-1)
    control_sum, control_event_sum = np.cumsum(control_totals, axis=-1), np.cumsum(control_events, axis=-1)
    intervals = np.cumsum((canary_totals > 0) | (control_totals > 0), axis=-1)
    no_events = (canary_event_sum == 0) & (control_event_sum == 0)
    sufficient = canary_sum >= events_needed_without_events(
        absolute=tolerance.absolute, pass_alpha=settings.pass_alpha
    )

    # np.select takes the first condition that holds, in the order the rules are checked.
    conditions = [
        canary_sum <= 0,
        control_sum <= 0,
        (intervals < settings.min_intervals)
        | (canary_sum < settings.min_canary_requests)
        | (control_sum < settings.min_control_requests),
        evidence.worse >= 1 / settings.alpha,
        (control_event_sum == 0) & (canary_event_sum > 0),
        no_events & sufficient,
        no_events,
        evidence.no_worse >= 1 / settings.pass_alpha,
    ]
    rules = np.select(conditions, list(Rule)[: len(conditions)], default=Rule.UNDECIDED)
    return RulePaths(rules=rules, evidence=evidence)


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
    sums = [canary_events, canary_total, control_events, control_total]
    base = {
        "metric": metric,
        "critical": tolerance.critical,
        "canary_samples": _sample_count(canary_total),
        "control_samples": _sample_count(control_total),
    }
    if not all(math.isfinite(value) for value in sums):
        reason = "counts too large to add up: the source returned values beyond float range"
        return verdicts.MetricResult(verdict=verdicts.Verdict.NO_DATA, reason=reason, **base)
    if counts.interval_count == 0:
        reason = "no counted interval" + _dropped_note(counts.dropped)
        return verdicts.MetricResult(verdict=verdicts.Verdict.NO_DATA, reason=reason, **base)

    paths = verdict_paths(
        canary_events=counts.canary_events,
        canary_totals=counts.canary_totals,
        control_events=counts.control_events,
        control_totals=counts.control_totals,
        interval_ends=counts.interval_ends,
        tolerance=tolerance,
        settings=settings,
    )
    rule = Rule(int(paths.rules[-1]))
    numbers = _numbers(sums, tolerance, settings, paths.evidence)
    reason = _explain(rule, counts, sums, tolerance, settings) + _dropped_note(counts.dropped)
    has_minimum_sample = rule not in (Rule.NO_CANARY_DATA, Rule.NO_CONTROL_DATA, Rule.MINIMUM_SAMPLE)
    return verdicts.MetricResult(
        verdict=RULE_VERDICTS[rule],
        reason=reason,
        has_minimum_sample=has_minimum_sample,
        **base,
        **numbers,
    )


def _numbers(sums, tolerance, settings, evidence: sequential.Evidence) -> dict[str, float | None]:
    canary_events, canary_total, control_events, control_total = sums
    if canary_total <= 0 or control_total <= 0:
        return {}
    canary_value, control_value = canary_events / canary_total, control_events / control_total
    return {
        "canary_value": canary_value,
        "control_value": control_value,
        "effect": canary_value - control_value,
        "tolerance": control_value * tolerance.relative + tolerance.absolute,
        "evidence": float(evidence.worse[-1]),
        "threshold": 1 / settings.alpha,
        "pass_evidence": float(evidence.no_worse[-1]),
        "pass_threshold": 1 / settings.pass_alpha,
    }


def _explain(rule: Rule, counts, sums, tolerance, settings) -> str:
    canary_events, canary_total, _, control_total = sums
    if rule is Rule.MINIMUM_SAMPLE:
        missing = []
        if counts.interval_count < settings.min_intervals:
            missing.append(f"{counts.interval_count} of {settings.min_intervals} intervals")
        if canary_total < settings.min_canary_requests:
            missing.append(f"{canary_total:g} of {settings.min_canary_requests} canary requests")
        if control_total < settings.min_control_requests:
            missing.append(f"{control_total:g} of {settings.min_control_requests} control requests")
        return "minimum sample not reached: " + ", ".join(missing)
    if rule is Rule.CONTROL_WITHOUT_EVENTS:
        return f"control had no events while the canary had {canary_events:g}: no pass on this data"
    if rule is Rule.NO_EVENTS_TOO_FEW:
        needed = events_needed_without_events(absolute=tolerance.absolute, pass_alpha=settings.pass_alpha)
        if math.isinf(needed):
            return "no events in either arm and no absolute tolerance to test against"
        return f"no events in either arm yet; a pass needs {math.ceil(needed)} canary requests"
    return RULE_REASONS[rule]


RULE_REASONS = {
    Rule.NO_CANARY_DATA: "no canary requests in the counted intervals",
    Rule.NO_CONTROL_DATA: "no control requests in the counted intervals",
    Rule.WORSE: "canary is worse than control beyond the tolerance",
    Rule.NO_EVENTS_SUFFICIENT: "no events in either arm over a sufficient sample",
    Rule.NO_WORSE: "canary is no worse than control within the tolerance",
    Rule.UNDECIDED: "not enough evidence either way yet",
}


def _sample_count(total: float) -> int:
    return int(total) if math.isfinite(total) else 0


def _dropped_note(dropped: int) -> str:
    if dropped == 0:
        return ""
    return f" ({dropped} intervals left out for missing, non-finite or inconsistent numbers)"
