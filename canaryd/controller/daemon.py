"""The controller daemon: caches, work queue, workers, leader election, health and metrics.

Layer 3 (engine). Every replica runs the caches (a warm standby takes over within one lease period);
only the replica holding the Lease processes keys, and the API client's write guard refuses writes
from any other. Changes to Deployments and CanaryRollouts enqueue the Deployment's key; a periodic
resync enqueues every annotated Deployment from the cache (no relist), so a missed event or a changed
metric is picked up without a polling loop.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from typing import Any

import kubernetes.client
import structlog

from canaryd.controller import analysis as controller_analysis
from canaryd.controller import names, reconcile, records
from canaryd.core import phase as phases
from canaryd.kube import api as kube_api
from canaryd.kube import cache as kube_cache
from canaryd.kube import events as kube_events
from canaryd.kube import leader as kube_leader
from canaryd.kube import workqueue
from canaryd.metrics import protocol as metrics_protocol
from canaryd.notify import notifier as notify_notifier
from canaryd.observability import health
from canaryd.observability import metrics as controller_metrics
from canaryd.spec import annotations

log = structlog.get_logger("canaryd.controller")


@dataclasses.dataclass(frozen=True)
class ControllerSettings:
    """Settings of `canaryd run`; the CLI options map onto these one to one."""

    namespaces: tuple[str, ...] = ()  # empty: every namespace (needs the ClusterRole)
    lease_namespace: str = "canaryd-system"
    lease_name: str = "canaryd-leader"
    identity: str = dataclasses.field(default_factory=socket.gethostname)
    lease: kube_leader.LeaseSettings = kube_leader.LeaseSettings()
    qps: float = 20.0
    burst: int = 40
    workers: int = 4
    resync_seconds: float = 300.0
    active_requeue_seconds: float = 5.0
    keep_rollouts: int = 10
    health_host: str = "0.0.0.0"
    health_port: int = 8080
    analysis: controller_analysis.AnalysisSettings = dataclasses.field(
        default_factory=controller_analysis.AnalysisSettings
    )


class NamespacedCaches:
    """One cache per watched namespace (or one for all), read as one."""

    def __init__(self, caches: list[kube_cache.Cache]) -> None:
        self.caches = caches

    def get(self, key: str) -> dict[str, Any] | None:
        for cache in self.caches:
            found = cache.get(key)
            if found is not None:
                return found
        return None

    def objects(self) -> list[dict[str, Any]]:
        return [obj for cache in self.caches for obj in cache.objects()]

    def has_synced(self) -> bool:
        return all(cache.has_synced() for cache in self.caches)


class Controller:
    """Runs the controller until `stop` is set."""

    def __init__(
        self,
        *,
        api_client: kubernetes.client.ApiClient,
        settings: ControllerSettings,
        source: metrics_protocol.MetricsSource | None,
    ) -> None:
        self.settings = settings
        self.metrics = controller_metrics.ControllerMetrics()
        self.api = kube_api.Api(
            api_client=api_client, qps=settings.qps, burst=settings.burst, observer=self.metrics
        )
        self.queue = workqueue.WorkQueue()
        self.heartbeat = health.Heartbeat()
        # Lease renewals get their own client and rate limit: queued behind a busy reconcile backlog
        # they would miss the renew deadline, and the leader would step down for being busy.
        lease_api = kube_api.Api(api_client=api_client, qps=5.0, burst=10, observer=self.metrics)
        self.elector = kube_leader.LeaderElector(
            api=lease_api,
            namespace=settings.lease_namespace,
            name=settings.lease_name,
            identity=settings.identity,
            settings=settings.lease,
            on_started_leading=self._enqueue_all,
        )
        self.api.set_write_guard(self.elector.is_leader)

        namespaces: list[str | None] = list(settings.namespaces) or [None]
        self.deployments = NamespacedCaches(
            [
                kube_cache.Cache(
                    api=self.api, resource=kube_api.DEPLOYMENTS, namespace=ns, on_change=self._on_deployment
                )
                for ns in namespaces
            ]
        )
        selector = f"{names.MANAGED_BY_LABEL}={names.MANAGED_BY}"
        self.rollouts = NamespacedCaches(
            [
                kube_cache.Cache(
                    api=self.api,
                    resource=kube_api.CANARY_ROLLOUTS,
                    namespace=ns,
                    label_selector=selector,
                    on_change=self._on_rollout,
                )
                for ns in namespaces
            ]
        )
        self.env = reconcile.Environment(
            api=self.api,
            deployments=self.deployments,
            rollouts=self.rollouts,
            recorder=kube_events.EventRecorder(api=self.api, instance=settings.identity),
            source=source,
            analysis=settings.analysis,
            metrics=self.metrics,
            keep_rollouts=settings.keep_rollouts,
            active_requeue_seconds=settings.active_requeue_seconds,
            # Webhook destinations come from the controller's environment only, never from annotations.
            notifier=notify_notifier.Notifier.from_environment(
                environ=os.environ, registry=self.metrics.registry
            ),
        )
        self.health_server: health.HealthServer | None = None

    # Event handlers: map a changed object to the Deployment key it concerns.

    def _on_deployment(self, key: str, deployment: dict[str, Any] | None) -> None:
        namespace, name = kube_api.split_key(key)
        if deployment is not None:
            owner = (deployment["metadata"].get("labels") or {}).get(names.DEPLOYMENT_LABEL)
            if owner:
                self.queue.add(f"{namespace}/{owner}")
                return
        if deployment is None or self._is_relevant(deployment):
            self.queue.add(key)

    def _is_relevant(self, deployment: dict[str, Any]) -> bool:
        if annotations.is_enabled(deployment["metadata"].get("annotations") or {}):
            return True
        # An annotation removed: the Deployment still has a primary to hand back.
        metadata = deployment["metadata"]
        return (
            self.deployments.get(f"{metadata['namespace']}/{names.primary_name(metadata['name'])}")
            is not None
        )

    def _on_rollout(self, key: str, rollout: dict[str, Any] | None) -> None:
        if rollout is None:
            # A deleted record: its name is `<deployment>-<attempt>`.
            namespace, name = kube_api.split_key(key)
            self.queue.add(f"{namespace}/{name.rsplit('-', 1)[0]}")
            return
        owner = (rollout["metadata"].get("labels") or {}).get(names.DEPLOYMENT_LABEL)
        if owner:
            self.queue.add(f"{rollout['metadata']['namespace']}/{owner}")

    def _enqueue_all(self) -> None:
        for deployment in self.deployments.objects():
            if self._is_relevant(deployment) and names.DEPLOYMENT_LABEL not in (
                deployment["metadata"].get("labels") or {}
            ):
                self.queue.add(kube_api.object_key(deployment))

    # Running.

    def is_ready(self) -> bool:
        return self.deployments.has_synced() and self.rollouts.has_synced()

    def run(self, stop: threading.Event) -> None:
        """Start every part, serve until `stop` is set, then release the Lease and stop the workers."""
        log.info(
            "controller_started", identity=self.settings.identity, namespaces=list(self.settings.namespaces)
        )
        self.health_server = health.HealthServer(
            host=self.settings.health_host,
            port=self.settings.health_port,
            metrics=self.metrics,
            heartbeat=self.heartbeat,
            is_ready=self.is_ready,
        )
        self.health_server.start()
        threads = [
            threading.Thread(
                target=cache.run, args=(stop,), name=f"cache-{cache.resource.plural}", daemon=True
            )
            for cache in self.deployments.caches + self.rollouts.caches
        ]
        for thread in threads:
            thread.start()
        while not self.is_ready() and not stop.is_set():
            stop.wait(0.1)

        elector = threading.Thread(target=self.elector.run, args=(stop,), name="leader-election", daemon=True)
        elector.start()
        workers = [
            threading.Thread(target=self._work, args=(stop,), name=f"worker-{index}", daemon=True)
            for index in range(self.settings.workers)
        ]
        for worker in workers:
            worker.start()

        self._housekeep(stop)
        self.queue.shut_down()
        for worker in workers:
            worker.join(timeout=10)
        self.env.recorder.close(timeout=5.0)
        elector.join(timeout=10)
        self.health_server.stop()
        if self.env.notifier is not None:
            self.env.notifier.close(timeout_seconds=5.0)
        log.info("controller_stopped", identity=self.settings.identity)

    def _housekeep(self, stop: threading.Event) -> None:
        # The main loop beats the heartbeat, refreshes the gauges and runs the periodic resync.
        next_resync = time.monotonic() + self.settings.resync_seconds
        while not stop.wait(1.0):
            self.heartbeat.beat()
            self._refresh_gauges()
            if time.monotonic() >= next_resync:
                next_resync = time.monotonic() + self.settings.resync_seconds
                if self.elector.is_leader():
                    self._enqueue_all()

    def _refresh_gauges(self) -> None:
        self.metrics.queue_depth.set(len(self.queue))
        self.metrics.is_leader.set(1 if self.elector.is_leader() else 0)
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for rollout in self.rollouts.objects():
            metadata = rollout["metadata"]
            owner = (metadata.get("labels") or {}).get(names.DEPLOYMENT_LABEL, "")
            slot = (metadata.get("namespace", ""), owner)
            if slot not in latest or records.attempt_of(rollout) > records.attempt_of(latest[slot]):
                latest[slot] = rollout
        counts: dict[str, int] = {}
        for rollout in latest.values():
            phase = (rollout.get("status") or {}).get("phase", str(phases.Phase.IDLE))
            counts[phase] = counts.get(phase, 0) + 1
        self.metrics.set_rollouts_by_phase(counts, phases=[str(phase) for phase in phases.Phase])

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                key = self.queue.get(timeout=1.0)
            except workqueue.ShutDown:
                return
            if key is None:
                continue
            try:
                self._process(key)
            finally:
                self.queue.done(key)

    def _process(self, key: str) -> None:
        # A standby replica keeps its caches warm but leaves every key to the leader.
        if not self.elector.is_leader():
            return
        started = time.monotonic()
        try:
            requeue_after = reconcile.reconcile(self.env, key=key)
        except kube_api.NotLeaderError:
            log.warning("reconcile_stopped_lease_lost", key=key)
            return
        except Exception as error:  # noqa: BLE001 -- one Deployment's failure must not stop the others
            delay = self.queue.add_rate_limited(key)
            self.metrics.reconcile_duration.labels(result="error").observe(time.monotonic() - started)
            log.warning(
                "reconcile_failed",
                key=key,
                error=f"{type(error).__name__}: {error}",
                retry_in_seconds=delay,
                exc_info=not isinstance(error, kube_api.ApiException),
            )
            return
        self.metrics.reconcile_duration.labels(result="success").observe(time.monotonic() - started)
        self.queue.forget(key)
        if requeue_after is not None:
            self.queue.add_after(key, requeue_after)
