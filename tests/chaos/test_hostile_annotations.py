"""Hostile annotations: thousands of generated sets through the spec reader and the decision core.

Each set carries its own bad keys and conflicts (`tests.chaos.hostile`). The reader must never raise
anything but SpecError, must name exactly the bad keys, and must build exactly the settings asked for
when all are valid. The core, handed the SpecError, must freeze the rollout: phase Invalid, no traffic
or workload action, and one Warning Event whose message names every bad key.
"""

from __future__ import annotations

import collections
import datetime
import random

import pytest

from canaryd import core, spec, verdicts
from tests.chaos import hostile, scale
from tests.core import world as core_world

pytestmark = pytest.mark.chaos

SOURCE = "Deployment shop/web"
TRAFFIC_ACTIONS = (
    core.SetWeight,
    core.ScaleCanary,
    core.ScaleBaseline,
    core.CopyTemplateToPrimary,
    core.RestorePrimary,
)


def _base_worlds() -> dict[str, core_world.World]:
    """Rollouts in the phases a spec can turn bad in, each reached through real passes of the core."""
    worlds = {}
    worlds["idle"] = core_world.World(spec=core_world.make_spec()).bootstrap()
    worlds["analysing"] = core_world.World(spec=core_world.make_spec(steps="1,5,25")).start_rollout()
    worlds["analysing"].reach_analysis(step_index=1)
    promoting = core_world.World(spec=core_world.make_spec(steps="5")).start_rollout()
    worlds["promoting"] = promoting.reach_promotion()
    holding = core_world.World(spec=core_world.make_spec(steps="10,20")).start_rollout().reach_analysis()
    holding.now += datetime.timedelta(minutes=3)
    holding.run(analysis=holding.analysis(verdicts.Verdict.INCONCLUSIVE))
    worlds["holding"] = holding
    return worlds


@pytest.fixture(scope="module")
def base_worlds() -> dict[str, core_world.World]:
    return _base_worlds()


def test_generated_annotation_sets_are_read_exactly(base_worlds):
    rng = random.Random(scale.seed())
    count = scale.current().annotation_sets
    tally: collections.Counter[str] = collections.Counter()

    for number in range(count):
        case = hostile.annotation_case(rng)
        context = f"case {number} (seed {scale.seed()}): {case.annotations!r:.600}"
        try:
            result = spec.parse_annotations(case.annotations, source=SOURCE)
        except spec.SpecError as error:
            result = error
        except Exception as error:  # noqa: BLE001 - any other exception is the crash under test
            pytest.fail(f"parse_annotations raised {type(error).__name__}: {error}; {context}")

        if case.bad_keys:
            tally["bad"] += 1
            assert isinstance(result, spec.SpecError), context
            assert {problem.key for problem in result.problems} == set(case.bad_keys), context
        elif case.conflict_keys:
            tally["conflicting"] += 1
            assert isinstance(result, spec.SpecError), context
            assert {problem.key for problem in result.problems} == set(case.conflict_keys), context
        else:
            tally["valid"] += 1
            assert isinstance(result, spec.RolloutSpec), f"{result}; {context}"
            _check_meanings(result, case, context)

        phase_name = list(base_worlds)[number % len(base_worlds)]
        _check_decision(result, case, base_worlds[phase_name], context=f"{phase_name} rollout, {context}")

    # The generator must reach every kind of case, or the counts above prove little.
    assert tally["bad"] >= count // 10, tally
    assert tally["conflicting"] >= count // 100, tally
    assert tally["valid"] >= count // 10, tally


def _check_meanings(result: spec.RolloutSpec, case: hostile.AnnotationCase, context: str) -> None:
    meanings = case.meanings
    assert result.steps == meanings.get("steps", (1, 5)), context
    assert result.analysis.window == meanings.get("analysis-window", datetime.timedelta(minutes=2)), context
    assert result.analysis.deadline == meanings.get("step-deadline", datetime.timedelta(minutes=10)), context
    assert result.analysis.baseline is meanings.get("baseline", False), context
    assert result.enabled is meanings.get("enabled", False), context
    assert result.router.kind.value == meanings.get("router", "replica-ratio"), context


def _check_decision(
    result: spec.RolloutSpec | spec.SpecError,
    case: hostile.AnnotationCase,
    world: core_world.World,
    *,
    context: str,
) -> None:
    before = world.status
    decision = core.decide(spec=result, status=before, observations=world.observe(), now=world.now)

    if isinstance(result, spec.SpecError):
        _check_frozen(decision, before, case, context=context)
        # A second pass with the same problems posts no second Event.
        again = core.decide(spec=result, status=decision.status, observations=world.observe(), now=world.now)
        assert again.actions == (), context
        return

    # A valid spec changed mid-rollout may end the step schedule early, but every weight stays valid.
    for action in decision.actions:
        if isinstance(action, core.SetWeight):
            assert action.canary in (0, 100, *result.steps), context


def _check_frozen(
    decision: core.Decision, before: core.RolloutStatus, case: hostile.AnnotationCase, *, context: str
) -> None:
    assert decision.status.phase is core.Phase.INVALID, context
    assert decision.status.desired_weight == before.desired_weight, context
    assert decision.status.desired_baseline_weight == before.desired_baseline_weight, context
    assert not [action for action in decision.actions if isinstance(action, TRAFFIC_ACTIONS)], context

    events = decision.events
    assert len(events) == 1, context
    assert events[0].type is core.EventType.WARNING, context
    assert events[0].reason == "InvalidSpec", context
    for key in case.bad_keys | case.conflict_keys:
        assert key in events[0].message, f"{key!r} missing from the Event; {context}"
