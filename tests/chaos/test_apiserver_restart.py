"""A real kube-apiserver restart mid-rollout: canaryd reconnects, relists where it must, and loses nothing.

The test has a control plane of its own (`dedicated_cluster`), so stopping its API server cannot disturb
other tests. `canaryd run` talks to that API server directly, with no proxy in between, as a
ServiceAccount bound only to the Roles of manifests/namespaced/. In each round, a good and a bad release
roll out at once. In every round but the last, while both are analysing at the canary's weight, the API
server is stopped with SIGTERM, kept down for a few seconds and started again with the same flags, port
and certificates. etcd keeps running. The last round ships new releases with no restart, which the
controller can only see through watches reopened after the restarts.

Each release must end as its canary deserves, with exactly one CanaryRollout per attempt and step 1
started with its attempt (no transition lost or repeated). The desired weight must only hold 0, 50 or
100, and no bad image may reach the primary. The controller must keep running as the same process, and
its own metrics must show that it reopened every watch after each restart.
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import random
import threading
import time

import httpx
import pytest
from prometheus_client import parser

from tests.chaos import controller, fleet, rig, scale, workloads
from tests.cluster import plugin
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.timeout(900)]

# Rounds of one release per Deployment. The API server restarts in every round but the last.
ROUNDS = {"bounded": 2, "full": 6}
MID_ROLLOUT_SECONDS = 120.0
UNOWNED_GRACE_SECONDS = 20.0
STEP_WEIGHT = 50


@dataclasses.dataclass
class Restart:
    """One restart of the API server and what the controller had done before it."""

    down_seconds: float  # from SIGTERM until /readyz returned 200 again
    requests_before: collections.Counter  # canaryd_api_requests_total by (verb, resource)
    errors_before: float  # canaryd_api_errors_total, summed


class Restarter:
    """A thread that restarts the API server once every rollout is analysing at the step weight."""

    def __init__(
        self,
        *,
        cluster: plugin.DedicatedCluster,
        api_client,
        fleet_under_test: fleet.Fleet,
        daemon: controller.ControllerProcess,
        rng: random.Random,
    ) -> None:
        self.cluster = cluster
        self.api_client = api_client
        self.fleet = fleet_under_test
        self.daemon = daemon
        self.rng = rng
        self.restart: Restart | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="apiserver-restarter", daemon=True)

    def __enter__(self) -> Restarter:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join(timeout=MID_ROLLOUT_SECONDS + 60)

    def raise_error(self) -> None:
        """Raise what went wrong in the restarting thread, if anything did."""
        if self.error is not None:
            raise AssertionError(f"restarting the API server failed: {self.error!r}") from self.error

    def _run(self) -> None:
        try:
            workloads.wait_for(
                self._is_mid_rollout,
                timeout=MID_ROLLOUT_SECONDS,
                message="every rollout analysing at the step weight",
            )
            # A seeded moment within the analysis, so the restart lands at a different point each round.
            time.sleep(self.rng.uniform(0.0, 4.0))
            requests_before, errors_before = controller_api_counts(self.daemon)
            down = self.cluster.plane.restart_apiserver(down_seconds=self.rng.uniform(2.0, 6.0))
            self.restart = Restart(
                down_seconds=down, requests_before=requests_before, errors_before=errors_before
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            self.error = error

    def _is_mid_rollout(self) -> bool:
        for name in self.fleet.names:
            status = workloads.latest_status_or_none(
                self.api_client, namespace=self.fleet.namespace, deployment=name
            )
            if not status or status.get("phase") not in ("Progressing", "Holding"):
                return False
            if status.get("desiredWeight") != STEP_WEIGHT:
                return False
        return True


def controller_api_counts(daemon: controller.ControllerProcess) -> tuple[collections.Counter, float]:
    """Read the daemon's /metrics and return its API requests by (verb, resource) and its failed requests."""
    text = httpx.get(f"http://127.0.0.1:{daemon.health_port}/metrics", timeout=5.0).text
    requests: collections.Counter = collections.Counter()
    errors = 0.0
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "canaryd_api_requests_total":
                requests[(sample.labels["verb"], sample.labels["resource"])] += sample.value
            elif sample.name == "canaryd_api_errors_total":
                errors += sample.value
    return requests, errors


def test_apiserver_restart_loses_no_transition(
    dedicated_cluster: plugin.DedicatedCluster,
    tmp_path: pathlib.Path,
    prometheus_binary,  # noqa: F811 - fixture
):
    connection = dedicated_cluster.connection
    rounds = ROUNDS[scale.current().name]
    rng = random.Random(scale.seed())
    restarts: list[Restart] = []
    after_restarts: list[tuple[collections.Counter, float]] = []

    with (
        connection.api_client() as api_client,
        plugin.fresh_namespace(
            api_client, test_name="apiserver-restart", wait_for_service_account=True
        ) as namespace,
    ):
        token = rig.install_namespaced(api_client, namespace=namespace)
        kubeconfig = rig.direct_kubeconfig(
            admin_kubeconfig=connection.kubeconfig,
            token=token,
            namespace=namespace,
            path=tmp_path / "canaryd.kubeconfig",
        )
        with rig.metrics_fleet(workdir=tmp_path / "metrics", namespace=namespace, count=2, bad_every=2) as (
            deployments,
            server,
        ):
            setup = rig.Rig(
                api_client=api_client, namespace=namespace, deployments=deployments, prometheus_url=server.url
            )
            deployments.create(api_client)
            daemon = controller.ControllerProcess(
                kubeconfig=kubeconfig, workdir=tmp_path, prometheus_url=server.url, lease_namespace=namespace,
                namespaces=(namespace,),
            )  # fmt: skip
            daemon.start()
            try:
                daemon.wait_ready()
                deployments.wait_bootstrapped(api_client, timeout=90, describe=daemon.log_tail)
                releases = deployments.plan(rng, count=rounds * len(deployments.names))
                observer = fleet.Observer(
                    api_client=api_client,
                    fleet=deployments,
                    steps=(STEP_WEIGHT,),
                    grace_seconds=UNOWNED_GRACE_SECONDS,
                )
                observer.bad_images.update(release.image for release in releases if release.is_bad)
                started = time.monotonic()
                with observer:
                    for index in range(rounds):
                        batch = releases[
                            index * len(deployments.names) : (index + 1) * len(deployments.names)
                        ]
                        if index == rounds - 1:
                            setup.ship(batch, describe=daemon.log_tail)
                            continue
                        with Restarter(
                            cluster=dedicated_cluster,
                            api_client=api_client,
                            fleet_under_test=deployments,
                            daemon=daemon,
                            rng=rng,
                        ) as restarter:
                            setup.ship(batch, describe=daemon.log_tail, check=restarter.raise_error)
                        restarter.raise_error()
                        assert restarter.restart is not None, "the API server was not restarted"
                        restarts.append(restarter.restart)
                        after_restarts.append(controller_api_counts(daemon))
                elapsed = time.monotonic() - started
                assert daemon.is_running(), daemon.log_tail()
                assert daemon.starts == 1
                records = {
                    name: workloads.rollouts(api_client, namespace=namespace, deployment=name)
                    for name in deployments.names
                }
            finally:
                daemon.stop()

    tally = collections.Counter(
        f"{'bad' if release.is_bad else 'good'} {release.phase}" for release in releases
    )
    print(
        f"apiserver restarts: {len(restarts)} restarts, down {[f'{r.down_seconds:.1f}s' for r in restarts]}, "
        f"{len(releases)} releases in {elapsed:.0f}s, tally {dict(tally)}, observer polls {observer.polls}, "
        f"longest unowned canary {observer.longest_unowned:.1f}s"
    )
    for restart, (requests_after, errors_after) in zip(restarts, after_restarts, strict=True):
        grown = {
            f"{verb} {resource}": requests_after[(verb, resource)] - restart.requests_before[(verb, resource)]
            for verb, resource in sorted(requests_after)
            if verb in ("LIST", "WATCH")
        }
        print(
            f"  after a restart: failed requests +{errors_after - restart.errors_before:g}, "
            f"lists and watches {grown}"
        )

    # Outcomes: a bad canary never succeeds, and a good one is never judged a failure.
    for release in releases:
        if release.is_bad:
            assert release.phase == "Failed", release
        else:
            assert release.phase == "Succeeded" or release.verdict != "fail", release
    assert tally["good Succeeded"] >= 1, tally

    # No lost or repeated transitions: one record per attempt, numbered without gaps, each with one record
    # for its one step, and step 1 started with its attempt.
    for name, found in records.items():
        attempts = [int(record["status"]["attempt"]) for record in found]
        assert attempts == list(range(rounds + 1)), (name, attempts)
        for record in found[1:]:
            indexes = [step["index"] for step in record["status"].get("steps", [])]
            assert indexes == [0], (name, record["status"])
    for release in releases:
        assert release.first_step_delay is False, release

    # Weights held only valid values, no bad image reached a primary, no canary ran unowned.
    assert observer.violations == []
    assert observer.polls > 0

    # The controller saw each outage and reopened every watch it had open before it.
    assert len(restarts) == rounds - 1
    for restart, (requests_after, errors_after) in zip(restarts, after_restarts, strict=True):
        assert errors_after > restart.errors_before, "no request failed while the API server was down"
        watched = [resource for (verb, resource) in restart.requests_before if verb == "WATCH"]
        assert watched, restart.requests_before
        for resource in watched:
            assert requests_after[("WATCH", resource)] > restart.requests_before[("WATCH", resource)], (
                resource
            )
