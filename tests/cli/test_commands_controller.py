"""The manual commands honoured by the real controller: `canaryd run` on the test control plane, a
rollout in progress, and `pause`, `resume` and `promote` sent through the CLI and awaited with --wait."""

from __future__ import annotations

import json

import pytest
from click import testing

from canaryd.cli import main
from tests.controller.conftest import Rig, bootstrapped, rig  # noqa: F401 -- the controller rig's fixtures

pytestmark = pytest.mark.cluster


def run(controller_rig: Rig, *arguments: str) -> testing.Result:
    full = [*arguments, "-n", controller_rig.namespace, "--kubeconfig", str(controller_rig.kubeconfig)]
    return testing.CliRunner().invoke(main.cli, full, catch_exceptions=False)


def test_pause_resume_and_promote_are_honoured(bootstrapped: Rig) -> None:  # noqa: F811
    controller_rig = bootstrapped
    controller_rig.set_image("example.invalid/web:2")
    controller_rig.wait_for_phase(1, {"Progressing", "Holding"}, timeout=60)

    paused = run(controller_rig, "pause", "web", "--timeout", "30")
    assert paused.exit_code == 0, paused.output
    assert "web: Paused: paused by" in paused.stdout
    status = run(controller_rig, "status", "web", "-o", "json")
    assert status.exit_code == 11, status.output
    assert json.loads(status.stdout)["phase"] == "Paused"

    resumed = run(controller_rig, "resume", "web", "--timeout", "30")
    assert resumed.exit_code == 0, resumed.output
    assert "web: Progressing:" in resumed.stdout or "web: Holding:" in resumed.stdout

    promoted = run(controller_rig, "promote", "web", "--timeout", "30")
    assert promoted.exit_code == 0, promoted.output
    rollout = controller_rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})
    assert rollout["status"]["phase"] == "Succeeded", rollout["status"].get("message")

    history = run(controller_rig, "history", "web", "-o", "json")
    attempts = json.loads(history.stdout)["attempts"]
    assert [(attempt["attempt"], attempt["phase"]) for attempt in attempts][-1] == (1, "Succeeded")
