"""canaryd's own judge and rollout policy, replayed over simulated rollouts.

Layer 4 (bench tool). It calls the judge's vectorised verdict rules (`canaryd.judge.rates`), the
same code `canaryd.judge.judge` runs, after every 15 s scrape of every run at once, and walks the
steps the way the decision core (`canaryd.core.steps`) does:

- Each step is judged on its own window, which opens when the step's weight is in place. The judge
  leaves out the window's first `warmup_seconds`, as it does for every comparison it is given.
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
    """Walk every run through the steps as the decision core would, judging each step's own window."""
    runs, intervals = traces.runs, traces.intervals
    deadline = int(round(STEP_DEADLINE_SECONDS / simulator.SCRAPE_SECONDS))
    first_advance = int(round(ANALYSIS_WINDOW_SECONDS / simulator.SCRAPE_SECONDS)) - 1
    offsets = np.arange(deadline)
    ends = (offsets + 1) * simulator.SCRAPE_SECONDS
    counted = judge_counts.after_warmup(
        ends, np.ones(deadline, dtype=bool), warmup_seconds=settings.warmup_seconds
    ).astype(float)

    outcome = np.full(runs, decisions.Outcome.INCONCLUSIVE, dtype=int)
    decided_at = np.full(runs, intervals - 1, dtype=int)
    step_of_interval = np.zeros((runs, intervals), dtype=int)
    start = np.zeros(runs, dtype=int)
    walking = np.arange(runs)
    for step, counts in enumerate(step_counts):
        is_last = step == len(step_counts) - 1
        window = np.minimum(start[walking, None] + offsets[None, :], intervals - 1)
        fail, advance = _step_looks(
            counts,
            walking=walking,
            window=window,
            counted=counted,
            ends=ends,
            settings=settings,
            may_advance_without_pass=step_advance is spec_settings.StepAdvance.NO_FAILURE and not is_last,
        )
        # Only a whole analysis window advances a step, and at the deadline only a failure still counts.
        advance[:, :first_advance] = False
        advance[:, deadline - 1 :] = False

        first_fail, first_move = decisions.first_true(fail), decisions.first_true(advance)
        failed = (first_fail != decisions.NEVER) & (
            (first_move == decisions.NEVER) | (first_fail <= first_move)
        )
        moved = ~failed & (first_move != decisions.NEVER)
        decided = start[walking] + np.select([failed, moved], [first_fail, first_move], deadline - 1)
        step_of_interval[walking] = np.where(
            np.arange(intervals)[None, :] >= start[walking, None], step, step_of_interval[walking]
        )

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

    stacked = np.stack([counts.canary_requests for counts in step_counts])
    served = np.take_along_axis(stacked, step_of_interval[None], axis=0)[0]
    return decisions.Decisions(outcome=outcome, decided_at=decided_at, canary_requests=served)


def _step_looks(counts, *, walking, window, counted, ends, settings, may_advance_without_pass):
    """Return the failing looks and the looks that may advance the step, (runs walking, window)."""

    def take(values: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values[walking], window, axis=1) * counted

    paths = {}
    for name, events, control_events, tolerance in (
        ("errors", counts.canary_errors, counts.control_errors, settings.error_ratio),
        ("latency", counts.canary_slow, counts.control_slow, settings.latency),
    ):
        paths[name] = (
            rates.verdict_paths(
                canary_events=take(events),
                canary_totals=take(counts.canary_requests),
                control_events=take(control_events),
                control_totals=take(counts.control_requests),
                interval_ends=ends,
                tolerance=tolerance,
                settings=settings,
            ),
            tolerance,
        )

    fail = np.zeros(window.shape, dtype=bool)
    for metric, tolerance in paths.values():
        if tolerance.critical:
            fail |= metric.is_verdict(verdicts.Verdict.FAIL)
    advance = np.ones(window.shape, dtype=bool)
    for metric, _ in paths.values():
        advance &= metric.is_verdict(verdicts.Verdict.PASS)
    if may_advance_without_pass:
        # Inconclusive with the minimum sample on both metrics and no critical failure: no failure shown.
        has_sample = np.ones(window.shape, dtype=bool)
        for metric, _ in paths.values():
            has_sample &= ~np.isin(metric.rules, _BELOW_MINIMUM_SAMPLE)
        advance |= has_sample & ~fail
    return fail, advance
