"""Kubernetes Events for on-call: what happened to a Deployment or a CanaryRollout, once per change.

Layer 2. The recorder writes core/v1 Events (what `kubectl describe` and `kubectl get events` show).
It posts an Event only when the (reason, message) pair differs from the last one it posted for the
same object, so a reconcile that runs every few seconds and finds nothing new stays silent. The
controller also emits only on condition changes; this is the second fence against event storms.
"""

from __future__ import annotations

import datetime
import enum
import itertools
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

    def __init__(self, *, api: kube_api.Api, instance: str, memory: int = 10_000) -> None:
        self._api = api
        self._instance = instance  # this replica, shown as reportingInstance
        self._last: dict[str, tuple[str, str]] = {}
        self._memory = memory
        self._lock = threading.Lock()
        self._sequence = itertools.count()

    def record(self, obj: dict[str, Any], *, type: EventType, reason: str, message: str) -> bool:
        """Post an Event about `obj` unless it repeats the last one; return whether one was posted."""
        reference = object_reference(obj)
        identity = reference["uid"] or f"{reference['kind']}/{reference['namespace']}/{reference['name']}"
        with self._lock:
            if self._last.get(identity) == (reason, message):
                return False
            if len(self._last) >= self._memory:
                self._last.pop(next(iter(self._last)))

        try:
            body = self._event(reference, type, reason, message)
            self._api.create(kube_api.EVENTS, namespace=reference["namespace"], body=body)
        except (kube_api.ApiException, kube_api.NotLeaderError) as error:
            # An Event is for people; failing to post one must not fail the reconcile that caused it.
            log.warning("event_post_failed", object=reference["name"], reason=reason, error=str(error))
            return False

        with self._lock:
            self._last[identity] = (reason, message)
        return True

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
