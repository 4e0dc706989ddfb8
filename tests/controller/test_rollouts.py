"""End-to-end rollouts on the real control plane: bootstrap, promotion and rollback judged from a real
Prometheus scraping per-pod traffic that follows the HTTPRoute's weights."""

from __future__ import annotations

import pytest

from tests.controller import conftest, support

pytestmark = pytest.mark.cluster


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_bootstrap_moves_traffic_to_the_primary(bootstrapped):
    rig = bootstrapped
    primary = support.wait_for(
        lambda: (d := rig.deployment("web-primary")).get("status", {}).get("readyReplicas") == 4 and d,
        timeout=60, message="web-primary with 4 Ready replicas",
    )

    assert image_of(primary) == conftest.GOOD_IMAGE
    assert rig.deployment()["spec"]["replicas"] == 0, "the user's Deployment becomes the canary template at 0"
    assert rig.weights() == (100, 0)
    assert primary["metadata"]["ownerReferences"][0]["name"] == "web"


def test_good_release_is_promoted(bootstrapped):
    rig = bootstrapped
    rig.set_image("example.invalid/web:2")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert rollout["status"]["phase"] == "Succeeded", rollout["status"].get("message")
    assert [step["verdict"] for step in rollout["status"]["steps"]] == ["pass", "pass"]
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:2"
    assert rig.weights() == (100, 0)
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")


def test_bad_release_is_rolled_back(bootstrapped):
    rig = bootstrapped
    rig.set_image("example.invalid/web:bad")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert rollout["status"]["phase"] == "Failed"
    assert rollout["status"]["verdict"] == "fail"
    failed = [step for step in rollout["status"]["steps"] if step.get("verdict") == "fail"]
    assert failed, "the failing step carries its verdict"
    metric = failed[0]["judgement"]["metrics"][0]
    assert metric["canarySamples"] > 0
    assert any("http_requests_total" in query for query in metric["queries"])
    assert image_of(rig.deployment("web-primary")) == conftest.GOOD_IMAGE
    assert rig.weights() == (100, 0)
    assert rig.events("AnalysisFailed"), "a Warning Event names the failed analysis"
