"""Metric templates: rendering, escaping, and confinement to the template's namespace.

Each attempt to read another namespace's series is one case of `ESCAPE_ATTEMPTS`: the rendered
query is either rejected or every selector in it reads only `namespace="shop"`.
"""

from __future__ import annotations

import pathlib

import promql_parser
import pytest
import yaml

from canaryd import observations
from canaryd.metrics import confinement, outcomes, protocol, templates

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
CANARY = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web")
REJECTED = "rejected"
CONFINED = "confined"


def template_object(requests: str, *, namespace: str = "shop", **spec: object) -> dict:
    return {
        "apiVersion": "canaryd.io/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": "sli", "namespace": namespace},
        "spec": {
            "requests": requests,
            "errors": 'sum(increase(http_requests_total{code=~"5.."}[{{ interval }}])) or vector(0)',
            **spec,
        },
    }


def render_requests(requests: str, **spec: object) -> str:
    template = templates.MetricTemplate.from_object(template_object(requests, **spec))
    return templates.TemplatePreset(template=template).queries(target=CANARY, step_seconds=30).requests


def selectors(query: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(query), pre_visit=visit)
    return found


def namespace_matchers(selector: promql_parser.VectorSelector) -> list[tuple[str, str]]:
    return [
        (str(matcher.op), matcher.value)
        for matcher in selector.matchers.matchers
        if matcher.name == "namespace"
    ]


ESCAPE_ATTEMPTS = [
    ("extra_selector_other_namespace", 'sum(increase(x{namespace="other"}[{{ interval }}]))', REJECTED),
    (
        "or_clause_other_namespace",
        'sum(increase(x[{{ interval }}])) or sum(increase(x{namespace="kube-system"}[{{ interval }}]))',
        REJECTED,
    ),
    (
        "or_clause_without_namespace",
        "sum(increase(x[{{ interval }}])) or sum(increase(y[{{ interval }}]))",
        CONFINED,
    ),
    (
        "unless_clause_other_namespace",
        'sum(increase(x[{{ interval }}])) unless on() y{namespace="other"}',
        REJECTED,
    ),
    ("regex_any_namespace", 'sum(increase(x{namespace=~".+"}[{{ interval }}]))', REJECTED),
    ("regex_own_or_other", 'sum(increase(x{namespace=~"shop|other"}[{{ interval }}]))', REJECTED),
    ("regex_exactly_own", 'sum(increase(x{namespace=~"shop"}[{{ interval }}]))', REJECTED),
    ("negative_equal", 'sum(increase(x{namespace!="shop"}[{{ interval }}]))', REJECTED),
    ("negative_regex", 'sum(increase(x{namespace!~"shop"}[{{ interval }}]))', REJECTED),
    ("empty_namespace", 'sum(increase(x{namespace=""}[{{ interval }}]))', REJECTED),
    (
        "own_then_other_namespace",
        'sum(increase(x{namespace="shop",namespace="other"}[{{ interval }}]))',
        REJECTED,
    ),
    ("quoted_label_name", 'sum(increase({"namespace"="other", __name__="x"}[{{ interval }}]))', REJECTED),
    ("single_quoted_value", "sum(increase(x{namespace='other'}[{{ interval }}]))", REJECTED),
    ("backtick_value", "sum(increase(x{namespace=`other`}[{{ interval }}]))", REJECTED),
    ("or_inside_braces", 'sum(increase(x{namespace="shop" or namespace="other"}[{{ interval }}]))', REJECTED),
    ("or_inside_braces_other_label", 'sum(increase(x{job="a" or __name__="y"}[{{ interval }}]))', REJECTED),
    ("every_metric_by_name_regex", 'sum(increase({__name__=~".+"}[{{ interval }}]))', CONFINED),
    (
        "count_by_namespace_all_series",
        'count by (namespace) ({__name__=~".+", namespace=~".*"}) * 0 + sum(increase(x[{{ interval }}]))',
        REJECTED,
    ),
    (
        "label_replace_rewrites_namespace",
        'sum(increase(label_replace(x, "namespace", "other", "", "")[{{ interval }}:]))',
        REJECTED,
    ),
    (
        "label_replace_from_exported_namespace",
        'sum(label_replace(increase(x{exported_namespace="other"}[{{ interval }}]), "namespace", "$1", '
        '"exported_namespace", "(.*)"))',
        CONFINED,
    ),
    (
        "label_replace_then_match_other",
        'sum(label_replace(increase(x[{{ interval }}]), "namespace", "other", "", "")) '
        'and on() sum(y{namespace="other"})',
        REJECTED,
    ),
    ("subquery_other_namespace", 'max_over_time(sum(x{namespace="other"})[{{ interval }}:1s])', REJECTED),
    ("subquery_without_namespace", "max_over_time(sum(increase(x[1m]))[{{ interval }}:10s])", CONFINED),
    ("subquery_without_step", "max_over_time(sum(x)[{{ interval }}:])", REJECTED),
    ("absent_other_namespace", 'sum(increase(x[{{ interval }}])) + absent(y{namespace="other"})', REJECTED),
    ("offset_and_at", "sum(increase(x[{{ interval }}] offset 1h)) + sum(y @ end())", CONFINED),
    (
        "vector_matching_on_namespace",
        "sum(increase(x[{{ interval }}]) * on(namespace) group_left y)",
        CONFINED,
    ),
    (
        "quote_in_value_breaks_out",
        'sum(increase(x{job="a\\"} or y{namespace=\\"other"}[{{ interval }}]))',
        CONFINED,
    ),
    ("comment_hides_selector", 'sum(increase(x[{{ interval }}])) # or y{namespace="other"}', CONFINED),
    ("not_promql", "sum(increase(x[{{ interval }}]) or", REJECTED),
]


@pytest.mark.parametrize(
    ("requests", "expected"),
    [pytest.param(requests, expected, id=name) for name, requests, expected in ESCAPE_ATTEMPTS],
)
def test_template_cannot_read_other_namespace(requests: str, expected: str) -> None:
    if expected == REJECTED:
        with pytest.raises(outcomes.TemplateRejected):
            render_requests(requests)
        return

    rendered = render_requests(requests)
    found = selectors(rendered)
    assert found, rendered
    for selector in found:
        assert namespace_matchers(selector) == [("MatchOp.Equal", "shop")], rendered
        assert not selector.matchers.or_matchers, rendered


def test_quote_in_label_value_stays_one_value() -> None:
    rendered = render_requests('sum(increase(x{job="a\\"} or y{namespace=\\"other"}[{{ interval }}]))')

    [selector] = selectors(rendered)
    values = {matcher.name: matcher.value for matcher in selector.matchers.matchers}
    assert values == {"job": 'a"} or y{namespace="other', "namespace": "shop"}


def test_confinement_keeps_the_query_shape() -> None:
    query = 'sum by (le) (increase(h_bucket{app="web", path=~"/api/.*\\\\.json"}[30s])) / on() group_left 2'

    confined = confinement.confine_to_namespace(query, namespace="shop")

    assert confined == (
        'sum by (le)(increase(h_bucket{app="web",path=~"/api/.*\\\\.json",namespace="shop"}[30s])) '
        "/ on () group_left () 2"
    )


def test_confinement_uses_the_configured_label() -> None:
    confined = confinement.confine_to_namespace(
        "sum(istio_requests_total)", namespace="shop", label="destination_workload_namespace"
    )

    assert confined == 'sum(istio_requests_total{destination_workload_namespace="shop"})'


def test_template_renders_variables_escaped_for_every_query() -> None:
    template = templates.MetricTemplate.from_object(
        template_object(
            'sum(increase(http_requests_total{pod=~"{{ pod_regex }}", arm="{{arm}}"}[{{ interval }}]))',
            latencyBuckets='sum by (le) (increase(h_bucket{app="{{ workload }}"}[{{ interval }}]))',
            bucketUnitSeconds=0.001,
        )
    )

    queries = templates.TemplatePreset(template=template).queries(target=CANARY, step_seconds=15)

    assert queries.requests == (
        'sum(increase(http_requests_total{pod=~"web-[a-z0-9]+-[a-z0-9]+",arm="canary",namespace="shop"}[15s]))'
    )
    assert (
        queries.errors
        == 'sum(increase(http_requests_total{code=~"5..",namespace="shop"}[15s])) or  vector(0)'
    )
    assert queries.latency_buckets == 'sum by (le)(increase(h_bucket{app="web",namespace="shop"}[15s]))'
    assert queries.bucket_unit_seconds == 0.001


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(
            protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload='web"}'),
            "not a Kubernetes DNS label",
            id="quote_in_workload_name",
        ),
        pytest.param(
            protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="other", workload="web"),
            "can only be used by rollouts in namespace shop",
            id="rollout_in_other_namespace",
        ),
    ],
)
def test_template_rejects_unsafe_targets(target: protocol.ArmTarget, message: str) -> None:
    template = templates.MetricTemplate.from_object(
        template_object('sum(increase(x{app="{{ workload }}"}[{{ interval }}]))')
    )

    with pytest.raises(outcomes.TemplateRejected, match=message):
        templates.TemplatePreset(template=template).queries(target=target, step_seconds=30)


def test_template_rejects_unknown_variable() -> None:
    with pytest.raises(outcomes.TemplateRejected, match="unknown variables deployment"):
        render_requests('sum(increase(x{app="{{ deployment }}"}[{{ interval }}]))')


def test_template_rejects_query_without_interval() -> None:
    with pytest.raises(outcomes.TemplateRejected, match="does not use"):
        render_requests("sum(increase(x[5m]))")


def test_template_rejects_namespace_label_outside_allow_list() -> None:
    # A label the application sets itself would let it claim any namespace's series.
    with pytest.raises(outcomes.TemplateRejected, match="allowed: namespace"):
        render_requests("sum(increase(x[{{ interval }}]))", namespaceLabel="app")


def test_namespaced_template_cannot_turn_confinement_off() -> None:
    with pytest.raises(outcomes.TemplateRejected, match="namespaceLabel must be set"):
        templates.MetricTemplate.from_object(template_object("sum(x)", namespaceLabel=None))


def test_cluster_template_without_namespace_label_runs_as_written() -> None:
    item = template_object('sum(increase(x{job="edge"}[{{ interval }}]))', namespaceLabel=None)
    item["kind"] = "ClusterMetricTemplate"
    del item["metadata"]["namespace"]
    template = templates.MetricTemplate.from_object(item)

    queries = templates.TemplatePreset(template=template).queries(target=CANARY, step_seconds=30)

    assert queries.requests == 'sum(increase(x{job="edge"}[30s]))'


def test_cluster_template_confined_to_rollout_namespace() -> None:
    item = template_object("sum(increase(x[{{ interval }}]))", namespaceLabel="exported_namespace")
    item["kind"] = "ClusterMetricTemplate"
    del item["metadata"]["namespace"]
    template = templates.MetricTemplate.from_object(item)
    target = protocol.ArmTarget(arm=observations.Arm.CONTROL, namespace="payments", workload="api-primary")

    queries = templates.TemplatePreset(template=template).queries(target=target, step_seconds=30)

    assert queries.requests == 'sum(increase(x{exported_namespace="payments"}[30s]))'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"apiVersion": "v1"}, "expected canaryd.io/v1alpha1", id="wrong_api_version"),
        pytest.param({"kind": "ConfigMap"}, "expected canaryd.io/v1alpha1", id="wrong_kind"),
        pytest.param({"spec": {"requests": "x"}}, "errors", id="missing_errors"),
        pytest.param({"spec": {"requests": "x", "errors": "y", "query": "z"}}, "query", id="unknown_field"),
    ],
)
def test_template_object_is_validated(change: dict, message: str) -> None:
    item = {**template_object("sum(x)"), **change}

    with pytest.raises(outcomes.TemplateRejected, match=message):
        templates.MetricTemplate.from_object(item)


@pytest.mark.parametrize(
    ("file_name", "kind", "scope"),
    [
        pytest.param("metrictemplate.yaml", "MetricTemplate", "Namespaced", id="namespaced"),
        pytest.param("clustermetrictemplate.yaml", "ClusterMetricTemplate", "Cluster", id="cluster"),
    ],
)
def test_crd_schema_matches_the_model(file_name: str, kind: str, scope: str) -> None:
    crd = yaml.safe_load((REPOSITORY / "manifests" / "crds" / file_name).read_text())
    [version] = crd["spec"]["versions"]
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]

    model_fields = {field.alias for field in templates.MetricTemplateSpec.model_fields.values()}
    assert crd["spec"]["group"] == templates.GROUP
    assert version["name"] == templates.VERSION
    assert crd["spec"]["names"]["kind"] == kind
    assert crd["spec"]["scope"] == scope
    assert set(spec_schema["properties"]) == model_fields
    assert set(spec_schema["required"]) == {"requests", "errors"}
