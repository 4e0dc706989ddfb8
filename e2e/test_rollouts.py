"""canaryd end to end: installed from manifests/, it bootstraps an annotated Deployment, promotes a good
release and rolls a bad one back. It judges both from a real Prometheus that scrapes pod traffic following
the HTTPRoute's weights, with the app and traffic of tests/controller. The same tests run on every
provider (see e2e/providers.py).
"""

from __future__ import annotations

import time

import kubernetes
import pytest

from e2e import install
from tests.controller import support

pytestmark = pytest.mark.cluster

AVAILABLE_SECONDS = 120.0
CANARY_ROLLOUT_CRD = "canaryrollouts.canaryd.io"


def _annotated_deployment(name: str, *, image: str) -> kubernetes.client.V1Deployment:
    labels = {"app": name}
    return kubernetes.client.V1Deployment(
        metadata=kubernetes.client.V1ObjectMeta(name=name, labels=labels,
                                                annotations={"canaryd.io/enabled": "true"}),
        spec=kubernetes.client.V1DeploymentSpec(
            replicas=2,
            selector=kubernetes.client.V1LabelSelector(match_labels=labels),
            template=kubernetes.client.V1PodTemplateSpec(
                metadata=kubernetes.client.V1ObjectMeta(labels=labels),
                spec=kubernetes.client.V1PodSpec(containers=[
                    kubernetes.client.V1Container(name="web", image=image)]),
            ),
        ),
    )


def _wait_until_available(apps: kubernetes.client.AppsV1Api, *, namespace: str,
                          name: str) -> kubernetes.client.V1Deployment:
    deadline = time.monotonic() + AVAILABLE_SECONDS
    while time.monotonic() < deadline:
        try:
            deployment = apps.read_namespaced_deployment(name, namespace)
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
        else:
            expected = deployment.spec.replicas or 0
            if expected > 0 and (deployment.status.available_replicas or 0) == expected:
                return deployment
        time.sleep(1.0)
    pytest.fail(f"Deployment {namespace}/{name} was not available within {AVAILABLE_SECONDS:.0f}s")


def _is_allowed(api_client: kubernetes.client.ApiClient, installation: install.Installation, *,
                verb: str, group: str, resource: str, namespace: str) -> bool:
    """Ask the API server's authoriser whether the controller's ServiceAccount may do `verb`."""
    user = f"system:serviceaccount:{installation.namespace}:{installation.service_account}"
    review = kubernetes.client.AuthorizationV1Api(api_client).create_subject_access_review(
        kubernetes.client.V1SubjectAccessReview(spec=kubernetes.client.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{installation.namespace}"],
            resource_attributes=kubernetes.client.V1ResourceAttributes(
                verb=verb, group=group, resource=resource, namespace=namespace),
        )))
    return review.status.allowed


def test_manifests_install_canary_rollout_crd(canaryd_installation, e2e_api_client):
    crds = kubernetes.client.ApiextensionsV1Api(e2e_api_client).list_custom_resource_definition().items

    assert CANARY_ROLLOUT_CRD in {crd.metadata.name for crd in crds}


@pytest.mark.parametrize(
    ("verb", "group", "resource", "in_controller_namespace", "allowed"),
    [
        ("watch", "apps", "deployments", False, True),
        ("patch", "apps", "deployments", False, True),
        ("patch", "gateway.networking.k8s.io", "httproutes", False, True),
        ("create", "", "events", False, True),
        ("update", "coordination.k8s.io", "leases", True, True),
        ("get", "canaryd.io", "metrictemplates", False, True),
        ("get", "canaryd.io", "clustermetrictemplates", False, True),
        ("list", "canaryd.io", "metrictemplates", False, False),
        ("update", "canaryd.io", "metrictemplates", False, False),
        ("get", "", "secrets", False, False),
        ("delete", "", "namespaces", False, False),
    ],
    ids=["watch-deployments", "patch-deployments", "patch-httproutes", "create-events", "update-own-lease",
         "get-metric-templates", "get-cluster-metric-templates", "no-template-list", "no-template-update",
         "no-secrets", "no-namespace-deletion"],
)
def test_controller_rbac_is_least_privilege(canaryd_installation, e2e_api_client, verb, group, resource,
                                            in_controller_namespace, allowed):
    namespace = canaryd_installation.namespace if in_controller_namespace else "default"

    assert _is_allowed(e2e_api_client, canaryd_installation, verb=verb, group=group, resource=resource,
                       namespace=namespace) is allowed


def test_annotated_deployment_is_bootstrapped(canaryd_controller, e2e_api_client, e2e_namespace):
    apps = kubernetes.client.AppsV1Api(e2e_api_client)
    apps.create_namespaced_deployment(e2e_namespace,
                                      _annotated_deployment("web", image="example.invalid/web:1"))

    # Bootstrap: a stable copy named web-primary serves all traffic before any rollout.
    primary = _wait_until_available(apps, namespace=e2e_namespace, name="web-primary")

    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:1"


def test_good_rollout_is_promoted(rollout_rig):
    rig = rollout_rig
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    rig.set_image("example.invalid/web:2")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    assert rollout["status"]["phase"] == "Succeeded", rollout["status"].get("message")
    assert [step["verdict"] for step in rollout["status"]["steps"]] == ["pass", "pass"]
    assert _image_of(rig.deployment("web-primary")) == "example.invalid/web:2"
    assert rig.weights() == (100, 0)
    routes = rig.route_watcher.versions
    seen = [(refs[0].get("weight"), refs[1].get("weight"))
            for refs in (route["spec"]["rules"][1]["backendRefs"] for route in routes)]
    assert (80, 20) in seen, f"step 1's weight was written: {seen}"
    assert (50, 50) in seen, f"step 2's weight was written: {seen}"


def test_bad_rollout_is_rolled_back(rollout_rig):
    rig = rollout_rig
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    rig.set_image("example.invalid/web:bad")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})

    status = rollout["status"]
    assert status["phase"] == "Failed", status.get("message")
    assert status.get("verdict") == "fail", (
        f"rolled back for {status.get('reason')}: {status.get('message')}\n"
        f"controller log:\n{rig.controller.log_tail()}")
    failed = [step for step in rollout["status"]["steps"] if step.get("verdict") == "fail"]
    assert failed, "the failing step carries its verdict"
    assert failed[0]["judgement"]["metrics"][0]["canarySamples"] > 0, "judged on scraped traffic"
    assert _image_of(rig.deployment("web-primary")) == "example.invalid/web:1"
    assert rig.weights() == (100, 0)
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30,
                     message="web scaled to 0 replicas")


def _image_of(deployment: dict) -> str:
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]
