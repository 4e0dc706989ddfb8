"""The health endpoint: probes and metrics over real HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from canaryd.observability import health, metrics


@pytest.fixture
def ready():
    return {"value": False}


@pytest.fixture
def server(ready):
    heartbeat = health.Heartbeat()
    controller_metrics = metrics.ControllerMetrics()
    controller_metrics.queue_depth.set(3)
    instance = health.HealthServer(
        host="127.0.0.1",
        port=0,
        metrics=controller_metrics,
        heartbeat=heartbeat,
        is_ready=lambda: ready["value"],
        stall_after=60.0,
    )
    instance.start()
    yield instance
    instance.stop()


def url(server, path):
    return f"http://127.0.0.1:{server.port}{path}"


def test_readyz_follows_cache_sync(server, ready):
    assert httpx.get(url(server, "/readyz")).status_code == 503
    ready["value"] = True
    assert httpx.get(url(server, "/readyz")).status_code == 200


def test_healthz_is_ok_while_the_heartbeat_is_fresh(server):
    assert httpx.get(url(server, "/healthz")).status_code == 200


def test_metrics_expose_queue_depth(server):
    response = httpx.get(url(server, "/metrics"))

    assert response.status_code == 200
    assert "canaryd_work_queue_depth 3.0" in response.text


def test_healthz_fails_when_the_heartbeat_stalls():
    instance = health.HealthServer(
        host="127.0.0.1",
        port=0,
        metrics=metrics.ControllerMetrics(),
        heartbeat=health.Heartbeat(),
        is_ready=lambda: True,
        stall_after=0.0,
    )

    status, _, body = instance.respond("/healthz")
    instance.stop()

    assert status == 500
    assert b"stalled" in body
