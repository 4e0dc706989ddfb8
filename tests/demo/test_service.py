"""The demo service's responses and metrics."""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest
from prometheus_client import parser

from canaryd.demo import service


@pytest.fixture
def serve():
    servers = []

    def start(demo_service: service.DemoService) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), service.make_handler(demo_service))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_good_version_counts_successes(serve):
    url = serve(
        service.DemoService(version="v1", error_ratio=0.0, latency_seconds=0.0, extra_latency_seconds=0.0)
    )

    responses = [httpx.get(f"{url}/") for _ in range(5)]

    assert [response.status_code for response in responses] == [200] * 5
    assert responses[0].text == "hello from v1\n"
    counted = samples(url)
    assert counted[("http_requests_total", (("code", "200"), ("method", "GET"), ("version", "v1")))] == 5
    assert counted[("http_request_duration_seconds_count", (("method", "GET"), ("version", "v1")))] == 5


def test_failing_version_answers_500(serve):
    url = serve(
        service.DemoService(version="v2", error_ratio=1.0, latency_seconds=0.0, extra_latency_seconds=0.0)
    )

    response = httpx.get(f"{url}/")

    assert response.status_code == 500
    assert samples(url)[("http_requests_total", (("code", "500"), ("method", "GET"), ("version", "v2")))] == 1


def test_extra_latency_shows_in_histogram(serve):
    url = serve(
        service.DemoService(version="v2", error_ratio=0.0, latency_seconds=0.0, extra_latency_seconds=0.2)
    )

    httpx.get(f"{url}/")

    counted = samples(url)
    under_150ms = (("le", "0.15"), ("method", "GET"), ("version", "v2"))
    under_300ms = (("le", "0.3"), ("method", "GET"), ("version", "v2"))
    assert counted[("http_request_duration_seconds_bucket", under_150ms)] == 0
    assert counted[("http_request_duration_seconds_bucket", under_300ms)] == 1


def test_scrapes_and_probes_are_not_counted(serve):
    url = serve(
        service.DemoService(version="v1", error_ratio=0.0, latency_seconds=0.0, extra_latency_seconds=0.0)
    )

    httpx.get(f"{url}/healthz")
    httpx.get(f"{url}/metrics")

    assert not any(name == "http_requests_total" for name, _ in samples(url))


@pytest.mark.parametrize("error_ratio", [-0.1, 1.5], ids=["negative", "above-one"])
def test_error_ratio_out_of_range_is_rejected(error_ratio):
    with pytest.raises(ValueError, match=f"error ratio {error_ratio} is out of range"):
        service.DemoService(
            version="v2", error_ratio=error_ratio, latency_seconds=0.0, extra_latency_seconds=0.0
        )
