"""A rollout judged through a MetricTemplate, on the real control plane with a real Prometheus.

The template reads the same series the http preset reads (`http_requests_total` by pod and status code,
and the duration histogram). A bad release must fail on those numbers and be rolled back, and the failing
step must carry the template's queries, confined to the rollout's namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest

from canaryd import observations
from canaryd.metrics import protocol, templates
from tests.controller import conftest, support

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus]

TEMPLATE = "web-slis"
# The analysis interval the test controller runs with (`--analysis-interval` in support.SHORT_ANALYSIS_FLAGS).
INTERVAL_SECONDS = 4.0


def template_body() -> dict:
    return {
        "apiVersion": templates.API_VERSION,
        "kind": "MetricTemplate",
        "metadata": {"name": TEMPLATE},
        "spec": {
            "description": "the http preset's SLIs, written as a template",
            "requests": 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}"}[{{ interval }}]))',
            "errors": (
                'sum(increase(http_requests_total{pod=~"{{ pod_regex }}",code=~"5.."}[{{ interval }}]))'
                " or vector(0)"
            ),
            "latencyBuckets": (
                "sum by (le) "
                '(increase(http_request_duration_seconds_bucket{pod=~"{{ pod_regex }}"}[{{ interval }}]))'
            ),
        },
    }


@pytest.fixture
def template_rig(
    workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path
) -> Iterator[conftest.Rig]:
    kubernetes.client.CustomObjectsApi(kube_api_client).create_namespaced_custom_object(
        "canaryd.io", "v1alpha1", namespace, "metrictemplates", template_body()
    )
    annotations = {**conftest.ANNOTATIONS, "canaryd.io/metric-template": TEMPLATE}
    with conftest.build_rig(
        workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path, annotations=annotations
    ) as built:
        yield built


def expected_canary_requests_query(namespace: str) -> str:
    """The canary's requests query as canaryd renders and confines the template."""
    body = template_body()
    body["metadata"]["namespace"] = namespace
    template = templates.MetricTemplate.from_object(body)
    canary = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace=namespace, workload=conftest.APP)
    return (
        templates.TemplatePreset(template=template)
        .queries(target=canary, step_seconds=INTERVAL_SECONDS)
        .requests
    )


def test_bad_release_rolled_back_on_template(template_rig):
    rig = template_rig
    rig.wait_for_phase(0, {"Idle"}, timeout=120)
    rig.set_image("example.invalid/web:bad")

    rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"}, timeout=150)

    status = rollout["status"]
    assert status["phase"] == "Failed", status.get("message")
    assert status["verdict"] == "fail"
    failed = [step for step in status["steps"] if step.get("verdict") == "fail"]
    assert failed, "the failing step carries its verdict"
    metrics = {metric["metric"]: metric for metric in failed[0]["judgement"]["metrics"]}
    error_ratio = metrics["error_ratio"]
    assert error_ratio["canarySamples"] > 0
    assert expected_canary_requests_query(rig.namespace) in error_ratio["queries"]
    assert all(f'namespace="{rig.namespace}"' in query for query in error_ratio["queries"])
    assert rig.weights() == (100, 0)
    primary = rig.deployment("web-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == conftest.GOOD_IMAGE
    support.wait_for(lambda: rig.deployment()["spec"]["replicas"] == 0, timeout=30, message="canary at 0")
