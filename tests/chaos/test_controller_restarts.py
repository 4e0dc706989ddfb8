"""Controller restarts: `canaryd run` is killed with SIGKILL at seeded random moments during many rollouts.

Several Deployments roll out at once on the real control plane, each release judged on real Prometheus
data from a good or a bad service (`tests.chaos.fleet`). A killer thread SIGKILLs the daemon every few
seconds and starts it again; an observer thread checks the invariants all the while. Every release must
end (Succeeded for a good canary, Failed for a bad one), no bad release may reach the primary, the
desired weight only ever holds 0, a step's weight or 100, and no canary keeps pods without a rollout
that owns them. A good release may still end Failed when its step deadline passes before the judge has
enough data (on a loaded machine, scrapes are late and intervals drop out); that is counted and reported,
but its verdict must never be fail, because both arms of a good release read the same service.
"""

from __future__ import annotations

import collections
import pathlib
import random
import threading
import time

import pytest

from tests.chaos import controller, fleet, scale, workloads
from tests.harness import prometheus as harness
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

FLEET_SIZE = {"bounded": 4, "full": 8}
# The full form's 200 rollouts take well over the 600 s that pyproject.toml gives each test: each of the
# 8 Deployments ships 25 releases in turn, and the full form took 18 min on a shared 2-core machine.
TIMEOUT_SECONDS = {"bounded": 600, "full": 2 * 3600}

pytestmark = [
    pytest.mark.chaos, pytest.mark.cluster, pytest.mark.prometheus,
    pytest.mark.timeout(TIMEOUT_SECONDS[scale.current().name]),
]  # fmt: skip
RELEASE_SECONDS = 180.0
TEST_SECONDS = 3 * 3600.0  # an upper bound for the services and the load; the test stops them when it ends
# The status is written after the actions it follows, and a killed pass is redone by the next replica
# after its start-up (a few seconds) and the lease (4 s), so a canary may briefly lead its record.
UNOWNED_GRACE_SECONDS = 20.0


class Killer:
    """SIGKILLs the daemon at seeded random moments and starts it again after a seeded pause."""

    def __init__(self, *, daemon: controller.ControllerProcess, rng: random.Random) -> None:
        self.daemon = daemon
        self.rng = rng
        self.kills = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="controller-killer", daemon=True)

    def __enter__(self) -> Killer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        if not self.daemon.is_running():
            self.daemon.start()

    def _run(self) -> None:
        while not self.stop.wait(self.rng.uniform(2.0, 9.0)):
            self.daemon.kill()
            self.kills += 1
            self.stop.wait(self.rng.uniform(0.0, 2.0))
            self.daemon.start()


def test_killed_controller_finishes_every_rollout(
    workload_cluster,
    kube_api_client,
    kubeconfig: pathlib.Path,
    namespace: str,
    tmp_path: pathlib.Path,
    prometheus_binary,  # noqa: F811 - fixture
):
    (tmp_path / "metrics").mkdir()
    with harness.harness(tmp_path / "metrics") as metrics:
        good = fleet.start_long_app(metrics, max_seconds=TEST_SECONDS, namespace=namespace, workload="good")
        bad = fleet.start_long_app(
            metrics, max_seconds=TEST_SECONDS, namespace=namespace, workload="bad", error_ratio=0.5
        )
        deployments = fleet.Fleet(
            namespace=namespace, count=FLEET_SIZE[scale.current().name], good=good, bad=bad
        )
        releases = deployments.plan(random.Random(scale.seed()), count=scale.current().restart_rollouts)
        server = metrics.start_prometheus(targets=deployments.targets(), max_seconds=TEST_SECONDS)
        # The harness's load stops after 2 minutes; this one lasts the whole test, and the harness stops it.
        load = harness.LoadDriver(apps=[good, bad], rate_per_second=25.0, max_seconds=TEST_SECONDS)
        metrics._drivers.append(load)
        load.start()
        deployments.create(kube_api_client)

        daemon = controller.ControllerProcess(
            kubeconfig=kubeconfig, workdir=tmp_path, prometheus_url=server.url, lease_namespace=namespace,
            namespaces=(namespace,),
        )  # fmt: skip
        daemon.start()
        try:
            daemon.wait_ready()
            deployments.wait_bootstrapped(kube_api_client, timeout=90, describe=daemon.log_tail)
            observer = fleet.Observer(
                api_client=kube_api_client,
                fleet=deployments,
                steps=(50,),
                grace_seconds=UNOWNED_GRACE_SECONDS,
            )
            started = time.monotonic()
            with observer, Killer(daemon=daemon, rng=random.Random(scale.seed() + 1)) as killer:
                _run_releases(kube_api_client, deployments, observer, releases, describe=daemon.log_tail)
            elapsed = time.monotonic() - started
        finally:
            daemon.stop()

    tally = collections.Counter(
        f"{'bad' if release.is_bad else 'good'} {release.phase}" for release in releases
    )
    print(
        f"controller restarts: {len(releases)} rollouts in {elapsed:.0f}s, {killer.kills} kills, "
        f"{daemon.starts} starts, tally {dict(tally)}, "
        f"observer polls {observer.polls}, longest unowned canary {observer.longest_unowned:.1f}s"
    )
    assert observer.violations == []
    assert killer.kills >= len(releases) // 2
    for release in releases:
        if release.is_bad:
            assert release.phase == "Failed", release
        else:
            assert release.phase == "Succeeded" or release.verdict != "fail", release
    assert tally["good Succeeded"] >= 1, tally


def _run_releases(api_client, deployments, observer, releases, *, describe) -> None:
    """Ship each Deployment's releases in turn, all Deployments at once, waiting for each to end."""
    queues = collections.defaultdict(collections.deque)
    for release in releases:
        queues[release.deployment].append(release)
    running: dict[str, tuple[fleet.Rollout, int, float]] = {}

    while queues or running:
        for name in list(queues):
            if name in running:
                continue
            release = queues[name].popleft()
            if not queues[name]:
                del queues[name]
            before = workloads.latest_status(api_client, namespace=deployments.namespace, deployment=name)
            if release.is_bad:
                observer.bad_images.add(release.image)
            workloads.set_image(api_client, namespace=deployments.namespace, name=name, image=release.image)
            running[name] = (release, int(before.get("attempt", 0)), time.monotonic())

        for name, (release, attempt_before, started) in list(running.items()):
            status = workloads.latest_status(api_client, namespace=deployments.namespace, deployment=name)
            if int(status.get("attempt", 0)) > attempt_before and status.get("phase") in fleet.TERMINAL:
                release.attempt = int(status["attempt"])
                release.phase = status["phase"]
                steps = status.get("steps") or [{}]
                release.verdict = steps[-1].get("verdict")
                del running[name]
            elif time.monotonic() - started > RELEASE_SECONDS:
                raise AssertionError(
                    f"{release} did not end within {RELEASE_SECONDS:g}s: {status.get('steps')}\n{describe()}"
                )
        time.sleep(0.5)
