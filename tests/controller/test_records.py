"""CanaryRollout records: the status round trip, printer fields, commands and pruning order."""

from __future__ import annotations

import datetime
import json

import pytest

from canaryd import verdicts
from canaryd.controller import records
from canaryd.core import phase, status
from canaryd.spec import settings

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def rollout(attempt: int, deployment: str = "web", **extra) -> dict:
    labels = {"canaryd.io/deployment": deployment, "canaryd.io/attempt": str(attempt)}
    return {"metadata": {"name": f"{deployment}-{attempt}", "namespace": "shop", "labels": labels}, **extra}


def test_status_survives_encoding_and_decoding():
    judgement = verdicts.Judgement(
        verdict=verdicts.Verdict.PASS,
        metrics=(
            verdicts.MetricResult(metric="error_ratio", verdict=verdicts.Verdict.PASS, canary_samples=500),
        ),
    )
    original = status.RolloutStatus(
        phase=phase.Phase.PROGRESSING,
        revision="abc",
        attempt=2,
        step_index=1,
        desired_weight=50,
        actual_weight=50,
        steps=(
            status.StepRecord(
                index=0, weight=20, started_at=NOW, verdict=verdicts.Verdict.PASS, judgement=judgement
            ),
        ),
        analysis_started_at=NOW,
    )

    encoded = records.encode_status(original, spec=settings.RolloutSpec(steps=(20, 50)), routed_weight=None)
    decoded = records.decode_status(
        {"metadata": {"name": "web-2"}, "status": json.loads(json.dumps(encoded))}
    )

    assert decoded == original
    assert encoded["desiredWeight"] == 50
    assert encoded["steps"][0]["judgement"]["metrics"][0]["canarySamples"] == 500


def test_printer_fields_show_step_verdict_and_routed_weight():
    current = status.RolloutStatus(
        phase=phase.Phase.PROGRESSING,
        step_index=1,
        desired_weight=5,
        actual_weight=5,
        steps=(status.StepRecord(index=0, weight=1, started_at=NOW, verdict=verdicts.Verdict.PASS),),
    )

    encoded = records.encode_status(current, spec=settings.RolloutSpec(steps=(1, 5, 25)), routed_weight=20)

    assert encoded["step"] == "2/3"
    assert encoded["verdict"] == "pass"
    assert encoded["actualWeight"] == 20


def test_unreadable_status_starts_afresh():
    decoded = records.decode_status({"metadata": {"name": "web-1"}, "status": {"phase": "Dancing"}})

    assert decoded == status.RolloutStatus()


def test_latest_picks_the_highest_attempt_of_the_deployment():
    found = records.latest([rollout(1), rollout(10), rollout(2), rollout(30, "api")], deployment="web")

    assert found["metadata"]["name"] == "web-10"


@pytest.mark.parametrize(
    ("annotation", "kinds", "has_problem"),
    [
        (None, [], False),
        ('{"kind": "promote", "issued_at": "2026-01-01T12:00:00Z"}', ["promote"], False),
        ('{"kind": "explode", "issued_at": "2026-01-01T12:00:00Z"}', [], True),
        ("promote", [], True),
    ],
    ids=["none", "valid", "unknown-kind", "not-json"],
)
def test_commands_from_the_annotation(annotation, kinds, has_problem):
    annotations = {} if annotation is None else {"canaryd.io/command": annotation}
    document = rollout(1)
    document["metadata"]["annotations"] = annotations
    commands, problem = records.commands(document)

    assert [command.kind.value for command in commands] == kinds
    assert (problem is not None) is has_problem
    if problem:
        assert "canaryd.io/command" in problem


def test_superseded_attempt_is_closed():
    closed = records.superseded_status({"phase": "Progressing", "stepIndex": 1}, attempt=3, revision="def")

    assert closed["phase"] == "Aborted"
    assert closed["reason"] == "Superseded"
    assert "attempt 3" in closed["message"]
