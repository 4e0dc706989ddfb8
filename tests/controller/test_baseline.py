"""A rollout with a baseline on the real control plane: the canary is judged against a fresh copy of the
primary that receives the same share of traffic through a third backendRef of the HTTPRoute."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest

from tests.controller import conftest, support

pytestmark = pytest.mark.cluster

BASELINE = "web-baseline"
ANNOTATIONS = {**conftest.ANNOTATIONS, "canaryd.io/baseline": "true"}  # steps 20,50


@pytest.fixture
def baseline_rig(
    workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path
) -> Iterator[conftest.Rig]:
    with conftest.build_rig(
        workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path, annotations=ANNOTATIONS
    ) as built:
        built.traffic.add_backend(BASELINE)
        yield built


def image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def named_weights(route: dict) -> dict[str, int | None]:
    """Map each backendRef of the app's rule to its weight."""
    return {ref["name"]: ref.get("weight") for ref in route["spec"]["rules"][1]["backendRefs"]}


def baseline_deployment(rig: conftest.Rig) -> dict | None:
    try:
        return rig.deployment(BASELINE)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise


def test_good_release_is_promoted_against_baseline(baseline_rig):
    rig = baseline_rig
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    rig.set_image("example.invalid/web:2")

    # While the rollout runs, the baseline serves the stable image from its own pods.
    def ready_baseline() -> dict | None:
        found = baseline_deployment(rig)
        return found if found and found.get("status", {}).get("readyReplicas") else None

    baseline = support.wait_for(
        ready_baseline,
        timeout=120,
        message=f"{BASELINE} with Ready replicas",
    )
    assert image_of(baseline) == conftest.GOOD_IMAGE
    assert baseline["spec"]["template"]["metadata"]["labels"]["canaryd.io/track"] == "baseline"
    assert baseline["spec"]["selector"]["matchLabels"] == {"app": "web", "canaryd.io/track": "baseline"}
    assert baseline["metadata"]["ownerReferences"][0]["name"] == "web"
    service = kubernetes.client.CoreV1Api(rig.api_client).read_namespaced_service(BASELINE, rig.namespace)
    assert service.spec.selector == {"app": "web", "canaryd.io/track": "baseline"}

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert rollout["status"]["phase"] == "Succeeded", rollout["status"].get("message")
    assert [step["verdict"] for step in rollout["status"]["steps"]] == ["pass", "pass"]
    assert image_of(rig.deployment("web-primary")) == "example.invalid/web:2"
    assert named_weights(rig.route()) == {"web-primary": 100, "web-canary": 0, BASELINE: 0}
    support.wait_for(
        lambda: rig.deployment(BASELINE)["spec"]["replicas"] == 0, timeout=30, message=f"{BASELINE} at 0"
    )
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")

    # Each step routed the same share to the canary and the baseline, the rest to the primary.
    seen = [named_weights(version) for version in rig.route_watcher.versions]
    assert {"web-primary": 60, "web-canary": 20, BASELINE: 20} in seen, seen
    assert {"web-primary": 0, "web-canary": 50, BASELINE: 50} in seen, seen
    for weights in seen:
        assert None not in weights.values(), f"weights are always explicit: {weights}"
        assert sum(weights.values()) == 100, weights

    # The control arm of every judgement is the baseline, not the primary.
    for step in rollout["status"]["steps"]:
        queries = [query for metric in step["judgement"]["metrics"] for query in metric["queries"]]
        assert any(BASELINE in query for query in queries), queries
        assert not any("web-primary" in query for query in queries), queries
