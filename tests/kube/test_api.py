"""Pure helpers of the API layer: REST paths, object keys and the client-side rate limiter."""

from __future__ import annotations

import time

import pytest

from canaryd.kube import api


@pytest.mark.parametrize(
    ("resource", "namespace", "name", "subresource", "expected"),
    [
        (api.DEPLOYMENTS, "shop", None, "", "/apis/apps/v1/namespaces/shop/deployments"),
        (api.DEPLOYMENTS, None, None, "", "/apis/apps/v1/deployments"),
        (api.SERVICES, "shop", "web", "", "/api/v1/namespaces/shop/services/web"),
        (
            api.CANARY_ROLLOUTS,
            "shop",
            "web-1",
            "status",
            "/apis/canaryd.io/v1alpha1/namespaces/shop/canaryrollouts/web-1/status",
        ),
    ],
    ids=["collection", "all-namespaces", "core-group-object", "status-subresource"],
)
def test_resource_path(resource, namespace, name, subresource, expected):
    assert resource.path(namespace=namespace, name=name, subresource=subresource) == expected


def test_object_key_round_trips():
    key = api.object_key({"metadata": {"namespace": "shop", "name": "web"}})

    assert key == "shop/web"
    assert api.split_key(key) == ("shop", "web")
    assert api.split_key("cluster-wide") == (None, "cluster-wide")


def test_rate_limiter_allows_burst_then_paces():
    limiter = api.RateLimiter(qps=20.0, burst=5)
    started = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    burst_elapsed = time.monotonic() - started
    for _ in range(4):
        limiter.acquire()
    paced_elapsed = time.monotonic() - started

    assert burst_elapsed < 0.05
    assert paced_elapsed >= 0.18, "four requests past the burst at 20 per second take about 0.2 s"


def test_rate_limiter_rejects_nonsense_settings():
    with pytest.raises(ValueError, match="qps > 0"):
        api.RateLimiter(qps=0, burst=1)
