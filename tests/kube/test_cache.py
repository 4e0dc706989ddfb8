"""List+watch caches on the real API server: events arrive, watches resume, an expired version relists."""

from __future__ import annotations

import threading
import time

import pytest

from canaryd.kube import api as kube_api
from canaryd.kube import cache as kube_cache


def config_map(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}}


CONFIG_MAPS = kube_api.Resource("", "v1", "configmaps", "ConfigMap")


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def running(kube_api_client, namespace):
    api = kube_api.Api(api_client=kube_api_client)
    seen: list[tuple[str, str | None]] = []
    cache = kube_cache.Cache(
        api=api,
        resource=CONFIG_MAPS,
        namespace=namespace,
        watch_timeout_seconds=2,
        on_change=lambda key, obj: seen.append((key, None if obj is None else obj["data"]["value"])),
    )
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), daemon=True)
    thread.start()
    assert cache.wait_for_sync(10)
    yield api, cache, seen, namespace
    stop.set()
    thread.join(timeout=10)


@pytest.mark.cluster
def test_cache_follows_creates_updates_and_deletes(running):
    api, cache, seen, namespace = running
    api.create(CONFIG_MAPS, namespace=namespace, body=config_map("a", "1"))
    api.patch(CONFIG_MAPS, namespace=namespace, name="a", body={"data": {"value": "2"}})
    assert wait_until(lambda: (cache.get(f"{namespace}/a") or {}).get("data", {}).get("value") == "2")

    api.delete(CONFIG_MAPS, namespace=namespace, name="a")

    assert wait_until(lambda: cache.get(f"{namespace}/a") is None)
    assert (f"{namespace}/a", None) in seen


@pytest.mark.cluster
def test_cache_resumes_watches_without_relisting(running):
    api, cache, _, namespace = running
    time.sleep(5)  # the server ends each 2-second watch; the cache opens the next one from its version
    api.create(CONFIG_MAPS, namespace=namespace, body=config_map("b", "1"))

    assert wait_until(lambda: cache.get(f"{namespace}/b") is not None)
    assert cache.watch_count >= 2
    assert cache.list_count == 1


class ExpiringApi:
    """A stand-in for the API server whose first watch returns 410 Gone, as after etcd compaction.

    The real control plane in tests is too young to have compacted anything, so the expiry is faked;
    the lists it returns come from the test's own table.
    """

    def __init__(self, listings):
        self.listings = list(listings)
        self.watches = 0

    def list(self, resource, *, namespace=None, query=None):
        items = self.listings.pop(0)
        return {"metadata": {"resourceVersion": str(10 + len(self.listings))}, "items": items}

    def watch(self, resource, *, namespace, resource_version, timeout_seconds, label_selector=None):
        self.watches += 1
        if self.watches == 1:
            raise kube_api.ApiException(status=410, reason="Gone: too old resource version")
        time.sleep(0.05)
        return iter(())


def test_expired_version_relists_and_reports_deletions():
    kept = {"metadata": {"namespace": "ns", "name": "kept", "resourceVersion": "5"}}
    gone = {"metadata": {"namespace": "ns", "name": "gone", "resourceVersion": "6"}}
    api = ExpiringApi([[kept, gone], [kept]])
    deleted: list[str] = []
    cache = kube_cache.Cache(
        api=api,
        resource=CONFIG_MAPS,
        namespace="ns",
        on_change=lambda key, obj: obj is None and deleted.append(key),
    )
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: cache.list_count >= 2, timeout=5)
        assert wait_until(lambda: "ns/gone" in deleted, timeout=5)
    finally:
        stop.set()
        thread.join(timeout=5)

    assert cache.get("ns/kept") is not None
    assert cache.get("ns/gone") is None
