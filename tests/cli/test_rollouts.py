"""The status and history views built from CanaryRollout objects, and how they print. No cluster needed."""

from __future__ import annotations

import datetime
import json

import pytest
import rich.console

from canaryd import spec
from canaryd.cli import commands_api, output, rollouts
from canaryd.core import commands as core_commands
from canaryd.core import manual
from canaryd.core import phase as phases
from canaryd.core import status as core_status
from tests.cli import rollout_documents as documents

DEFAULT_SPEC = spec.parse_annotations({"canaryd.io/enabled": "true"}, source="Deployment shop/web")


def decoded(document: dict) -> commands_api.Rollout:
    return commands_api._decode(document, namespace="shop")


def holding_view(
    *, now: datetime.datetime, rollout_spec: spec.RolloutSpec | spec.SpecError = DEFAULT_SPEC
) -> dict:
    rollout = decoded(documents.document(status=documents.holding_status()))
    return rollouts.build_status_view(rollout=rollout, rollout_spec=rollout_spec, now=now)


def rendered(view: dict, *, now: datetime.datetime) -> str:
    console = rich.console.Console(record=True, width=220, color_system=None)
    for renderable in rollouts.status_renderables(view, now=now):
        console.print(renderable)
    return console.export_text()


@pytest.mark.parametrize("camel_case", [True, False], ids=["camel-case", "snake-case"])
def test_status_decodes_either_key_style(camel_case: bool) -> None:
    rollout = decoded(documents.document(status=documents.holding_status(), camel_case=camel_case))

    assert rollout.status == documents.holding_status()
    assert rollout.deployment == "web"


def test_status_view_names_phase_step_and_weights() -> None:
    view = holding_view(now=documents.minutes(9))

    assert view["schema"] == output.STATUS_SCHEMA
    assert (view["namespace"], view["deployment"], view["rollout"], view["attempt"]) == (
        "shop",
        "web",
        "web-2",
        2,
    )
    assert view["phase"] == "Holding"
    assert view["step"] == {"number": 2, "count": 2, "weights": [1, 5]}
    assert view["weight"] == {"desired": 5, "actual": 5, "baseline": 0, "primary": 95, "approximated": False}
    assert view["deadline"] == "2026-12-04T03:14:00+00:00"
    assert view["analysis_window_end"] == "2026-12-04T03:07:00+00:00"


def test_status_view_carries_each_step_verdict_with_numbers() -> None:
    first, second = holding_view(now=documents.minutes(9))["steps"]

    assert (first["number"], first["weight"], first["verdict"]) == (1, 1, "pass")
    assert (second["verdict"], second["latest_verdict"]) == (None, "inconclusive")
    error_ratio = second["metrics"][0]
    assert error_ratio["metric"] == "error_ratio"
    assert error_ratio["effect"] == 0.002
    assert error_ratio["tolerance"] == 0.0035
    assert (error_ratio["canary_samples"], error_ratio["control_samples"]) == (640, 12_100)


def test_status_view_json_shape_is_stable() -> None:
    view = json.loads(json.dumps(holding_view(now=documents.minutes(9))))

    assert list(view) == [
        "schema",
        "namespace",
        "deployment",
        "rollout",
        "attempt",
        "phase",
        "phase_meaning",
        "reason",
        "message",
        "revision",
        "stable_revision",
        "step",
        "weight",
        "waiting_for",
        "cause",
        "deadline",
        "analysis_window_end",
        "started_at",
        "phase_changed_at",
        "steps",
        "conditions",
        "spec_problems",
    ]
    assert list(view["steps"][0]) == [
        "number",
        "weight",
        "verdict",
        "latest_verdict",
        "started_at",
        "decided_at",
        "window",
        "intervals_used",
        "reason",
        "metrics",
    ]
    assert list(view["steps"][0]["metrics"][0]) == [
        "metric",
        "verdict",
        "critical",
        "canary_value",
        "control_value",
        "effect",
        "tolerance",
        "evidence",
        "threshold",
        "canary_samples",
        "control_samples",
        "reason",
        "queries",
    ]


@pytest.mark.parametrize(
    ("now_minutes", "status_update", "expected"),
    [
        (
            9,
            {},
            "enough evidence on error_ratio (inconclusive) to pass; at the deadline 2026-12-04 03:14:00 UTC",
        ),
        (
            6,
            {},
            "close at 2026-12-04 03:07:00 UTC (in 1m0s) (latest verdict: inconclusive)",
        ),
        (
            9,
            {"actual_weight": 1, "analysis_started_at": None},
            "closest to 5%, as the replica-ratio router reaches only whole-pod shares (it reports 1%)",
        ),
        (9, {"actual_weight": None}, "whole-pod shares (it reports unknown)"),
        (9, {"reason": "WaitingForCanary"}, "every canary replica to be Ready"),
        (9, {"phase": phases.Phase.PAUSED}, "a person: `canaryd resume`"),
        (9, {"phase": phases.Phase.PROMOTING}, "every primary replica to be Ready on revision 7f9c"),
        (9, {"phase": phases.Phase.FAILED}, "or `canaryd resume` to retry this revision"),
        (
            9,
            {"phase": phases.Phase.SUCCEEDED},
            "a new pod template on the Deployment, which starts the next rollout",
        ),
    ],
    ids=[
        "undecided",
        "window-open",
        "weight-pending",
        "weight-unknown",
        "canary-not-ready",
        "paused",
        "promoting",
        "failed",
        "succeeded",
    ],
)
def test_waiting_for_says_what_canaryd_waits_for(
    now_minutes: float, status_update: dict, expected: str
) -> None:
    current = documents.holding_status().model_copy(update=status_update)

    sentence = rollouts.waiting_for(current, rollout_spec=DEFAULT_SPEC, now=documents.minutes(now_minutes))

    assert expected in sentence


def test_waiting_for_names_the_policy_at_the_deadline() -> None:
    paused_policy = spec.parse_annotations(
        {"canaryd.io/enabled": "true", "canaryd.io/inconclusive-policy": "pause"},
        source="Deployment shop/web",
    )

    sentence = rollouts.waiting_for(
        documents.holding_status(), rollout_spec=paused_policy, now=documents.minutes(9)
    )

    assert "the pause policy decides" in sentence


def test_invalid_annotations_show_in_status() -> None:
    problems = spec.SpecError(
        source="Deployment shop/web",
        problems=[spec.SpecProblem(key="canaryd.io/steps", value="5,1", message="steps must increase")],
    )
    view = holding_view(now=documents.minutes(9), rollout_spec=problems)

    assert "valid canaryd.io annotations" in view["waiting_for"]
    assert 'canaryd.io/steps: "5,1": steps must increase' in view["spec_problems"]
    assert view["deadline"] is None


def test_invalid_annotations_are_printed_once() -> None:
    problems = spec.SpecError(
        source="Deployment shop/web",
        problems=[spec.SpecProblem(key="canaryd.io/steps", value="5,1", message="steps must increase")],
    )
    status = documents.holding_status().model_copy(
        update={
            "phase": phases.Phase.INVALID,
            "reason": "InvalidSpec",
            "message": f"invalid rollout settings canaryd.io/steps\n{problems.summary()}",
        }
    )
    view = rollouts.build_status_view(
        rollout=decoded(documents.document(status=status)), rollout_spec=problems, now=documents.minutes(9)
    )

    text = rendered(view, now=documents.minutes(9))

    assert text.count("steps must increase") == 1
    assert "invalid rollout settings canaryd.io/steps  [InvalidSpec]" in text


def test_status_text_shows_the_numbers_behind_each_verdict() -> None:
    now = documents.minutes(9)
    text = rendered(holding_view(now=now), now=now)

    assert "Holding" in text
    assert "canary 5% desired, 5% actual; primary 95%" in text
    assert "2 of 2  (steps 1%, 5%, then 100%)" in text
    assert "undecided (inconclusive)" in text
    assert "+0.2pp" in text  # the error ratio effect of step 2
    assert "0.35pp" in text  # its tolerance
    assert "12,100" in text  # control's sample size


def test_failed_rollout_names_the_cause_with_numbers() -> None:
    rollout = decoded(documents.document(status=documents.failed_status()))

    view = rollouts.build_status_view(rollout=rollout, rollout_spec=DEFAULT_SPEC, now=documents.minutes(12))

    assert view["cause"] == (
        "step 2 at 5% failed: error_ratio 4.1% on the canary vs 0.2% on the control, effect +3.9pp beyond "
        "the tolerance of 0.35pp, over 812 canary and 15,230 control requests"
    )


def test_rollback_after_deadline_names_the_latest_verdict() -> None:
    timed_out = documents.holding_status().model_copy(update={"phase": phases.Phase.FAILED})

    cause = rollouts.rollback_cause(timed_out)

    assert cause is not None
    assert cause.startswith("step 2 at 5% did not pass before its deadline (latest verdict: inconclusive)")


def test_progressing_rollout_has_no_cause() -> None:
    assert rollouts.rollback_cause(documents.holding_status()) is None


def test_failed_rollout_exits_with_failed_code() -> None:
    assert rollouts._PHASE_EXIT_CODES[phases.Phase.FAILED] == output.ExitCode.FAILED == 10
    assert rollouts._PHASE_EXIT_CODES[phases.Phase.PAUSED] == output.ExitCode.NEEDS_ATTENTION == 11
    assert phases.Phase.SUCCEEDED not in rollouts._PHASE_EXIT_CODES


def test_history_attempt_counts_passed_steps() -> None:
    rollout = decoded(documents.document(status=documents.failed_status()))

    attempt = rollouts._attempt_view(rollout)

    assert (attempt["attempt"], attempt["phase"], attempt["revision"]) == (2, "Failed", "7f9c")
    assert (attempt["steps_passed"], attempt["steps_started"], attempt["last_verdict"]) == (1, 2, "fail")
    assert attempt["settled_at"] == "2026-12-04T03:10:00+00:00"


@pytest.mark.parametrize(
    ("kind", "core_phases"),
    [
        (core_commands.CommandKind.PROMOTE, manual._PROMOTABLE),
        (core_commands.CommandKind.ABORT, manual._ABORTABLE),
        (core_commands.CommandKind.PAUSE, manual._PAUSABLE),
        (core_commands.CommandKind.RESUME, manual._RETRYABLE | {phases.Phase.PAUSED}),
    ],
    ids=["promote", "abort", "pause", "resume"],
)
def test_command_phases_match_the_decision_core(
    kind: core_commands.CommandKind, core_phases: frozenset
) -> None:
    # The CLI rejects a command the decision core would ignore; both must list the same phases.
    assert rollouts.COMMAND_PHASES[kind] == core_phases


def test_idle_rollout_shows_no_step() -> None:
    idle = decoded(documents.document(status=core_status.RolloutStatus(phase=phases.Phase.IDLE, attempt=0)))

    view = rollouts.build_status_view(rollout=idle, rollout_spec=DEFAULT_SPEC, now=documents.minutes(1))

    assert view["step"]["number"] is None
    assert "Step" not in rendered(view, now=documents.minutes(1))


def test_status_text_keeps_square_brackets() -> None:
    now = documents.minutes(9)
    view = holding_view(now=now)
    query = 'sum(rate(http_requests_total{pod=~"web-[a-z0-9]+-[a-z0-9]+"}[2m]))'
    view["message"] = "rollout of [bold]web[/bold] held"
    view["steps"][1]["metrics"][0]["reason"] = f"no series for {query}"

    text = rendered(view, now=now)

    assert "rollout of [bold]web[/bold] held" in text
    assert "[a-z0-9]" in "".join(text.split())  # the table may fold the long query over lines
    assert "".join(f"no series for {query}".split()) in "".join(text.split())


REPLICA_RATIO_SPEC = spec.parse_annotations(
    {"canaryd.io/enabled": "true", "canaryd.io/steps": "10,50", "canaryd.io/router": "replica-ratio"},
    source="Deployment shop/web",
)


def replica_ratio_view(**update: object) -> dict:
    # Step 1 at 10% next to two primary pods: one canary pod, a third of the traffic.
    status = documents.holding_status().model_copy(
        update={"step_index": 0, "desired_weight": 10, "actual_weight": 33, **update}
    )
    rollout = decoded(documents.document(status=status))
    return rollouts.build_status_view(
        rollout=rollout, rollout_spec=REPLICA_RATIO_SPEC, now=documents.minutes(9)
    )


def test_primary_weight_is_what_the_canary_does_not_get() -> None:
    view = replica_ratio_view()

    assert view["weight"]["primary"] == 67
    assert view["weight"]["approximated"] is True
    assert "canary 10% desired, 33% actual (the closest share the router reaches); primary 67%" in rendered(
        view, now=documents.minutes(9)
    )


def test_approximated_weight_says_analysis_proceeds() -> None:
    view = replica_ratio_view()

    assert "achievable weight is 33% with the current replicas" in view["waiting_for"]
    assert "the analysis proceeds at it" in view["waiting_for"]
    assert "the router to report" not in view["waiting_for"]


def test_replica_ratio_waiting_names_whole_pod_shares() -> None:
    view = replica_ratio_view(reason="WaitingForWeight", actual_weight=0, analysis_started_at=None)

    assert view["weight"]["approximated"] is False
    assert "closest to 10%" in view["waiting_for"]
    assert "whole-pod shares (it reports 0%)" in view["waiting_for"]


def test_gateway_waiting_names_the_router_reading() -> None:
    gateway = spec.parse_annotations(
        {"canaryd.io/enabled": "true", "canaryd.io/router": "gateway-api", "canaryd.io/httproute": "web"},
        source="Deployment shop/web",
    )
    current = documents.holding_status().model_copy(update={"reason": "WaitingForWeight", "actual_weight": 1})

    sentence = rollouts.waiting_for(current, rollout_spec=gateway, now=documents.minutes(9))

    assert "the router to report 5% on the canary (it reports 1%)" in sentence
