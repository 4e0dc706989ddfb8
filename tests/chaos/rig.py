"""A namespaced canaryd install behind the fault proxy, with a small fleet judged on real Prometheus.

The controller authenticates as a ServiceAccount bound only to Roles in the test namespace: the rules of
manifests/namespaced/role.yaml and manifests/base/leader-election-role.yaml. So every test that uses this
rig also runs canaryd with least privilege, and the proxy's records show each request it made.
"""

from __future__ import annotations

import collections
import contextlib
import pathlib
import time
from collections.abc import Iterator

import kubernetes
import yaml

from tests.chaos import controller, fleet, proxy, workloads
from tests.cluster import assets
from tests.harness import prometheus as harness

ROLE_FILES = (
    assets.REPOSITORY / "manifests" / "namespaced" / "role.yaml",
    assets.REPOSITORY / "manifests" / "base" / "leader-election-role.yaml",
)
RELEASE_SECONDS = 240.0
SERVICE_SECONDS = 1800.0


def install_namespaced(api_client: kubernetes.client.ApiClient, *, namespace: str) -> str:
    """Create the ServiceAccount with the manifests' Roles in `namespace`; return a bound token for it."""
    core = kubernetes.client.CoreV1Api(api_client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "canaryd"}})
    for path in ROLE_FILES:
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            document["metadata"]["namespace"] = namespace
            if document["kind"] == "Role":
                rbac.create_namespaced_role(namespace, document)
            elif document["kind"] == "RoleBinding":
                document["subjects"] = [{"kind": "ServiceAccount", "name": "canaryd", "namespace": namespace}]
                rbac.create_namespaced_role_binding(namespace, document)
    request = {"spec": {"audiences": [], "expirationSeconds": 3600}}
    return core.create_namespaced_service_account_token("canaryd", namespace, request).status.token


def direct_kubeconfig(
    *, admin_kubeconfig: pathlib.Path, token: str, namespace: str, path: pathlib.Path
) -> pathlib.Path:
    """Write a kubeconfig that reaches the API server of `admin_kubeconfig` directly, with a bearer token."""
    cluster = yaml.safe_load(admin_kubeconfig.read_text())["clusters"][0]["cluster"]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "direct", "cluster": cluster}],
        "users": [{"name": "canaryd", "user": {"token": token}}],
        "contexts": [
            {"name": "direct", "context": {"cluster": "direct", "user": "canaryd", "namespace": namespace}}
        ],
        "current-context": "direct",
    }
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


class Rig:
    """The fleet, the proxy and the controller replicas of one test."""

    def __init__(self, *, api_client, namespace: str, deployments: fleet.Fleet, prometheus_url: str) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.deployments = deployments
        self.prometheus_url = prometheus_url
        self.replicas: list[controller.ControllerProcess] = []

    def start_replica(
        self, *, identity: str, through: proxy.FaultProxy, token: str, workdir: pathlib.Path
    ) -> controller.ControllerProcess:
        kubeconfig = proxy.kubeconfig_for_token(
            proxy=through, token=token, namespace=self.namespace, path=workdir / f"{identity}.kubeconfig"
        )
        replica = controller.ControllerProcess(
            kubeconfig=kubeconfig, workdir=workdir, prometheus_url=self.prometheus_url,
            lease_namespace=self.namespace, identity=identity, namespaces=(self.namespace,),
        )  # fmt: skip
        self.replicas.append(replica)
        replica.start()
        return replica

    def ship(self, releases: list[fleet.Rollout], *, describe=lambda: "", check=lambda: None) -> None:
        """Push each release and wait until it ends. Releases of different Deployments run at once.

        `check` is called on every poll, and raises to end the wait early when a fault injector failed.
        """
        queues: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        for release in releases:
            queues[release.deployment].append(release)
        running: dict[str, tuple[fleet.Rollout, int, float]] = {}
        while queues or running:
            check()
            for name in [name for name in queues if name not in running]:
                release = queues[name].popleft()
                if not queues[name]:
                    del queues[name]
                before = workloads.latest_status(self.api_client, namespace=self.namespace, deployment=name)
                _retry(
                    lambda name=name, image=release.image: workloads.set_image(
                        self.api_client, namespace=self.namespace, name=name, image=image
                    )
                )
                running[name] = (release, int(before.get("attempt", 0)), time.monotonic())
            for name, (release, attempt_before, started) in list(running.items()):
                status = workloads.latest_status_or_none(
                    self.api_client, namespace=self.namespace, deployment=name
                )
                # None while the API server restarts: the release still runs, and so does its deadline.
                is_over = (
                    status is not None
                    and int(status.get("attempt", 0)) > attempt_before
                    and status.get("phase") in fleet.TERMINAL
                )
                if is_over:
                    release.attempt = int(status["attempt"])
                    release.phase = status["phase"]
                    release.verdict = (status.get("steps") or [{}])[-1].get("verdict")
                    first_step = (status.get("steps") or [{}])[0]
                    release.first_step_delay = first_step.get("startedAt") != status.get("startedAt")
                    del running[name]
                elif time.monotonic() - started > RELEASE_SECONDS:
                    raise AssertionError(
                        f"{release} did not end within {RELEASE_SECONDS:g}s: {status}\n{describe()}"
                    )
            time.sleep(0.5)

    def attempts(self, name: str) -> list[int]:
        """The attempt numbers of the Deployment's CanaryRollout records, in order."""
        found = workloads.rollouts(self.api_client, namespace=self.namespace, deployment=name)
        return [int((item.get("status") or {}).get("attempt", -1)) for item in found]


def _retry(write, attempts: int = 5) -> None:
    # The test's own writes go straight to the API server, but may meet a conflict with the controller.
    for attempt in range(attempts):
        try:
            write()
            return
        except kubernetes.client.ApiException as error:
            if error.status != 409 or attempt == attempts - 1:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def metrics_fleet(*, workdir: pathlib.Path, namespace: str, count: int, bad_every: int) -> Iterator[tuple]:
    """Start the good and bad services, Prometheus and the load; yield (fleet, prometheus server)."""
    workdir.mkdir(exist_ok=True)
    with harness.harness(workdir) as metrics:
        good = fleet.start_long_app(
            metrics, max_seconds=SERVICE_SECONDS, namespace=namespace, workload="good"
        )
        bad = fleet.start_long_app(
            metrics, max_seconds=SERVICE_SECONDS, namespace=namespace, workload="bad", error_ratio=0.5
        )
        deployments = fleet.Fleet(namespace=namespace, count=count, good=good, bad=bad, bad_every=bad_every)
        server = metrics.start_prometheus(targets=deployments.targets(), max_seconds=SERVICE_SECONDS)
        load = harness.LoadDriver(apps=[good, bad], rate_per_second=25.0, max_seconds=SERVICE_SECONDS)
        metrics._drivers.append(load)
        load.start()
        yield deployments, server
