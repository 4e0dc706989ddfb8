"""A small simulated world for decision-core tests: workloads and a router that follow the actions.

It plays the part of the engine and the cluster: it builds Observations, calls `decide`, stores the
status and applies the actions the way the adapters would (a SetWeight changes the reported weight, a
CopyTemplateToPrimary gives the primary the canary's template, and so on). Each behaviour can be
switched off, so that a test can hold the world in the state it needs, such as a primary that never
becomes Ready.
"""

from __future__ import annotations

import dataclasses
import datetime

from canaryd import core, spec, verdicts

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
STABLE = "rev-stable"
NEW = "rev-new"
NEWER = "rev-newer"
PRIMARY_REPLICAS = 4


def make_spec(**annotations: str) -> spec.RolloutSpec:
    """Parse a spec from annotations given without the prefix, with underscores for dashes."""
    written = {spec.PREFIX + "enabled": "true"}
    written.update({spec.PREFIX + key.replace("_", "-"): value for key, value in annotations.items()})
    return spec.parse_annotations(written, source="Deployment shop/web")


def judgement(
    verdict: verdicts.Verdict, reason: str = "", metrics: tuple[verdicts.MetricResult, ...] = ()
) -> verdicts.Judgement:
    return verdicts.Judgement(verdict=verdict, reason=reason, metrics=metrics)


def metric(
    name: str,
    verdict: verdicts.Verdict,
    *,
    has_minimum_sample: bool = True,
    critical: bool = True,
    canary_samples: int = 150,
) -> verdicts.MetricResult:
    """One SLI's result as the judge reports it, with both arms at or below the minimum sample."""
    return verdicts.MetricResult(
        metric=name,
        verdict=verdict,
        critical=critical,
        has_minimum_sample=has_minimum_sample,
        canary_samples=canary_samples,
        control_samples=canary_samples * 99,
    )


@dataclasses.dataclass
class World:
    spec: spec.RolloutSpec | spec.SpecError
    status: core.RolloutStatus = dataclasses.field(default_factory=core.RolloutStatus)
    now: datetime.datetime = T0
    canary: core.WorkloadState = dataclasses.field(
        default_factory=lambda: core.WorkloadState(
            revision=STABLE, replicas=PRIMARY_REPLICAS, ready_replicas=PRIMARY_REPLICAS
        )
    )
    primary: core.WorkloadState | None = None
    baseline: core.WorkloadState | None = None
    actual_weight: int | None = 100

    # What the simulated adapters do with actions.
    router_follows: bool = True
    primary_follows: bool = True
    canary_becomes_ready: bool = True

    decisions: list[core.Decision] = dataclasses.field(default_factory=list)
    applied: list[core.Action] = dataclasses.field(default_factory=list)

    def observe(self, analysis: core.AnalysisResult | None = None) -> core.Observations:
        return core.Observations(
            canary=self.canary,
            primary=self.primary,
            baseline=self.baseline,
            actual_weight=self.actual_weight,
            analysis=analysis,
        )

    def run(
        self,
        *,
        analysis: core.AnalysisResult | None = None,
        commands: tuple[core.Command, ...] = (),
        advance: datetime.timedelta = datetime.timedelta(seconds=30),
    ) -> core.Decision:
        """Run one pass at the current time, apply its actions, then move the clock on by `advance`."""
        decision = core.decide(
            spec=self.spec,
            status=self.status,
            observations=self.observe(analysis),
            commands=commands,
            now=self.now,
        )
        self.decisions.append(decision)
        self.status = decision.status
        for action in decision.actions:
            self.apply(action)
        self.now += advance
        return decision

    def apply(self, action: core.Action) -> None:
        self.applied.append(action)
        if isinstance(action, core.SetWeight) and self.router_follows:
            self.actual_weight = action.canary
        elif isinstance(action, core.CopyTemplateToPrimary | core.RestorePrimary) and self.primary_follows:
            replicas = self.primary.replicas if self.primary is not None else PRIMARY_REPLICAS
            self.primary = core.WorkloadState(
                revision=action.revision, replicas=replicas, ready_replicas=replicas
            )
        elif isinstance(action, core.ScaleCanary):
            ready = action.replicas if self.canary_becomes_ready else 0
            self.canary = self.canary.model_copy(
                update={"replicas": action.replicas, "ready_replicas": ready}
            )
        elif isinstance(action, core.ScaleBaseline):
            revision = self.primary.revision if self.primary is not None else None
            self.baseline = core.WorkloadState(
                revision=revision, replicas=action.replicas, ready_replicas=action.replicas
            )

    def push_revision(self, revision: str) -> None:
        """Change the Deployment's pod template, as `kubectl set image` would; new pods are not Ready yet."""
        self.canary = core.WorkloadState(revision=revision, replicas=self.canary.replicas, ready_replicas=0)

    def make_canary_ready(self) -> None:
        self.canary = self.canary.model_copy(update={"ready_replicas": self.canary.replicas})

    def analysis(
        self,
        verdict: verdicts.Verdict,
        *,
        revision: str | None = None,
        step_index: int | None = None,
        window_start: datetime.datetime | None = None,
        reason: str = "",
        metrics: tuple[verdicts.MetricResult, ...] = (),
    ) -> core.AnalysisResult:
        """A judgement ending now, of the current revision and step unless given, over the attempt's data."""
        start = window_start or self.status.judged_since or self.now
        return core.AnalysisResult(
            revision=revision or self.status.revision or "",
            step_index=self.status.step_index if step_index is None else step_index,
            window_start=start,
            window_end=max(self.now, start),
            judgement=judgement(verdict, reason, metrics),
        )

    # Scenario builders: drive the world to a known state through real passes.

    def bootstrap(self) -> World:
        for _ in range(10):
            if self.status.phase is core.Phase.IDLE and self.primary is not None:
                return self
            self.run()
        raise AssertionError(f"bootstrap did not finish: {self.status.phase} {self.status.reason}")

    def start_rollout(self, revision: str = NEW) -> World:
        self.bootstrap()
        self.push_revision(revision)
        self.run()
        self.make_canary_ready()
        return self

    def reach_analysis(self, *, step_index: int = 0) -> World:
        """Walk passing steps until step `step_index` is being analysed."""
        for _ in range(100):
            status = self.status
            if status.step_index == step_index and status.analysis_started_at is not None:
                if status.phase in (core.Phase.PROGRESSING, core.Phase.HOLDING):
                    return self
            if (
                status.analysis_started_at is not None
                and self.now - status.analysis_started_at >= self._window()
            ):
                self.run(analysis=self.analysis(verdicts.Verdict.PASS))
            else:
                self.run()
        raise AssertionError(f"step {step_index} not reached: {self.status.phase} {self.status.reason}")

    def pass_step(self) -> core.Decision:
        """Let the analysis window elapse, then hand in a passing judgement of the whole window."""
        self.now = max(self.now, (self.status.analysis_started_at or self.now) + self._window())
        return self.run(analysis=self.analysis(verdicts.Verdict.PASS))

    def reach_promotion(self) -> World:
        assert isinstance(self.spec, spec.RolloutSpec)
        self.reach_analysis(step_index=self.spec.step_count - 1)
        self.pass_step()
        assert self.status.phase is core.Phase.PROMOTING, self.status
        return self

    def run_until(self, *phases: core.Phase, passes: int = 20, **kwargs: object) -> World:
        for _ in range(passes):
            if self.status.phase in phases:
                return self
            self.run(**kwargs)  # type: ignore[arg-type]
        raise AssertionError(f"none of {phases} reached: {self.status.phase} {self.status.reason}")

    def _window(self) -> datetime.timedelta:
        assert isinstance(self.spec, spec.RolloutSpec)
        return self.spec.analysis.window


def actions_of(decision: core.Decision, kind: type) -> list:
    return [action for action in decision.actions if isinstance(action, kind)]


def command(kind: core.CommandKind, at: datetime.datetime, *, revision: str | None = None) -> core.Command:
    return core.Command(kind=kind, issued_at=at, issued_by="alice", revision=revision)
