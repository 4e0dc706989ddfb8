"""The rollout commands against the real control plane: CanaryRollouts written the way the controller
writes them, read by `status` and `history`, and patched by `promote`, `abort`, `pause` and `resume`.

No controller runs here: where a command must be handled, a thread plays the controller's part by
writing the status the decision core would write, so the test can check what the CLI reports.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import threading
import time
from typing import Any

import kubernetes
import pytest
from click import testing

from canaryd.cli import main, output
from canaryd.controller import names, records
from canaryd.core import commands as core_commands
from canaryd.core import phase as phases
from canaryd.core import status as core_status
from canaryd.kube import api as kube_api
from tests.cli import rollout_documents as documents
from tests.cluster import controlplane

pytestmark = pytest.mark.cluster

ANNOTATIONS = {"canaryd.io/enabled": "true", "canaryd.io/steps": "1,5"}


class Rig:
    """A namespace with the Deployment `web` and helpers to write and read its CanaryRollouts."""

    def __init__(self, *, api: kube_api.Api, namespace: str, kubeconfig: pathlib.Path) -> None:
        self.api = api
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        body = documents.deployment(namespace=namespace, annotations=ANNOTATIONS)
        del body["metadata"]["uid"]
        self.deployment = api.create(kube_api.DEPLOYMENTS, namespace=namespace, body=body)

    def add_rollout(self, status: core_status.RolloutStatus) -> dict[str, Any]:
        """Create the attempt's CanaryRollout and write its status through the status subresource."""
        body = documents.document(status=None, owner=self.deployment)
        body["metadata"]["name"] = names.rollout_name("web", status.attempt)
        body["metadata"]["labels"][names.ATTEMPT_LABEL] = str(status.attempt)
        body["spec"]["attempt"] = status.attempt
        created = self.api.create(kube_api.CANARY_ROLLOUTS, namespace=self.namespace, body=body)
        return self.write_status(created["metadata"]["name"], status)

    def write_status(self, name: str, status: core_status.RolloutStatus) -> dict[str, Any]:
        current = self.read(name)
        encoded = records.encode_status(status, spec=None, routed_weight=status.actual_weight)
        return records.write_status(self.api, rollout=current, status=encoded)

    def read(self, name: str) -> dict[str, Any]:
        return self.api.get(kube_api.CANARY_ROLLOUTS, namespace=self.namespace, name=name)

    def command_on(self, name: str) -> core_commands.Command | None:
        text = (self.read(name)["metadata"].get("annotations") or {}).get(names.COMMAND_ANNOTATION)
        return core_commands.Command.model_validate_json(text) if text else None

    def run(self, *arguments: str) -> testing.Result:
        full = [*arguments, "-n", self.namespace, "--kubeconfig", str(self.kubeconfig)]
        return testing.CliRunner().invoke(main.cli, full, catch_exceptions=False)


@pytest.fixture
def rig(namespace: str, kube_api_client: kubernetes.client.ApiClient, kubeconfig: pathlib.Path) -> Rig:
    return Rig(api=kube_api.Api(api_client=kube_api_client), namespace=namespace, kubeconfig=kubeconfig)


def holding(**update: Any) -> core_status.RolloutStatus:
    return documents.holding_status().model_copy(update=update)


def test_status_json_reads_the_controller_status(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status().model_copy(update={"attempt": 1}))
    rig.add_rollout(holding())

    result = rig.run("status", "web", "-o", "json")

    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["rollout"], view["attempt"], view["phase"]) == ("web-2", 2, "Holding")
    assert view["weight"] == {"desired": 5, "actual": 5, "baseline": 0, "primary": 95, "approximated": False}
    assert view["step"] == {"number": 2, "count": 2, "weights": [1, 5]}
    assert [step["verdict"] for step in view["steps"]] == ["pass", None]
    assert view["steps"][1]["metrics"][0]["canary_samples"] == 640
    assert "enough evidence on error_ratio" in view["waiting_for"]


def test_status_text_shows_phase_weights_and_verdicts(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("status", "web")

    assert result.exit_code == 0, result.output
    assert "Holding" in result.stdout
    assert "canary 5% desired, 5% actual; primary 95%" in result.stdout
    assert "error_ratio" in result.stdout
    assert "Waiting for" in result.stdout


def test_status_of_failed_rollout_exits_10(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status())

    result = rig.run("status", "web", "-o", "json")

    assert result.exit_code == output.ExitCode.FAILED
    assert json.loads(result.stdout)["steps"][1]["metrics"][0]["effect"] == 0.039


def test_status_of_missing_deployment_exits_3(rig: Rig) -> None:
    result = rig.run("status", "nope")

    assert result.exit_code == output.ExitCode.NOT_FOUND
    assert f"Deployment {rig.namespace}/nope not found" in result.output


def test_status_without_rollout_exits_3(rig: Rig) -> None:
    result = rig.run("status", "web")

    assert result.exit_code == output.ExitCode.NOT_FOUND
    assert "has no CanaryRollout yet" in result.output


def test_status_without_name_lists_deployments(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("status", "-o", "json")

    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["rollouts"]
    assert (row["deployment"], row["phase"], row["rollout"]) == ("web", "Holding", "web-2")


def test_history_lists_every_attempt_oldest_first(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status().model_copy(update={"attempt": 1}))
    rig.add_rollout(holding())

    result = rig.run("history", "web", "-o", "json")

    assert result.exit_code == 0, result.output
    attempts = json.loads(result.stdout)["attempts"]
    assert [(row["attempt"], row["phase"]) for row in attempts] == [(1, "Failed"), (2, "Holding")]
    assert (attempts[0]["steps_passed"], attempts[0]["last_verdict"]) == (1, "fail")


def test_history_text_names_rollouts(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status().model_copy(update={"attempt": 1}))

    result = rig.run("history", "web")

    assert result.exit_code == 0, result.output
    assert "web-1" in result.stdout
    assert "Failed" in result.stdout


@pytest.mark.parametrize(
    "kind",
    [core_commands.CommandKind.PROMOTE, core_commands.CommandKind.ABORT, core_commands.CommandKind.PAUSE],
    ids=["promote", "abort", "pause"],
)
def test_command_is_written_to_latest_rollout(rig: Rig, kind: core_commands.CommandKind) -> None:
    rig.add_rollout(documents.failed_status().model_copy(update={"attempt": 1}))
    rig.add_rollout(holding())
    before = datetime.datetime.now(datetime.UTC)

    result = rig.run(kind.value, "web", "--no-wait")

    assert result.exit_code == 0, result.output
    command = rig.command_on("web-2")
    assert command is not None
    assert command.kind is kind
    assert command.issued_at >= before - datetime.timedelta(seconds=1)
    assert command.issued_by  # the user the API server authenticated, or the local user
    assert rig.command_on("web-1") is None


def test_command_names_the_revision_when_asked(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("abort", "web", "--revision", "7f9c", "--no-wait")

    assert result.exit_code == 0, result.output
    command = rig.command_on("web-2")
    assert command is not None
    assert command.revision == "7f9c"


def test_promote_of_failed_rollout_is_rejected(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status())

    result = rig.run("promote", "web", "--no-wait")

    assert result.exit_code == output.ExitCode.REJECTED
    assert "its rollout web-2 is Failed" in result.output
    assert rig.command_on("web-2") is None


def test_resume_of_failed_rollout_is_sent(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status())

    result = rig.run("resume", "web", "--no-wait")

    assert result.exit_code == 0, result.output
    command = rig.command_on("web-2")
    assert command is not None
    assert command.kind is core_commands.CommandKind.RESUME


def test_wait_without_controller_times_out(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("pause", "web", "--timeout", "2")

    assert result.exit_code == output.ExitCode.TIMED_OUT
    assert "did not handle the pause within 2s" in result.output


def play_controller(rig: Rig, *, name: str, phase: phases.Phase, message: str) -> threading.Thread:
    """Start a thread that, once a command appears, writes the status a controller would have written."""

    def handle() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            command = rig.command_on(name)
            if command is not None:
                rig.write_status(
                    name, holding(phase=phase, message=message, last_command_at=command.issued_at)
                )
                return
            time.sleep(0.2)

    thread = threading.Thread(target=handle, daemon=True)
    thread.start()
    return thread


def test_wait_reports_what_canaryd_did(rig: Rig) -> None:
    rig.add_rollout(holding())
    controller = play_controller(
        rig, name="web-2", phase=phases.Phase.PROMOTING, message="promotion requested"
    )

    result = rig.run("promote", "web", "--timeout", "20")
    controller.join(timeout=5)

    assert result.exit_code == 0, result.output
    assert "web: Promoting: promotion requested" in result.stdout


def test_wait_reports_an_ignored_command(rig: Rig) -> None:
    rig.add_rollout(holding())
    controller = play_controller(rig, name="web-2", phase=phases.Phase.HOLDING, message="still holding")

    result = rig.run("pause", "web", "--timeout", "20")
    controller.join(timeout=5)

    assert result.exit_code == output.ExitCode.REJECTED
    assert "canaryd ignored the pause" in result.output


def test_resume_of_failed_rollout_reports_the_new_attempt(rig: Rig) -> None:
    rig.add_rollout(documents.failed_status())

    def retry() -> None:
        # The controller handles a retry by creating the next attempt, leaving web-2 as it was.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and rig.command_on("web-2") is None:
            time.sleep(0.2)
        rig.add_rollout(
            holding(attempt=3, phase=phases.Phase.PROGRESSING, message="retry of revision 7f9c requested")
        )

    thread = threading.Thread(target=retry, daemon=True)
    thread.start()
    result = rig.run("resume", "web", "--timeout", "20")
    thread.join(timeout=5)

    assert result.exit_code == 0, result.output
    assert "retry started as CanaryRollout web-3: Progressing" in result.stdout
    assert "retry of revision 7f9c requested" in result.stdout


def test_watch_json_streams_until_the_rollout_settles(rig: Rig) -> None:
    rig.add_rollout(holding())

    def promote_later() -> None:
        time.sleep(2.5)
        rig.write_status("web-2", holding(phase=phases.Phase.SUCCEEDED, desired_weight=0, actual_weight=0))

    thread = threading.Thread(target=promote_later, daemon=True)
    thread.start()
    result = rig.run("status", "web", "--watch", "--interval", "0.5", "--timeout", "30", "-o", "json")
    thread.join(timeout=5)

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["phase"] == "Holding"
    assert lines[-1]["phase"] == "Succeeded"


def test_watch_times_out_when_unsettled(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("status", "web", "--watch", "--interval", "0.5", "--timeout", "2", "-o", "json")

    assert result.exit_code == output.ExitCode.TIMED_OUT
    assert "did not settle before --timeout" in result.output


def test_kubectl_plugin_runs_status(rig: Rig, cluster: controlplane.Connection) -> None:
    rig.add_rollout(holding())
    environment = {**os.environ, "KUBECONFIG": str(rig.kubeconfig)}

    completed = subprocess.run(
        [str(cluster.kubectl), "canary", "status", "web", "-n", rig.namespace, "-o", "json"],
        capture_output=True, text=True, timeout=60, env=environment, check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["phase"] == "Holding"


def test_kubectl_plugin_help_names_kubectl_canary(cluster: controlplane.Connection) -> None:
    completed = subprocess.run(
        [str(cluster.kubectl), "canary", "--help"], capture_output=True, text=True, timeout=60, check=False
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Usage: kubectl canary [OPTIONS] COMMAND [ARGS]...")
    for command in ("status", "history", "promote", "abort", "pause", "resume", "analyze", "report"):
        assert f"\n  {command} " in completed.stdout


def test_watch_text_ends_when_the_rollout_settles(rig: Rig) -> None:
    rig.add_rollout(holding())

    def fail_later() -> None:
        time.sleep(2.5)
        rig.write_status("web-2", documents.failed_status())

    thread = threading.Thread(target=fail_later, daemon=True)
    thread.start()
    result = rig.run("status", "web", "--watch", "--interval", "0.5", "--timeout", "30")
    thread.join(timeout=5)

    assert result.exit_code == output.ExitCode.FAILED, result.output
    assert "Failed" in result.stdout
    assert "Cause" in result.stdout


def test_status_all_namespaces_includes_this_namespace(rig: Rig) -> None:
    rig.add_rollout(holding())

    result = rig.run("status", "-A", "-o", "json")

    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["namespace"] is None
    mine = [row for row in view["rollouts"] if row["namespace"] == rig.namespace]
    assert [(row["deployment"], row["phase"]) for row in mine] == [("web", "Holding")]


def test_status_all_namespaces_with_name_is_a_usage_error(rig: Rig) -> None:
    result = rig.run("status", "web", "-A")

    assert result.exit_code == output.ExitCode.USAGE
    assert "takes no NAME" in result.output
