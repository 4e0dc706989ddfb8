"""List+watch caches on the real API server: events arrive, watches resume, an expired version relists."""

from __future__ import annotations

import threading
import time

import pytest

from canaryd.kube import api as kube_api
from canaryd.kube import cache as kube_cache

pytestmark = pytest.mark.cluster


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


def test_cache_follows_creates_updates_and_deletes(running):
    api, cache, seen, namespace = running
    api.create(CONFIG_MAPS, namespace=namespace, body=config_map("a", "1"))
    api.patch(CONFIG_MAPS, namespace=namespace, name="a", body={"data": {"value": "2"}})
    assert wait_until(lambda: (cache.get(f"{namespace}/a") or {}).get("data", {}).get("value") == "2")

    api.delete(CONFIG_MAPS, namespace=namespace, name="a")

    assert wait_until(lambda: cache.get(f"{namespace}/a") is None)
    assert (f"{namespace}/a", None) in seen


def test_cache_resumes_watches_without_relisting(running):
    api, cache, _, namespace = running
    time.sleep(5)  # the server ends each 2-second watch; the cache opens the next one from its version
    api.create(CONFIG_MAPS, namespace=namespace, body=config_map("b", "1"))

    assert wait_until(lambda: cache.get(f"{namespace}/b") is not None)
    assert cache.watch_count >= 2
    assert cache.list_count == 1


def test_expired_version_relists_and_reports_deletions(kube_api_client, namespace):
    api = kube_api.Api(api_client=kube_api_client)
    api.create(CONFIG_MAPS, namespace=namespace, body=config_map("c", "1"))
    deleted: list[str] = []
    cache = kube_cache.Cache(
        api=api,
        resource=CONFIG_MAPS,
        namespace=namespace,
        watch_timeout_seconds=2,
        on_change=lambda key, obj: obj is None and deleted.append(key),
    )
    cache._relist()
    api.delete(CONFIG_MAPS, namespace=namespace, name="c")

    # A version far older than the API server's watch window gets 410 Gone, as after a long partition.
    cache._resource_version = "1"
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: cache.list_count >= 2)
        assert wait_until(lambda: f"{namespace}/c" in deleted)
    finally:
        stop.set()
        thread.join(timeout=10)
