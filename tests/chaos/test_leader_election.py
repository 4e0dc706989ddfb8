"""Two controller replicas with leader election: blocking the leader's lease renewal hands over cleanly.

Both replicas run `canaryd run` with the namespaced Roles, each behind its own fault proxy, so every
request is recorded per replica. While releases roll out, the leader's Lease renewals are rejected. It
must stop writing within its renew deadline, the standby must take over after the lease duration, and
at no moment may both write: the old leader's last write comes before the new leader's first. Every
release must still end as its canary deserves.
"""

from __future__ import annotations

import pathlib
import random
import threading
import time

import pytest

from tests.chaos import proxy, rig, scale
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.prometheus]

RELEASES = {"bounded": 2, "full": 20}
BLOCK_AFTER_SECONDS = 8.0
# ControllerProcess runs with --lease-duration 4 --renew-deadline 3.
LEASE_SECONDS = 4.0
RENEW_DEADLINE_SECONDS = 3.0


def _is_lease_write(record: proxy.Record) -> bool:
    return record.is_write and "/leases" in record.path


def _rollout_writes(records: list[proxy.Record]) -> list[proxy.Record]:
    return [record for record in records if record.is_write and not _is_lease_write(record) and record.status]


def test_blocked_lease_renewal_leaves_one_writer(
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
        proxy.FaultProxy(kubeconfig=kubeconfig, seed=scale.seed()) as to_first,
        proxy.FaultProxy(kubeconfig=kubeconfig, seed=scale.seed() + 1) as to_second,
    ):
        setup = rig.Rig(
            api_client=kube_api_client,
            namespace=namespace,
            deployments=deployments,
            prometheus_url=server.url,
        )
        deployments.create(kube_api_client)
        first = setup.start_replica(identity="replica-a", through=to_first, token=token, workdir=tmp_path)
        second = None
        try:
            first.wait_ready()
            deployments.wait_bootstrapped(kube_api_client, timeout=90, describe=first.log_tail)
            second = setup.start_replica(
                identity="replica-b", through=to_second, token=token, workdir=tmp_path
            )
            second.wait_ready()

            releases = deployments.plan(random.Random(scale.seed()), count=RELEASES[scale.current().name])
            blocked_at: list[float] = []
            blocker = threading.Timer(BLOCK_AFTER_SECONDS, _block_lease_renewal, args=(to_first, blocked_at))
            blocker.start()
            setup.ship(releases, describe=lambda: first.log_tail() + "\n" + second.log_tail())
            blocker.join()
            assert first.is_running(), first.log_tail()
            assert second.is_running(), second.log_tail()
        finally:
            for replica in (first, second):
                if replica is not None:
                    replica.stop()

    first_writes = [record for record in _rollout_writes(to_first.records) if record.at >= blocked_at[0] - 60]
    second_writes = _rollout_writes(to_second.records)
    print(
        f"leader election: {len(releases)} releases, "
        f"writes by the first leader {len(_rollout_writes(to_first.records))}, "
        f"by the second {len(second_writes)}, lease renewals rejected "
        f"{sum(1 for record in to_first.records if record.status == 503)}"
    )

    for release in releases:
        if release.is_bad:
            assert release.phase == "Failed", release
        else:
            assert release.phase == "Succeeded" or release.verdict != "fail", release

    # The handover repeats no transition: one record per attempt, and step 1 started with its attempt.
    for name in deployments.names:
        attempts = setup.attempts(name)
        assert attempts == list(range(len(attempts))), (name, attempts)
    for release in releases:
        assert release.first_step_delay is False, release

    # The first replica wrote until its lease lapsed, then never again; the second took over after that.
    assert second_writes, "the standby never took over"
    last_first = max(record.at for record in first_writes)
    first_second = min(record.at for record in second_writes)
    assert last_first < first_second
    assert last_first <= blocked_at[0] + RENEW_DEADLINE_SECONDS + 1.0
    assert first_second >= blocked_at[0]


def _block_lease_renewal(through: proxy.FaultProxy, blocked_at: list[float]) -> None:
    blocked_at.append(time.monotonic())
    through.faults.reject = lambda method, path: method in ("PUT", "PATCH", "POST") and "/leases" in path
