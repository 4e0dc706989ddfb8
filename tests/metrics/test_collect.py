"""The Prometheus source and presets against a real Prometheus scraping real services.

One module-wide set-up serves every read-only test: Prometheus scrapes, once a second, services
with known error ratios and latencies, and a load driver sends each of them the same request rate.

| workload          | namespace | pods | error ratio | slow (40 ms) share |
|-------------------|-----------|------|-------------|--------------------|
| web-primary       | shop      | 1    | 0           | 0                  |
| web (bad canary)  | shop      | 1    | 0.2         | 0.5                |
| web-fixed (good)  | shop      | 1    | 0           | 0                  |
| api               | shop      | 2    | 0           | 0                  |
| web               | other     | 1    | 0.5         | 0                  |
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator

import numpy as np
import pytest

from canaryd import judge, observations, verdicts
from canaryd.metrics import (
    analysis,
    collect,
    confinement,
    outcomes,
    presets,
    prometheus,
    protocol,
    templates,
    windows,
)
from tests.harness import prometheus as harness

pytestmark = pytest.mark.prometheus

STEP_SECONDS = 4.0
FAST_LATENCY = 0.002
SLOW_LATENCY = 0.04
RATE_PER_SECOND = 25.0


def arm(
    workload: str, *, namespace: str = "shop", which: observations.Arm = observations.Arm.CANARY
) -> protocol.ArmTarget:
    return protocol.ArmTarget(arm=which, namespace=namespace, workload=workload)


CONTROL = arm("web-primary", which=observations.Arm.CONTROL)
BAD_CANARY = arm("web")
GOOD_CANARY = arm("web-fixed")


@pytest.fixture(scope="module")
def traffic(
    tmp_path_factory: pytest.TempPathFactory, prometheus_binary: pathlib.Path
) -> Iterator[harness.Harness]:
    with harness.harness(tmp_path_factory.mktemp("prometheus")) as running:
        running.start_app(workload="web-primary", latency=FAST_LATENCY)
        running.start_app(
            workload="web", error_ratio=0.2, latency=FAST_LATENCY, slow_ratio=0.5, slow_latency=SLOW_LATENCY
        )
        running.start_app(workload="web-fixed", latency=FAST_LATENCY)
        running.start_app(workload="api", pod="api-5d8f7c9b4-aaaaa", latency=FAST_LATENCY)
        running.start_app(workload="api", pod="api-5d8f7c9b4-bbbbb", latency=FAST_LATENCY)
        running.start_app(namespace="other", workload="web", error_ratio=0.5, latency=FAST_LATENCY)
        running.start_prometheus()
        running.start_load(rate_per_second=RATE_PER_SECOND)
        # Four intervals of history before the first test reads a window.
        time.sleep(4 * STEP_SECONDS + 2)
        yield running


@pytest.fixture(scope="module")
def source(traffic: harness.Harness) -> Iterator[prometheus.PrometheusSource]:
    assert traffic.prometheus is not None
    settings = prometheus.PrometheusSettings(
        url=traffic.prometheus.url,
        timeout_seconds=5,
        retries=1,
        backoff_seconds=0.1,
        scrape_interval_seconds=1,
    )
    client = prometheus.PrometheusSource(settings=settings)
    yield client
    client.close()


def recent_window(*, intervals: int = 4) -> windows.Window:
    # Whole seconds, and one scrape back from now, so the last interval is complete.
    end = float(int(time.time()) - 1)
    return windows.Window(start=end - intervals * STEP_SECONDS, end=end, step_seconds=STEP_SECONDS)


def test_http_preset_returns_counts_and_buckets(source: prometheus.PrometheusSource) -> None:
    comparison = collect.collect_comparison(
        source=source,
        preset=presets.build_preset("http"),
        canary=BAD_CANARY,
        control=CONTROL,
        window=recent_window(),
    )

    canary, control = comparison.canary, comparison.control
    expected_requests = RATE_PER_SECOND * STEP_SECONDS
    assert comparison.interval_count == 4
    assert np.all(np.abs(canary.requests - expected_requests) < 0.3 * expected_requests), canary.requests
    assert np.all(np.abs(control.requests - expected_requests) < 0.3 * expected_requests), control.requests
    assert abs(canary.errors.sum() / canary.requests.sum() - 0.2) < 0.05
    assert control.errors.sum() == 0
    assert list(canary.bucket_bounds) == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, np.inf]
    # The +Inf bucket counts the same requests; a scrape between the service's two updates of one
    # request may split it across intervals.
    np.testing.assert_allclose(canary.bucket_counts[:, -1], canary.requests, rtol=0.02)
    fast_share = canary.bucket_counts[:, 0].sum() / canary.requests.sum()
    assert abs(fast_share - 0.5) < 0.05
    np.testing.assert_allclose(
        canary.bucket_counts[:, 2], canary.bucket_counts[:, 0]
    )  # nothing in (5 ms, 25 ms]
    np.testing.assert_allclose(canary.bucket_counts[:, 3], canary.bucket_counts[:, -1])  # 40 ms <= 50 ms
    np.testing.assert_allclose(control.bucket_counts[:, 0], control.bucket_counts[:, -1])
    np.testing.assert_allclose(
        comparison.canary_share, canary.requests / (canary.requests + control.requests)
    )


@pytest.mark.parametrize("preset_name", ["istio", "ingress-nginx", "envoy"])
def test_preset_matches_http_preset(source: prometheus.PrometheusSource, preset_name: str) -> None:
    # The services count each request in all three shapes, so every preset must see the same numbers.
    window = recent_window()
    reference = collect.collect_comparison(
        source=source, preset=presets.build_preset("http"), canary=BAD_CANARY, control=CONTROL, window=window
    )

    comparison = collect.collect_comparison(
        source=source,
        preset=presets.build_preset(preset_name),
        canary=BAD_CANARY,
        control=CONTROL,
        window=window,
    )

    np.testing.assert_allclose(comparison.canary.requests, reference.canary.requests, rtol=1e-9)
    np.testing.assert_allclose(comparison.canary.errors, reference.canary.errors, rtol=1e-9)
    np.testing.assert_allclose(comparison.control.requests, reference.control.requests, rtol=1e-9)
    # Istio's histogram is in milliseconds; the preset reports bounds in seconds.
    np.testing.assert_allclose(comparison.canary.bucket_bounds, reference.canary.bucket_bounds)
    np.testing.assert_allclose(comparison.canary.bucket_counts, reference.canary.bucket_counts, rtol=1e-9)


def test_preset_reads_only_its_namespace(source: prometheus.PrometheusSource) -> None:
    window = recent_window()
    shop = collect.collect_comparison(
        source=source, preset=presets.build_preset("http"), canary=BAD_CANARY, control=CONTROL, window=window
    )
    other = collect.collect_comparison(
        source=source,
        preset=presets.build_preset("http"),
        canary=arm("web", namespace="other"),
        control=CONTROL,
        window=window,
    )

    assert abs(shop.canary.errors.sum() / shop.canary.requests.sum() - 0.2) < 0.05
    assert abs(other.canary.errors.sum() / other.canary.requests.sum() - 0.5) < 0.05


def test_workload_without_series_is_no_series(source: prometheus.PrometheusSource) -> None:
    with pytest.raises(outcomes.NoSeries) as raised:
        collect.collect_comparison(
            source=source,
            preset=presets.build_preset("http"),
            canary=arm("checkout"),
            control=CONTROL,
            window=recent_window(),
        )

    assert 'pod=~"checkout-[a-z0-9]+-[a-z0-9]+"' in raised.value.query
    assert raised.value.query in str(raised.value)


def test_per_pod_template_is_several_series(source: prometheus.PrometheusSource) -> None:
    template = _template(
        requests='sum by (pod) (increase(http_requests_total{app="{{ workload }}"}[{{ interval }}]))'
    )

    with pytest.raises(outcomes.SeveralSeries) as raised:
        collect.collect_comparison(
            source=source, preset=template, canary=arm("api"), control=CONTROL, window=recent_window()
        )

    assert raised.value.differing_labels == ("pod",)
    assert "pod" in str(raised.value)
    assert 'app="api"' in raised.value.query


def test_division_by_zero_is_not_finite(source: prometheus.PrometheusSource) -> None:
    template = _template(
        requests='sum(increase(http_requests_total{app="{{ workload }}"}[{{ interval }}])) / 0'
    )

    with pytest.raises(outcomes.NotFinite) as raised:
        collect.collect_comparison(
            source=source, preset=template, canary=BAD_CANARY, control=CONTROL, window=recent_window()
        )

    assert raised.value.value == np.inf
    assert "/ 0" in raised.value.query


def test_invalid_query_is_rejected_with_prometheus_text(source: prometheus.PrometheusSource) -> None:
    # Valid syntax that Prometheus refuses while evaluating: a range vector where a scalar belongs.
    query = 'histogram_quantile(0.9, http_requests_total{namespace="shop"}[10s])'

    with pytest.raises(outcomes.QueryRejected) as raised:
        source.range_query(query=query, window=recent_window())

    assert raised.value.status_code == 400
    assert "expected type instant vector" in raised.value.prometheus_error
    assert raised.value.query == query


def test_template_confined_to_namespace_reads_only_its_series(source: prometheus.PrometheusSource) -> None:
    # Without confinement this selector would count the "other" namespace's web service too.
    template = _template(
        requests='sum(increase({__name__="http_requests_total", app="web"}[{{ interval }}]))'
    )
    window = recent_window()

    confined = collect.collect_comparison(
        source=source, preset=template, canary=BAD_CANARY, control=CONTROL, window=window
    )
    both = source.range_query(
        query=f'sum(increase(http_requests_total{{app="web"}}[{STEP_SECONDS:g}s]))', window=window
    )

    [unconfined] = both
    assert confined.canary.requests.sum() < 0.7 * unconfined.values.sum()
    assert abs(confined.canary.errors.sum() / confined.canary.requests.sum() - 0.2) < 0.05


def test_short_interval_is_a_configuration_error(source: prometheus.PrometheusSource) -> None:
    window = windows.Window(start=time.time() - 10, end=time.time(), step_seconds=2)

    with pytest.raises(outcomes.WindowTooShort, match="at least 4 s"):
        collect.collect_comparison(
            source=source,
            preset=presets.build_preset("http"),
            canary=BAD_CANARY,
            control=CONTROL,
            window=window,
        )


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        pytest.param(GOOD_CANARY, verdicts.Verdict.PASS, id="good_canary_passes"),
        pytest.param(BAD_CANARY, verdicts.Verdict.FAIL, id="bad_canary_fails"),
    ],
)
def test_judge_reaches_verdict_on_real_traffic(
    source: prometheus.PrometheusSource, canary: protocol.ArmTarget, expected: verdicts.Verdict
) -> None:
    # Tolerances wide enough that a few hundred clean requests settle the pass within seconds, and
    # no warm-up: the services were serving before the window began.
    settings = judge.JudgeSettings(
        error_ratio=judge.Tolerance(relative=0.5, absolute=0.02),
        latency=judge.Tolerance(relative=0.5, absolute=0.02),
        warmup_seconds=0,
    )
    deadline = time.monotonic() + 40
    judgement = None
    while time.monotonic() < deadline:
        judgement = analysis.analyze(
            source=source,
            preset=presets.build_preset("http"),
            canary=canary,
            control=CONTROL,
            window=recent_window(intervals=6),
            settings=settings,
        )
        if judgement.verdict in (verdicts.Verdict.PASS, verdicts.Verdict.FAIL):
            break
        time.sleep(STEP_SECONDS)

    assert judgement is not None
    assert judgement.verdict is expected, judgement.reason
    error_ratio = next(result for result in judgement.metrics if result.metric == judge.ERROR_RATIO)
    assert error_ratio.canary_samples >= 100
    assert any('pod=~"web-primary-' in query for query in error_ratio.queries)


def _template(*, requests: str) -> templates.TemplatePreset:
    item = {
        "apiVersion": templates.API_VERSION,
        "kind": "MetricTemplate",
        "metadata": {"name": "custom", "namespace": "shop"},
        "spec": {
            "requests": requests,
            "errors": (
                'sum(increase(http_requests_total{app="{{ workload }}", code=~"5.."}[{{ interval }}])) '
                "or vector(0)"
            ),
        },
    }
    return templates.TemplatePreset(template=templates.MetricTemplate.from_object(item))


@pytest.mark.parametrize(
    "query",
    [
        pytest.param('count({__name__=~"http_.+"})', id="every_metric_by_name_regex"),
        pytest.param("sum(http_requests_total) or sum(up)", id="or_clause"),
        pytest.param(
            'sum(label_replace(http_requests_total, "namespace", "empty", "", ""))', id="label_replace_rename"
        ),
        pytest.param("max_over_time(sum(http_requests_total)[10s:1s])", id="subquery"),
        pytest.param("sum(http_requests_total offset 2s) + sum(up @ end())", id="offset_and_at"),
        pytest.param(
            "sum(http_requests_total * on(namespace) group_left count by (namespace) (up))", id="matching"
        ),
        pytest.param(
            'count(up{job="a\\"} or up{namespace=\\"other"} or http_requests_total)', id="quote_breakout"
        ),
        pytest.param('sum(http_requests_total) # or up{namespace="other"}', id="comment"),
    ],
)
def test_confined_query_reads_nothing_from_other_namespaces(
    source: prometheus.PrometheusSource, query: str
) -> None:
    # Namespace "empty" has no series; "shop" and "other" have plenty.
    confined = confinement.confine_to_namespace(query, namespace="empty")

    assert source.instant_query(query=query), "the query reads series when it is not confined"
    assert source.instant_query(query=confined) == (), confined
