"""List+watch caches (informers): an in-memory copy of one resource kept current by a watch.

Layer 2. Each cache lists once, then watches from the list's resourceVersion. When a watch ends (the
server closes it every few minutes) the next one resumes from the last resourceVersion it saw,
bookmarks included, so a healthy cache never lists again. Only when the server returns 410 Gone
(that version is compacted away) does the cache list anew, and it then reports objects that vanished
in between as deleted. The controller reads these caches, never the API server, to decide what to do.
"""

from __future__ import annotations

import collections.abc
import threading
from typing import Any

import structlog

from canaryd.kube import api as kube_api

log = structlog.get_logger(__name__)

# A handler receives the object's key and the object (None when it was deleted).
Handler = collections.abc.Callable[[str, dict[str, Any] | None], None]


class Cache:
    """The objects of one resource in one namespace (or all), kept current by list+watch."""

    def __init__(
        self,
        *,
        api: kube_api.Api,
        resource: kube_api.Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        on_change: Handler | None = None,
        watch_timeout_seconds: int = 300,
        error_backoff_seconds: float = 1.0,
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self._api = api
        self._label_selector = label_selector
        self._handlers: list[Handler] = [on_change] if on_change else []
        self._watch_timeout = watch_timeout_seconds
        self._error_backoff = error_backoff_seconds
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._resource_version = ""
        self.list_count = 0  # full lists done: one at start, one more per expired (410) watch
        self.watch_count = 0

    # Reading.

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get(key)

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._objects)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    @property
    def resource_version(self) -> str:
        return self._resource_version

    # Running.

    def run(self, stop: threading.Event) -> None:
        """List, then watch until `stop` is set; relist only after a 410 Gone."""
        while not stop.is_set():
            try:
                if not self._resource_version:
                    self._relist()
                self._watch_once(stop)
            except kube_api.ApiException as error:
                if kube_api.is_gone(error):
                    log.info("cache_watch_expired", resource=self.resource.plural, namespace=self.namespace)
                    self._resource_version = ""
                    continue
                log.warning(
                    "cache_watch_failed", resource=self.resource.plural, namespace=self.namespace,
                    status=error.status, error=str(error.reason),
                )
                stop.wait(self._error_backoff)
            except Exception as error:  # noqa: BLE001 -- a broken connection must not end the cache
                log.warning(
                    "cache_watch_failed", resource=self.resource.plural, namespace=self.namespace,
                    error=f"{type(error).__name__}: {error}",
                )
                stop.wait(self._error_backoff)

    def _query(self) -> dict[str, str]:
        return {"labelSelector": self._label_selector} if self._label_selector else {}

    def _relist(self) -> None:
        listing = self._api.list(self.resource, namespace=self.namespace, query=self._query() or None)
        self.list_count += 1
        fresh = {kube_api.object_key(obj): obj for obj in listing.get("items", [])}

        # Objects deleted while no watch was open only show up as missing from the new list.
        with self._lock:
            vanished = [key for key in self._objects if key not in fresh]
            changed = [
                key for key, obj in fresh.items()
                if self._objects.get(key, {}).get("metadata", {}).get("resourceVersion")
                != obj["metadata"].get("resourceVersion")
            ]
            self._objects = fresh
        self._resource_version = listing["metadata"]["resourceVersion"]
        self._synced.set()
        log.debug("cache_listed", resource=self.resource.plural, namespace=self.namespace, count=len(fresh))

        for key in vanished:
            self._notify(key, None)
        for key in changed:
            self._notify(key, fresh[key])

    def _watch_once(self, stop: threading.Event) -> None:
        self.watch_count += 1
        events = self._api.watch(
            self.resource, namespace=self.namespace, resource_version=self._resource_version,
            timeout_seconds=self._watch_timeout, label_selector=self._label_selector,
        )
        for event in events:
            if stop.is_set():
                return
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            raise kube_api.ApiException(status=obj.get("code", 500), reason=obj.get("message", "watch error"))

        metadata = obj.get("metadata", {})
        if metadata.get("resourceVersion"):
            self._resource_version = metadata["resourceVersion"]
        if kind == "BOOKMARK":
            return

        key = kube_api.object_key(obj)
        with self._lock:
            if kind == "DELETED":
                self._objects.pop(key, None)
            else:
                self._objects[key] = obj
        self._notify(key, None if kind == "DELETED" else obj)

    def _notify(self, key: str, obj: dict[str, Any] | None) -> None:
        for handler in self._handlers:
            try:
                handler(key, obj)
            except Exception:  # noqa: BLE001 -- one handler's bug must not stop the cache
                log.exception("cache_handler_failed", resource=self.resource.plural, key=key)
