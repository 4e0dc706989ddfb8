"""Run one rollout through HAProxy with the decision core, the judge and the Prometheus source.

Layer 3 (engine). Each pass reads HAProxy (weights, server states, request counters), analyses the
current step from Prometheus, hands everything to `canaryd.core.transition.decide` exactly as the
Kubernetes controller does, applies the actions and rewrites the record file.

Outside Kubernetes there are no Deployments, so the runner presents the two HAProxy servers to the
core as workloads. The primary server runs revision `primary_server` and the canary server runs
`canary_server`. A server is Ready while HAProxy reports it up (or has no health check).

Promotion differs from Kubernetes: the runner cannot give the primary server the canary's version,
so when the core starts promoting, the canary server takes all traffic and the run ends as
promoted. Moving the new version onto the primary server is then the operator's deployment step,
and the last pass reports that instead of the core's "the primary is taking revision" message.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import time
from collections.abc import Callable

import structlog

from canaryd.core import actions, explain, observed, transition
from canaryd.core import phase as phases
from canaryd.core import status as rollout_status
from canaryd.metrics import outcomes
from canaryd.metrics import presets as metric_presets
from canaryd.metrics import prometheus as prometheus_source
from canaryd.routers import haproxy, protocol
from canaryd.standalone import analysis as step_analysis
from canaryd.standalone import config as standalone_config
from canaryd.standalone import outputs, signals
from canaryd.standalone import record as rollout_record

logger = structlog.get_logger(__name__)

# HAProxy server states in which the server takes requests (`show stat` status column).
_SERVING_STATES = ("UP", "no check", "DRAIN")

# Extra time beyond every step's deadline before a run is stopped as stuck.
_RUN_MARGIN = datetime.timedelta(minutes=2)

_OUTCOMES = {
    phases.Phase.FAILED: rollout_record.Outcome.ROLLED_BACK,
    phases.Phase.ABORTED: rollout_record.Outcome.ABORTED,
    phases.Phase.PAUSED: rollout_record.Outcome.PAUSED,
}


def promoted_reason(*, primary_server: str, canary_server: str) -> str:
    """Say what a standalone promotion did and what is left to the operator."""
    return (
        f"every step passed, so the canary server {canary_server} now receives 100% of the traffic; "
        f"server {primary_server} still runs the previous version and receives none"
    )


# Exit codes of `canaryd run --standalone` and `canaryd demo`, by outcome. 10 and 11 are the codes
# `canaryd status` uses for a failed and for a paused rollout.
EXIT_CODES = {
    rollout_record.Outcome.PROMOTED: 0,
    rollout_record.Outcome.ROLLED_BACK: 10,
    rollout_record.Outcome.PAUSED: 11,
    rollout_record.Outcome.ABORTED: 1,
}
EXIT_ERROR = 1
EXIT_INVALID_CONFIG = 6


class RunnerError(Exception):
    """The rollout could not run to a verdict; traffic was returned to the primary where possible."""


@dataclasses.dataclass(frozen=True)
class PassReport:
    """The observations and decision of one pass, for live progress displays."""

    at: datetime.datetime
    status: rollout_status.RolloutStatus
    actual_weight: int | None
    canary_requests: int  # HAProxy's count for the canary since the current weight was set
    primary_requests: int
    analysis: rollout_record.AnalysisRecord | None  # the analysis of this pass, if one ran


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The outcome of a rollout and its full record."""

    outcome: rollout_record.Outcome
    record: rollout_record.RolloutRecord
    record_path: pathlib.Path
    record_error: str | None = None  # why the record file could not be written, if its last write failed


class StandaloneRunner:
    """Drives one rollout from its first step to promotion or rollback."""

    def __init__(
        self,
        *,
        config: standalone_config.StandaloneConfig,
        record_path: pathlib.Path,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> None:
        self.config = config
        self.spec = config.rollout_spec()
        self.record_path = record_path
        self.on_pass = on_pass
        self.router = haproxy.HAProxyRouter(
            socket_path=str(config.router.socket),
            backend=config.router.backend,
            primary_server=config.router.primary_server,
            canary_server=config.router.canary_server,
            timeout=config.router.timeout_seconds,
        )
        self.source = prometheus_source.PrometheusSource(settings=config.prometheus)
        self.preset = metric_presets.build_preset(config.metrics.preset, config.metrics.preset_settings)
        self.analyst = step_analysis.Analyst(config=config, source=self.source, preset=self.preset)
        self.canary_replicas = 0  # what the core last asked for; the canary server itself always runs
        # HAProxy's `lbtot` per server when the weight last changed.
        self.counters_at_weight: dict[str, int] = {}
        self.record = rollout_record.RolloutRecord(
            rollout=config.rollout,
            started_at=time.time(),
            steps=list(config.steps),
            settings=_settings_summary(config),
            latency_quantile=config.judge_settings().latency_quantile,
        )
        self.record_error: str | None = None
        self.log = logger.bind(rollout=config.rollout, backend=config.router.backend)

    @property
    def primary_revision(self) -> str:
        return self.config.router.primary_server

    @property
    def canary_revision(self) -> str:
        return self.config.router.canary_server

    @property
    def promoted_reason(self) -> str:
        return promoted_reason(primary_server=self.primary_revision, canary_server=self.canary_revision)

    def run(self) -> RunResult:
        """Walk the steps until promotion, rollback or pause; return the outcome."""
        self._check_sources()
        self._set_weight(0, step=None, reason="all traffic on the primary before the rollout")
        status = rollout_status.RolloutStatus(
            revision=self.primary_revision, stable_revision=self.primary_revision
        )
        stop_at = time.monotonic() + self._run_limit().total_seconds()
        try:
            while True:
                status, outcome = self._pass(status)
                if outcome is rollout_record.Outcome.PAUSED:
                    # LIMITATION: a standalone run cannot wait for a person to resume, so a paused
                    # step returns all traffic to the primary and ends the run (goes away when the
                    # standalone mode takes `canaryd resume` through a command file).
                    self._return_traffic_to_primary()
                if outcome is rollout_record.Outcome.PROMOTED:
                    return self._finish(outcome, reason=self.promoted_reason)
                if outcome is not None:
                    cause = explain.rollback_cause(status) or ""
                    return self._finish(outcome, reason=status.message, cause=cause)
                if time.monotonic() > stop_at:
                    raise RunnerError(
                        f"rollout {self.config.rollout} did not settle within {self._run_limit()}; "
                        "check the analysis deadline and that Prometheus scrapes both servers"
                    )
                time.sleep(self.config.pass_interval.total_seconds())
        except BaseException as error:
            # Whatever stopped the run (an error, Ctrl-C, SIGTERM), the canary must not keep traffic
            # that no rollout owns any more.
            self._return_traffic_to_primary()
            cause = signals.describe(error) if signals.is_stop(error) else str(error) or type(error).__name__
            self._finish(rollout_record.Outcome.ABORTED, reason=f"stopped before a verdict: {cause}")
            raise
        finally:
            self.source.close()

    def _pass(
        self, status: rollout_status.RolloutStatus
    ) -> tuple[rollout_status.RolloutStatus, rollout_record.Outcome | None]:
        now = datetime.datetime.now(tz=datetime.UTC)
        stats = self.router.server_stats()
        analysed = self._analyse(status, now=now)
        observations = observed.Observations(
            canary=self._workload(self.canary_revision, replicas=self.canary_replicas, stats=stats),
            primary=self._workload(self.primary_revision, replicas=1, stats=stats),
            actual_weight=self._actual_weight(),
            analysis=analysed.result if analysed else None,
        )

        # Requests since the current weight was set, counted before this pass's actions reset the baseline.
        canary_requests = self._since_weight(stats, self.config.router.canary_server)
        primary_requests = self._since_weight(stats, self.config.router.primary_server)
        if status.phase in phases.ANALYSING_PHASES and status.step_index < len(self.config.steps):
            self.record.traffic[status.step_index] = rollout_record.StepTraffic(
                canary_requests=canary_requests, primary_requests=primary_requests
            )

        decision = transition.decide(spec=self.spec, status=status, observations=observations, now=now)
        analysis_record = self._record_analysis(
            analysed,
            status=decision.status,
            canary_requests=canary_requests,
            primary_requests=primary_requests,
        )
        outcome = self._apply(decision)
        next_status = decision.status
        if outcome is None:
            outcome = _OUTCOMES.get(next_status.phase)
        if outcome is rollout_record.Outcome.PROMOTED:
            # The core's message says the primary takes the new revision, which only Kubernetes can do.
            next_status = next_status.model_copy(update={"message": self.promoted_reason})
            if analysis_record is not None:
                analysis_record = analysis_record.model_copy(update={"decision": self.promoted_reason})
                self.record.analyses[-1] = analysis_record

        self._write_record()
        report = PassReport(
            at=now,
            status=next_status,
            actual_weight=observations.actual_weight,
            canary_requests=canary_requests,
            primary_requests=primary_requests,
            analysis=analysis_record,
        )
        self._log_pass(report)
        if self.on_pass is not None:
            self.on_pass(report)
        return next_status, outcome

    def _analyse(
        self, status: rollout_status.RolloutStatus, *, now: datetime.datetime
    ) -> step_analysis.StepAnalysis | None:
        if status.phase not in phases.ANALYSING_PHASES or status.analysis_started_at is None:
            return None
        if status.judged_since is None:
            return None
        try:
            # Each step builds on the evidence of the steps before it: the window opens at the first step.
            return self.analyst.analyse(
                revision=status.revision or self.canary_revision,
                step_index=status.step_index,
                start=status.judged_since,
                now=now,
            )
        except outcomes.ConfigurationError as error:
            raise RunnerError(
                f"the metrics configuration of rollout {self.config.rollout} is invalid: {error}"
            ) from error

    def _apply(self, decision: transition.Decision) -> rollout_record.Outcome | None:
        """Apply the actions in order; return PROMOTED when the canary took all traffic."""
        step = decision.status.step_index if decision.status.step_index < len(self.config.steps) else None
        for action in decision.actions:
            if isinstance(action, actions.SetWeight):
                self._set_weight(action.canary, step=step, reason=decision.status.message)
            elif isinstance(action, actions.ScaleCanary):
                self.canary_replicas = action.replicas
            elif isinstance(action, actions.CopyTemplateToPrimary):
                self._set_weight(protocol.FULL_WEIGHT, step=None, reason=self.promoted_reason)
                return rollout_record.Outcome.PROMOTED
            elif isinstance(action, actions.RecordEvent):
                log = self.log.warning if action.type is actions.EventType.WARNING else self.log.info
                log("rollout_event_recorded", reason=action.reason, message=action.message)
            else:
                raise RunnerError(
                    f"the standalone mode cannot apply {action!r}; remove the setting that needs it"
                )
        return None

    def _set_weight(self, weight: int, *, step: int | None, reason: str) -> None:
        self.router.set_weight(weight=weight)
        stats = self.router.server_stats()
        self.counters_at_weight = {name: server.selected for name, server in stats.items()}
        self.record.weights.append(
            rollout_record.WeightChange(at=time.time(), weight=weight, step=step, reason=reason)
        )

    def _record_analysis(
        self,
        analysed: step_analysis.StepAnalysis | None,
        *,
        status: rollout_status.RolloutStatus,
        canary_requests: int,
        primary_requests: int,
    ) -> rollout_record.AnalysisRecord | None:
        if analysed is None:
            return None
        result = analysed.result
        entry = rollout_record.AnalysisRecord(
            at=time.time(),
            step=result.step_index,
            weight=self.config.steps[result.step_index],
            judgement=result.judgement,
            canary=analysed.canary,
            control=analysed.control,
            canary_requests=canary_requests,
            primary_requests=primary_requests,
            decision=status.message,
        )
        # Only the latest analysis of a step keeps its per-interval numbers; it covers the earlier ones.
        analyses = self.record.analyses
        if analyses and analyses[-1].step == entry.step:
            analyses[-1] = analyses[-1].model_copy(update={"canary": None, "control": None})
        analyses.append(entry)
        return entry

    def _workload(
        self, revision: str, *, replicas: int, stats: dict[str, haproxy.ServerStats]
    ) -> observed.WorkloadState:
        server = stats.get(revision)
        is_serving = server is not None and server.status.startswith(_SERVING_STATES)
        return observed.WorkloadState(
            revision=revision, replicas=replicas, ready_replicas=replicas if is_serving else 0
        )

    def _actual_weight(self) -> int | None:
        try:
            return self.router.current_weight()
        except protocol.RouterError as error:
            self.log.warning("canary_weight_read_failed", error=str(error))
            return None

    def _since_weight(self, stats: dict[str, haproxy.ServerStats], server: str) -> int:
        if server not in stats:
            return 0
        return stats[server].selected - self.counters_at_weight.get(server, 0)

    def _check_sources(self) -> None:
        # HAProxy and Prometheus must both respond before any traffic moves.
        self.router.server_stats()
        try:
            self.source.check_health()
        except outcomes.SourceUnreachable as error:
            raise RunnerError(
                f"Prometheus at {self.config.prometheus.url} is unreachable: {error}; "
                "start it or fix prometheus.url in the rollout file"
            ) from error

    def _return_traffic_to_primary(self) -> None:
        try:
            self._set_weight(0, step=None, reason="run stopped: all traffic back on the primary")
        except (protocol.RouterError, OSError) as error:
            self.log.error("traffic_return_failed", error=str(error))

    def _finish(self, outcome: rollout_record.Outcome, *, reason: str, cause: str = "") -> RunResult:
        self.record.outcome = outcome
        self.record.reason = reason
        self.record.cause = cause
        self.record.finished_at = time.time()
        self._write_record()
        self.log.info(
            "rollout_finished",
            outcome=outcome.value,
            reason=reason,
            cause=cause,
            record=str(self.record_path),
        )
        return RunResult(
            outcome=outcome, record=self.record, record_path=self.record_path, record_error=self.record_error
        )

    def _write_record(self) -> None:
        try:
            rollout_record.write_record(self.record, self.record_path)
        except OSError as error:
            # The rollout goes on: moving traffic safely matters more than its record, and the
            # command reports the failure with the outcome. The first failure is logged, not each pass.
            if self.record_error is None:
                self.log.error("rollout_record_write_failed", record=str(self.record_path), error=str(error))
            self.record_error = outputs.describe_failure(self.record_path, option="the record", error=error)
        else:
            self.record_error = None

    def _run_limit(self) -> datetime.timedelta:
        return (len(self.config.steps) + 1) * self.config.analysis.deadline + _RUN_MARGIN

    def _log_pass(self, report: PassReport) -> None:
        verdict = report.analysis.judgement.verdict.value if report.analysis else None
        self.log.info(
            "rollout_pass_completed",
            phase=report.status.phase.value,
            step=report.status.step_index + 1,
            weight=report.actual_weight,
            verdict=verdict,
            canary_requests=report.canary_requests,
            primary_requests=report.primary_requests,
        )


def run_file(
    path: pathlib.Path,
    *,
    record_path: pathlib.Path | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> RunResult:
    """Load a rollout file and run it; the record goes to `record_path` (default: beside the file).

    Raise `outputs.OutputPathError` before anything starts when the record cannot be written there.
    """
    config = standalone_config.load_config(path)
    destination = record_path or path.with_name(f"{config.rollout}-record.json")
    outputs.check_writable(destination, option="the record")
    return StandaloneRunner(config=config, record_path=destination, on_pass=on_pass).run()


def _settings_summary(config: standalone_config.StandaloneConfig) -> dict[str, object]:
    router = config.router
    return {
        "HAProxy backend": f"{router.backend} ({router.primary_server} → {router.canary_server})",
        "Prometheus": str(config.prometheus.url),
        "metrics": f"preset {config.metrics.preset}, interval {config.metrics.interval.total_seconds():g} s",
        "analysis window": f"{config.analysis.window.total_seconds():g} s",
        "step deadline": f"{config.analysis.deadline.total_seconds():g} s",
        "inconclusive policy": config.analysis.inconclusive_policy.value,
        "tolerances": config.analysis.tolerances.model_dump(),
        "judge": {
            key: value
            for key, value in config.judge_settings().model_dump().items()
            if key not in ("error_ratio", "latency")
        },
    }
