"""The report reads standalone records and exported CanaryRollout objects."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml

from canaryd import verdicts
from canaryd.controller import records as controller_records
from canaryd.core import phase, status
from canaryd.report import sources
from canaryd.spec import settings
from canaryd.standalone import record as rollout_record
from tests.report import records

CANARY_ROLLOUT = {
    "apiVersion": "canaryd.io/v1alpha1",
    "kind": "CanaryRollout",
    "metadata": {"name": "web-3", "namespace": "shop"},
    "spec": {"steps": [1, 5]},
    "status": {
        "phase": "Failed",
        "revision": "7f9c",
        "startedAt": "2027-01-15T08:00:00Z",
        "phaseChangedAt": "2027-01-15T08:09:00Z",
        "message": "step 2 failed on error_ratio",
        "steps": [
            {
                "index": 0,
                "weight": 1,
                "startedAt": "2027-01-15T08:01:00Z",
                "verdict": "pass",
                "decidedAt": "2027-01-15T08:04:00Z",
                "judgement": {"verdict": "pass", "reason": "pass over 12 intervals", "intervalsUsed": 12},
            },
            {
                "index": 1,
                "weight": 5,
                "startedAt": "2027-01-15T08:04:00Z",
                "verdict": "fail",
                "decidedAt": "2027-01-15T08:08:00Z",
                "judgement": {
                    "verdict": "fail",
                    "reason": "fail over 8 intervals, decided by error_ratio",
                    "metrics": [{"metric": "error_ratio", "verdict": "fail", "canaryValue": 0.04}],
                },
            },
        ],
    },
}


def test_standalone_record_round_trips(tmp_path):
    path = tmp_path / "record.json"
    rollout_record.write_record(records.rolled_back(), path)

    loaded = sources.load(path)

    assert loaded == records.rolled_back()


@pytest.mark.parametrize("dump", [yaml.safe_dump, json.dumps], ids=["yaml", "json"])
def test_canary_rollout_becomes_record(tmp_path, dump):
    path = tmp_path / "web-3.yaml"
    path.write_text(dump(CANARY_ROLLOUT))

    loaded = sources.load(path)

    assert loaded.rollout == "web-3"
    assert loaded.source == "kubernetes"
    assert loaded.outcome is rollout_record.Outcome.ROLLED_BACK
    assert loaded.steps == [1, 5]
    assert [analysis.judgement.verdict.value for analysis in loaded.analyses] == ["pass", "fail"]
    assert loaded.analyses[1].judgement.metrics[0].canary_value == pytest.approx(0.04)
    assert loaded.finished_at - loaded.started_at == pytest.approx(540)


def test_unstarted_canary_rollout_is_rejected(tmp_path):
    document = {**CANARY_ROLLOUT, "status": {"phase": "Idle"}}
    path = tmp_path / "idle.yaml"
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(sources.SourceError, match="has not started a rollout yet"):
        sources.load(path)


def test_other_object_is_rejected_with_hint(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump({"kind": "Deployment", "metadata": {"name": "web"}}))

    with pytest.raises(sources.SourceError, match="kubectl get canaryrollout NAME -o yaml"):
        sources.load(path)


def test_controller_encoded_status_is_read(tmp_path):
    started = datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.UTC)
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.PASS, reason="pass over 12 intervals", intervals_used=12
    )
    core_status = status.RolloutStatus(
        phase=phase.Phase.SUCCEEDED,
        revision="7f9c",
        started_at=started,
        phase_changed_at=started + datetime.timedelta(minutes=6),
        steps=(
            status.StepRecord(
                index=0, weight=1, started_at=started, verdict=verdicts.Verdict.PASS, judgement=judgement
            ),
        ),
    )
    spec = settings.RolloutSpec(enabled=True, steps=(1,))
    document = {
        "kind": "CanaryRollout",
        "metadata": {"name": "web-4", "namespace": "shop"},
        "spec": {"steps": [1]},
        "status": controller_records.encode_status(core_status, spec=spec, routed_weight=0),
    }
    path = tmp_path / "web-4.json"
    path.write_text(json.dumps(document))

    loaded = sources.load(path)

    assert loaded.outcome is rollout_record.Outcome.PROMOTED
    assert loaded.analyses[0].judgement == judgement
    assert loaded.finished_at - loaded.started_at == pytest.approx(360)


def test_failed_canary_rollout_states_cause(tmp_path):
    path = tmp_path / "rollout.json"
    path.write_text(json.dumps(CANARY_ROLLOUT))

    record = sources.load(path)

    assert record.cause.startswith("step 2 at 5% failed: error_ratio 4% on the canary vs - on the control")


def test_rolled_back_canary_rollout_ends_at_zero_weight(tmp_path):
    path = tmp_path / "rollout.json"
    path.write_text(json.dumps(CANARY_ROLLOUT))

    record = sources.load(path)

    assert [change.weight for change in record.weights] == [1, 5, 0]
    assert record.weights[-1].at == record.finished_at
