"""Smoke tests of the local control plane: the API behaviours canaryd's controller depends on are real."""

from __future__ import annotations

import os
import time

import kubernetes
import pytest

from tests.cluster import assets, controlplane, plugin

pytestmark = pytest.mark.cluster

GATEWAY_GROUP, GATEWAY_VERSION = "gateway.networking.k8s.io", "v1"
READY_SECONDS = 90.0


def _deployment(name: str, *, replicas: int) -> kubernetes.client.V1Deployment:
    labels = {"app": name}
    return kubernetes.client.V1Deployment(
        metadata=kubernetes.client.V1ObjectMeta(name=name, labels=labels),
        spec=kubernetes.client.V1DeploymentSpec(
            replicas=replicas,
            selector=kubernetes.client.V1LabelSelector(match_labels=labels),
            template=kubernetes.client.V1PodTemplateSpec(
                metadata=kubernetes.client.V1ObjectMeta(labels=labels),
                # kwok never pulls or runs the image; any reference is accepted.
                spec=kubernetes.client.V1PodSpec(containers=[
                    kubernetes.client.V1Container(name="web", image="example.invalid/web:1")]),
            ),
        ),
    )


def _http_route(name: str) -> dict:
    return {
        "apiVersion": f"{GATEWAY_GROUP}/{GATEWAY_VERSION}",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [{"backendRefs": [
                {"name": "web-primary", "port": 80, "weight": 100},
                {"name": "web-canary", "port": 80, "weight": 0},
            ]}],
        },
    }


def _wait_for_ready_replicas(apps: kubernetes.client.AppsV1Api, *, namespace: str, name: str,
                             replicas: int) -> kubernetes.client.V1Deployment:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        deployment = apps.read_namespaced_deployment(name, namespace)
        if (deployment.status.ready_replicas or 0) == replicas:
            return deployment
        time.sleep(0.5)
    pytest.fail(f"Deployment {namespace}/{name} has {deployment.status.ready_replicas} of {replicas} ready "
                f"replicas after {READY_SECONDS:.0f}s; status: {deployment.status}")


def test_api_server_reports_pinned_version(cluster, kube_api_client):
    if os.environ.get(plugin.USE_EXISTING_VARIABLE) == "1":
        pytest.skip("an existing cluster runs whatever version it was made with")

    version = kubernetes.client.VersionApi(kube_api_client).get_code()

    assert version.git_version == assets.read_versions()["KUBERNETES_VERSION"]


def test_deployment_of_three_replicas_gets_three_ready_pods(workload_cluster, kube_api_client, namespace):
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    core = kubernetes.client.CoreV1Api(kube_api_client)

    apps.create_namespaced_deployment(namespace, _deployment("web", replicas=3))
    deployment = _wait_for_ready_replicas(apps, namespace=namespace, name="web", replicas=3)
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items

    assert deployment.status.available_replicas == 3
    assert len(pods) == 3
    assert all(pod.status.phase == "Running" for pod in pods)
    assert all(pod.spec.node_name for pod in pods), "every pod is bound to a node by the scheduler"


def test_scaling_deployment_to_zero_removes_its_pods(workload_cluster, kube_api_client, namespace):
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    core = kubernetes.client.CoreV1Api(kube_api_client)
    apps.create_namespaced_deployment(namespace, _deployment("web", replicas=2))
    _wait_for_ready_replicas(apps, namespace=namespace, name="web", replicas=2)

    apps.patch_namespaced_deployment_scale(namespace=namespace, name="web", body={"spec": {"replicas": 0}})
    deadline = time.monotonic() + READY_SECONDS
    while core.list_namespaced_pod(namespace, label_selector="app=web").items and time.monotonic() < deadline:
        time.sleep(0.5)

    assert core.list_namespaced_pod(namespace, label_selector="app=web").items == []


def test_watch_sees_create_patch_and_delete(kube_api_client, namespace):
    core = kubernetes.client.CoreV1Api(kube_api_client)
    start = core.list_namespaced_config_map(namespace).metadata.resource_version

    core.create_namespaced_config_map(namespace, kubernetes.client.V1ConfigMap(
        metadata=kubernetes.client.V1ObjectMeta(name="settings"), data={"weight": "0"}))
    core.patch_namespaced_config_map("settings", namespace, {"data": {"weight": "5"}})
    core.delete_namespaced_config_map("settings", namespace)

    seen = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(core.list_namespaced_config_map, namespace, resource_version=start,
                              field_selector="metadata.name=settings", timeout_seconds=20):
        seen.append((event["type"], (event["object"].data or {}).get("weight")))
        if event["type"] == "DELETED":
            watch.stop()

    assert seen == [("ADDED", "0"), ("MODIFIED", "5"), ("DELETED", "5")]


def test_http_route_can_be_created_and_patched(kube_api_client, namespace):
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    custom.create_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes",
                                           _http_route("web"))

    # A JSON patch on the weights only, as a traffic router would send it.
    custom.patch_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes", "web", [
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 95},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 5},
    ], _content_type="application/json-patch+json")
    route = custom.get_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes",
                                                "web")

    weights = [backend["weight"] for backend in route["spec"]["rules"][0]["backendRefs"]]
    assert weights == [95, 5]


def test_http_route_with_invalid_weight_is_rejected(kube_api_client, namespace):
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    route = _http_route("web")
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1

    with pytest.raises(kubernetes.client.ApiException) as raised:
        custom.create_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes", route)

    assert raised.value.status == 422, "the CRD's OpenAPI schema rejects a negative weight"


def test_lease_can_be_taken_once(kube_api_client, namespace):
    coordination = kubernetes.client.CoordinationV1Api(kube_api_client)

    def lease(holder: str) -> kubernetes.client.V1Lease:
        return kubernetes.client.V1Lease(
            metadata=kubernetes.client.V1ObjectMeta(name="canaryd-leader"),
            spec=kubernetes.client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=15))

    taken = coordination.create_namespaced_lease(namespace, lease("replica-a"))
    with pytest.raises(kubernetes.client.ApiException) as raised:
        coordination.create_namespaced_lease(namespace, lease("replica-b"))

    assert taken.spec.holder_identity == "replica-a"
    assert raised.value.status == 409, "a second replica cannot create the Lease another one holds"


def test_lease_stale_renewal_conflicts(kube_api_client, namespace):
    coordination = kubernetes.client.CoordinationV1Api(kube_api_client)
    taken = coordination.create_namespaced_lease(namespace, kubernetes.client.V1Lease(
        metadata=kubernetes.client.V1ObjectMeta(name="canaryd-leader"),
        spec=kubernetes.client.V1LeaseSpec(holder_identity="replica-a", lease_duration_seconds=15)))
    stale = coordination.read_namespaced_lease("canaryd-leader", namespace)

    taken.spec.lease_duration_seconds = 20
    coordination.replace_namespaced_lease("canaryd-leader", namespace, taken)
    stale.spec.holder_identity = "replica-b"
    with pytest.raises(kubernetes.client.ApiException) as raised:
        coordination.replace_namespaced_lease("canaryd-leader", namespace, stale)

    assert raised.value.status == 409


def test_deployment_stale_status_update_conflicts(kube_api_client, namespace):
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    apps.create_namespaced_deployment(namespace, _deployment("web", replicas=0))
    stale = apps.read_namespaced_deployment_status("web", namespace)

    apps.patch_namespaced_deployment("web", namespace, {"metadata": {"labels": {"revision": "2"}}})
    stale.status.observed_generation = 99
    with pytest.raises(kubernetes.client.ApiException) as raised:
        apps.replace_namespaced_deployment_status("web", namespace, stale)

    assert raised.value.status == 409


def test_custom_resource_stale_status_update_conflicts(kube_api_client, namespace):
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    created = custom.create_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes",
                                                     _http_route("web"))
    custom.patch_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, "httproutes", "web",
                                          {"metadata": {"labels": {"revision": "2"}}})

    created["status"] = {"parents": []}
    with pytest.raises(kubernetes.client.ApiException) as raised:
        custom.replace_namespaced_custom_object_status(GATEWAY_GROUP, GATEWAY_VERSION, namespace,
                                                       "httproutes", "web", created)

    assert raised.value.status == 409


def test_rbac_forbids_user_without_bindings(cluster, namespace):
    # Impersonation keeps the admin's certificate but makes the API server authorise as another user.
    with kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig)) as api_client:
        api_client.set_default_header("Impersonate-User", "canaryd-test-nobody")
        core = kubernetes.client.CoreV1Api(api_client)
        with pytest.raises(kubernetes.client.ApiException) as raised:
            core.list_namespaced_pod(namespace)

    assert raised.value.status == 403


def test_fake_node_is_ready(workload_cluster, kube_api_client):
    if os.environ.get(plugin.USE_EXISTING_VARIABLE) == "1":
        pytest.skip("an existing cluster has its own nodes")

    node = kubernetes.client.CoreV1Api(kube_api_client).read_node(controlplane.FAKE_NODE_NAME)
    ready = [condition.status for condition in node.status.conditions if condition.type == "Ready"]

    assert ready == ["True"]


def test_restarted_api_server_serves_same_objects(dedicated_cluster):
    with dedicated_cluster.connection.api_client() as api_client:
        core = kubernetes.client.CoreV1Api(api_client)
        core.create_namespace(kubernetes.client.V1Namespace(
            metadata=kubernetes.client.V1ObjectMeta(name="restart")))
        before = core.create_namespaced_config_map("restart", kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name="settings"), data={"weight": "5"}))

        down_seconds = dedicated_cluster.plane.restart_apiserver(down_seconds=1.0)
        # The same client, so the same port, CA and client certificate, reaches the new process.
        after = core.read_namespaced_config_map("settings", "restart")
        core.patch_namespaced_config_map("settings", "restart", {"data": {"weight": "50"}})
        patched = core.read_namespaced_config_map("settings", "restart")

    assert down_seconds >= 1.0
    assert after.metadata.uid == before.metadata.uid
    assert after.metadata.resource_version == before.metadata.resource_version, "etcd kept its data"
    assert patched.data == {"weight": "50"}
