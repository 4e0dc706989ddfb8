"""The HAProxy router against a real HAProxy on 127.0.0.1 in front of two demo services."""

from __future__ import annotations

import pathlib
import tempfile

import httpx
import pytest

from canaryd.demo import haproxy as demo_haproxy
from canaryd.demo import stack
from canaryd.demo import supervisor as supervision
from canaryd.routers import haproxy

pytestmark = pytest.mark.demo


@pytest.fixture(scope="module")
def balancer():
    # A short directory: a UNIX socket path must fit in 107 bytes, and pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="canaryd-router-") as workdir:
        with supervision.Supervisor(workdir=pathlib.Path(workdir)) as processes:
            primary = stack.start_service(
                processes, stack.ServiceBehaviour(version="v1", latency_seconds=0.0)
            )
            canary = stack.start_service(processes, stack.ServiceBehaviour(version="v2", latency_seconds=0.0))
            yield demo_haproxy.start(processes, primary_port=primary.port, canary_port=canary.port)


@pytest.fixture
def router(balancer):
    router = balancer.router()
    router.set_weight(weight=0)
    return router


def test_new_balancer_sends_nothing_to_canary(balancer):
    assert balancer.router().weights() == haproxy.Weights(primary=100, canary=0)


@pytest.mark.parametrize("weight", [0, 1, 5, 50, 99, 100], ids=lambda weight: f"{weight}pct")
def test_set_weight_is_read_back(router, weight):
    router.set_weight(weight=weight)

    assert router.current_weight() == weight
    assert router.weights() == haproxy.Weights(primary=100 - weight, canary=weight)


@pytest.mark.parametrize("weight", [-1, 101, 256], ids=["negative", "above-100", "haproxy-max"])
def test_set_weight_rejects_out_of_range(router, weight):
    with pytest.raises(ValueError, match=f"canary weight {weight} is out of range"):
        router.set_weight(weight=weight)

    assert router.current_weight() == 0


def test_server_stats_list_both_servers(router):
    stats = router.server_stats()

    assert set(stats) == {"v1", "v2"}
    assert stats["v1"].weight == 100
    assert stats["v2"].weight == 0


@pytest.mark.parametrize("weight", [10, 30, 50], ids=lambda weight: f"{weight}pct")
def test_canary_share_follows_weight(balancer, router, weight):
    router.set_weight(weight=weight)
    before = router.server_stats()

    bodies = [httpx.get(balancer.url, timeout=5.0).text for _ in range(200)]

    after = router.server_stats()
    canary_selected = after["v2"].selected - before["v2"].selected
    primary_selected = after["v1"].selected - before["v1"].selected
    assert canary_selected + primary_selected == 200
    # Weighted round robin interleaves the servers deterministically, so 200 requests land within a
    # few requests of the exact share.
    assert abs(canary_selected - 2 * weight) <= 4
    assert sum("from v2" in body for body in bodies) == canary_selected


def test_unknown_backend_is_rejected(balancer):
    router = haproxy.HAProxyRouter(
        socket_path=str(balancer.socket_path),
        backend="nope",
        primary_server="v1",
        canary_server="v2",
    )

    with pytest.raises(haproxy.RuntimeCommandError, match="server nope/v1: No such backend"):
        router.current_weight()


def test_unknown_server_is_rejected_before_any_change(balancer, router):
    misnamed = haproxy.HAProxyRouter(
        socket_path=str(balancer.socket_path), backend="app", primary_server="v1", canary_server="v3"
    )

    with pytest.raises(haproxy.RuntimeCommandError, match="server app/v3: No such server"):
        misnamed.set_weight(weight=20)

    assert router.weights() == haproxy.Weights(primary=100, canary=0)


def test_missing_socket_names_the_path(tmp_path):
    socket_path = tmp_path / "absent.sock"
    router = haproxy.HAProxyRouter(
        socket_path=str(socket_path), backend="app", primary_server="primary", canary_server="canary"
    )

    with pytest.raises(haproxy.RuntimeSocketError, match=f"{socket_path} does not exist"):
        router.current_weight()
