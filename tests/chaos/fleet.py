"""Many annotated Deployments rolling out at once, every release of some of them bad.

Two real services feed every Deployment's SLIs: a good one (no errors) and a bad one (half the requests
fail). Prometheus scrapes each service once per arm, with the target labels the http preset selects on
(`namespace` and a Deployment-style `pod` name), so Deployment `d3`'s control reads the good service as
`d3-primary-...` and its canary reads the good or the bad one as `d3-...`. Which one is fixed per
Deployment: switching a target mid-test leaves samples of the old one in the next analysis window.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time

import kubernetes

from canaryd.core import phase as phases
from tests.chaos import workloads
from tests.harness import prometheus as harness

POD_SUFFIX = "5d8f7c9b4-x2k9p"
ANNOTATIONS = {
    "canaryd.io/enabled": "true",
    "canaryd.io/steps": "50",
    "canaryd.io/analysis-window": "12s",
    "canaryd.io/step-deadline": "3m",
    "canaryd.io/error-ratio-tolerance": "2%",
    "canaryd.io/error-ratio-relative-tolerance": "50%",
    "canaryd.io/latency-tolerance": "50%",
}
TERMINAL = {str(phases.Phase.SUCCEEDED), str(phases.Phase.FAILED), str(phases.Phase.ABORTED)}
# Phases in which a rollout owns a split; Invalid freezes one in place and still owns it.
OWNING = {str(phase) for phase in phases.ACTIVE_PHASES} | {str(phases.Phase.INVALID)}


@dataclasses.dataclass
class Rollout:
    """One release of one Deployment: its image, whether its canary is bad, and how it ended."""

    deployment: str
    image: str
    is_bad: bool
    attempt: int | None = None
    phase: str | None = None
    verdict: str | None = None  # the verdict of the release's last step
    first_step_delay: bool | None = None  # whether step 1 started later than the attempt (a restarted step)


class Fleet:
    """Deployments d0..d{n-1} in one namespace with their Prometheus targets."""

    def __init__(
        self,
        *,
        namespace: str,
        count: int,
        good: harness.TrafficApp,
        bad: harness.TrafficApp,
        bad_every: int = 4,
    ) -> None:
        self.namespace = namespace
        self.names = [f"d{index}" for index in range(count)]
        self.good = good
        self.bad = bad
        # Every `bad_every`-th Deployment ships only bad releases.
        self.bad_canaries = {
            name for index, name in enumerate(self.names) if index % bad_every == bad_every - 1
        }

    def targets(self) -> list[harness.ScrapeTarget]:
        found = []
        for name in self.names:
            canary = self.bad if name in self.bad_canaries else self.good
            for app, pod in ((self.good, f"{name}-primary-{POD_SUFFIX}"), (canary, f"{name}-{POD_SUFFIX}")):
                labels = {"namespace": self.namespace, "pod": pod, "app": name}
                found.append(harness.ScrapeTarget(address=f"127.0.0.1:{app.port}", labels=labels))
        return found

    def plan(self, rng: random.Random, *, count: int) -> list[Rollout]:
        """Plan `count` releases; each round ships every Deployment once, in random order."""
        releases = []
        shipped = {name: 0 for name in self.names}
        order: list[str] = []
        for _ in range(count):
            if not order:
                order = rng.sample(self.names, len(self.names))
            name = order.pop()
            shipped[name] += 1
            image = image_name(name, shipped[name])
            releases.append(Rollout(deployment=name, image=image, is_bad=name in self.bad_canaries))
        return releases

    def create(self, api_client: kubernetes.client.ApiClient) -> None:
        apps = kubernetes.client.AppsV1Api(api_client)
        for name in self.names:
            body = workloads.deployment(name, image=image_name(name, 0), annotations=dict(ANNOTATIONS))
            apps.create_namespaced_deployment(self.namespace, body)

    def wait_bootstrapped(
        self, api_client: kubernetes.client.ApiClient, *, timeout: float, describe=None
    ) -> None:
        for name in self.names:
            workloads.wait_for(
                lambda name=name: (
                    workloads.latest_status(api_client, namespace=self.namespace, deployment=name).get(
                        "phase"
                    )
                    == "Idle"
                ),
                timeout=timeout,
                message=f"{name} bootstrapped",
                describe=describe,
            )


def start_long_app(metrics: harness.Harness, *, max_seconds: float, **settings: object) -> harness.TrafficApp:
    """Start a test service that exits after `max_seconds` (the harness default is 5 minutes)."""
    app = harness.TrafficApp(
        settings=harness.AppSettings(**settings), workdir=metrics.workdir, max_seconds=max_seconds
    )
    metrics.apps.append(app)
    app.start()
    return app


def image_name(deployment: str, release: int) -> str:
    return f"example.invalid/{deployment}:{release}"


class Observer:
    """Polls the cluster and records every broken invariant; runs in a thread while faults are injected.

    Invariants, per Deployment: the canary has replicas only while its latest rollout owns the split (a
    gap shorter than `grace_seconds` is the moment between the scale and the status write, or a killed
    controller's pass being redone); the desired weight is 0, a step's weight or 100; the primary never
    runs a bad release's image.
    """

    def __init__(
        self,
        *,
        api_client: kubernetes.client.ApiClient,
        fleet: Fleet,
        steps: tuple[int, ...],
        grace_seconds: float,
    ) -> None:
        self.api_client = api_client
        self.fleet = fleet
        self.allowed_weights = {0, 100, *steps}
        self.grace_seconds = grace_seconds
        self.bad_images: set[str] = set()
        self.violations: list[str] = []
        self.unowned_since: dict[str, float] = {}
        self.longest_unowned = 0.0
        self.polls = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="invariant-observer", daemon=True)

    def __enter__(self) -> Observer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for name in self.fleet.names:
                try:
                    self._check(name)
                except kubernetes.client.ApiException as error:
                    # The API server may be restarting in a fault test; the next poll reads again.
                    if error.status not in (0, 429, 500, 503, 504):
                        self.violations.append(f"{name}: observer read failed: {error.status} {error.reason}")
                except Exception:  # noqa: BLE001 - connection errors while the API server restarts
                    continue
            self.polls += 1

    def _check(self, name: str) -> None:
        namespace = self.fleet.namespace
        canary = workloads.read_deployment(self.api_client, namespace=namespace, name=name)
        primary = workloads.read_deployment(self.api_client, namespace=namespace, name=f"{name}-primary")
        status = workloads.latest_status(self.api_client, namespace=namespace, deployment=name)
        if canary is None or primary is None or not status:
            return

        phase = status.get("phase")
        weight = status.get("desiredWeight", 0)
        if weight not in self.allowed_weights:
            self.violations.append(f"{name}: desired weight {weight} in phase {phase}")
        primary_image = primary["spec"]["template"]["spec"]["containers"][0]["image"]
        if primary_image in self.bad_images:
            self.violations.append(f"{name}: primary runs bad image {primary_image} in phase {phase}")

        now = time.monotonic()
        is_unowned = (canary["spec"].get("replicas") or 0) > 0 and phase not in OWNING
        if not is_unowned:
            self.unowned_since.pop(name, None)
            return
        since = self.unowned_since.setdefault(name, now)
        self.longest_unowned = max(self.longest_unowned, now - since)
        if now - since > self.grace_seconds:
            self.violations.append(
                f"{name}: canary has {canary['spec'].get('replicas')} replicas with no owning rollout "
                f"(phase {phase}) for {now - since:.0f}s"
            )
            self.unowned_since[name] = now
