"""Table tests of the decision core's transitions, driven through a simulated world (tests/core/world.py)."""

from __future__ import annotations

import datetime

import pytest

from canaryd import core, spec, verdicts
from tests.core import world as worlds
from tests.core.world import NEW, NEWER, STABLE, World, actions_of, command, make_spec

Phase = core.Phase
Verdict = verdicts.Verdict
MINUTE = datetime.timedelta(minutes=1)


# Bootstrap


def test_bootstrap_creates_primary_before_moving_traffic():
    world = World(spec=make_spec(), primary_follows=False)

    first = world.run()
    assert world.status.phase is Phase.INITIALIZING
    assert actions_of(first, core.CopyTemplateToPrimary) == [core.CopyTemplateToPrimary(revision=STABLE)]
    assert actions_of(first, core.SetWeight) == []

    second = world.run()
    assert world.status.reason == "WaitingForPrimary"
    assert actions_of(second, core.SetWeight) == []


def test_bootstrap_ends_idle_with_traffic_on_primary():
    world = World(spec=make_spec()).bootstrap()

    assert world.status.phase is Phase.IDLE
    assert world.actual_weight == 0
    assert world.canary.replicas == 0
    assert world.status.stable_revision == STABLE
    assert core.ScaleCanary(replicas=0) in world.applied


# Passing steps and promotion


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param("1,5", id="default-1-5"),
        pytest.param("3,7,33", id="no-round-numbers-3-7-33"),
        pytest.param("10,20,30,40,50", id="five-steps"),
        pytest.param("99", id="single-step-99"),
    ],
)
def test_passing_every_step_promotes(steps):
    world = World(spec=make_spec(steps=steps)).start_rollout()
    weights = [int(weight) for weight in steps.split(",")]

    seen_weights = []
    for index, weight in enumerate(weights):
        world.reach_analysis(step_index=index)
        seen_weights.append(world.status.desired_weight)
        assert world.actual_weight == weight
        world.pass_step()

    assert seen_weights == weights
    assert world.status.phase is Phase.PROMOTING
    assert core.CopyTemplateToPrimary(revision=NEW) in world.applied
    world.run_until(Phase.SUCCEEDED)
    assert world.primary is not None and world.primary.revision == NEW
    assert world.actual_weight == 0
    assert world.canary.replicas == 0
    assert [record.verdict for record in world.status.steps] == [Verdict.PASS] * len(weights)


@pytest.mark.parametrize(
    "primary",
    [
        pytest.param(
            core.WorkloadState(revision=STABLE, replicas=4, ready_replicas=4), id="primary-on-old-template"
        ),
        pytest.param(
            core.WorkloadState(revision=NEW, replicas=4, ready_replicas=3), id="primary-not-fully-ready"
        ),
        pytest.param(
            core.WorkloadState(revision=NEW, replicas=4, ready_replicas=0), id="primary-no-ready-pods"
        ),
    ],
)
def test_promotion_waits_for_primary_on_canary_template(primary):
    world = World(spec=make_spec(steps="3,7,33")).start_rollout().reach_promotion()
    world.primary_follows = False
    world.primary = primary

    for _ in range(5):
        decision = world.run()
        assert world.status.phase is Phase.PROMOTING
        assert actions_of(decision, core.SetWeight) == []
        assert actions_of(decision, core.ScaleCanary) == []
    assert world.actual_weight == 33


def test_promotion_succeeds_only_after_router_reports_primary_weight():
    world = World(spec=make_spec(steps="3,7,33"), router_follows=True).start_rollout().reach_promotion()
    world.router_follows = False

    world.run()  # the primary took the template: traffic is sent to it
    world.run()
    assert world.status.phase is Phase.PROMOTING
    assert world.status.desired_weight == 0
    assert world.canary.replicas > 0

    world.actual_weight = 0
    world.run()
    assert world.status.phase is Phase.SUCCEEDED


@pytest.mark.parametrize(
    "case",
    [
        pytest.param({"window_start_shift": MINUTE}, id="window-shorter-than-analysis-window"),
        pytest.param({"step_index": 1}, id="judgement-of-another-step"),
        pytest.param({"revision": STABLE}, id="judgement-of-another-revision"),
        pytest.param({"window_start_shift": -MINUTE}, id="window-starting-before-weight-held"),
    ],
)
def test_pass_that_does_not_count_keeps_step(case):
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=0)
    world.now = world.status.analysis_started_at + 2 * MINUTE
    start = world.status.analysis_started_at + case.get("window_start_shift", datetime.timedelta(0))
    analysis = world.analysis(
        Verdict.PASS, revision=case.get("revision"), step_index=case.get("step_index"), window_start=start
    )

    world.run(analysis=analysis)

    assert world.status.step_index == 0
    assert world.status.desired_weight == 1
    assert world.status.step_record(0).verdict is None


def test_later_step_judges_from_first_step():
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=1)
    first_weight_held = world.status.step_record(0).window_start

    world.now = world.status.analysis_started_at + 2 * MINUTE
    world.run(analysis=world.analysis(Verdict.PASS))

    assert world.status.judged_since == first_weight_held
    assert world.status.step_record(1).window_start == first_weight_held
    assert world.status.phase is Phase.PROMOTING


def test_pass_waits_for_step_window():
    # Evidence from step 1 already passes, but step 2 still needs its whole window at its own weight.
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=1)
    world.now = world.status.analysis_started_at + MINUTE

    world.run(analysis=world.analysis(Verdict.PASS))

    assert world.status.step_index == 1
    assert world.status.step_record(1).verdict is None


def test_analysis_before_weight_is_ignored():
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=1)
    ended_before = world.analysis(Verdict.FAIL).model_copy(
        update={"window_end": world.status.analysis_started_at}
    )
    world.now += MINUTE

    world.run(analysis=ended_before)

    assert world.status.phase is not Phase.ROLLING_BACK
    assert world.status.step_record(1).judgement is None


def test_old_status_judges_from_current_step():
    # A rollout in progress when canaryd was upgraded from a version that judged each step apart.
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=1)
    started = world.status.analysis_started_at
    world.status = world.status.model_copy(update={"judged_since": None})

    world.run()

    assert world.status.judged_since == started


def test_new_attempt_restarts_judged_window():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    judged_before = world.status.judged_since
    world.push_revision(NEWER)
    world.make_canary_ready()
    world.run()
    world.run()  # weight confirmed: the new attempt's window opens

    assert world.status.judged_since is not None
    assert world.status.judged_since > judged_before


# Failing analysis and rollback


def _world_in_phase(phase: Phase) -> World:
    world = (
        World(spec=make_spec(steps="5,20", step_deadline="10m")).start_rollout().reach_analysis(step_index=1)
    )
    if phase is Phase.HOLDING:
        world.run(analysis=world.analysis(Verdict.INCONCLUSIVE))
    elif phase is Phase.PAUSED:
        world.run(commands=(command(core.CommandKind.PAUSE, world.now),))
    elif phase is Phase.PROMOTING:
        world.primary_follows = False
        world.pass_step()
    assert world.status.phase is phase
    return world


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param(Phase.PROGRESSING, id="while-analysing"),
        pytest.param(Phase.HOLDING, id="while-holding"),
        pytest.param(Phase.PAUSED, id="while-paused"),
        pytest.param(Phase.PROMOTING, id="while-promoting"),
    ],
)
def test_failed_analysis_rolls_back_from_phase(phase):
    world = _world_in_phase(phase)
    failing = world.analysis(Verdict.FAIL, step_index=1, reason="error ratio 4.1% vs 0.2%")

    decision = world.run(analysis=failing)

    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "AnalysisFailed"
    assert "error ratio 4.1% vs 0.2%" in world.status.message
    assert world.status.step_record(1).verdict is Verdict.FAIL
    assert any(event.type is core.EventType.WARNING for event in decision.events)
    world.primary_follows = True
    world.run_until(Phase.FAILED)
    assert world.actual_weight == 0
    assert world.primary.revision == STABLE
    assert world.primary.is_ready
    assert world.canary.replicas == 0


def test_rollback_during_promotion_restores_primary_template():
    world = _world_in_phase(Phase.PROMOTING)
    world.primary = core.WorkloadState(revision=NEW, replicas=4, ready_replicas=4)  # the copy already ran

    decision = world.run(analysis=world.analysis(Verdict.FAIL, step_index=1))

    assert actions_of(decision, core.RestorePrimary) == [core.RestorePrimary(revision=STABLE)]
    assert actions_of(decision, core.SetWeight) == []  # the primary still runs the failed template
    world.primary_follows = True
    world.primary = core.WorkloadState(revision=STABLE, replicas=4, ready_replicas=4)
    world.run_until(Phase.FAILED)
    assert world.actual_weight == 0


@pytest.mark.parametrize(
    "primary",
    [
        pytest.param(
            core.WorkloadState(revision=STABLE, replicas=4, ready_replicas=0), id="primary-no-ready-pods"
        ),
        pytest.param(
            core.WorkloadState(revision=NEW, replicas=4, ready_replicas=4), id="primary-on-failed-template"
        ),
    ],
)
def test_rollback_keeps_traffic_and_canary_while_primary_cannot_serve(primary):
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    world.primary_follows = False
    world.primary = primary

    for _ in range(4):
        decision = world.run(analysis=world.analysis(Verdict.FAIL))
        assert actions_of(decision, core.SetWeight) == []
        assert actions_of(decision, core.ScaleCanary) == []
    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "RollbackBlocked"
    assert world.actual_weight == 20
    assert world.canary.ready_replicas > 0


def test_deleted_primary_returns_on_stable_revision():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    world.run_until(Phase.FAILED, passes=10, analysis=world.analysis(Verdict.FAIL))
    world.primary = None

    decision = world.run()

    assert actions_of(decision, core.RestorePrimary) == [core.RestorePrimary(revision=STABLE)]
    assert actions_of(decision, core.CopyTemplateToPrimary) == []
    world.run_until(Phase.IDLE, passes=10)
    assert world.primary.revision == STABLE
    assert world.status.revision == NEW
    world.run()
    assert world.status.phase is Phase.IDLE


def test_rollback_scales_canary_only_after_router_reports_primary_weight():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    world.router_follows = False

    for _ in range(3):
        decision = world.run(analysis=world.analysis(Verdict.FAIL))
        assert actions_of(decision, core.ScaleCanary) == []
    assert world.status.desired_weight == 0

    world.actual_weight = 0
    decision = world.run()
    assert actions_of(decision, core.ScaleCanary) == [core.ScaleCanary(replicas=0)]
    assert world.status.phase is Phase.FAILED


def test_canary_losing_ready_pods_rolls_back():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    world.canary = world.canary.model_copy(update={"ready_replicas": 0})

    world.run()

    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "CanaryUnavailable"
    assert world.status.desired_weight == 0


def test_unobserved_canary_counts_change_nothing():
    # Right after a template change and a scale, the Deployment controller's counts still describe the
    # old spec, so they show neither lost pods nor a Ready canary.
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    world.canary = world.canary.model_copy(update={"ready_replicas": 0, "is_observed": False})

    world.run()

    assert world.status.phase is Phase.PROGRESSING
    assert world.status.desired_weight == 5


# Inconclusive and no data


@pytest.mark.parametrize(
    "verdict, reason",
    [
        pytest.param(Verdict.INCONCLUSIVE, "AnalysisInconclusive", id="inconclusive"),
        pytest.param(Verdict.NO_DATA, "AnalysisNoData", id="no-data"),
    ],
)
def test_undecided_analysis_holds_step(verdict, reason):
    world = (
        World(spec=make_spec(steps="5,20", step_deadline="10m")).start_rollout().reach_analysis(step_index=0)
    )

    for _ in range(10):
        decision = world.run(analysis=world.analysis(verdict))
        assert actions_of(decision, core.SetWeight) == []
    assert world.status.phase is Phase.HOLDING
    assert world.status.reason == reason
    assert world.status.step_index == 0
    assert world.status.desired_weight == 5


@pytest.mark.parametrize(
    "verdict",
    [
        pytest.param(Verdict.INCONCLUSIVE, id="inconclusive"),
        pytest.param(Verdict.NO_DATA, id="no-data"),
        pytest.param(None, id="no-judgement-at-all"),
    ],
)
@pytest.mark.parametrize(
    "policy, phase, reason",
    [
        pytest.param("rollback", Phase.ROLLING_BACK, "DeadlineExceeded", id="policy-rollback"),
        pytest.param("pause", Phase.PAUSED, "DeadlinePaused", id="policy-pause"),
    ],
)
def test_deadline_applies_inconclusive_policy(verdict, policy, phase, reason):
    world = World(spec=make_spec(steps="5,20", step_deadline="4m", inconclusive_policy=policy))
    world.start_rollout().reach_analysis(step_index=0)

    for _ in range(12):
        analysis = world.analysis(verdict) if verdict is not None else None
        world.run(analysis=analysis)
        if world.status.phase is not Phase.HOLDING and world.status.phase is not Phase.PROGRESSING:
            break

    assert world.status.phase is phase
    assert world.status.reason == reason
    assert world.status.step_record(0).verdict is not Verdict.PASS
    assert world.status.step_index == 0


def test_deadline_pause_keeps_weights():
    world = World(spec=make_spec(steps="5,20", step_deadline="4m", inconclusive_policy="pause"))
    world.start_rollout().reach_analysis(step_index=0)
    world.run_until(Phase.PAUSED, passes=12, analysis=None)

    for _ in range(5):
        decision = world.run(analysis=world.analysis(Verdict.PASS))
        assert actions_of(decision, core.SetWeight) == []
    assert world.status.phase is Phase.PAUSED
    assert world.actual_weight == 5


# A new revision during a rollout


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param(Phase.PROGRESSING, id="while-analysing"),
        pytest.param(Phase.HOLDING, id="while-holding"),
        pytest.param(Phase.PAUSED, id="while-paused"),
        pytest.param(Phase.PROMOTING, id="while-promoting"),
    ],
)
def test_new_revision_restarts_at_first_step(phase):
    world = _world_in_phase(phase)
    old_analysis_start = world.status.analysis_started_at
    world.push_revision(NEWER)
    world.make_canary_ready()

    decision = world.run()

    assert world.status.revision == NEWER
    assert world.status.phase is Phase.PROGRESSING
    assert "RevisionChanged" in [event.reason for event in decision.events]
    assert world.status.step_index == 0
    assert world.status.desired_weight == 5
    assert world.status.analysis_started_at is None
    assert [record.index for record in world.status.steps] == [0]
    world.run()
    assert world.status.analysis_started_at is not None
    assert world.status.analysis_started_at > old_analysis_start


def test_new_revision_with_no_ready_pods_takes_canary_weight_to_zero():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    world.push_revision(NEWER)

    decision = world.run()

    assert world.status.desired_weight == 0
    assert [event.reason for event in decision.events] == ["RevisionChanged", "WaitingForCanary"]
    world.make_canary_ready()
    world.run()
    assert world.status.desired_weight == 5


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param({"revision": NEW}, id="old-revision"),
        pytest.param({"revision": NEWER, "before_restart": True}, id="new-revision-window-before-restart"),
    ],
)
def test_new_revision_never_reuses_old_verdict(stale):
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    window_start = world.status.analysis_started_at
    world.push_revision(NEWER)
    world.make_canary_ready()
    world.run()
    world.run()  # weight confirmed: the new analysis window opens

    world.now += 5 * MINUTE
    start = window_start if stale.get("before_restart") else None
    analysis = world.analysis(Verdict.PASS, revision=stale["revision"], step_index=0, window_start=start)
    if not stale.get("before_restart"):
        analysis = analysis.model_copy(update={"window_start": window_start})
    world.run(analysis=analysis)

    assert world.status.step_index == 0
    assert world.status.step_record(0).verdict is None
    assert world.status.step_record(0).judgement is None


def test_new_revision_during_rollback_waits_for_rollback_to_finish():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    world.router_follows = False
    world.run(analysis=world.analysis(Verdict.FAIL))
    world.push_revision(NEWER)
    world.make_canary_ready()

    world.run()
    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.revision == NEW

    world.actual_weight = 0
    world.router_follows = True
    world.run_until(Phase.PROGRESSING)
    assert world.status.revision == NEWER
    assert world.status.attempt == 2


# Manual commands


def test_manual_promote_skips_remaining_steps():
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=0)

    decision = world.run(commands=(command(core.CommandKind.PROMOTE, world.now),))

    assert world.status.phase is Phase.PROMOTING
    assert world.status.reason == "PromoteRequested"
    assert actions_of(decision, core.CopyTemplateToPrimary) == [core.CopyTemplateToPrimary(revision=NEW)]
    world.run_until(Phase.SUCCEEDED)
    assert world.primary.revision == NEW


def test_manual_abort_rolls_back_to_aborted():
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=1)

    world.run(commands=(command(core.CommandKind.ABORT, world.now),))
    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "AbortRequested"

    world.run_until(Phase.ABORTED)
    assert world.actual_weight == 0
    assert world.canary.replicas == 0


def test_manual_pause_freezes_weights_until_resume():
    world = (
        World(spec=make_spec(steps="1,5,25", step_deadline="3m")).start_rollout().reach_analysis(step_index=0)
    )
    pause = command(core.CommandKind.PAUSE, world.now)
    world.run(commands=(pause,))
    assert world.status.phase is Phase.PAUSED

    world.now += 30 * MINUTE  # far beyond the step deadline: a pause does not expire
    for _ in range(3):
        decision = world.run(analysis=world.analysis(Verdict.PASS), commands=(pause,))
        assert actions_of(decision, core.SetWeight) == []
    assert world.status.phase is Phase.PAUSED

    resume = command(core.CommandKind.RESUME, world.now)
    world.run(commands=(pause, resume))
    assert world.status.phase is Phase.PROGRESSING
    assert world.status.step_started_at == world.now - datetime.timedelta(seconds=30)
    world.pass_step()
    assert world.status.step_index == 1


def test_command_is_applied_once():
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=0)
    pause = command(core.CommandKind.PAUSE, world.now)
    world.run(commands=(pause,))
    resume = command(core.CommandKind.RESUME, world.now)
    world.run(commands=(pause, resume))

    world.run(commands=(pause, resume))

    assert world.status.phase is Phase.PROGRESSING


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(core.CommandKind.PROMOTE, id="promote"),
        pytest.param(core.CommandKind.ABORT, id="abort"),
        pytest.param(core.CommandKind.PAUSE, id="pause"),
        pytest.param(core.CommandKind.RESUME, id="resume"),
    ],
)
def test_command_without_rollout_is_ignored_with_event(kind):
    world = World(spec=make_spec()).bootstrap()

    decision = world.run(commands=(command(kind, world.now),))

    assert world.status.phase is Phase.IDLE
    assert [event.reason for event in decision.events] == ["CommandIgnored"]
    assert [action for action in decision.actions if not isinstance(action, core.RecordEvent)] == []


def test_command_for_another_revision_is_ignored():
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=0)

    decision = world.run(commands=(command(core.CommandKind.PROMOTE, world.now, revision=STABLE),))

    assert world.status.phase is Phase.PROGRESSING
    assert [event.reason for event in decision.events] == ["CommandIgnored"]


def test_resume_after_failure_retries_same_revision():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    world.run(analysis=world.analysis(Verdict.FAIL))
    world.run_until(Phase.FAILED)

    decision = world.run(commands=(command(core.CommandKind.RESUME, world.now),))

    assert world.status.phase is Phase.PROGRESSING
    assert "RetryRequested" in [event.reason for event in decision.events]
    assert actions_of(decision, core.ScaleCanary) == [core.ScaleCanary(replicas=1)]
    assert world.status.attempt == 2
    assert world.status.steps[0].verdict is None


# Invalid spec


def _invalid_spec() -> spec.SpecError:
    with pytest.raises(spec.SpecError) as caught:
        make_spec(steps="5,1")
    return caught.value


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param(Phase.IDLE, id="while-idle"),
        pytest.param(Phase.PROGRESSING, id="while-analysing"),
        pytest.param(Phase.PROMOTING, id="while-promoting"),
    ],
)
def test_invalid_spec_sets_condition_and_warning_without_traffic_action(phase):
    world = World(spec=make_spec(steps="5,20"))
    if phase is Phase.IDLE:
        world.bootstrap()
    else:
        world = _world_in_phase(phase)
    world.spec = _invalid_spec()

    decision = world.run(analysis=world.analysis(Verdict.FAIL))

    assert world.status.phase is Phase.INVALID
    assert world.status.condition("InvalidSpec").status == "True"
    [event] = decision.events
    assert event.type is core.EventType.WARNING
    assert 'canaryd.io/steps: "5,1"' in event.message
    assert [action for action in decision.actions if not isinstance(action, core.RecordEvent)] == []


def test_invalid_spec_event_is_posted_once():
    world = World(spec=make_spec()).bootstrap()
    world.spec = _invalid_spec()
    world.run()

    later = [world.run() for _ in range(3)]

    assert [decision.events for decision in later] == [(), (), ()]


def test_fixed_spec_resumes_previous_phase():
    world = _world_in_phase(Phase.PROGRESSING)
    valid = world.spec
    world.spec = _invalid_spec()
    world.run()

    world.spec = valid
    world.run()

    assert world.status.phase is Phase.PROGRESSING
    assert world.status.condition("InvalidSpec").status == "False"
    assert world.status.step_index == 1


# Events


def test_steady_analysis_posts_no_events():
    world = World(spec=make_spec(steps="5,20", analysis_window="10m", step_deadline="20m"))
    world.start_rollout().reach_analysis(step_index=0)

    decisions = [world.run(analysis=world.analysis(Verdict.PASS)) for _ in range(5)]

    assert [decision.events for decision in decisions] == [()] * 5


def test_step_change_posts_event():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)

    decision = world.pass_step()

    assert [event.reason for event in decision.events] == ["StepPassed"]
    assert "step 1/2 passed at 5%; moving to 20%" in decision.events[0].message


def test_holding_posts_one_event():
    world = (
        World(spec=make_spec(steps="5,20", step_deadline="20m")).start_rollout().reach_analysis(step_index=0)
    )

    decisions = [world.run(analysis=world.analysis(Verdict.INCONCLUSIVE)) for _ in range(5)]

    assert [len(decision.events) for decision in decisions] == [1, 0, 0, 0, 0]


# Baseline


def test_baseline_gets_canary_weight_and_is_scaled_away():
    world = World(spec=make_spec(steps="5,20", baseline="true", router="gateway-api", httproute="web"))
    world.start_rollout()
    assert world.baseline is not None and world.baseline.replicas > 0

    world.reach_analysis(step_index=1)
    setting = [action for action in world.applied if isinstance(action, core.SetWeight)][-1]
    assert setting == core.SetWeight(canary=20, baseline=20)
    assert world.status.primary_weight == 60

    world.pass_step()
    world.run_until(Phase.SUCCEEDED)
    assert world.baseline.replicas == 0


def test_canary_replicas_follow_primary_and_last_step():
    world = World(spec=make_spec(steps="5,30")).bootstrap()
    world.push_revision(NEW)

    decision = world.run()

    # 30% of the primary's 4 replicas, rounded up.
    assert actions_of(decision, core.ScaleCanary) == [core.ScaleCanary(replicas=2)]
    assert worlds.PRIMARY_REPLICAS == 4


def test_template_back_to_primary_revision_starts_no_rollout():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    world.run(commands=(command(core.CommandKind.ABORT, world.now),))
    world.run_until(Phase.ABORTED)
    world.push_revision(STABLE)

    decision = world.run()

    assert world.status.phase is Phase.IDLE
    assert world.status.reason == "TemplateMatchesPrimary"
    assert actions_of(decision, core.ScaleCanary) == []


# Edge cases found by reading the transitions


def test_new_revision_at_first_step_waits_instead_of_rolling_back():
    world = World(spec=make_spec(steps="1,5")).start_rollout().reach_analysis(step_index=0)
    world.push_revision(NEWER)

    decision = world.run()

    assert world.status.phase is Phase.PROGRESSING
    assert world.status.desired_weight == 0
    assert actions_of(decision, core.SetWeight) == [core.SetWeight(canary=0)]


def test_canary_losing_ready_pods_while_paused_rolls_back():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=1)
    world.run(commands=(command(core.CommandKind.PAUSE, world.now),))
    world.canary = world.canary.model_copy(update={"ready_replicas": 0})

    world.run()

    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "CanaryUnavailable"


@pytest.mark.parametrize(
    "new_steps, step_index, weight",
    [
        pytest.param("2,5,25", 0, 2, id="first-weight-changed"),
        pytest.param("1,5,30", 2, 30, id="current-weight-changed"),
        pytest.param("1,10,25", 1, 10, id="passed-weight-changed"),
    ],
)
def test_edited_steps_restart_at_first_unpassed_step(new_steps, step_index, weight):
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=2)
    world.spec = make_spec(steps=new_steps)

    world.run()

    assert world.status.step_index == step_index
    assert world.status.desired_weight == weight
    assert world.status.analysis_started_at is None


def test_edited_steps_already_passed_promote():
    world = World(spec=make_spec(steps="1,5,25")).start_rollout().reach_analysis(step_index=2)
    world.spec = make_spec(steps="1,5")

    decision = world.run()

    assert world.status.phase is Phase.PROMOTING
    assert actions_of(decision, core.CopyTemplateToPrimary) == [core.CopyTemplateToPrimary(revision=NEW)]


def test_naive_now_is_rejected():
    world = World(spec=make_spec())

    with pytest.raises(ValueError, match="timezone-aware"):
        core.decide(
            spec=world.spec,
            status=world.status,
            observations=world.observe(),
            now=datetime.datetime(2026, 1, 1),
        )


def test_same_inputs_give_same_decision():
    world = World(spec=make_spec(steps="5,20")).start_rollout().reach_analysis(step_index=0)
    observations = world.observe(world.analysis(Verdict.INCONCLUSIVE))

    first = core.decide(spec=world.spec, status=world.status, observations=observations, now=world.now)
    second = core.decide(spec=world.spec, status=world.status, observations=observations, now=world.now)

    assert first == second


# Step advance: no-failure


def _no_failure_world(steps: str = "1,5", **annotations: str) -> World:
    world = World(spec=make_spec(steps=steps, step_advance="no-failure", step_deadline="10m", **annotations))
    return world.start_rollout().reach_analysis(step_index=0)


def _enough_data(verdict: Verdict = Verdict.INCONCLUSIVE) -> tuple[verdicts.MetricResult, ...]:
    return (worlds.metric("error_ratio", verdict), worlds.metric("latency", verdict))


def _after_window(world: World) -> None:
    world.now = max(world.now, world.status.analysis_started_at + world.spec.analysis.window)


def _advance_without_pass(world: World) -> core.Decision:
    _after_window(world)
    return world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))


def test_no_failure_advances_inconclusive_step_after_window():
    world = _no_failure_world()

    early = world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))
    assert world.status.step_index == 0
    assert [event.reason for event in early.events] == ["AnalysisInconclusive"]

    decision = _advance_without_pass(world)

    assert world.status.step_index == 1
    assert world.status.desired_weight == 5
    assert actions_of(decision, core.SetWeight) == [core.SetWeight(canary=5)]
    assert [event.reason for event in decision.events] == ["StepAdvancedWithoutFailure"]
    assert decision.events[0].message.startswith(
        "step 1/2 at 1% showed no failure over 2m with 150 canary requests, without a pass; moving to 5%"
    )


def test_no_failure_records_advanced_step_as_inconclusive():
    world = _no_failure_world()

    _advance_without_pass(world)

    record = world.status.step_record(0)
    assert record.verdict is Verdict.INCONCLUSIVE
    assert record.advanced_without_pass is True
    assert record.judgement is not None and record.judgement.verdict is Verdict.INCONCLUSIVE
    assert world.status.step_record(1).advanced_without_pass is False


@pytest.mark.parametrize(
    "verdict, metrics, reason",
    [
        pytest.param(Verdict.NO_DATA, (), "AnalysisNoData", id="no-data"),
        pytest.param(
            Verdict.NO_DATA,
            (
                worlds.metric("error_ratio", Verdict.NO_DATA, has_minimum_sample=False),
                worlds.metric("latency", Verdict.NO_DATA, has_minimum_sample=False),
            ),
            "AnalysisNoData",
            id="no-data-on-every-metric",
        ),
        pytest.param(
            Verdict.INCONCLUSIVE,
            (
                worlds.metric("error_ratio", Verdict.INCONCLUSIVE, has_minimum_sample=False),
                worlds.metric("latency", Verdict.INCONCLUSIVE, has_minimum_sample=False),
            ),
            "AnalysisInconclusive",
            id="below-minimum-sample",
        ),
        pytest.param(
            Verdict.INCONCLUSIVE,
            (
                worlds.metric("error_ratio", Verdict.INCONCLUSIVE),
                worlds.metric("latency", Verdict.NO_DATA, has_minimum_sample=False),
            ),
            "AnalysisInconclusive",
            id="one-metric-without-data",
        ),
        pytest.param(Verdict.INCONCLUSIVE, (), "AnalysisInconclusive", id="judgement-without-metrics"),
    ],
)
def test_no_failure_holds_without_minimum_sample_until_deadline(verdict, metrics, reason):
    world = _no_failure_world()
    _after_window(world)

    for _ in range(4):
        decision = world.run(analysis=world.analysis(verdict, metrics=metrics))
        assert actions_of(decision, core.SetWeight) == []
    assert world.status.phase is Phase.HOLDING
    assert world.status.reason == reason
    assert world.status.step_index == 0

    world.run_until(Phase.ROLLING_BACK, passes=20, analysis=world.analysis(verdict, metrics=metrics))
    assert world.status.reason == "DeadlineExceeded"
    assert world.status.step_record(0).advanced_without_pass is False


def test_no_failure_waits_for_whole_window():
    world = _no_failure_world(analysis_window="5m")
    world.now = world.status.analysis_started_at + 4 * MINUTE

    world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))

    assert world.status.step_index == 0
    assert world.status.phase is Phase.HOLDING


def test_evidence_mode_holds_inconclusive_step_with_minimum_sample():
    world = World(spec=make_spec(steps="1,5", step_deadline="10m")).start_rollout().reach_analysis()
    _after_window(world)

    for _ in range(3):
        world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))
    assert world.status.phase is Phase.HOLDING
    assert world.status.step_index == 0

    inconclusive = world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data())
    world.run_until(Phase.ROLLING_BACK, passes=30, analysis=inconclusive)
    assert world.status.reason == "DeadlineExceeded"


@pytest.mark.parametrize(
    "policy, phase, reason",
    [
        pytest.param("rollback", Phase.ROLLING_BACK, "DeadlineExceeded", id="policy-rollback"),
        pytest.param("pause", Phase.PAUSED, "DeadlinePaused", id="policy-pause"),
    ],
)
def test_no_failure_last_step_needs_pass(policy, phase, reason):
    world = _no_failure_world(inconclusive_policy=policy)
    _advance_without_pass(world)
    world.run()  # the router confirms 5%: the last step's window opens
    _after_window(world)

    for _ in range(3):
        world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))
    assert world.status.phase is Phase.HOLDING
    assert world.status.step_index == 1

    world.run_until(phase, passes=30, analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=_enough_data()))
    assert world.status.reason == reason
    assert world.status.step_record(1).verdict is not Verdict.PASS
    assert world.status.step_record(1).advanced_without_pass is False


def test_no_failure_promotes_after_pass_at_last_step():
    world = _no_failure_world(steps="1,5,25")
    _advance_without_pass(world)
    world.reach_analysis(step_index=1)
    _advance_without_pass(world)
    world.reach_analysis(step_index=2)

    decision = world.pass_step()

    assert world.status.phase is Phase.PROMOTING
    assert [event.reason for event in decision.events] == ["PromotingAfterNoFailure"]
    assert "steps 1 and 2 showed no failure without a pass" in decision.events[0].message
    assert [record.verdict for record in world.status.steps] == [
        Verdict.INCONCLUSIVE,
        Verdict.INCONCLUSIVE,
        Verdict.PASS,
    ]
    world.run_until(Phase.SUCCEEDED)
    assert world.primary.revision == NEW


def test_no_failure_passing_every_step_promotes_as_before():
    world = _no_failure_world()
    world.pass_step()
    world.reach_analysis(step_index=1)

    decision = world.pass_step()

    assert [event.reason for event in decision.events] == ["Promoting"]
    assert [record.verdict for record in world.status.steps] == [Verdict.PASS, Verdict.PASS]


@pytest.mark.parametrize(
    "metrics",
    [
        pytest.param(_enough_data(Verdict.FAIL), id="every-metric-fails"),
        pytest.param(
            (worlds.metric("error_ratio", Verdict.INCONCLUSIVE), worlds.metric("latency", Verdict.FAIL)),
            id="latency-fails",
        ),
    ],
)
@pytest.mark.parametrize("step_index", [pytest.param(0, id="first-step"), pytest.param(1, id="last-step")])
def test_no_failure_rolls_back_on_failure(metrics, step_index):
    world = _no_failure_world()
    if step_index == 1:
        _advance_without_pass(world)
        world.reach_analysis(step_index=1)
    _after_window(world)

    world.run(analysis=world.analysis(Verdict.FAIL, metrics=metrics))

    assert world.status.phase is Phase.ROLLING_BACK
    assert world.status.reason == "AnalysisFailed"
    assert world.status.step_record(step_index).verdict is Verdict.FAIL
    world.run_until(Phase.FAILED)
    assert world.actual_weight == 0


def test_no_failure_advances_despite_failing_non_critical_metric():
    world = _no_failure_world()
    _after_window(world)
    metrics = (
        worlds.metric("error_ratio", Verdict.INCONCLUSIVE),
        worlds.metric("latency", Verdict.FAIL, critical=False),
    )

    world.run(analysis=world.analysis(Verdict.INCONCLUSIVE, metrics=metrics))

    assert world.status.step_index == 1
    assert world.status.reason == "StepAdvancedWithoutFailure"


@pytest.mark.parametrize(
    "edit, step_index, weight",
    [
        pytest.param({"step_advance": "evidence"}, 0, 1, id="mode-changed-to-evidence"),
        pytest.param({"steps": "1,5"}, 1, 5, id="advanced-step-became-last"),
        pytest.param({"steps": "1,5,30"}, 2, 30, id="current-weight-changed"),
        pytest.param({}, 2, 25, id="nothing-changed"),
    ],
)
def test_edited_spec_keeps_or_revisits_advanced_steps(edit, step_index, weight):
    world = _no_failure_world(steps="1,5,25")
    _advance_without_pass(world)
    world.reach_analysis(step_index=1)
    _advance_without_pass(world)
    world.reach_analysis(step_index=2)
    annotations = {"steps": "1,5,25", "step_advance": "no-failure", "step_deadline": "10m", **edit}
    world.spec = make_spec(**annotations)

    world.run()
    world.run()

    assert world.status.step_index == step_index
    assert world.status.desired_weight == weight
    assert world.status.phase in (Phase.PROGRESSING, Phase.HOLDING)
