"""Judge the current step of a standalone rollout from Prometheus.

Layer 3 (engine). Each analysis covers whole intervals from the moment the step's weight was
confirmed up to the last interval Prometheus has surely scraped. It queries both arms through the
configured preset (`canaryd.metrics.collect`), runs the judge, and tags the judgement with the
revision, the step and the window, as the decision core expects.

Missing data and an unreachable Prometheus become a `no_data` judgement whose reason names the cause,
so the step holds and can never pass on them. A configuration error (several series, a rejected
query) is raised: waiting would not fix it.
"""

from __future__ import annotations

import dataclasses
import datetime

from canaryd import judge, observations, verdicts
from canaryd.core import observed
from canaryd.metrics import collect, outcomes, protocol, windows
from canaryd.standalone import config as standalone_config
from canaryd.standalone import record as rollout_record


@dataclasses.dataclass(frozen=True)
class StepAnalysis:
    """An analysis result for the core, and the per-interval numbers behind it for the record."""

    result: observed.AnalysisResult
    canary: rollout_record.ArmPoints | None
    control: rollout_record.ArmPoints | None


class Analyst:
    """Runs one analysis per call for the rollout described by `config`."""

    def __init__(
        self,
        *,
        config: standalone_config.StandaloneConfig,
        source: protocol.MetricsSource,
        preset: protocol.Preset,
    ) -> None:
        self.config = config
        self.source = source
        self.preset = preset
        self.settings = config.judge_settings()
        metrics = config.metrics
        self.canary = protocol.ArmTarget(
            arm=observations.Arm.CANARY, namespace=metrics.namespace, workload=metrics.canary
        )
        self.control = protocol.ArmTarget(
            arm=observations.Arm.CONTROL, namespace=metrics.namespace, workload=metrics.control
        )

    @property
    def interval_seconds(self) -> float:
        return self.config.metrics.interval.total_seconds()

    def window(self, *, start: datetime.datetime, now: datetime.datetime) -> windows.Window | None:
        """Return the whole intervals since `start` that Prometheus has scraped by `now`, or None."""
        # The last scrape interval may not be ingested yet; leaving it out keeps the latest
        # interval from reading as a drop in traffic.
        settled = now.timestamp() - self.config.prometheus.scrape_interval_seconds
        count = int((settled - start.timestamp()) // self.interval_seconds)
        if count < 1:
            return None
        begin = start.timestamp()
        return windows.Window(
            start=begin, end=begin + count * self.interval_seconds, step_seconds=self.interval_seconds
        )

    def analyse(
        self, *, revision: str, step_index: int, start: datetime.datetime, now: datetime.datetime
    ) -> StepAnalysis | None:
        """Judge the attempt's data since `start`; None until one whole interval has passed."""
        window = self.window(start=start, now=now)
        if window is None:
            return None

        canary = control = None
        try:
            comparison = collect.collect_comparison(
                source=self.source,
                preset=self.preset,
                canary=self.canary,
                control=self.control,
                window=window,
            )
        except outcomes.DataMissing as error:
            judgement = _no_data(f"no data to judge: {error}")
        except outcomes.SourceUnreachable as error:
            judgement = _no_data(f"Prometheus is unreachable, nothing is known about the canary: {error}")
        else:
            judgement = self._with_queries(judge.judge(comparison, settings=self.settings), window=window)
            canary = rollout_record.ArmPoints.from_series(comparison.canary)
            control = rollout_record.ArmPoints.from_series(comparison.control)

        result = observed.AnalysisResult(
            revision=revision,
            step_index=step_index,
            window_start=_utc(window.start),
            window_end=_utc(window.end),
            judgement=judgement,
        )
        return StepAnalysis(result=result, canary=canary, control=control)

    def _with_queries(self, judgement: verdicts.Judgement, *, window: windows.Window) -> verdicts.Judgement:
        # The judge receives only numbers; the queries that produced them go into each metric's result,
        # so the status and the report show exactly what was asked.
        canary = self.preset.queries(target=self.canary, step_seconds=window.step_seconds)
        control = self.preset.queries(target=self.control, step_seconds=window.step_seconds)
        queries = {
            judge.ERROR_RATIO: (canary.requests, canary.errors, control.requests, control.errors),
            judge.LATENCY: tuple(
                query for query in (canary.latency_buckets, control.latency_buckets) if query
            ),
        }
        metrics = tuple(
            metric.model_copy(update={"queries": queries.get(metric.metric, ())})
            for metric in judgement.metrics
        )
        return judgement.model_copy(update={"metrics": metrics})


def _no_data(reason: str) -> verdicts.Judgement:
    return verdicts.Judgement(verdict=verdicts.Verdict.NO_DATA, reason=reason)


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
