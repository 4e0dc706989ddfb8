"""The rollout rig: a Deployment and HTTPRoute on the real control plane, pod traffic scraped by a real
Prometheus, and `canaryd run` as a subprocess. Each test gets a fresh namespace and a fresh rig."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from tests.controller import support
from tests.harness import prometheus

APP = "web"
GOOD_IMAGE = "example.invalid/web:1"

ANNOTATIONS = {
    "canaryd.io/enabled": "true",
    "canaryd.io/router": "gateway-api",
    "canaryd.io/httproute": APP,
    "canaryd.io/steps": "20,50",
    "canaryd.io/analysis-window": "12s",
    "canaryd.io/step-deadline": "90s",
    "canaryd.io/error-ratio-tolerance": "5%",
}


def deployment_body(
    *, image: str = GOOD_IMAGE, replicas: int = 4, annotations: dict[str, str] | None = None
) -> dict:
    labels = {"app": APP}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "labels": labels, "annotations": dict(annotations or ANNOTATIONS)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


# The user's route: canaryd must change only the two weights of the second rule.
ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": APP},
    "spec": {
        "parentRefs": [{"name": "gateway"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                "backendRefs": [{"name": "static", "port": 80}],
            },
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "filters": [
                    {
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {"add": [{"name": "x-served-by", "value": "gateway"}]},
                    }
                ],
                "backendRefs": [
                    {"name": "web-primary", "port": 8080, "weight": 100},
                    {"name": "web-canary", "port": 8080, "weight": 0},
                ],
            },
        ],
    },
}


@dataclasses.dataclass
class Rig:
    namespace: str
    api_client: kubernetes.client.ApiClient
    kubeconfig: pathlib.Path
    prometheus_url: str
    workdir: pathlib.Path
    controller: support.ControllerProcess
    traffic: support.PodTraffic
    route_watcher: support.RouteWatcher
    connection: Any = None  # tests.cluster.controlplane.Connection, for kubectl

    @property
    def apps(self) -> kubernetes.client.AppsV1Api:
        return kubernetes.client.AppsV1Api(self.api_client)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api_client)

    def new_controller(self, identity: str) -> support.ControllerProcess:
        return support.ControllerProcess(
            kubeconfig=self.kubeconfig,
            namespace=self.namespace,
            prometheus_url=self.prometheus_url,
            workdir=self.workdir,
            identity=identity,
        )

    def deployment(self, name: str = APP) -> dict[str, Any]:
        return self.api_client.sanitize_for_serialization(
            self.apps.read_namespaced_deployment(name, self.namespace)
        )

    def set_image(self, image: str) -> None:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
        self.apps.patch_namespaced_deployment(APP, self.namespace, patch)

    def route(self) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(
            *support.GATEWAY[:2], self.namespace, support.GATEWAY[2], APP
        )

    def weights(self) -> tuple[int | None, int | None]:
        refs = self.route()["spec"]["rules"][1]["backendRefs"]
        return refs[0].get("weight"), refs[1].get("weight")

    def rollouts(self) -> list[dict[str, Any]]:
        listing = self.custom.list_namespaced_custom_object(
            *support.ROLLOUTS[:2], self.namespace, support.ROLLOUTS[2]
        )
        return sorted(
            listing["items"], key=lambda item: int(item["metadata"]["labels"]["canaryd.io/attempt"])
        )

    def rollout(self, attempt: int) -> dict[str, Any] | None:
        name = f"{APP}-{attempt}"
        return next((item for item in self.rollouts() if item["metadata"]["name"] == name), None)

    def phase(self, attempt: int) -> str | None:
        rollout = self.rollout(attempt)
        return (rollout or {}).get("status", {}).get("phase")

    def wait_for_phase(self, attempt: int, phases: set[str], *, timeout: float = 180.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            rollout = self.rollout(attempt)
            if rollout is not None and rollout.get("status", {}).get("phase") in phases:
                return rollout
            return None

        try:
            return support.wait_for(
                reached, timeout=timeout, message=f"{APP}-{attempt} in phase {sorted(phases)}"
            )
        except AssertionError as error:
            rollout = self.rollout(attempt)
            status = (rollout or {}).get("status", {})
            raise AssertionError(
                f"{error}\nstatus: phase={status.get('phase')} reason={status.get('reason')} "
                f"message={status.get('message')}\ncontroller log:\n{self.controller.log_tail()}"
            ) from None

    def wait_for_events(self, reason: str, *, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait for Events with `reason`; canaryd posts Events in the background, just after its pass."""
        return support.wait_for(
            lambda: (found := self.events(reason)) and len(found) >= count and found,
            timeout=timeout,
            message=f"{count} Event(s) with reason {reason}",
        )

    def events(self, reason: str) -> list[dict[str, Any]]:
        core = kubernetes.client.CoreV1Api(self.api_client)
        listing = core.list_namespaced_event(self.namespace, field_selector=f"reason={reason}")
        return [self.api_client.sanitize_for_serialization(event) for event in listing.items]


@contextlib.contextmanager
def build_rig(
    cluster, api_client, kubeconfig, namespace, workdir, *, annotations: dict[str, str]
) -> Iterator[Rig]:
    """Create the app and start traffic, Prometheus and the controller; stop them all on exit."""
    apps = kubernetes.client.AppsV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    is_gateway = annotations.get("canaryd.io/router") == "gateway-api"
    if is_gateway:
        custom.create_namespaced_custom_object(*support.GATEWAY[:2], namespace, support.GATEWAY[2], ROUTE)
        backends: tuple[str, ...] = ("web-primary", "web-canary")
    else:
        # With no mesh, the user's own Service spreads requests over every Ready pod it selects.
        kubernetes.client.CoreV1Api(api_client).create_namespaced_service(namespace, USER_SERVICE)
        backends = (APP,)
    apps.create_namespaced_deployment(namespace, deployment_body(annotations=annotations))

    traffic = support.PodTraffic(
        api_client=api_client,
        namespace=namespace,
        route=APP if is_gateway else None,
        backends=backends,
        requests_per_second=1000.0,
        error_ratio_by_image={"bad": 0.3},
    )
    watcher = support.RouteWatcher(api_client=api_client, namespace=namespace, route=APP)
    traffic.start()
    if is_gateway:
        watcher.start()
    with prometheus.harness(workdir) as harness:
        server = harness.start_prometheus(targets=[prometheus.ScrapeTarget(address=traffic.address)])
        controller = support.ControllerProcess(
            kubeconfig=kubeconfig, namespace=namespace, prometheus_url=server.url, workdir=workdir
        )
        rig = Rig(
            namespace=namespace,
            api_client=api_client,
            kubeconfig=kubeconfig,
            prometheus_url=server.url,
            workdir=workdir,
            controller=controller,
            traffic=traffic,
            route_watcher=watcher,
            connection=cluster,
        )
        try:
            controller.start()
            yield rig
        finally:
            rig.controller.stop()
            traffic.stop()
            watcher.stop()


@pytest.fixture
def rig(workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path) -> Iterator[Rig]:
    with build_rig(
        workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path, annotations=ANNOTATIONS
    ) as built:
        yield built


RATIO_ANNOTATIONS = {
    **{
        key: value
        for key, value in ANNOTATIONS.items()
        if key not in ("canaryd.io/router", "canaryd.io/httproute")
    },
    "canaryd.io/router": "replica-ratio",
    "canaryd.io/steps": "10,50",
}

USER_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": APP},
    "spec": {"selector": {"app": APP}, "ports": [{"port": 8080}]},
}


@pytest.fixture
def ratio_rig(workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path) -> Iterator[Rig]:
    with build_rig(
        workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path, annotations=RATIO_ANNOTATIONS
    ) as built:
        yield built


@pytest.fixture
def bootstrapped(rig: Rig) -> Rig:
    """The rig after canaryd took the Deployment over: the primary serves everything, the canary is at 0."""
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    return rig
