"""Properties of the decision core over random sequences of observations, commands and delays.

Each example runs the core against a random world. Its workloads gain and lose Ready pods, its router
and primary may lag behind the actions, and its template changes at random. Its judgements may be of
the wrong revision, step or window. After every pass, the invariants below must hold.
"""

from __future__ import annotations

import dataclasses
import datetime

import hypothesis
from hypothesis import strategies

from canaryd import core, verdicts
from tests.core.world import NEW, STABLE, T0, make_spec

Phase = core.Phase
Verdict = verdicts.Verdict
REVISIONS = (STABLE, NEW, "rev-third")


@dataclasses.dataclass(frozen=True)
class Tick:
    """What happens in the world before one pass."""

    canary_pods: str  # "keep", "ready" or "lose"
    primary_pods: str
    router_follows: bool  # the router applies pending weights before this pass
    primary_follows: bool  # the primary takes a pending template before this pass
    push_revision: str | None
    verdict: Verdict | None
    judged_revision: str  # "current" or one of REVISIONS
    judged_step_shift: int
    window_start_shift_s: int  # relative to the analysis window's start
    window_length_s: int
    command: core.CommandKind | None
    advance_s: int
    # How much data the judgement's metrics rest on: "none" (a judgement without metrics),
    # "enough", "too-few" (below the judge's minimum sample) or "one-without-data".
    judged_sample: str = "none"


ticks = strategies.builds(
    Tick,
    canary_pods=strategies.sampled_from(["keep"] * 12 + ["ready"] * 6 + ["lose"]),
    primary_pods=strategies.sampled_from(["keep"] * 12 + ["ready"] * 2 + ["lose"]),
    router_follows=strategies.booleans(),
    primary_follows=strategies.booleans(),
    push_revision=strategies.sampled_from([None] * 40 + list(REVISIONS)),
    verdict=strategies.sampled_from([None, *Verdict, Verdict.PASS, Verdict.PASS, Verdict.INCONCLUSIVE]),
    judged_revision=strategies.sampled_from(["current"] * 9 + list(REVISIONS)),
    judged_step_shift=strategies.sampled_from([0] * 8 + [-1, 1]),
    window_start_shift_s=strategies.sampled_from([0] * 6 + [-300, -60, -1, 1, 60, 300]),
    window_length_s=strategies.sampled_from([60, 119, 120, 120, 150, 180, 300, 900]),
    command=strategies.sampled_from([None] * 40 + list(core.CommandKind)),
    advance_s=strategies.sampled_from([10, 30, 30, 60, 60, 120, 400]),
)

# Ticks in which the world mostly cooperates and the canary mostly passes, though the primary may lag.
# Mixed with the hostile ticks above, they let random runs also walk every step and reach promotion.
friendly_ticks = strategies.builds(
    Tick,
    canary_pods=strategies.just("ready"),
    primary_pods=strategies.just("ready"),
    router_follows=strategies.just(True),
    primary_follows=strategies.sampled_from([True, False]),
    push_revision=strategies.just(None),
    verdict=strategies.sampled_from([Verdict.PASS] * 28 + [Verdict.FAIL, Verdict.INCONCLUSIVE]),
    judged_revision=strategies.sampled_from(["current"] * 3 + list(REVISIONS)),
    judged_step_shift=strategies.just(0),
    window_start_shift_s=strategies.just(0),
    window_length_s=strategies.sampled_from([120, 150]),
    command=strategies.just(None),
    advance_s=strategies.sampled_from([60, 90]),
)

SAMPLES = ["enough"] * 4 + ["too-few", "one-without-data", "none"]

# The same ticks with judgements that carry per-metric results, for the no-failure step advance.
sampled_ticks = strategies.builds(
    dataclasses.replace,
    strategies.one_of(ticks, friendly_ticks),
    judged_sample=strategies.sampled_from(SAMPLES),
)
# Cooperating ticks whose judgements are mostly inconclusive on enough data, so that steps advance
# without a pass, and the last step sometimes passes.
friendly_inconclusive_ticks = strategies.builds(
    dataclasses.replace,
    friendly_ticks,
    verdict=strategies.sampled_from([Verdict.INCONCLUSIVE] * 6 + [Verdict.PASS] * 3 + [Verdict.NO_DATA]),
    judged_sample=strategies.sampled_from(SAMPLES),
)

specs = strategies.builds(
    lambda steps, policy, baseline: make_spec(
        steps=steps,
        inconclusive_policy=policy,
        baseline=baseline,
        analysis_window="2m",
        step_deadline="10m",
        router="gateway-api",  # the router that can route to a baseline
        httproute="web",
    ),
    steps=strategies.sampled_from(["1,5", "3,7,33", "10,20,50", "49"]),
    policy=strategies.sampled_from(["rollback", "pause"]),
    baseline=strategies.sampled_from(["false", "false", "true"]),
)


no_failure_specs = strategies.builds(
    lambda steps, policy: make_spec(
        steps=steps,
        inconclusive_policy=policy,
        step_advance="no-failure",
        analysis_window="2m",
        step_deadline="10m",
    ),
    steps=strategies.sampled_from(["1,5", "3,7,33", "10,20,50", "49"]),
    policy=strategies.sampled_from(["rollback", "pause"]),
)


@dataclasses.dataclass
class RandomWorld:
    """The cluster as the engine would see it, with lagging router and primary."""

    canary: core.WorkloadState = dataclasses.field(
        default_factory=lambda: core.WorkloadState(revision=STABLE, replicas=4, ready_replicas=4)
    )
    primary: core.WorkloadState | None = None
    baseline: core.WorkloadState | None = None
    actual_weight: int = 100
    pending_weight: int | None = None
    pending_primary: str | None = None

    def before_pass(self, tick: Tick) -> None:
        if tick.router_follows and self.pending_weight is not None:
            self.actual_weight, self.pending_weight = self.pending_weight, None
        if tick.primary_follows and self.pending_primary is not None:
            replicas = self.primary.replicas if self.primary is not None else 4
            self.primary = core.WorkloadState(
                revision=self.pending_primary, replicas=replicas, ready_replicas=replicas
            )
            self.pending_primary = None
        if tick.push_revision is not None and tick.push_revision != self.canary.revision:
            self.canary = core.WorkloadState(revision=tick.push_revision, replicas=self.canary.replicas)
        self.canary = _change_pods(self.canary, tick.canary_pods)
        if self.primary is not None:
            self.primary = _change_pods(self.primary, tick.primary_pods)

    def apply(self, action: core.Action) -> None:
        if isinstance(action, core.SetWeight):
            self.pending_weight = action.canary
        elif isinstance(action, core.CopyTemplateToPrimary | core.RestorePrimary):
            self.pending_primary = action.revision
        elif isinstance(action, core.ScaleCanary):
            self.canary = self.canary.model_copy(
                update={
                    "replicas": action.replicas,
                    "ready_replicas": min(self.canary.ready_replicas, action.replicas),
                }
            )
        elif isinstance(action, core.ScaleBaseline):
            self.baseline = core.WorkloadState(
                revision=STABLE, replicas=action.replicas, ready_replicas=action.replicas
            )

    def observe(self, analysis: core.AnalysisResult | None) -> core.Observations:
        return core.Observations(
            canary=self.canary,
            primary=self.primary,
            baseline=self.baseline,
            actual_weight=self.actual_weight,
            analysis=analysis,
        )


def _change_pods(workload: core.WorkloadState, change: str) -> core.WorkloadState:
    if change == "ready":
        return workload.model_copy(update={"ready_replicas": workload.replicas})
    if change == "lose":
        return workload.model_copy(update={"ready_replicas": 0})
    return workload


def _analysis(tick: Tick, status: core.RolloutStatus, now: datetime.datetime) -> core.AnalysisResult | None:
    if tick.verdict is None:
        return None
    revision = status.revision if tick.judged_revision == "current" else tick.judged_revision
    anchor = status.analysis_started_at or now
    start = anchor + datetime.timedelta(seconds=tick.window_start_shift_s)
    return core.AnalysisResult(
        revision=revision or STABLE,
        step_index=max(0, status.step_index + tick.judged_step_shift),
        window_start=start,
        window_end=start + datetime.timedelta(seconds=tick.window_length_s),
        judgement=verdicts.Judgement(verdict=tick.verdict, metrics=_metrics(tick)),
    )


def _metrics(tick: Tick) -> tuple[verdicts.MetricResult, ...]:
    """Per-metric results that agree with the tick's overall verdict and its sample."""
    if tick.judged_sample == "none" or tick.verdict is None:
        return ()
    if tick.verdict is Verdict.NO_DATA:
        return (_metric("error_ratio", Verdict.NO_DATA, False), _metric("latency", Verdict.NO_DATA, False))
    if tick.verdict is Verdict.INCONCLUSIVE and tick.judged_sample == "too-few":
        return (
            _metric("error_ratio", Verdict.INCONCLUSIVE, False),
            _metric("latency", Verdict.INCONCLUSIVE, False),
        )
    if tick.verdict is Verdict.INCONCLUSIVE and tick.judged_sample == "one-without-data":
        return (
            _metric("error_ratio", Verdict.INCONCLUSIVE, True),
            _metric("latency", Verdict.NO_DATA, False),
        )
    latency = Verdict.INCONCLUSIVE if tick.verdict is Verdict.FAIL else tick.verdict
    return (_metric("error_ratio", tick.verdict, True), _metric("latency", latency, True))


def _metric(name: str, verdict: Verdict, has_minimum_sample: bool) -> verdicts.MetricResult:
    return verdicts.MetricResult(
        metric=name, verdict=verdict, has_minimum_sample=has_minimum_sample, canary_samples=200
    )


def _run(spec, tick_list):
    """Yield (observations, commands, status before, decision) for every pass."""
    world = RandomWorld()
    status = core.RolloutStatus()
    now = T0
    for tick in tick_list:
        world.before_pass(tick)
        observations = world.observe(_analysis(tick, status, now))
        commands = (core.Command(kind=tick.command, issued_at=now, issued_by="prop"),) if tick.command else ()
        decision = core.decide(
            spec=spec, status=status, observations=observations, commands=commands, now=now
        )
        yield observations, commands, status, decision
        for action in decision.actions:
            world.apply(action)
        status = decision.status
        now += datetime.timedelta(seconds=tick.advance_s)


def _entered(phase: Phase, before: core.RolloutStatus, decision: core.Decision) -> bool:
    return decision.status.phase is phase and before.phase is not phase


SETTINGS = hypothesis.settings(max_examples=120, deadline=None, derandomize=True)
TICK_LISTS = strategies.lists(strategies.one_of(ticks, friendly_ticks), min_size=20, max_size=60)


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_weights_stay_within_range_and_add_up(spec, tick_list):
    for _, _, _, decision in _run(spec, tick_list):
        status = decision.status
        assert 0 <= status.desired_weight <= 100
        assert 0 <= status.desired_baseline_weight <= 100
        assert status.primary_weight + status.desired_weight + status.desired_baseline_weight == 100
        assert 0 <= status.primary_weight <= 100
        for action in decision.actions:
            if isinstance(action, core.SetWeight):
                assert action.primary + action.canary + action.baseline == 100
                assert min(action.primary, action.canary, action.baseline) >= 0


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_traffic_goes_only_to_sides_with_ready_pods(spec, tick_list):
    for observations, _, _, decision in _run(spec, tick_list):
        for action in decision.actions:
            if not isinstance(action, core.SetWeight):
                continue
            if action.canary > 0:
                assert observations.canary.has_ready_pods
            if action.baseline > 0:
                assert observations.baseline is not None and observations.baseline.has_ready_pods
            if action.primary > 0:
                assert observations.primary is not None and observations.primary.has_ready_pods


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_no_promotion_without_pass_at_every_step(spec, tick_list):
    for _, commands, before, decision in _run(spec, tick_list):
        if not _entered(Phase.PROMOTING, before, decision):
            continue
        if any(command.kind is core.CommandKind.PROMOTE for command in commands):
            continue
        records = {record.index: record for record in decision.status.steps}
        assert sorted(records) == list(range(len(spec.steps)))
        assert all(record.verdict is Verdict.PASS for record in records.values())


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_no_verdict_from_another_revision_is_used(spec, tick_list):
    for observations, _, before, decision in _run(spec, tick_list):
        is_same_attempt = (before.revision, before.attempt) == (
            decision.status.revision,
            decision.status.attempt,
        )
        old_records = {record.index: record for record in before.steps} if is_same_attempt else {}
        for record in decision.status.steps:
            old = old_records.get(record.index)
            gained_judgement = record.judgement is not None and (
                old is None or old.judgement != record.judgement
            )
            gained_verdict = record.verdict in (Verdict.PASS, Verdict.FAIL) and (
                old is None or old.verdict != record.verdict
            )
            if not (gained_judgement or gained_verdict):
                continue
            analysis = observations.analysis
            assert analysis is not None
            assert analysis.revision == decision.status.revision
            assert before.analysis_started_at is not None
            assert analysis.window_start >= before.analysis_started_at
            assert record.window_start is not None and record.window_start >= record.started_at


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_rollback_ends_on_ready_primary(spec, tick_list):
    for observations, _, before, decision in _run(spec, tick_list):
        if not (_entered(Phase.FAILED, before, decision) or _entered(Phase.ABORTED, before, decision)):
            continue
        assert decision.status.desired_weight == 0
        assert decision.status.desired_baseline_weight == 0
        assert observations.actual_weight == 0
        assert observations.primary is not None
        assert observations.primary.is_ready
        assert observations.primary.revision == decision.status.stable_revision


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_success_only_when_primary_runs_canary_template(spec, tick_list):
    for observations, _, before, decision in _run(spec, tick_list):
        if not _entered(Phase.SUCCEEDED, before, decision):
            continue
        assert observations.primary is not None
        assert observations.primary.revision == decision.status.revision
        assert observations.primary.is_ready
        assert observations.actual_weight == 0


@SETTINGS
@hypothesis.given(spec=specs, tick_list=TICK_LISTS)
def test_canary_scaled_to_zero_only_behind_ready_primary(spec, tick_list):
    for observations, _, _, decision in _run(spec, tick_list):
        if core.ScaleCanary(replicas=0) not in decision.actions:
            continue
        assert observations.primary is not None and observations.primary.is_ready
        assert observations.actual_weight == 0


NO_FAILURE_TICK_LISTS = strategies.lists(
    strategies.one_of(sampled_ticks, friendly_inconclusive_ticks), min_size=20, max_size=60
)


@SETTINGS
@hypothesis.given(spec=no_failure_specs, tick_list=NO_FAILURE_TICK_LISTS)
def test_no_failure_promotes_only_after_pass_at_last_step(spec, tick_list):
    for _, commands, before, decision in _run(spec, tick_list):
        if not _entered(Phase.PROMOTING, before, decision):
            continue
        if any(command.kind is core.CommandKind.PROMOTE for command in commands):
            continue
        records = {record.index: record for record in decision.status.steps}
        last = len(spec.steps) - 1
        assert sorted(records) == list(range(len(spec.steps)))
        assert records[last].verdict is Verdict.PASS
        for index in range(last):
            record = records[index]
            assert record.verdict is Verdict.PASS or (
                record.verdict is Verdict.INCONCLUSIVE and record.advanced_without_pass
            )


@SETTINGS
@hypothesis.given(spec=no_failure_specs, tick_list=NO_FAILURE_TICK_LISTS)
def test_no_failure_advances_only_on_inconclusive_with_minimum_sample(spec, tick_list):
    for observations, _, before, decision in _run(spec, tick_list):
        old = {record.index: record for record in before.steps if record.advanced_without_pass}
        for record in decision.status.steps:
            if not record.advanced_without_pass or record.index in old:
                continue
            analysis = observations.analysis
            assert analysis is not None
            assert record.index < len(spec.steps) - 1
            assert record.verdict is Verdict.INCONCLUSIVE
            assert analysis.verdict is Verdict.INCONCLUSIVE
            assert analysis.window >= spec.analysis.window
            assert analysis.judgement.metrics
            for result in analysis.judgement.metrics:
                assert result.has_minimum_sample
                assert result.verdict is not Verdict.NO_DATA
                assert not (result.verdict is Verdict.FAIL and result.critical)


def test_no_failure_runs_advance_and_promote():
    # Guards the no-failure properties above against a generator that never advances a step.
    reasons: set[str] = set()

    @SETTINGS
    @hypothesis.given(spec=no_failure_specs, tick_list=NO_FAILURE_TICK_LISTS)
    def collect(spec, tick_list):
        for _, _, _, decision in _run(spec, tick_list):
            reasons.update(event.reason for event in decision.events)

    collect()

    assert {"StepAdvancedWithoutFailure", "PromotingAfterNoFailure", "AnalysisFailed"} <= reasons


def test_random_runs_reach_every_end():
    # Guards the properties above against a generator that never reaches the phases they check.
    reached: set[Phase] = set()
    reasons: set[str] = set()

    @SETTINGS
    @hypothesis.given(spec=specs, tick_list=TICK_LISTS)
    def collect(spec, tick_list):
        for _, _, _, decision in _run(spec, tick_list):
            reached.add(decision.status.phase)
            reasons.update(event.reason for event in decision.events)

    collect()

    # The phases and reasons each property above depends on.
    assert {Phase.PROMOTING, Phase.SUCCEEDED, Phase.FAILED} <= reached
    assert {"StepPassed", "Promoting", "RevisionChanged", "AnalysisFailed"} <= reasons
