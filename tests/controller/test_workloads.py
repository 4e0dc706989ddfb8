"""Workload helpers: revision hashes, observed readiness, the primary's shape and Service ports."""

from __future__ import annotations

import copy

import pytest

from canaryd.controller import names, workloads


def deployment(**status) -> dict:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u-1",
            "generation": 2,
            "labels": {"team": "a"},
        },
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]
                },
            },
        },
        "status": {"observedGeneration": 2, **status},
    }


def test_revision_ignores_the_labels_canaryd_adds():
    user = deployment()
    primary = workloads.primary_body(user, replicas=4)

    assert names.revision_of(primary["spec"]["template"]) == names.revision_of(user["spec"]["template"])


def test_revision_changes_with_the_image():
    changed = deployment()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"

    assert names.revision_of(changed["spec"]["template"]) != names.revision_of(
        deployment()["spec"]["template"]
    )


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        ({"replicas": 4, "updatedReplicas": 4, "readyReplicas": 4}, 4),
        ({"replicas": 6, "updatedReplicas": 2, "readyReplicas": 5}, 1),
    ],
    ids=["all-current", "old-pods-subtracted"],
)
def test_ready_counts_only_the_current_template(status, ready):
    observed = deployment(**status)
    observed["status"]["observedGeneration"] = 2

    state = workloads.workload_state(observed)

    assert state.is_observed
    assert state.ready_replicas == ready


def test_unobserved_generation_counts_prove_nothing():
    # The Deployment controller has not seen the latest spec yet: its counts may describe the old template.
    observed = deployment(replicas=4, updatedReplicas=4, readyReplicas=4)
    observed["status"]["observedGeneration"] = 1

    state = workloads.workload_state(observed)

    assert not state.is_observed
    assert not state.has_ready_pods
    assert not state.has_lost_pods
    assert not state.is_ready


def test_primary_selects_only_its_own_pods():
    primary = workloads.primary_body(deployment(), replicas=None)

    assert primary["metadata"]["name"] == "web-primary"
    assert primary["spec"]["selector"]["matchLabels"] == {"app": "web", names.TRACK_LABEL: "primary"}
    assert primary["spec"]["template"]["metadata"]["labels"][names.TRACK_LABEL] == "primary"
    assert "replicas" not in primary["spec"], "an autoscaled primary leaves replicas to its HPA"
    assert primary["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_primary_body_does_not_change_the_user_deployment():
    user = deployment()
    before = copy.deepcopy(user)
    workloads.primary_body(user, replicas=4)

    assert user == before


def test_canary_selector_pins_the_current_replica_set():
    assert workloads.canary_selector(deployment(), pod_template_hash="5d8f") == {
        "app": "web",
        names.POD_TEMPLATE_HASH_LABEL: "5d8f",
    }


def test_service_ports_follow_container_ports():
    assert workloads.service_ports(deployment()) == [
        {"name": "tcp-8080", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
    ]
