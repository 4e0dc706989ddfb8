"""canaryd's own judge, replayed over simulated rollouts.

Layer 4 (bench tool). It calls the judge's vectorised verdict rules (`canaryd.judge.rates`), the
same code `canaryd.judge.judge` runs, after every 15 s scrape of every run at once. A failing
critical metric rolls back at once. Promotion needs a pass on both metrics at the end of the
schedule, so the judge may hold the last step for up to `simulator.HOLD_SECONDS` to get one.
"""

from __future__ import annotations

import numpy as np

from canaryd import judge, verdicts
from canaryd.bench import decisions, simulator
from canaryd.judge import counts as judge_counts
from canaryd.judge import rates


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


def decide_canaryd(traces: simulator.Traces, *, settings: judge.JudgeSettings) -> decisions.Decisions:
    """Replay the judge after every scrape of every run and apply the rollout policy."""
    # The canary serves from the first interval on, so the warm-up is the same for every run.
    ends = (np.arange(traces.intervals) + 1) * simulator.SCRAPE_SECONDS
    counted = judge_counts.after_warmup(
        ends, np.ones(traces.intervals, dtype=bool), warmup_seconds=settings.warmup_seconds
    ).astype(float)
    errors = rates.verdict_paths(
        canary_events=traces.canary_errors * counted,
        canary_totals=traces.canary_requests * counted,
        control_events=traces.control_errors * counted,
        control_totals=traces.control_requests * counted,
        interval_ends=ends,
        tolerance=settings.error_ratio,
        settings=settings,
    )
    latency = _latency_paths(traces, settings=settings, counted=counted, interval_ends=ends)

    fail_looks = np.zeros(errors.rules.shape, dtype=bool)
    for metric, tolerance in ((errors, settings.error_ratio), (latency, settings.latency)):
        if tolerance.critical:
            fail_looks |= metric.is_verdict(verdicts.Verdict.FAIL)
    pass_looks = errors.is_verdict(verdicts.Verdict.PASS) & latency.is_verdict(verdicts.Verdict.PASS)
    return decisions.Decisions.from_looks(fail_looks=fail_looks, pass_looks=pass_looks)


def _latency_paths(
    traces: simulator.Traces, *, settings: judge.JudgeSettings, counted: np.ndarray, interval_ends: np.ndarray
) -> rates.RulePaths:
    # The slow-request bound is the bucket nearest the control's quantile over the whole run.
    # NOTE: the live judge picks it from the data so far. Both choices agree except in the first
    # minutes, when the control has served few requests.
    bound_index = np.array(
        [
            judge_counts.nearest_bound_index(buckets, simulator.BUCKET_BOUNDS, settings.latency_quantile) or 0
            for buckets in traces.control_buckets
        ]
    )
    chosen = bound_index[:, None, None]
    canary_fast = np.take_along_axis(traces.canary_buckets, chosen, axis=-1)[..., 0]
    control_fast = np.take_along_axis(traces.control_buckets, chosen, axis=-1)[..., 0]
    return rates.verdict_paths(
        canary_events=(traces.canary_buckets[..., -1] - canary_fast) * counted,
        canary_totals=traces.canary_buckets[..., -1] * counted,
        control_events=(traces.control_buckets[..., -1] - control_fast) * counted,
        control_totals=traces.control_buckets[..., -1] * counted,
        interval_ends=interval_ends,
        tolerance=settings.latency,
        settings=settings,
    )
