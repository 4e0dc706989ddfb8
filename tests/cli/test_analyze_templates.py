"""`canaryd analyze` with annotations that name a metric template: read from the real API server and
judged on a real Prometheus, with the same traffic as test_analyze.py (`web` is the bad canary)."""

from __future__ import annotations

import json
import pathlib
import secrets
from collections.abc import Iterator

import kubernetes
import pytest
import yaml

from canaryd.cli import output
from canaryd.metrics import templates
from tests.cli import test_analyze
from tests.cli.test_analyze import traffic  # noqa: F401 -- the module's Prometheus and load, as a fixture
from tests.controller import support

REQUESTS = 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}"}[{{ interval }}]))'
ERRORS = 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}",code=~"5.."}[{{ interval }}])) or vector(0)'


def annotations_file(tmp_path: pathlib.Path, annotations: dict[str, str]) -> pathlib.Path:
    path = tmp_path / "annotations.yaml"
    path.write_text(yaml.safe_dump(annotations))
    return path


@pytest.fixture
def cluster_template(kube_api_client) -> Iterator[str]:
    """A ClusterMetricTemplate reading the http preset's series, deleted after the test."""
    name = f"analyze-slis-{secrets.token_hex(3)}"
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    body = {
        "apiVersion": templates.API_VERSION,
        "kind": "ClusterMetricTemplate",
        "metadata": {"name": name},
        "spec": {"requests": REQUESTS, "errors": ERRORS},
    }
    custom.create_cluster_custom_object("canaryd.io", "v1alpha1", "clustermetrictemplates", body)
    try:
        yield name
    finally:
        custom.delete_cluster_custom_object("canaryd.io", "v1alpha1", "clustermetrictemplates", name)


@pytest.mark.cluster
@pytest.mark.prometheus
def test_bad_canary_fails_on_cluster_template(traffic, cluster_template, kubeconfig, tmp_path):  # noqa: F811
    annotations = annotations_file(tmp_path, {"canaryd.io/cluster-metric-template": cluster_template})

    result = test_analyze.run(
        "web", "-f", str(annotations), "--kubeconfig", str(kubeconfig),
        *test_analyze.window_arguments(traffic), "-o", "json",
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.FAILED, result.output
    view = json.loads(result.stdout)
    assert view["preset"] == f"ClusterMetricTemplate {cluster_template}"
    error_ratio = next(metric for metric in view["metrics"] if metric["metric"] == "error_ratio")
    assert error_ratio["verdict"] == "fail"
    assert error_ratio["canary_samples"] >= 100
    confined = 'sum(increase(http_requests_total{pod=~"web-[a-z0-9]+-[a-z0-9]+",namespace="shop"}[4s]))'
    assert confined in error_ratio["queries"]


@pytest.mark.cluster
def test_missing_template_exits_6(kubeconfig, namespace, tmp_path):
    annotations = annotations_file(tmp_path, {"canaryd.io/metric-template": "absent"})

    result = test_analyze.run(
        "web", "-n", namespace, "--from", "now-10m", "-f", str(annotations), "--kubeconfig", str(kubeconfig),
        "--prometheus-url", test_analyze.closed_port_url(),
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.INVALID_CONFIG == 6
    assert (
        f"Deployment {namespace}/web: canaryd.io/metric-template names MetricTemplate {namespace}/absent, "
        "which was not found" in result.output
    )


def test_template_with_unreachable_api_server_exits_4(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    server = f"http://127.0.0.1:{support.free_port()}"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "closed", "cluster": {"server": server}}],
                "users": [{"name": "nobody", "user": {}}],
                "contexts": [{"name": "closed", "context": {"cluster": "closed", "user": "nobody"}}],
                "current-context": "closed",
            }
        )
    )
    annotations = annotations_file(tmp_path, {"canaryd.io/metric-template": "web-slis"})

    result = test_analyze.run(
        "web", "-n", "shop", "--from", "now-10m", "-f", str(annotations), "--kubeconfig", str(kubeconfig),
        "--prometheus-url", test_analyze.closed_port_url(),
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.UNREACHABLE == 4
    assert "reading MetricTemplate shop/web-slis (named by canaryd.io/metric-template)" in result.output
    assert "check --kubeconfig and --context" in result.output


def test_invalid_template_namespace_label_is_usage_error(tmp_path):
    annotations = annotations_file(tmp_path, {"canaryd.io/metric-template": "web-slis"})

    result = test_analyze.run(
        "web", "--from", "now-10m", "-f", str(annotations), "--template-namespace-label", "bad-label",
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.USAGE == 2
    assert "--template-namespace-label" in result.output
    assert "invalid Prometheus label name 'bad-label'" in result.output


def test_preset_setting_without_preset_is_usage_error(tmp_path):
    annotations = annotations_file(tmp_path, {"canaryd.io/metric-template": "web-slis"})

    result = test_analyze.run(
        "web", "--from", "now-10m", "-f", str(annotations), "--preset-setting", "status_label=status",
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.USAGE == 2
    assert "the annotations name a metric template, which has no preset settings" in result.output
