"""The rollout status as stored in the CanaryRollout object: it survives a JSON round trip."""

from __future__ import annotations

import json

from canaryd import core, verdicts
from tests.core.world import World, make_spec


def test_status_round_trips_through_json():
    world = World(spec=make_spec(steps="3,7,33")).start_rollout().reach_analysis(step_index=1)
    world.run(analysis=world.analysis(verdicts.Verdict.INCONCLUSIVE))
    status = world.status

    stored = json.loads(json.dumps(status.model_dump(mode="json")))

    assert core.RolloutStatus.model_validate(stored) == status
    assert stored["phase"] == "Holding"
    assert stored["steps"][0]["verdict"] == "pass"
    assert stored["steps"][1]["judgement"]["verdict"] == "inconclusive"


def test_status_of_older_version_without_new_fields_loads():
    stored = {"phase": "Progressing", "revision": "abc", "step_index": 1, "desired_weight": 5}

    status = core.RolloutStatus.model_validate(stored)

    assert status.phase is core.Phase.PROGRESSING
    assert status.steps == ()
    assert status.primary_weight == 95
