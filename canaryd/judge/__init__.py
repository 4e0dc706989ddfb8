"""The statistical judge: is the canary worse than its control, on errors and on latency?

Layer 1 (pure numpy/scipy: no I/O, no clock). Input is a `canaryd.observations.Comparison`;
output is a `canaryd.verdicts.Judgement` with one `MetricResult` per SLI.

Both SLIs become a rate of "bad" requests per arm: failed requests for the error ratio, and
requests slower than the histogram bound nearest the control's p99 for latency. Each rate goes
through the same pair of anytime-valid tests (see `canaryd.judge.sequential`): a fail needs
evidence that the canary is worse than `control * (1 + relative) + absolute`, a pass needs
evidence that it is not. The judge may therefore be called after every scrape. The fail test
also restarts every `restart_seconds`, so a regression that begins late is not diluted, and the
first `warmup_seconds` after the canary starts serving are not counted.

    from canaryd import judge
    judgement = judge.judge(comparison, settings=judge.JudgeSettings())
"""

from __future__ import annotations

import numpy as np

from canaryd import observations, verdicts
from canaryd.judge import counts as judge_counts
from canaryd.judge import rates
from canaryd.judge import settings as judge_settings

JudgeSettings = judge_settings.JudgeSettings
Tolerance = judge_settings.Tolerance

ERROR_RATIO = "error_ratio"
LATENCY = "latency"


def judge(comparison: observations.Comparison, *, settings: JudgeSettings) -> verdicts.Judgement:
    """Judge the canary against the control on the error ratio and, when histograms exist, on latency.

    Latency is left out only when neither arm carries a histogram, which is how the metrics
    sources report a preset without a latency query. A histogram on one arm only is no data.
    """
    warmup = settings.warmup_seconds
    intervals_used = int(np.sum(judge_counts.counted_intervals(comparison, warmup_seconds=warmup)))
    results = [
        rates.judge_rate(
            metric=ERROR_RATIO,
            counts=judge_counts.error_counts(comparison, warmup_seconds=warmup),
            tolerance=settings.error_ratio,
            settings=settings,
        )
    ]
    if comparison.canary.has_latency or comparison.control.has_latency:
        results.append(_judge_latency(comparison, settings=settings))
    verdict = verdicts.combine(results)
    return verdicts.Judgement(
        verdict=verdict,
        metrics=tuple(results),
        intervals_used=intervals_used,
        reason=_summary(verdict, results, intervals_used),
    )


def _judge_latency(comparison: observations.Comparison, *, settings: JudgeSettings) -> verdicts.MetricResult:
    counts = judge_counts.latency_counts(
        comparison, quantile=settings.latency_quantile, warmup_seconds=settings.warmup_seconds
    )
    if counts is None:
        return verdicts.MetricResult(
            metric=LATENCY,
            verdict=verdicts.Verdict.NO_DATA,
            critical=settings.latency.critical,
            reason="no latency histogram with the same buckets on both arms",
        )
    result = rates.judge_rate(metric=LATENCY, counts=counts, tolerance=settings.latency, settings=settings)
    if counts.bound is None:
        return result
    bound_note = f" (share of requests slower than {counts.bound:g} s, the bucket nearest the control's p"
    bound_note += f"{settings.latency_quantile * 100:g})"
    return result.model_copy(update={"reason": result.reason + bound_note})


def _summary(verdict: verdicts.Verdict, results: list[verdicts.MetricResult], intervals_used: int) -> str:
    if intervals_used == 0:
        return "no interval counted: the canary was never Ready with a non-zero share after its warm-up"
    deciding = [result.metric for result in results if result.verdict is verdict]
    if verdict is verdicts.Verdict.FAIL:
        deciding = [r.metric for r in results if r.verdict is verdicts.Verdict.FAIL and r.critical]
    names = ", ".join(deciding) if deciding else "no single metric"
    return f"{verdict.value} over {intervals_used} intervals, decided by {names}"
