"""Render a rollout record as one self-contained HTML page.

Layer 4 tool. jinja2 fills `templates/report.html.j2` with autoescaping on, because rollout names,
reasons and queries come from user settings; plots are PNGs embedded as base64.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import importlib.metadata
import math

import jinja2

from canaryd.core import explain
from canaryd.report import plots
from canaryd.standalone import record as rollout_record

OUTCOME_TEXT = {
    rollout_record.Outcome.PROMOTED: "promoted: the canary passed every step and now receives all traffic",
    rollout_record.Outcome.ROLLED_BACK: "rolled back: all traffic is on the primary again",
    rollout_record.Outcome.PAUSED: "paused: a step reached its deadline and waits for a person",
    rollout_record.Outcome.ABORTED: "aborted: stopped before a verdict, traffic is on the primary",
}


@dataclasses.dataclass(frozen=True)
class StepSummary:
    """One row of the steps table, and the section that explains the step's verdict."""

    number: int
    weight: int
    verdict: str
    decision: str
    analysis_count: int
    canary_requests: int
    primary_requests: int
    share: str
    reason: str
    final: rollout_record.AnalysisRecord | None
    png: str | None
    queries: tuple[str, ...]


def render(record: rollout_record.RolloutRecord) -> str:
    """Return the report page for `record`."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("canaryd.report", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    environment.filters["number"] = format_number
    environment.filters["ratio"] = explain.format_ratio
    environment.filters["points"] = explain.format_effect
    template = environment.get_template("report.html.j2")

    outcome = record.outcome
    return template.render(
        record=record,
        outcome_text=OUTCOME_TEXT[outcome] if outcome else "unfinished: the record ends before an outcome",
        outcome_class=outcome.value if outcome else "unfinished",
        settings=settings_rows(record.settings),
        # Only the standalone mode counts each arm's requests at its router (HAProxy's lbtot).
        has_router_counts=record.source == "standalone",
        started=_timestamp(record.started_at),
        duration=_duration(record),
        weight_png=_base64(plots.weight_plot(record)),
        steps=[_summarize_step(record, index, weight) for index, weight in enumerate(record.steps)],
        version=_version(),
        written=_timestamp(datetime.datetime.now(tz=datetime.UTC).timestamp()),
    )


def settings_rows(settings: dict[str, object]) -> list[tuple[str, str]]:
    """Flatten the record's settings into (name, value) rows; a mapping gives one row per key."""
    rows = []
    for name, value in settings.items():
        if isinstance(value, dict):
            rows.extend((f"{name}: {key}", format_number(item)) for key, item in value.items())
        else:
            rows.append((name, format_number(value)))
    return rows


def format_number(value: object) -> str:
    """Four significant digits for floats, "–" for a missing value."""
    if value is None or isinstance(value, jinja2.Undefined):
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.4g}"
    return str(value)


def _summarize_step(record: rollout_record.RolloutRecord, index: int, weight: int) -> StepSummary:
    analyses = [analysis for analysis in record.analyses if analysis.step == index]
    final = analyses[-1] if analyses else None
    if final is None:
        return _summarize_step_without_analysis(record, index, weight)
    share = final.canary_share
    queries = tuple(dict.fromkeys(query for metric in final.judgement.metrics for query in metric.queries))
    return StepSummary(
        number=index + 1,
        weight=weight,
        verdict=final.judgement.verdict.value,
        decision=final.decision,
        analysis_count=len(analyses),
        canary_requests=final.canary_requests,
        primary_requests=final.primary_requests,
        share="–" if share is None else f"{share * 100:.1f}%",
        reason=final.judgement.reason,
        final=final,
        png=_base64(plots.step_plot(final, started_at=record.started_at, quantile=record.latency_quantile)),
        queries=queries,
    )


def _summarize_step_without_analysis(
    record: rollout_record.RolloutRecord, index: int, weight: int
) -> StepSummary:
    traffic = record.traffic.get(index)
    is_reached = traffic is not None or any(change.step == index for change in record.weights)
    if not is_reached:
        verdict, reason = "not reached", ""
    elif record.outcome is None:
        verdict, reason = "in progress", "the record ends before the first analysis of this step"
    else:
        verdict = "interrupted" if record.outcome is rollout_record.Outcome.ABORTED else "no analysis"
        reason = f"the rollout ended ({record.outcome.value}) before the first analysis of this step"
    canary = traffic.canary_requests if traffic else 0
    primary = traffic.primary_requests if traffic else 0
    return StepSummary(
        number=index + 1,
        weight=weight,
        verdict=verdict,
        decision="",
        analysis_count=0,
        canary_requests=canary,
        primary_requests=primary,
        share=f"{canary * 100 / (canary + primary):.1f}%" if canary + primary else "–",
        reason=reason,
        final=None,
        png=None,
        queries=(),
    )


def _base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(record: rollout_record.RolloutRecord) -> str:
    if record.finished_at is None:
        return "unfinished"
    return f"{record.finished_at - record.started_at:.0f} s"


def _version() -> str:
    try:
        return importlib.metadata.version("canaryd")
    except importlib.metadata.PackageNotFoundError:
        return "(unknown version)"
