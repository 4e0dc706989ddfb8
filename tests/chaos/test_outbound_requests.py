"""No field a user controls can make the controller send a request to an address of the user's choice.

A trap listener on 127.0.0.1 stands for such an address. Its URL is written everywhere a user of one
namespace can write: canaryd annotations under invented keys, values of real keys, other annotations and
labels, the pod template's environment, a MetricTemplate and a ConfigMap. The controller runs as
`canaryd run` against the real control plane, with a recording listener as the Prometheus the platform
configured. The rollouts must be processed (a Warning Event for the invalid Deployment, queries to the
configured Prometheus for the valid one), and the trap must receive no connection at all.
"""

from __future__ import annotations

import pathlib

import kubernetes
import pytest

from tests.chaos import controller, workloads

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]

EMPTY_MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": []}}


def _hostile_annotations(trap: str) -> dict[str, str]:
    return {
        "canaryd.io/enabled": "true",
        "canaryd.io/prometheus-url": trap,
        "canaryd.io/webhook-url": trap,
        "canaryd.io/notify-url": trap,
        "canaryd.io/metrics-url": trap,
        "canaryd.io/httproute": trap,
        "canaryd.io/metric-preset": trap,
    }


def _decoy_fields(trap: str) -> dict:
    """Places outside canaryd's keys where the trap URL is written on the valid Deployment."""
    return {
        "annotations": {
            "canaryd.io/enabled": "true",
            "canaryd.io/steps": "50",
            "canaryd.io/analysis-window": "10s",
            "canaryd.io/step-deadline": "10m",
            "prometheus.io/url": trap,
            "notifications.canaryd.io/webhook": trap,
            "canaryd.io.webhook-url": trap,
        },
        "env": [
            {"name": "PROMETHEUS_URL", "value": trap},
            {"name": "CANARYD_NOTIFY_WEBHOOK_URL", "value": trap},
        ],
    }


def _create_user_objects(api_client: kubernetes.client.ApiClient, *, namespace: str, trap: str) -> None:
    kubernetes.client.CoreV1Api(api_client).create_namespaced_config_map(
        namespace,
        {
            "metadata": {"name": "canaryd"},
            "data": {
                "prometheus-url": trap,
                "config.yaml": f"notifications:\n  webhooks:\n  - url: {trap}\n",
            },
        },
    )
    kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "canaryd.io",
        "v1alpha1",
        namespace,
        "metrictemplates",
        {
            "apiVersion": "canaryd.io/v1alpha1",
            "kind": "MetricTemplate",
            "metadata": {"name": "trap"},
            "spec": {
                "description": trap,
                "requests": f'sum(increase(http_requests_total{{url="{trap}"}}[{{{{ interval }}}}]))',
                "errors": "sum(increase(http_requests_total[{{ interval }}]))",
            },
        },
    )


def test_user_fields_cannot_redirect_requests(
    workload_cluster, kube_api_client, kubeconfig: pathlib.Path, namespace: str, tmp_path: pathlib.Path
):
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    with (
        controller.RecordingServer() as trap,
        controller.RecordingServer(body=EMPTY_MATRIX) as platform_prometheus,
    ):
        _create_user_objects(kube_api_client, namespace=namespace, trap=trap.url)
        apps.create_namespaced_deployment(
            namespace,
            workloads.deployment(
                "web-bad", image="example.invalid/web:1", annotations=_hostile_annotations(trap.url)
            ),
        )
        decoys = _decoy_fields(trap.url)
        apps.create_namespaced_deployment(
            namespace,
            workloads.deployment(
                "web",
                image="example.invalid/web:1",
                annotations=decoys["annotations"],
                env=decoys["env"],
                labels={"canaryd.io/webhook": "trap"},
            ),
        )
        daemon = controller.ControllerProcess(
            kubeconfig=kubeconfig,
            workdir=tmp_path,
            prometheus_url=platform_prometheus.url,
            lease_namespace=namespace,
            namespaces=(namespace,),
        )
        daemon.start()
        try:
            daemon.wait_ready()
            # The valid Deployment is bootstrapped, then a new revision is analysed on Prometheus.
            workloads.wait_for(
                lambda: workloads.read_deployment(kube_api_client, namespace=namespace, name="web-primary"),
                timeout=60,
                message="web-primary to be created",
            )
            workloads.wait_for(
                lambda: _is_idle(kube_api_client, namespace=namespace),
                timeout=60,
                message="bootstrap to finish",
                describe=daemon.log_tail,
            )
            workloads.set_image(
                kube_api_client, namespace=namespace, name="web", image="example.invalid/web:2"
            )
            workloads.wait_for(
                lambda: any("query_range" in path for _, path in platform_prometheus.requests),
                timeout=90,
                message=f"a range query to the configured Prometheus\n{daemon.log_tail()}",
            )
            warnings = workloads.wait_for(
                lambda: _invalid_spec_warnings(kube_api_client, namespace=namespace, name="web-bad"),
                timeout=30,
                message="the InvalidSpec Warning on web-bad",
            )
        finally:
            daemon.stop()

    for key in ("canaryd.io/prometheus-url", "canaryd.io/webhook-url", "canaryd.io/httproute"):
        assert any(key in event["message"] for event in warnings), warnings
    assert workloads.read_deployment(kube_api_client, namespace=namespace, name="web-bad-primary") is None
    assert trap.connections == 0, trap.requests
    assert trap.requests == []


def _is_idle(api_client: kubernetes.client.ApiClient, *, namespace: str) -> bool:
    return workloads.latest_status(api_client, namespace=namespace, deployment="web").get("phase") == "Idle"


def _invalid_spec_warnings(
    api_client: kubernetes.client.ApiClient, *, namespace: str, name: str
) -> list[dict]:
    return [
        event
        for event in workloads.events(api_client, namespace=namespace)
        if event["involvedObject"]["name"] == name
        and event["reason"] == "InvalidSpec"
        and event["type"] == "Warning"
    ]
