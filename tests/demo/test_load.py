"""The load generator keeps to its limits and to loopback addresses."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from canaryd.demo import load, service


@pytest.fixture
def url():
    demo_service = service.DemoService(
        version="v1", error_ratio=0.0, latency_seconds=0.0, extra_latency_seconds=0.0
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), service.make_handler(demo_service))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_request_limit_stops_load(url):
    generator = load.LoadGenerator(
        url=url, limits=load.LoadLimits(rate=200, duration=30, max_requests=50, workers=4)
    )

    summary = generator.run()

    assert summary.sent == 50
    assert summary.responses == {"200": 50}
    assert summary.transport_errors == 0


def test_time_limit_stops_load_at_rate(url):
    generator = load.LoadGenerator(
        url=url, limits=load.LoadLimits(rate=50, duration=1.0, max_requests=10_000, workers=4)
    )

    started = time.monotonic()
    summary = generator.run()

    assert time.monotonic() - started < 2.0
    assert summary.sent == 50


def test_stop_ends_load_early(url):
    generator = load.LoadGenerator(
        url=url, limits=load.LoadLimits(rate=20, duration=60, max_requests=10_000, workers=2)
    )
    threading.Timer(0.5, generator.stop).start()

    started = time.monotonic()
    summary = generator.run()

    assert time.monotonic() - started < 2.0
    assert summary.sent <= 15


def test_unreachable_target_counts_transport_errors():
    generator = load.LoadGenerator(
        url="http://127.0.0.1:9/", limits=load.LoadLimits(rate=100, duration=5, max_requests=5, workers=1)
    )

    summary = generator.run()

    assert summary.transport_errors == 5
    assert summary.responses == {}


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "http://example.com/", "https://127.0.0.1/", "http://169.254.169.254/"],
    ids=["private-address", "public-name", "https", "metadata-address"],
)
def test_non_loopback_url_is_rejected(url):
    with pytest.raises(ValueError, match="must"):
        load.LoadGenerator(url=url, limits=load.LoadLimits(rate=1, duration=1, max_requests=1, workers=1))


@pytest.mark.parametrize(
    "limits",
    [
        {"rate": 0, "duration": 1, "max_requests": 1, "workers": 1},
        {"rate": 1, "duration": 0, "max_requests": 1, "workers": 1},
        {"rate": 1, "duration": 1, "max_requests": 0, "workers": 1},
        {"rate": 1, "duration": 1, "max_requests": 1, "workers": 65},
    ],
    ids=["zero-rate", "zero-duration", "zero-requests", "too-many-workers"],
)
def test_invalid_limits_are_rejected(limits):
    with pytest.raises(ValueError):
        load.LoadLimits(**limits)
