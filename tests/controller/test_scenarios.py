"""Rollout scenarios on the real control plane: restarts, new revisions, manual commands, invalid
annotations, turning canaryd off, and two replicas behind one Lease."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.controller import conftest, support

pytestmark = pytest.mark.cluster

SLOW_ANALYSIS = {"canaryd.io/analysis-window": "5m", "canaryd.io/step-deadline": "10m"}


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def set_annotations(rig, annotations: dict[str, str | None]) -> None:
    rig.apps.patch_namespaced_deployment(
        conftest.APP, rig.namespace, {"metadata": {"annotations": annotations}}
    )


def step_index(rig, attempt: int) -> int | None:
    return ((rig.rollout(attempt) or {}).get("status") or {}).get("stepIndex")


def wait_for_step(rig, attempt: int, index: int, *, analysing: bool = True) -> None:
    def reached():
        status = (rig.rollout(attempt) or {}).get("status") or {}
        return status.get("stepIndex") == index and (not analysing or status.get("analysisStartedAt"))

    support.wait_for(reached, timeout=120, message=f"attempt {attempt} analysing step {index + 1}")


def send_command(rig, attempt: int, kind: str) -> None:
    command = {
        "kind": kind,
        "issued_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "issued_by": "test",
    }
    body = {"metadata": {"annotations": {"canaryd.io/command": json.dumps(command)}}}
    rig.custom.patch_namespaced_custom_object(
        *support.ROLLOUTS[:2], rig.namespace, support.ROLLOUTS[2], f"web-{attempt}", body
    )


def test_killed_controller_resumes_the_rollout(bootstrapped):
    rig = bootstrapped
    rig.set_image("example.invalid/web:2")
    wait_for_step(rig, 1, 1)
    rig.controller.kill()
    weights_while_down = rig.weights()

    successor = rig.new_controller("canaryd-test-successor")
    rig.controller = successor
    successor.start()
    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert weights_while_down == (50, 50), "the split stays as it was while no controller runs"
    assert rollout["status"]["phase"] == "Succeeded"
    assert rig.rollout(2) is None, "the successor resumed attempt 1 instead of starting another"
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:2"


def test_new_revision_at_step_two_restarts_analysis(bootstrapped):
    rig = bootstrapped
    rig.set_image("example.invalid/web:2")
    wait_for_step(rig, 1, 1)

    rig.set_image("example.invalid/web:3")
    replaced = rig.wait_for_phase(1, {"Aborted"}, timeout=60)
    restarted = rig.wait_for_phase(2, {"Succeeded", "Failed"})

    assert replaced["status"]["reason"] == "Superseded"
    assert restarted["status"]["phase"] == "Succeeded"
    assert restarted["spec"]["revision"] != replaced["spec"]["revision"]
    assert [step["index"] for step in restarted["status"]["steps"]] == [0, 1], "analysis restarted at step 1"
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:3"


def test_manual_promote_skips_the_remaining_steps(bootstrapped):
    rig = bootstrapped
    set_annotations(rig, SLOW_ANALYSIS)
    rig.set_image("example.invalid/web:2")
    wait_for_step(rig, 1, 0)

    send_command(rig, 1, "promote")
    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"}, timeout=90)

    assert rollout["status"]["phase"] == "Succeeded"
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:2"
    assert rig.weights() == (100, 0)


def test_manual_abort_rolls_back(bootstrapped):
    rig = bootstrapped
    set_annotations(rig, SLOW_ANALYSIS)
    rig.set_image("example.invalid/web:2")
    wait_for_step(rig, 1, 0)

    send_command(rig, 1, "abort")
    rollout = rig.wait_for_phase(1, {"Aborted", "Failed", "Succeeded"}, timeout=90)

    assert rollout["status"]["phase"] == "Aborted"
    assert image_of(rig.deployment("web-primary")) == conftest.GOOD_IMAGE
    assert rig.weights() == (100, 0)
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")


def test_invalid_annotation_is_reported_and_traffic_untouched(bootstrapped):
    rig = bootstrapped
    set_annotations(rig, {"canaryd.io/steps": "5,abc"})
    rig.set_image("example.invalid/web:2")

    rollout = rig.wait_for_phase(0, {"Invalid"}, timeout=60)

    condition = next(c for c in rollout["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert condition["status"] == "True"
    assert "canaryd.io/steps" in condition["message"]
    events = rig.wait_for_events("InvalidSpec")
    assert events and events[0]["type"] == "Warning"
    assert "canaryd.io/steps" in events[0]["message"]
    assert rig.weights() == (100, 0)
    assert rig.rollout(1) is None, "no rollout starts while the annotations are invalid"


def test_removing_the_annotation_returns_to_a_plain_deployment(bootstrapped):
    rig = bootstrapped
    set_annotations(rig, {"canaryd.io/enabled": None})

    support.wait_for(
        lambda: (
            rig.apps.list_namespaced_deployment(
                rig.namespace, field_selector="metadata.name=web-primary"
            ).items
            == []
        ),
        timeout=90,
        message="web-primary removed",
    )

    deployment = rig.deployment()
    assert deployment["spec"]["replicas"] == 4
    assert deployment["status"]["readyReplicas"] == 4, "the Deployment served before the primary went"
    assert rig.weights() == (0, 100), "all traffic goes to the Service that selects the Deployment's pods"


def test_two_replicas_only_the_leader_writes(bootstrapped):
    rig = bootstrapped
    standby = rig.new_controller("canaryd-test-standby")
    standby.start()
    try:
        rig.set_image("example.invalid/web:2")
        rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})
        leader_metrics = [c.metrics() for c in (rig.controller, standby)]
    finally:
        standby.stop()

    assert rollout["status"]["phase"] == "Succeeded"
    flags = sorted(
        line.split()[-1]
        for text in leader_metrics
        for line in text.splitlines()
        if line.startswith("canaryd_leader ")
    )
    assert flags == ["0.0", "1.0"], "exactly one replica holds the Lease"
    core = __import__("kubernetes").client.CoreV1Api(rig.api_client)
    instances = {
        event.reporting_instance
        for event in core.list_namespaced_event(rig.namespace).items
        if event.reporting_component == "canaryd"
    }
    assert instances == {"canaryd-test-0"}, "every Event came from the leader"


def test_autoscaler_is_copied_to_the_primary_and_not_fought(bootstrapped):
    rig = bootstrapped
    autoscaling = __import__("kubernetes").client.AutoscalingV2Api(rig.api_client)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }
    autoscaling.create_namespaced_horizontal_pod_autoscaler(rig.namespace, hpa)
    rig.set_image("example.invalid/web:2")

    rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    copy = autoscaling.read_namespaced_horizontal_pod_autoscaler("web-primary", rig.namespace)
    assert copy.spec.scale_target_ref.name == "web-primary"
    assert (copy.spec.min_replicas, copy.spec.max_replicas) == (2, 6)
    managers = {
        entry["manager"]
        for entry in rig.deployment("web-primary")["metadata"]["managedFields"]
        if "f:replicas" in str(entry.get("fieldsV1", {}).get("f:spec", {}))
    }
    assert "canaryd" not in managers, "canaryd never patched the primary's replicas"


def test_deleted_records_are_rebuilt_without_a_rollout(bootstrapped):
    rig = bootstrapped
    rig.custom.delete_namespaced_custom_object(
        *support.ROLLOUTS[:2], rig.namespace, support.ROLLOUTS[2], "web-0"
    )

    def rebuilt():
        rollout = rig.rollout(0)
        return rollout if rollout and rollout.get("status", {}).get("phase") == "Idle" else None

    support.wait_for(rebuilt, timeout=60, message="web-0 recreated and Idle")

    assert rig.rollout(1) is None, "the primary's own template is not rolled out again"
    assert rig.weights() == (100, 0)
    assert image_of(rig.deployment("web-primary")) == conftest.GOOD_IMAGE
