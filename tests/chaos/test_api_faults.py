"""API server faults with a namespaced, least-privilege install: throttling, expired watches, conflicts, an
outage, and requests that must never be cluster-wide.

`canaryd run` reaches the real API server through `tests.chaos.proxy`, as a ServiceAccount with only the
Roles of manifests/namespaced/. While good and bad releases roll out (judged on real Prometheus data),
the proxy responds to a share of requests with 429 and ends a share of watches with 410 Expired, a second
writer keeps changing the objects canaryd writes (so its writes meet real 409 conflicts from the API
server), and for a while every connection is dropped, as when the API server restarts. Each release must
still end as its canary deserves, with exactly one CanaryRollout per attempt; the proxy's records must
show the relists, the conflicts, the backoff under throttling, and no list or watch outside the namespace.
"""

from __future__ import annotations

import collections
import pathlib
import random
import threading
import time

import kubernetes
import pytest

from tests.chaos import proxy, rig, scale, workloads
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.prometheus]

RELEASES = {"bounded": 2, "full": 24}
OUTAGE_SECONDS = 10.0
FULL_THROTTLE_SECONDS = 10.0
# Namespaced resources: a list or watch of one of them outside /namespaces/ reads the whole cluster.
NAMESPACED_PLURALS = (
    "deployments", "replicasets", "services", "events", "canaryrollouts", "metrictemplates",
    "httproutes", "leases", "horizontalpodautoscalers", "pods", "configmaps", "secrets",
)  # fmt: skip


class ConcurrentWriter:
    """Keeps changing a label on the objects canaryd writes, so its stale writes get 409 Conflict."""

    def __init__(self, *, api_client: kubernetes.client.ApiClient, namespace: str, names: list[str]) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.names = names
        self.writes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="concurrent-writer", daemon=True)

    def __enter__(self) -> ConcurrentWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        apps = kubernetes.client.AppsV1Api(self.api_client)
        custom = kubernetes.client.CustomObjectsApi(self.api_client)
        while not self.stop.wait(0.2):
            patch = {"metadata": {"labels": {"chaos.canaryd.io/touched": str(self.writes)}}}
            for name in self.names:
                try:
                    apps.patch_namespaced_deployment(f"{name}-primary", self.namespace, patch)
                    for rollout in workloads.rollouts(
                        self.api_client, namespace=self.namespace, deployment=name
                    )[-1:]:
                        custom.patch_namespaced_custom_object(
                            "canaryd.io",
                            "v1alpha1",
                            self.namespace,
                            "canaryrollouts",
                            rollout["metadata"]["name"],
                            patch,
                        )
                    self.writes += 1
                except kubernetes.client.ApiException:
                    continue


def _is_cluster_wide_read(record: proxy.Record) -> bool:
    if record.method != "GET" or "/namespaces/" in record.path:
        return False
    return record.path.rstrip("/").rsplit("/", 1)[-1] in NAMESPACED_PLURALS


def test_api_faults_do_not_lose_or_repeat_transitions(
    workload_cluster,
    kube_api_client,
    kubeconfig: pathlib.Path,
    namespace: str,
    tmp_path: pathlib.Path,
    prometheus_binary,  # noqa: F811 - fixture
):
    token = rig.install_namespaced(kube_api_client, namespace=namespace)
    with (
        rig.metrics_fleet(workdir=tmp_path / "metrics", namespace=namespace, count=2, bad_every=2) as (
            deployments,
            server,
        ),
        proxy.FaultProxy(kubeconfig=kubeconfig, seed=scale.seed()) as faults,
    ):
        setup = rig.Rig(
            api_client=kube_api_client,
            namespace=namespace,
            deployments=deployments,
            prometheus_url=server.url,
        )
        deployments.create(kube_api_client)
        replica = setup.start_replica(identity="replica-a", through=faults, token=token, workdir=tmp_path)
        try:
            replica.wait_ready()
            deployments.wait_bootstrapped(kube_api_client, timeout=90, describe=replica.log_tail)
            releases = deployments.plan(random.Random(scale.seed()), count=RELEASES[scale.current().name])
            half = len(releases) // 2

            # Throttling, expired watches and a concurrent writer, all at once.
            faults.faults.throttle_ratio = 0.2
            faults.faults.expire_watch_ratio = 0.5
            faults.faults.watch_lifetime_seconds = 5.0
            with ConcurrentWriter(
                api_client=kube_api_client, namespace=namespace, names=deployments.names
            ) as writer:
                setup.ship(releases[:half], describe=replica.log_tail)
            faults.faults.throttle_ratio = 0.0
            faults.faults.expire_watch_ratio = 0.0
            faults.faults.watch_lifetime_seconds = None

            # Full throttling for a while: the controller must back off rather than retry in a loop.
            throttle_start = time.monotonic()
            faults.faults.throttle_ratio = 1.0
            time.sleep(FULL_THROTTLE_SECONDS)
            faults.faults.throttle_ratio = 0.0
            throttled = faults.since(throttle_start)

            # An outage in the middle of the remaining releases, as when the API server restarts.
            outage = threading.Timer(5.0, _outage, args=(faults, OUTAGE_SECONDS))
            outage.start()
            setup.ship(releases[half:], describe=replica.log_tail)
            outage.join()
            assert replica.is_running(), replica.log_tail()
        finally:
            replica.stop()

    records = faults.records
    statuses = collections.Counter(record.status for record in records)
    throttled_writes = [record for record in throttled if record.is_write]
    lists = [
        record
        for record in records
        if record.method == "GET" and not record.is_watch and record.status == 200
        and record.path.rsplit("/", 1)[-1] in ("deployments", "canaryrollouts")
    ]  # fmt: skip
    print(
        f"api faults: {len(releases)} releases, {len(records)} requests, statuses {dict(statuses)}, "
        f"concurrent writes {writer.writes}, lists {len(lists)}, "
        f"requests under full throttling {len(throttled)} ({len(throttled_writes)} writes) "
        f"in {FULL_THROTTLE_SECONDS:g}s"
    )

    # Outcomes: a bad canary never succeeds; a good one is never judged a failure.
    for release in releases:
        if release.is_bad:
            assert release.phase == "Failed", release
        else:
            assert release.phase == "Succeeded" or release.verdict != "fail", release

    # No lost or repeated transitions: one record per attempt, attempts numbered without gaps.
    for name in deployments.names:
        attempts = setup.attempts(name)
        assert attempts == list(range(len(attempts))), (name, attempts)
        shipped = sum(1 for release in releases if release.deployment == name)
        assert attempts[-1] == shipped, (name, attempts)

    # The faults really happened.
    assert statuses[429] > 0
    assert statuses[409] > 0
    assert statuses[0] > 0 or statuses[502] > 0
    # Each expired watch is followed by a full list; the two caches listed once at start.
    assert statuses[410] > 0
    assert len(lists) >= 2 + statuses[410], (len(lists), statuses[410])

    # Backoff: under full throttling the controller sends far fewer requests than its 20 per second limit.
    assert len(throttled) < FULL_THROTTLE_SECONDS * 20 / 4, len(throttled)

    # Least privilege: nothing was forbidden, and nothing was read outside the namespace.
    assert statuses[403] == 0, [record for record in records if record.status == 403][:5]
    assert [record for record in records if _is_cluster_wide_read(record)] == []


def _outage(faults: proxy.FaultProxy, seconds: float) -> None:
    faults.faults.is_down = True
    time.sleep(seconds)
    faults.faults.is_down = False
