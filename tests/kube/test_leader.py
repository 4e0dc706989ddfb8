"""Leader election on a real Lease: one leader, no writes from the other, takeover after expiry."""

from __future__ import annotations

import threading
import time

import pytest

from canaryd.kube import api as kube_api
from canaryd.kube import leader

pytestmark = pytest.mark.cluster

FAST = leader.LeaseSettings(lease_duration=3.0, renew_deadline=2.0, retry_period=0.5)


def start(elector: leader.LeaderElector) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=elector.run, args=(stop,), daemon=True).start()
    return stop


def candidates(kube_api_client, namespace, count=2):
    pairs = []
    for index in range(count):
        api = kube_api.Api(api_client=kube_api_client)
        elector = leader.LeaderElector(
            api=api, namespace=namespace, name="lease", identity=f"r{index}", settings=FAST
        )
        api.set_write_guard(elector.is_leader)
        pairs.append((api, elector))
    return pairs


def wait_until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_exactly_one_replica_leads_and_writes(kube_api_client, namespace):
    (api_a, a), (api_b, b) = candidates(kube_api_client, namespace)
    stops = [start(a), start(b)]
    try:
        assert wait_until(lambda: a.is_leader() or b.is_leader())
        time.sleep(2)
        assert a.is_leader() != b.is_leader()
        follower_api = api_b if a.is_leader() else api_a
        with pytest.raises(kube_api.NotLeaderError):
            follower_api.create(kube_api.SERVICES, namespace=namespace, body={"metadata": {"name": "x"}})
    finally:
        for stop in stops:
            stop.set()


def test_standby_takes_over_only_after_the_old_leader_stopped_writing(kube_api_client, namespace):
    (api_a, a), (_, b) = candidates(kube_api_client, namespace)
    stop_a = start(a)
    assert wait_until(a.is_leader)
    stop_b = start(b)

    # Simulate a partitioned leader: its renewals stop, but nothing releases the Lease.
    a._try_once = lambda: a._report_change()  # noqa: SLF001
    lost_at = None
    taken_at = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and taken_at is None:
        if lost_at is None and not a.is_leader():
            lost_at = time.monotonic()
        if b.is_leader():
            taken_at = time.monotonic()
        time.sleep(0.05)
    stop_a.set()
    stop_b.set()

    assert lost_at is not None and taken_at is not None
    assert lost_at < taken_at, "the old leader's write guard closed before the new leader could write"
    with pytest.raises(kube_api.NotLeaderError):
        api_a.create(kube_api.SERVICES, namespace=namespace, body={"metadata": {"name": "y"}})
