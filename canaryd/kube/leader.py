"""Leader election on a coordination.k8s.io/v1 Lease, so that of several replicas exactly one writes.

Layer 2. The algorithm is client-go's: the holder renews the Lease every `retry_period`; a candidate
takes the Lease over only after it has seen the same record unchanged for `lease_duration` on its own
clock (clocks of different machines are never compared).

Why a replica that cannot renew stops writing before anyone can take over: a renewal sent at local
time t makes this replica the leader until t + `renew_deadline` on its own monotonic clock. A
candidate sees that renewal no earlier than t and waits `lease_duration` after seeing it, so its
first write comes after t + `lease_duration`. With `renew_deadline` < `lease_duration` the old leader's
write guard has closed `lease_duration - renew_deadline` seconds before the new leader may write.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import threading
import time
from typing import Any

import structlog

from canaryd.kube import api as kube_api

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class LeaseSettings:
    """Timings of leader election, in seconds; client-go's defaults."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs retry_period < renew_deadline < lease_duration, got "
                f"{self.retry_period} / {self.renew_deadline} / {self.lease_duration} seconds"
            )


def _now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Holds or waits for one Lease; `is_leader()` is the write guard for the API client."""

    def __init__(
        self,
        *,
        api: kube_api.Api,
        namespace: str,
        name: str,
        identity: str,
        settings: LeaseSettings = LeaseSettings(),
        on_started_leading: collections.abc.Callable[[], None] | None = None,
        on_stopped_leading: collections.abc.Callable[[], None] | None = None,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._settings = settings
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._leader_until = 0.0  # monotonic time until which this replica may write
        self._observed_record: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._was_leader = False

    def is_leader(self) -> bool:
        return time.monotonic() < self._leader_until

    def run(self, stop: threading.Event) -> None:
        """Try to acquire or renew every `retry_period` until `stop` is set, then release the Lease."""
        while not stop.is_set():
            self._try_once()
            stop.wait(self._settings.retry_period)
        self.release()

    def release(self) -> None:
        """Give the Lease up so that another replica takes over at once instead of after it expires."""
        if not self.is_leader():
            return
        lease = self._api.get_or_none(kube_api.LEASES, namespace=self._namespace, name=self._name)
        if lease is None or lease.get("spec", {}).get("holderIdentity") != self.identity:
            return
        lease["spec"]["holderIdentity"] = ""
        lease["spec"]["leaseDurationSeconds"] = 1
        try:
            self._replace(lease)
        except kube_api.ApiException as error:
            log.warning("leader_lease_release_failed", lease=self._name, status=error.status)
        self._leader_until = 0.0
        self._report_change()

    # One round.

    def _try_once(self) -> None:
        sent_at = time.monotonic()
        try:
            acquired = self._acquire_or_renew()
        except Exception as error:  # noqa: BLE001 -- any failure to renew is a failed round
            log.warning(
                "leader_lease_renew_failed", lease=self._name, error=f"{type(error).__name__}: {error}"
            )
            acquired = False
        if acquired:
            self._leader_until = sent_at + self._settings.renew_deadline
        self._report_change()

    def _acquire_or_renew(self) -> bool:
        lease = self._api.get_or_none(kube_api.LEASES, namespace=self._namespace, name=self._name)
        if lease is None:
            self._create()
            return True

        spec = lease.setdefault("spec", {})
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not self._has_expired(spec):
            return False

        # Renewing our own Lease, or taking over an expired or released one.
        now = _now_rfc3339()
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = now
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = int(self._settings.lease_duration)
        spec["renewTime"] = now
        self._replace(lease)
        return True

    def _observe(self, spec: dict[str, Any]) -> None:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed_record:
            self._observed_record = record
            self._observed_at = time.monotonic()

    def _has_expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self._settings.lease_duration)
        return time.monotonic() > self._observed_at + duration

    def _create(self) -> None:
        now = _now_rfc3339()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._settings.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        self._unguarded_write(lambda: self._api.create(kube_api.LEASES, namespace=self._namespace, body=body))

    def _replace(self, lease: dict[str, Any]) -> None:
        # The Lease's resourceVersion makes this a compare-and-swap: two candidates cannot both win.
        self._unguarded_write(
            lambda: self._api.replace(kube_api.LEASES, namespace=self._namespace, name=self._name, body=lease)
        )

    def _unguarded_write(self, write: collections.abc.Callable[[], Any]) -> None:
        # The Lease itself is the one object a replica writes before it leads.
        with self._api.writes_unguarded():
            write()

    def _report_change(self) -> None:
        leading = self.is_leader()
        if leading == self._was_leader:
            return
        self._was_leader = leading
        event = "leader_lease_acquired" if leading else "leader_lease_lost"
        log.info(event, lease=self._name, identity=self.identity)
        callback = self._on_started if leading else self._on_stopped
        if callback is not None:
            callback()
