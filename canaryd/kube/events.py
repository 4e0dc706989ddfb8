"""Kubernetes Events for on-call: what happened to a Deployment or a CanaryRollout, once per change.

Layer 2. The recorder writes core/v1 Events (what `kubectl describe` and `kubectl get events` show).
It posts an Event only when the (reason, message) pair differs from the last one it posted for the
same object, so a reconcile that runs every few seconds and finds nothing new stays silent. The
controller also emits only on condition changes; this is the second fence against event storms.

Events are posted by a background thread, as client-go's event broadcaster does, so a reconcile pass
does not wait for them: a full queue drops the Event with a warning rather than slow the controller.
"""

from __future__ import annotations

import datetime
import enum
import itertools
import queue
import threading
import time
from typing import Any

import structlog

from canaryd.kube import api as kube_api

log = structlog.get_logger(__name__)

COMPONENT = "canaryd"


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


def _now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj["metadata"]
    return {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "namespace": metadata.get("namespace", ""),
        "name": metadata["name"],
        "uid": metadata.get("uid", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
    }


class EventRecorder:
    """Posts Events about objects, skipping a repeat of the object's last (reason, message)."""

    def __init__(
        self, *, api: kube_api.Api, instance: str, memory: int = 10_000, backlog: int = 1_000
    ) -> None:
        self._api = api
        self._instance = instance  # this replica, shown as reportingInstance
        self._last: dict[str, tuple[str, str]] = {}
        self._memory = memory
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        self._pending: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=backlog)
        self._sender: threading.Thread | None = None

    def record(self, obj: dict[str, Any], *, type: EventType, reason: str, message: str) -> bool:
        """Queue an Event about `obj` unless it repeats the last one; return whether one was queued."""
        reference = object_reference(obj)
        identity = reference["uid"] or f"{reference['kind']}/{reference['namespace']}/{reference['name']}"
        with self._lock:
            if self._last.get(identity) == (reason, message):
                return False
            if len(self._last) >= self._memory:
                self._last.pop(next(iter(self._last)))
            self._last[identity] = (reason, message)
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_all, name="event-sender", daemon=True)
                self._sender.start()

        try:
            self._pending.put_nowait((identity, self._event(reference, type, reason, message)))
        except queue.Full:
            log.warning(
                "event_dropped", object=reference["name"], reason=reason, backlog=self._pending.maxsize
            )
            self._forget(identity)
            return False
        return True

    def close(self, *, timeout: float = 5.0) -> None:
        """Post the queued Events, waiting at most `timeout` seconds, and stop the sender."""
        if self._sender is None:
            return
        try:
            self._pending.put(None, timeout=timeout)
        except queue.Full:
            return
        self._sender.join(timeout=timeout)
        with self._lock:
            self._sender = None  # a later record starts a new sender

    def _send_all(self) -> None:
        while (item := self._pending.get()) is not None:
            identity, body = item
            try:
                self._api.create(kube_api.EVENTS, namespace=body["metadata"]["namespace"], body=body)
            except Exception as error:  # noqa: BLE001 -- an Event is for people; the sender must go on
                log.warning(
                    "event_post_failed",
                    object=body["involvedObject"]["name"],
                    reason=body["reason"],
                    error=str(error),
                )
                self._forget(identity)

    def _forget(self, identity: str) -> None:
        # A repeat of an Event that was never posted must get its chance.
        with self._lock:
            self._last.pop(identity, None)

    def _event(self, reference: dict[str, Any], type: EventType, reason: str, message: str) -> dict[str, Any]:
        now = _now_rfc3339()
        # Event names only need to be unique; the time plus a counter is, per replica.
        suffix = f"{time.time_ns():x}{next(self._sequence):x}"
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{reference['name']}.{suffix}", "namespace": reference["namespace"]},
            "involvedObject": reference,
            "type": str(type),
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
