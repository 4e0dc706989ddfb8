"""One analysis of a rollout attempt for the Kubernetes controller: Prometheus, the preset, the judge.

Layer 3 (engine). The window runs from the moment the router confirmed the first step's weight to the
last whole interval Prometheus has surely scraped, so each step's judgement builds on the evidence of
the steps before it (the judge's tests stay valid as the canary's share changes, see `canaryd.judge`).
The canary arm is the user's Deployment (`web`) and the
control arm the primary (`web-primary`); `canaryd.metrics.analysis.analyze` turns missing data and an
unreachable Prometheus into a `no_data` judgement, so the step holds rather than passes.
"""

from __future__ import annotations

import dataclasses
import datetime

from canaryd import judge, observations, verdicts
from canaryd.controller import names
from canaryd.core import observed
from canaryd.core import status as core_status
from canaryd.metrics import analysis as metrics_analysis
from canaryd.metrics import outcomes, presets, protocol, windows
from canaryd.spec import settings


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """The controller-wide analysis settings (the per-Deployment ones come from annotations)."""

    interval_seconds: float = 30.0  # length of one analysis interval, the range of each increase()
    scrape_interval_seconds: float = 15.0  # how often Prometheus scrapes the apps
    judge: judge.JudgeSettings = dataclasses.field(default_factory=judge.JudgeSettings)


def window_since(
    start: datetime.datetime, *, now: datetime.datetime, settings: AnalysisSettings
) -> windows.Window | None:
    """Return the whole intervals since `start` that Prometheus has scraped by `now`, or None."""
    # The latest scrape may not be ingested yet; leaving it out keeps the last interval from reading low.
    settled = now.timestamp() - settings.scrape_interval_seconds
    count = int((settled - start.timestamp()) // settings.interval_seconds)
    if count < 1:
        return None
    begin = start.timestamp()
    return windows.Window(
        start=begin, end=begin + count * settings.interval_seconds, step_seconds=settings.interval_seconds
    )


def analyse_step(
    *,
    source: protocol.MetricsSource,
    spec: settings.RolloutSpec,
    status: core_status.RolloutStatus,
    namespace: str,
    deployment: str,
    now: datetime.datetime,
    settings: AnalysisSettings,
) -> observed.AnalysisResult | None:
    """Judge the attempt's data so far at the current step; None until a whole interval has passed."""
    if status.analysis_started_at is None or status.judged_since is None or status.revision is None:
        return None
    window = window_since(status.judged_since, now=now, settings=settings)
    if window is None:
        return None

    canary = protocol.ArmTarget(
        arm=observations.Arm.CANARY,
        namespace=namespace,
        workload=deployment,
        service=names.canary_service_name(deployment),
    )
    control = protocol.ArmTarget(
        arm=observations.Arm.CONTROL,
        namespace=namespace,
        workload=names.primary_name(deployment),
        service=names.primary_name(deployment),
    )
    try:
        preset = _preset(spec)
        judgement = metrics_analysis.analyze(
            source=source,
            preset=preset,
            canary=canary,
            control=control,
            window=window,
            settings=metrics_analysis.judge_settings(spec.analysis.tolerances, base=settings.judge),
        )
    except outcomes.ConfigurationError as error:
        # Waiting will not fix a bad query or template. The judgement carries the reason, and the step waits
        # until its deadline, where the inconclusive policy decides.
        judgement = verdicts.Judgement(
            verdict=verdicts.Verdict.NO_DATA, reason=f"analysis is misconfigured: {error}"
        )
    return observed.AnalysisResult(
        revision=status.revision,
        step_index=status.step_index,
        window_start=_utc(window.start),
        window_end=_utc(window.end),
        judgement=judgement,
    )


def _preset(spec: settings.RolloutSpec) -> protocol.Preset:
    name = spec.analysis.metrics.preset_name
    if name is None:
        # LIMITATION: MetricTemplate and ClusterMetricTemplate are not read by the controller yet (goes
        # away when the controller watches them and renders them through canaryd.metrics.templates).
        raise outcomes.ConfigurationError(
            "metric templates are not supported by the Kubernetes controller yet; remove "
            "canaryd.io/metric-template and canaryd.io/cluster-metric-template, "
            "or set canaryd.io/metric-preset"
        )
    return presets.build_preset(name)


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
