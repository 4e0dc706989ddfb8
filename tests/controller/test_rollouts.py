"""End-to-end rollouts on the real control plane: bootstrap, promotion and rollback judged from a real
Prometheus scraping per-pod traffic that follows the HTTPRoute's weights."""

from __future__ import annotations

import copy

import kubernetes
import pytest

from tests.controller import conftest, support

pytestmark = pytest.mark.cluster


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_bootstrap_moves_traffic_to_the_primary(bootstrapped):
    rig = bootstrapped
    primary = support.wait_for(
        lambda: (d := rig.deployment("web-primary")).get("status", {}).get("readyReplicas") == 4 and d,
        timeout=60,
        message="web-primary with 4 Ready replicas",
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
    assert_route_writes_were_valid(rig)

    # The phase gauges follow the cache, refreshed every second.
    def metrics_with_succeeded_rollout():
        text = rig.controller.metrics()
        return text if 'canaryd_rollouts{phase="Succeeded"} 1.0' in text else None

    metrics = support.wait_for(
        metrics_with_succeeded_rollout, timeout=10, message="a Succeeded rollout gauge"
    )
    assert 'canaryd_verdicts_total{verdict="pass"} 2.0' in metrics
    assert "canaryd_reconcile_duration_seconds_count" in metrics
    table = rig.connection.kubectl_run("get", "canaryrollouts", "-n", rig.namespace).stdout.splitlines()
    assert table[0].split()[:7] == ["NAME", "TARGET", "PHASE", "STEP", "WEIGHT", "VERDICT", "AGE"]
    assert table[2].split()[1:6] == ["web", "Succeeded", "2/2", "0", "pass"]


def assert_route_writes_were_valid(rig):
    """Every stored version of the route has explicit weights adding up to 100 and differs from the
    user's route (as first stored) only in the weights of canaryd's two backendRefs."""
    versions = rig.route_watcher.versions
    assert len(versions) > 2, "the watch saw the route created and changed"
    seen = [weights_of(version) for version in versions[1:]]
    assert (80, 20) in seen, f"step 1's weight was written: {seen}"
    assert (50, 50) in seen, f"step 2's weight was written: {seen}"
    for primary, canary in seen:
        assert primary is not None and canary is not None, "weights are always explicit"
        assert primary + canary == 100
    user_route = without_canaryd_weights(versions[0])
    for version in versions[1:]:
        assert without_canaryd_weights(version) == user_route


def weights_of(route):
    refs = route["spec"]["rules"][1]["backendRefs"]
    return refs[0].get("weight"), refs[1].get("weight")


def without_canaryd_weights(route):
    spec = copy.deepcopy(route["spec"])
    for ref in spec["rules"][1]["backendRefs"]:
        ref.pop("weight", None)
    return spec


def test_replica_ratio_release_is_promoted_with_approximated_weights(ratio_rig):
    rig = ratio_rig
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    rig.set_image("example.invalid/web:2")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert rollout["status"]["phase"] == "Succeeded", rollout["status"].get("message")
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:2"
    warnings = rig.wait_for_events("WeightApproximated")
    assert warnings, "a Warning Event says the requested weight was not reachable"
    assert "10%" in warnings[0]["message"]
    assert "20%" in warnings[0]["message"]
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
    events = rig.wait_for_events("AnalysisFailed", count=2)
    assert events and events[0]["type"] == "Warning", "a Warning Event names the failed analysis"
    assert {event["involvedObject"]["kind"] for event in events} == {"Deployment", "CanaryRollout"}
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")


def test_deleted_primary_returns_on_stable_image(bootstrapped):
    rig = bootstrapped
    rig.set_image("example.invalid/web:bad")
    rig.wait_for_phase(1, {"Failed"})
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")

    rig.apps.delete_namespaced_deployment("web-primary", rig.namespace)

    def recreated_primary() -> dict | None:
        try:
            primary = rig.deployment("web-primary")
        except kubernetes.client.ApiException:
            return None
        return primary if primary["metadata"].get("deletionTimestamp") is None else None

    primary = support.wait_for(recreated_primary, timeout=60, message="web-primary re-created")
    assert image_of(primary) == conftest.GOOD_IMAGE
    assert image_of(rig.deployment()) == "example.invalid/web:bad"
    assert len(rig.rollouts()) == 2, "the re-created primary starts no new rollout of the failed image"
