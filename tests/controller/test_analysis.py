"""The controller's analysis with a metric template: read from the real API server and checked before any
query runs. A missing, invalid, confinement-rejected or forbidden template gives no data with a message
naming the Deployment, the annotation, the template and the fix. A failed read gives no data too.

The rollout with a template, judged on real Prometheus data, is in test_template_rollouts.py.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import secrets
import threading
from collections.abc import Iterator

import kubernetes
import pytest

from canaryd import observations, verdicts
from canaryd.controller import analysis
from canaryd.core import phase, status
from canaryd.kube import api as kube_api
from canaryd.metrics import outcomes, prometheus, protocol, templates
from canaryd.spec import annotations
from tests.controller import support

NOW = datetime.datetime(2026, 12, 5, 0, 0, tzinfo=datetime.UTC)
SETTINGS = analysis.AnalysisSettings(interval_seconds=4.0, scrape_interval_seconds=1.0)
REQUESTS = 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}"}[{{ interval }}]))'
ERRORS = 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}",code=~"5.."}[{{ interval }}])) or vector(0)'


def template_object(name: str, *, namespace: str | None, **spec: object) -> dict:
    kind = "MetricTemplate" if namespace is not None else "ClusterMetricTemplate"
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {
        "apiVersion": templates.API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": {"requests": REQUESTS, "errors": ERRORS, **spec},
    }


def analysing_status() -> status.RolloutStatus:
    """A rollout at its first step whose analysis started a minute ago, so a whole interval has passed."""
    started = NOW - datetime.timedelta(minutes=1)
    return status.RolloutStatus(
        phase=phase.Phase.PROGRESSING,
        revision="rev-2",
        attempt=1,
        desired_weight=20,
        analysis_started_at=started,
        judged_since=started,
    )


@pytest.fixture(scope="module")
def stopped_prometheus() -> prometheus.PrometheusSource:
    """A Prometheus source on a port where nothing listens: any query it ran would be source-unreachable,
    so a reason other than that shows the template was refused before a query was sent."""
    url = f"http://127.0.0.1:{support.free_port()}"
    return prometheus.PrometheusSource(
        settings=prometheus.PrometheusSettings(url=url, retries=0, timeout_seconds=2.0)
    )


def analyse(
    source: prometheus.PrometheusSource,
    *,
    reader: analysis.TemplateReader | None,
    namespace: str,
    settings: dict[str, str],
    analysis_settings: analysis.AnalysisSettings = SETTINGS,
) -> verdicts.Judgement:
    spec = annotations.parse_annotations(
        {"canaryd.io/enabled": "true", **settings}, source=f"Deployment {namespace}/web"
    )
    result = analysis.analyse_step(
        source=source,
        spec=spec,
        status=analysing_status(),
        namespace=namespace,
        deployment="web",
        now=NOW,
        settings=analysis_settings,
        template_reader=reader,
    )
    assert result is not None, "a whole interval has passed, so the step is analysed"
    return result.judgement


# Checks that need no API server.


REFERENCE = analysis.TemplateReference(
    subject="Deployment shop/web",
    annotation="canaryd.io/metric-template",
    resource=kube_api.METRIC_TEMPLATES,
    namespace="shop",
    name="web-slis",
)
ARMS = (
    protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web"),
    protocol.ArmTarget(arm=observations.Arm.CONTROL, namespace="shop", workload="web-primary"),
)


def test_template_preset_confines_every_arm_query():
    item = template_object("web-slis", namespace="shop")

    preset = analysis.template_preset(
        item, reference=REFERENCE, arms=ARMS, step_seconds=4.0, policy=templates.TemplatePolicy()
    )

    queries = preset.queries(target=ARMS[1], step_seconds=4.0)
    assert 'namespace="shop"' in queries.requests
    assert "web-primary" in queries.requests
    assert 'namespace="shop"' in queries.errors


def test_template_preset_accepts_allowed_label():
    item = template_object("web-slis", namespace="shop", namespaceLabel="kubernetes_namespace")
    policy = templates.TemplatePolicy(allowed_namespace_labels=("namespace", "kubernetes_namespace"))

    preset = analysis.template_preset(item, reference=REFERENCE, arms=ARMS, step_seconds=4.0, policy=policy)

    assert 'kubernetes_namespace="shop"' in preset.queries(target=ARMS[0], step_seconds=4.0).requests


def test_template_preset_rejects_an_invalid_object():
    item = template_object("web-slis", namespace="shop")
    del item["spec"]["errors"]

    with pytest.raises(outcomes.TemplateRejected) as raised:
        analysis.template_preset(
            item, reference=REFERENCE, arms=ARMS, step_seconds=4.0, policy=templates.TemplatePolicy()
        )

    message = str(raised.value)
    assert message.startswith(
        "Deployment shop/web: canaryd.io/metric-template names MetricTemplate shop/web-slis, which canaryd "
        "rejected: MetricTemplate web-slis is invalid"
    )
    assert "errors" in message
    assert message.endswith("Fix the template, or name another one in canaryd.io/metric-template")


def test_template_policy_rejects_an_invalid_label():
    with pytest.raises(ValueError, match="invalid Prometheus label name 'bad-label'"):
        templates.TemplatePolicy(allowed_namespace_labels=("bad-label",))


def test_template_without_api_access_misconfigured(stopped_prometheus):
    judgement = analyse(
        stopped_prometheus,
        reader=None,
        namespace="shop",
        settings={"canaryd.io/metric-template": "web-slis"},
    )

    assert judgement.verdict is verdicts.Verdict.NO_DATA
    assert "Deployment shop/web: canaryd.io/metric-template names MetricTemplate shop/web-slis" in (
        judgement.reason
    )
    assert "set canaryd.io/metric-preset instead" in judgement.reason


@pytest.fixture
def unreachable_api() -> Iterator[kube_api.Api]:
    """The API layer pointed at a loopback port where nothing listens."""
    configuration = kubernetes.client.Configuration()
    configuration.host = f"http://127.0.0.1:{support.free_port()}"
    configuration.retries = 0
    with kubernetes.client.ApiClient(configuration) as api_client:
        yield kube_api.Api(api_client=api_client, request_timeout=2.0)


@contextlib.contextmanager
def failing_api_server(status_code: int) -> Iterator[kube_api.Api]:
    """An HTTP server on 127.0.0.1 that responds to every request with `status_code`, behind the API layer."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 -- the name http.server dispatches to
            body = b'{"kind":"Status","status":"Failure","message":"etcdserver: request timed out"}'
            self.send_response(status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = kubernetes.client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    configuration.retries = 0
    try:
        with kubernetes.client.ApiClient(configuration) as api_client:
            yield kube_api.Api(api_client=api_client, request_timeout=2.0)
    finally:
        server.shutdown()
        server.server_close()


def assert_unreadable(judgement: verdicts.Judgement, *, detail: str) -> None:
    assert judgement.verdict is verdicts.Verdict.NO_DATA
    assert judgement.reason.startswith(
        "MetricTemplateUnreadable: Deployment shop/web: reading MetricTemplate"
    )
    assert detail in judgement.reason
    assert [result.verdict for result in judgement.metrics] == [verdicts.Verdict.NO_DATA] * 2


def test_unreachable_api_server_gives_no_data(stopped_prometheus, unreachable_api):
    judgement = analyse(
        stopped_prometheus,
        reader=unreachable_api,
        namespace="shop",
        settings={"canaryd.io/metric-template": "web-slis"},
    )

    assert_unreadable(judgement, detail="from the Kubernetes API failed")


def test_api_server_error_gives_no_data(stopped_prometheus):
    with failing_api_server(503) as api:
        judgement = analyse(
            stopped_prometheus,
            reader=api,
            namespace="shop",
            settings={"canaryd.io/metric-template": "web-slis"},
        )

    assert_unreadable(judgement, detail="HTTP 503")


def test_read_template_raises_unreadable_on_server_error():
    with failing_api_server(500) as api, pytest.raises(analysis.TemplateUnreadable) as raised:
        analysis.read_template(api, reference=REFERENCE)

    assert isinstance(raised.value, outcomes.SourceUnreachable), "a failed read is treated as a source down"
    assert not isinstance(raised.value, outcomes.ConfigurationError)


# Checks against the real API server.


@pytest.fixture
def api(kube_api_client) -> kube_api.Api:
    return kube_api.Api(api_client=kube_api_client)


def create_template(kube_api_client, item: dict) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    if item["kind"] == "MetricTemplate":
        custom.create_namespaced_custom_object(
            "canaryd.io", "v1alpha1", item["metadata"]["namespace"], "metrictemplates", item
        )
    else:
        custom.create_cluster_custom_object("canaryd.io", "v1alpha1", "clustermetrictemplates", item)


@contextlib.contextmanager
def cluster_template(kube_api_client, **spec: object) -> Iterator[str]:
    """A ClusterMetricTemplate with a unique name, deleted on exit (it outlives the test's namespace)."""
    name = f"test-slis-{secrets.token_hex(3)}"
    create_template(kube_api_client, template_object(name, namespace=None, **spec))
    try:
        yield name
    finally:
        kubernetes.client.CustomObjectsApi(kube_api_client).delete_cluster_custom_object(
            "canaryd.io", "v1alpha1", "clustermetrictemplates", name
        )


@pytest.mark.cluster
@pytest.mark.parametrize(
    ("annotation", "described"),
    [
        ("canaryd.io/metric-template", "MetricTemplate {namespace}/absent"),
        ("canaryd.io/cluster-metric-template", "ClusterMetricTemplate absent"),
    ],
    ids=["namespaced", "cluster"],
)
def test_missing_template_misconfigured(stopped_prometheus, api, namespace, annotation, described):
    judgement = analyse(stopped_prometheus, reader=api, namespace=namespace, settings={annotation: "absent"})

    assert judgement.verdict is verdicts.Verdict.NO_DATA
    assert judgement.reason.startswith("analysis is misconfigured: ")
    expected = f"Deployment {namespace}/web: {annotation} names {described.format(namespace=namespace)}"
    assert expected in judgement.reason
    assert "which was not found" in judgement.reason
    assert f"or correct {annotation}" in judgement.reason


# Each case: the template's spec as stored by the API server, and a phrase of the rejection.
REJECTED_TEMPLATES = [
    pytest.param(
        {"requests": 'sum(increase(http_requests_total{pod=~"{{ pods }}"}[{{ interval }}]))'},
        "uses unknown variables pods",
        id="unknown-variable",
    ),
    pytest.param(
        {"requests": 'sum(increase(http_requests_total{pod=~"{{ pod_regex }}"}[5m]))'},
        "does not use {{ interval }}",
        id="no-interval",
    ),
    pytest.param(
        {"requests": "sum(increase(http_requests_total{[{{ interval }}]))"},
        "invalid PromQL",
        id="invalid-promql",
    ),
    pytest.param(
        {"requests": 'sum(increase(http_requests_total{namespace="payments"}[{{ interval }}]))'},
        "may only read namespace=",
        id="other-namespace-selector",
    ),
    pytest.param(
        {"namespaceLabel": "app_namespace"},
        "sets spec.namespaceLabel to 'app_namespace'; allowed: namespace",
        id="label-not-allowed",
    ),
]


@pytest.mark.cluster
@pytest.mark.parametrize(("spec", "phrase"), REJECTED_TEMPLATES)
def test_rejected_template_message_names_fix(
    stopped_prometheus, api, kube_api_client, namespace, spec, phrase
):
    try:
        create_template(kube_api_client, template_object("web-slis", namespace=namespace, **spec))
    except kubernetes.client.ApiException as error:
        pytest.fail(
            f"the API server rejected the template, so canaryd's own check is not reached: {error.body}"
        )

    judgement = analyse(
        stopped_prometheus,
        reader=api,
        namespace=namespace,
        settings={"canaryd.io/metric-template": "web-slis"},
    )

    assert judgement.verdict is verdicts.Verdict.NO_DATA
    assert judgement.reason.startswith("analysis is misconfigured: ")
    assert (
        f"Deployment {namespace}/web: canaryd.io/metric-template names MetricTemplate {namespace}/web-slis, "
        "which canaryd rejected" in judgement.reason
    )
    assert phrase in judgement.reason
    assert "Fix the template, or name another one in canaryd.io/metric-template" in judgement.reason


@pytest.mark.cluster
def test_unconfined_cluster_template_runs_as_written(api, kube_api_client):
    with cluster_template(kube_api_client, namespaceLabel=None) as name:
        reference = analysis.template_reference(
            annotations.parse_annotations(
                {"canaryd.io/cluster-metric-template": name}, source="Deployment shop/web"
            ),
            namespace="shop",
            subject="Deployment shop/web",
        )
        assert reference is not None
        item = analysis.read_template(api, reference=reference)

    preset = analysis.template_preset(
        item, reference=reference, arms=ARMS, step_seconds=4.0, policy=templates.TemplatePolicy()
    )
    requests = preset.queries(target=ARMS[0], step_seconds=4.0).requests
    assert preset.name == f"ClusterMetricTemplate {name}"
    assert "namespace=" not in requests, "a platform template with namespaceLabel null is not confined"
    assert "web-[a-z0-9]+-[a-z0-9]+" in requests


@pytest.mark.cluster
def test_cluster_template_confined_to_rollout_namespace(api, kube_api_client):
    with cluster_template(kube_api_client) as name:
        reference = analysis.template_reference(
            annotations.parse_annotations(
                {"canaryd.io/cluster-metric-template": name}, source="Deployment shop/web"
            ),
            namespace="shop",
            subject="Deployment shop/web",
        )
        assert reference is not None
        item = analysis.read_template(api, reference=reference)

    preset = analysis.template_preset(
        item, reference=reference, arms=ARMS, step_seconds=4.0, policy=templates.TemplatePolicy()
    )
    assert 'namespace="shop"' in preset.queries(target=ARMS[0], step_seconds=4.0).requests


@pytest.mark.cluster
def test_forbidden_template_read_misconfigured(stopped_prometheus, cluster, namespace):
    with cluster.api_client() as api_client:
        # The admin impersonates a user with no role at all, so the API server returns 403.
        api_client.set_default_header("Impersonate-User", "canaryd-test-nobody")
        judgement = analyse(
            stopped_prometheus,
            reader=kube_api.Api(api_client=api_client),
            namespace=namespace,
            settings={"canaryd.io/cluster-metric-template": "http-slis"},
        )

    assert judgement.verdict is verdicts.Verdict.NO_DATA
    assert judgement.reason.startswith("analysis is misconfigured: ")
    assert "canaryd.io/cluster-metric-template names ClusterMetricTemplate http-slis" in judgement.reason
    assert "403 Forbidden for get on clustermetrictemplates.canaryd.io" in judgement.reason
    assert "grant that verb to the identity reading it" in judgement.reason
