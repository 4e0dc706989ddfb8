"""canaryd's own judge and rollout policy, replayed over simulated rollouts.

Layer 4 (bench tool). It calls the judge's vectorised verdict rules (`canaryd.judge.rates`), the
same code `canaryd.judge.judge` runs, after every 15 s scrape of every run at once, and walks the
steps the way the decision core (`canaryd.core.steps`) does:

- Every look judges the run's data since the first step's weight was in place, as the controller
  does, so evidence carries over from step to step. The judge leaves out the first
  `warmup_seconds` of that window once, as it does for every comparison it is given.
- A failing critical metric rolls back at once, at any step.
- A step advances on a pass once its analysis window (`ANALYSIS_WINDOW_SECONDS`) has elapsed. With
  step-advance no-failure, a step before the last also advances on an inconclusive verdict with the
  minimum sample reached on both metrics. The last step needs a pass in both modes.
- A step without a way forward by its deadline (`simulator.STEP_SECONDS` after it started) ends the
  rollout as inconclusive, which the default inconclusive policy rolls back.
- The next step starts at the interval after the one that advanced the previous step.
"""

from __future__ import annotations

import numpy as np

from canaryd import judge, verdicts
from canaryd.bench import decisions, simulator
from canaryd.judge import counts as judge_counts
from canaryd.judge import rates
from canaryd.spec import settings as spec_settings

# The rollout spec's default analysis window and step deadline (canaryd.spec.settings).
ANALYSIS_WINDOW_SECONDS = 120.0
STEP_DEADLINE_SECONDS = simulator.STEP_SECONDS

_BELOW_MINIMUM_SAMPLE = (rates.Rule.NO_CANARY_DATA, rates.Rule.NO_CONTROL_DATA, rates.Rule.MINIMUM_SAMPLE)
_COUNT_FIELDS = (
    "canary_requests",
    "canary_errors",
    "canary_slow",
    "control_requests",
    "control_errors",
    "control_slow",
)


def canaryd_settings(*, tolerance_scale: float = 1.0) -> judge.JudgeSettings:
    """Return the default settings with both tolerances multiplied by `tolerance_scale`."""
    defaults = judge.JudgeSettings()

    def scaled(tolerance: judge.Tolerance) -> judge.Tolerance:
        return tolerance.model_copy(
            update={
                "relative": tolerance.relative * tolerance_scale,
                "absolute": tolerance.absolute * tolerance_scale,
            }
        )

    return defaults.model_copy(
        update={"error_ratio": scaled(defaults.error_ratio), "latency": scaled(defaults.latency)}
    )


def slow_bound_index(traces: simulator.Traces, *, quantile: float) -> np.ndarray:
    """Pick each run's latency bound: the bucket nearest the control's `quantile` over the whole run."""
    # NOTE: the live judge picks it from each window's data. Both choices agree except when the
    # control has served few requests.
    return np.array(
        [
            judge_counts.nearest_bound_index(buckets, simulator.BUCKET_BOUNDS, quantile) or 0
            for buckets in traces.control_buckets
        ]
    )


def draw_step_counts(
    traces: simulator.Traces, *, rng: np.random.Generator, quantile: float
) -> list[simulator.WeightCounts]:
    """Draw the counts at every step weight once, so that every setting and mode replays the same ones."""
    bound_index = slow_bound_index(traces, quantile=quantile)
    return [
        simulator.counts_at_weight(traces, weight=weight, slow_bound_index=bound_index, rng=rng)
        for weight in simulator.STEP_WEIGHTS
    ]


def decide_canaryd(
    traces: simulator.Traces,
    *,
    settings: judge.JudgeSettings,
    step_advance: spec_settings.StepAdvance,
    step_counts: list[simulator.WeightCounts],
) -> decisions.Decisions:
    """Walk every run through the steps as the decision core would, judging all data since the first step."""
    runs, intervals = traces.runs, traces.intervals
    deadline = int(round(STEP_DEADLINE_SECONDS / simulator.SCRAPE_SECONDS))
    first_advance = int(round(ANALYSIS_WINDOW_SECONDS / simulator.SCRAPE_SECONDS)) - 1
    ends = (np.arange(intervals) + 1) * simulator.SCRAPE_SECONDS
    counted = judge_counts.after_warmup(
        ends, np.ones(intervals, dtype=bool), warmup_seconds=settings.warmup_seconds
    ).astype(float)
    positions = np.arange(intervals)[None, :]

    # What the canary and control served along each run's own path through the steps.
    served = {field: np.zeros((runs, intervals), dtype=int) for field in _COUNT_FIELDS}
    outcome = np.full(runs, decisions.Outcome.INCONCLUSIVE, dtype=int)
    decided_at = np.full(runs, intervals - 1, dtype=int)
    start = np.zeros(runs, dtype=int)
    walking = np.arange(runs)
    for step, counts in enumerate(step_counts):
        is_last = step == len(step_counts) - 1
        at_step = positions >= start[walking, None]
        for field in _COUNT_FIELDS:
            earlier = served[field][walking]
            served[field][walking] = np.where(at_step, getattr(counts, field)[walking], earlier)

        # Every look judges the run from its first step; only looks during this step can decide it.
        horizon = int(min(intervals, start[walking].max() + deadline))
        fail, advance = _looks(
            {field: served[field][walking, :horizon] * counted[:horizon] for field in _COUNT_FIELDS},
            ends=ends[:horizon],
            settings=settings,
            may_advance_without_pass=step_advance is spec_settings.StepAdvance.NO_FAILURE and not is_last,
        )
        since_start = positions[:, :horizon] - start[walking, None]
        fail &= (since_start >= 0) & (since_start < deadline)
        # Only a whole analysis window at the step's weight advances it, and at the deadline only a
        # failure still counts.
        advance &= (since_start >= first_advance) & (since_start < deadline - 1)

        first_fail, first_move = decisions.first_true(fail), decisions.first_true(advance)
        failed = (first_fail != decisions.NEVER) & (
            (first_move == decisions.NEVER) | (first_fail <= first_move)
        )
        moved = ~failed & (first_move != decisions.NEVER)
        step_end = np.minimum(start[walking] + deadline - 1, intervals - 1)
        decided = np.select([failed, moved], [first_fail, first_move], step_end)

        ended = failed | ~moved | is_last
        ended_outcome = np.select(
            [failed, moved],
            [decisions.Outcome.FAILED, decisions.Outcome.PROMOTED],
            decisions.Outcome.INCONCLUSIVE,
        )
        outcome[walking[ended]] = ended_outcome[ended]
        decided_at[walking[ended]] = decided[ended]
        start[walking] = decided + 1
        walking = walking[~ended]
        if walking.size == 0:
            break

    return decisions.Decisions(
        outcome=outcome, decided_at=decided_at, canary_requests=served["canary_requests"]
    )


def _looks(counts, *, ends, settings, may_advance_without_pass):
    """Return the failing looks and the looks that may advance a step, (runs, intervals)."""
    paths = []
    for events, control_events, tolerance in (
        ("canary_errors", "control_errors", settings.error_ratio),
        ("canary_slow", "control_slow", settings.latency),
    ):
        metric = rates.verdict_paths(
            canary_events=counts[events],
            canary_totals=counts["canary_requests"],
            control_events=counts[control_events],
            control_totals=counts["control_requests"],
            interval_ends=ends,
            tolerance=tolerance,
            settings=settings,
        )
        paths.append((metric, tolerance))

    shape = counts["canary_requests"].shape
    fail = np.zeros(shape, dtype=bool)
    for metric, tolerance in paths:
        if tolerance.critical:
            fail |= metric.is_verdict(verdicts.Verdict.FAIL)
    advance = np.ones(shape, dtype=bool)
    for metric, _ in paths:
        advance &= metric.is_verdict(verdicts.Verdict.PASS)
    if may_advance_without_pass:
        # Inconclusive with the minimum sample on both metrics and no critical failure: no failure shown.
        has_sample = np.ones(shape, dtype=bool)
        for metric, _ in paths:
            has_sample &= ~np.isin(metric.rules, _BELOW_MINIMUM_SAMPLE)
        advance |= has_sample & ~fail
    return fail, advance
