"""Built-in presets: the PromQL each writes for an arm, and the lookup by name."""

from __future__ import annotations

import re

import promql_parser
import pytest

from canaryd import observations
from canaryd.metrics import outcomes, presets, protocol
from canaryd.spec import settings as spec_settings

CANARY = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web")


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        pytest.param(
            "http",
            {},
            protocol.ArmQueries(
                requests='sum(increase(http_requests_total{namespace="shop",pod=~"web-[a-z0-9]+-[a-z0-9]+"}[30s]))',
                errors='sum(increase(http_requests_total{namespace="shop",pod=~"web-[a-z0-9]+-[a-z0-9]+",'
                'code=~"5.."}[30s])) or vector(0)',
                latency_buckets='sum by (le) (increase(http_request_duration_seconds_bucket{namespace="shop",'
                'pod=~"web-[a-z0-9]+-[a-z0-9]+"}[30s]))',
            ),
            id="http_default",
        ),
        pytest.param(
            "http",
            {
                "requests_metric": "requests_total",
                "duration_histogram": "latency_milliseconds",
                "duration_unit_seconds": 0.001,
                "status_label": "status",
                "error_status_regex": "5..|429",
                "arm_selection": "label",
                "workload_label": "app_kubernetes_io_name",
                "extra_matchers": {"handler": "/api"},
            },
            protocol.ArmQueries(
                requests='sum(increase(requests_total{namespace="shop",app_kubernetes_io_name="web",'
                'handler="/api"}[30s]))',
                errors='sum(increase(requests_total{namespace="shop",app_kubernetes_io_name="web",handler="/api",'
                'status=~"5..|429"}[30s])) or vector(0)',
                latency_buckets='sum by (le) (increase(latency_milliseconds_bucket{namespace="shop",'
                'app_kubernetes_io_name="web",handler="/api"}[30s]))',
                bucket_unit_seconds=0.001,
            ),
            id="http_by_label_in_milliseconds",
        ),
        pytest.param(
            "http",
            {"duration_histogram": None},
            protocol.ArmQueries(
                requests='sum(increase(http_requests_total{namespace="shop",pod=~"web-[a-z0-9]+-[a-z0-9]+"}[30s]))',
                errors='sum(increase(http_requests_total{namespace="shop",pod=~"web-[a-z0-9]+-[a-z0-9]+",'
                'code=~"5.."}[30s])) or vector(0)',
            ),
            id="http_without_latency",
        ),
        pytest.param(
            "istio",
            {},
            protocol.ArmQueries(
                requests='sum(increase(istio_requests_total{reporter="destination",'
                'destination_workload_namespace="shop",destination_workload="web"}[30s]))',
                errors='sum(increase(istio_requests_total{reporter="destination",'
                'destination_workload_namespace="shop",destination_workload="web",'
                'response_code=~"5.."}[30s])) '
                "or vector(0)",
                latency_buckets="sum by (le) (increase(istio_request_duration_milliseconds_bucket{"
                'reporter="destination",destination_workload_namespace="shop",destination_workload="web"}[30s]))',
                bucket_unit_seconds=0.001,
            ),
            id="istio",
        ),
        pytest.param(
            "ingress-nginx",
            {"namespace_label": "exported_namespace", "ingress": "web-canary"},
            protocol.ArmQueries(
                requests='sum(increase(nginx_ingress_controller_requests{exported_namespace="shop",service="web",'
                'ingress="web-canary"}[30s]))',
                errors='sum(increase(nginx_ingress_controller_requests{exported_namespace="shop",service="web",'
                'ingress="web-canary",status=~"5.."}[30s])) or vector(0)',
                latency_buckets="sum by (le) ("
                "increase(nginx_ingress_controller_request_duration_seconds_bucket{"
                'exported_namespace="shop",service="web",ingress="web-canary"}[30s]))',
            ),
            id="ingress_nginx",
        ),
    ],
)
def test_preset_writes_queries(name: str, settings: dict, expected: protocol.ArmQueries) -> None:
    queries = presets.build_preset(name, settings).queries(target=CANARY, step_seconds=30)

    assert queries == expected
    for query in (queries.requests, queries.errors, queries.latency_buckets):
        if query is not None:
            promql_parser.parse(query)


def test_envoy_preset_matches_cluster_name_pattern() -> None:
    target = protocol.ArmTarget(
        arm=observations.Arm.CANARY, namespace="shop", workload="web", service="web.v2"
    )
    settings = {"cluster_name_pattern": r"outbound\|80\|\|{service}\.{namespace}\.svc\.cluster\.local"}

    queries = presets.build_preset("envoy", settings).queries(target=target, step_seconds=30)

    selector = promql_parser.parse(queries.requests).expr.args[0].vector_selector
    [matcher] = selector.matchers.matchers
    assert selector.name == "envoy_cluster_upstream_rq_total"
    assert matcher.name == "envoy_cluster_name"
    assert re.fullmatch(matcher.value, "outbound|80||web.v2.shop.svc.cluster.local")
    assert not re.fullmatch(matcher.value, "outbound|80||webxv2.shop.svc.cluster.local")
    assert 'envoy_response_code_class="5"' in queries.errors
    assert queries.bucket_unit_seconds == 0.001


def test_pod_regex_excludes_primary_pods() -> None:
    pattern = CANARY.pod_regex

    assert pattern == "web-[a-z0-9]+-[a-z0-9]+"
    assert re.fullmatch(pattern, "web-5d8f7c9b4-x2k9p")
    assert not re.fullmatch(pattern, "web-primary-5d8f7c9b4-x2k9p")


def test_ingress_preset_selects_by_service() -> None:
    target = protocol.ArmTarget(
        arm=observations.Arm.CANARY, namespace="shop", workload="web", service="web-canary"
    )

    queries = presets.build_preset("ingress-nginx").queries(target=target, step_seconds=30)

    assert 'service="web-canary"' in queries.requests


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(outcomes.ConfigurationError, match="known presets: http, istio, envoy, ingress-nginx"):
        presets.build_preset("linkerd")


@pytest.mark.parametrize(
    ("name", "settings", "field"),
    [
        pytest.param("http", {"status_label": "status-code"}, "status_label", id="label_with_dash"),
        pytest.param("http", {"requests_metric": "x{}"}, "requests_metric", id="metric_with_braces"),
        pytest.param("http", {"arm_selection": "deployment"}, "arm_selection", id="unknown_selection"),
        pytest.param("istio", {"mesh": "ambient"}, "mesh", id="unknown_key"),
        pytest.param(
            "envoy", {"cluster_name_pattern": "{name}/.*"}, "cluster_name_pattern", id="unknown_placeholder"
        ),
    ],
)
def test_preset_settings_are_validated(name: str, settings: dict, field: str) -> None:
    with pytest.raises(outcomes.ConfigurationError, match=field):
        presets.build_preset(name, settings)


def test_every_preset_the_spec_accepts_exists() -> None:
    # The spec layer may not import the metrics package, so it keeps its own list of names.
    missing = set(spec_settings.METRIC_PRESETS) - set(presets.KNOWN_PRESETS)

    assert not missing
