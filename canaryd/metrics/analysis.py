"""One analysis of a window: collect both arms from the metrics source and judge them.

This is the call an engine makes per step. Missing data and an unreachable source become a
`no_data` judgement that carries the outcome's message and query, so the decision core holds the
step (and never promotes) while the evidence is missing. A `ConfigurationError` is raised to the
engine instead, because the rollout's spec or template must be fixed by a person.
"""

from __future__ import annotations

import structlog

from canaryd import judge, verdicts
from canaryd.metrics import collect, outcomes, protocol, windows
from canaryd.spec import settings as spec_settings

log = structlog.get_logger(__name__)


def judge_settings(tolerances: spec_settings.Tolerances, *, base: judge.JudgeSettings) -> judge.JudgeSettings:
    """Return `base` with a rollout's tolerances; the latency tolerance's absolute part stays `base`'s."""
    return base.model_copy(
        update={
            "error_ratio": judge.Tolerance(
                relative=tolerances.error_ratio_relative, absolute=tolerances.error_ratio_absolute
            ),
            "latency": judge.Tolerance(relative=tolerances.latency_relative, absolute=base.latency.absolute),
        }
    )


def analyze(
    *,
    source: protocol.MetricsSource,
    preset: protocol.Preset,
    canary: protocol.ArmTarget,
    control: protocol.ArmTarget,
    window: windows.Window,
    settings: judge.JudgeSettings,
) -> verdicts.Judgement:
    """Judge the canary against the control over `window`; raise `ConfigurationError` on a bad setup."""
    try:
        comparison = collect.collect_comparison(
            source=source, preset=preset, canary=canary, control=control, window=window
        )
    except (outcomes.DataMissing, outcomes.SourceUnreachable) as outcome:
        log.warning(
            "analysis_query_failed",
            namespace=canary.namespace,
            rollout=canary.workload,
            reason=outcome.reason,
            error=outcome.message,
            query=outcome.query,
        )
        return no_data_judgement(outcome)

    judgement = judge.judge(comparison, settings=settings)
    return _with_queries(judgement, preset=preset, arms=(canary, control), step_seconds=window.step_seconds)


def no_data_judgement(outcome: outcomes.MetricsOutcome) -> verdicts.Judgement:
    """Return a `no_data` judgement naming the outcome, for every SLI the judge would have judged."""
    reason = f"{outcome.reason}: {outcome}"
    queries = (outcome.query,) if outcome.query else ()
    results = tuple(
        verdicts.MetricResult(metric=metric, verdict=verdicts.Verdict.NO_DATA, reason=reason, queries=queries)
        for metric in (judge.ERROR_RATIO, judge.LATENCY)
    )
    return verdicts.Judgement(verdict=verdicts.Verdict.NO_DATA, metrics=results, reason=reason)


def _with_queries(
    judgement: verdicts.Judgement,
    *,
    preset: protocol.Preset,
    arms: tuple[protocol.ArmTarget, protocol.ArmTarget],
    step_seconds: float,
) -> verdicts.Judgement:
    """Attach the rendered PromQL behind each SLI, so the status shows where the numbers came from."""
    arm_queries = [preset.queries(target=arm, step_seconds=step_seconds) for arm in arms]
    by_metric = {
        judge.ERROR_RATIO: tuple(q for queries in arm_queries for q in (queries.requests, queries.errors)),
        judge.LATENCY: tuple(queries.latency_buckets for queries in arm_queries if queries.latency_buckets),
    }
    metrics = tuple(
        result.model_copy(update={"queries": by_metric.get(result.metric, result.queries)})
        for result in judgement.metrics
    )
    return judgement.model_copy(update={"metrics": metrics})
