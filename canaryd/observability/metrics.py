"""canaryd's own Prometheus metrics: what the controller is doing, for the platform team's dashboards.

Layer 2. One `ControllerMetrics` holds every metric on its own registry (not the process-global one),
so two controllers in one test process do not collide and `/metrics` shows only canaryd's series
plus the process collectors.
"""

from __future__ import annotations

import prometheus_client
import prometheus_client.core


class ControllerMetrics:
    """The controller's metrics, registered on `registry`."""

    def __init__(self, *, registry: prometheus_client.CollectorRegistry | None = None) -> None:
        self.registry = registry or prometheus_client.CollectorRegistry()
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)

        self.rollouts = prometheus_client.Gauge(
            "canaryd_rollouts",
            "Rollouts known to this controller, by phase.",
            ["phase"],
            registry=self.registry,
        )
        self.canary_weight = prometheus_client.Gauge(
            "canaryd_canary_weight_percent",
            "Canary's share of traffic as the router holds it, in percent.",
            ["namespace", "rollout"],
            registry=self.registry,
        )
        self.verdicts = prometheus_client.Counter(
            "canaryd_verdicts",
            "Analysis verdicts reached, by verdict (pass, fail, inconclusive, no_data).",
            ["verdict"],
            registry=self.registry,
        )
        self.reconcile_duration = prometheus_client.Histogram(
            "canaryd_reconcile_duration_seconds",
            "Time one reconcile pass of one Deployment took, by result (success, error).",
            ["result"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.api_errors = prometheus_client.Counter(
            "canaryd_api_errors",
            "Failed Kubernetes API requests, by verb, resource and HTTP status (0: no response).",
            ["verb", "resource", "status"],
            registry=self.registry,
        )
        self.api_requests = prometheus_client.Counter(
            "canaryd_api_requests",
            "Kubernetes API requests sent, by verb (GET, LIST, WATCH, POST, PUT, PATCH, DELETE), resource.",
            ["verb", "resource"],
            registry=self.registry,
        )
        self.queue_depth = prometheus_client.Gauge(
            "canaryd_work_queue_depth", "Keys waiting for a worker in the work queue.", registry=self.registry
        )
        self.is_leader = prometheus_client.Gauge(
            "canaryd_leader", "1 while this replica holds the leader lease, else 0.", registry=self.registry
        )

    # The kube adapter's RequestObserver.
    def api_request_sent(self, *, verb: str, resource: str) -> None:
        self.api_requests.labels(verb=verb, resource=resource).inc()

    def api_request_failed(self, *, verb: str, resource: str, status: int) -> None:
        self.api_errors.labels(verb=verb, resource=resource, status=str(status)).inc()

    def set_rollouts_by_phase(self, counts: dict[str, int], *, phases: list[str]) -> None:
        """Set the per-phase gauge for every phase, so a phase that emptied reads 0 rather than stale."""
        for phase in phases:
            self.rollouts.labels(phase=phase).set(counts.get(phase, 0))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)
