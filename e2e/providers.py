"""Cluster providers of the e2e suite. The suite is the same on each; only where the cluster comes from and
where the controller runs differ.

- `local` (default): the control plane from hack/build-control-plane.sh with kwok's fake node. Pods never
  run there, so the controller runs on this machine as a process, with the token of its ServiceAccount
  from manifests/: its RBAC is enforced as it would be in a cluster. It reads the suite's Prometheus.
- `kind`: a kind cluster made by e2e/kind.sh where a Docker engine exists. The controller runs in the
  cluster from the image built by ./Dockerfile, as the manifests deploy it, with the suite's short
  analysis timings added to its arguments.

Both use the analysis timings of the controller's cluster tests (`support.SHORT_ANALYSIS_FLAGS`), so a
rollout finishes in seconds.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Protocol

import httpx
import kubernetes
import pytest
import yaml

from e2e import install
from tests.cluster import controlplane, plugin, processes
from tests.controller import support

KIND_SCRIPT = pathlib.Path(__file__).with_name("kind.sh")
KIND_CREATE_SECONDS = 900
CONTROLLER_ROLLOUT_SECONDS = "180s"
TOKEN_SECONDS = 3600
CONTROLLER_READY_SECONDS = 30.0
CONTROLLER_LOG_LINES = 60


class ControllerLog(Protocol):
    def log_tail(self) -> str:
        """Return the controller's latest log lines, for failure messages."""


class Provider(Protocol):
    name: str
    # Whether the controller reaches a Prometheus on 127.0.0.1, where the suite's traffic is scraped.
    reads_local_prometheus: bool

    def connect(self, request: pytest.FixtureRequest) -> controlplane.Connection:
        """Return a cluster that turns Deployments into Ready pods, with the Gateway API CRDs installed."""

    def run_controller(self, connection: controlplane.Connection, installation: install.Installation,
                       workdir: pathlib.Path, *,
                       prometheus_url: str) -> contextlib.AbstractContextManager[ControllerLog]:
        """Run canaryd's controller, reading metrics from `prometheus_url`, while the context lasts."""


class LocalProvider:
    name = "local"
    reads_local_prometheus = True

    def connect(self, request: pytest.FixtureRequest) -> controlplane.Connection:
        return request.getfixturevalue("workload_cluster")

    @contextlib.contextmanager
    def run_controller(self, connection: controlplane.Connection, installation: install.Installation,
                       workdir: pathlib.Path, *, prometheus_url: str) -> Iterator[ControllerLog]:
        # The in-cluster replica would only be a fake kwok pod, so scale it away. The real controller runs
        # here with the ServiceAccount's identity.
        connection.kubectl_run("scale", "deployment", installation.controller, "--replicas=0",
                               "--namespace", installation.namespace)
        kubeconfig = _service_account_kubeconfig(connection, installation,
                                                 path=workdir / "canaryd.kubeconfig")
        # Every namespace is watched, as the ClusterRole allows, and the Lease lives in the controller's own
        # namespace (POD_NAMESPACE). The health server listens on 127.0.0.1 only.
        health_address = f"127.0.0.1:{processes.free_port()}"
        controller = processes.ManagedProcess(
            name="canaryd-controller", log_path=workdir / "canaryd-controller.log",
            argv=["env", f"KUBECONFIG={kubeconfig}", f"POD_NAMESPACE={installation.namespace}",
                  sys.executable, "-m", "canaryd", "run",
                  "--health-address", health_address,
                  "--prometheus-url", prometheus_url,
                  *support.SHORT_ANALYSIS_FLAGS])
        controller.start()
        try:
            try:
                controller.wait_until(is_ready=lambda: _answers_ok(f"http://{health_address}/readyz"),
                                      timeout=CONTROLLER_READY_SECONDS, condition="/readyz answers 200")
            except processes.StartupError as error:
                pytest.fail(f"canaryd run did not become ready: {error}", pytrace=False)
            yield controller
        finally:
            controller.stop()


class KindProvider:
    name = "kind"
    # LIMITATION: the suite's Prometheus listens on 127.0.0.1 of this machine, which pods in kind cannot
    # reach, so the rollout tests skip on kind (goes away when the suite deploys Prometheus and the
    # traffic generator into the kind cluster).
    reads_local_prometheus = False

    def connect(self, request: pytest.FixtureRequest) -> controlplane.Connection:
        workdir = request.getfixturevalue("tmp_path_factory").mktemp("kind")
        kubeconfig = workdir / "kind.kubeconfig"
        completed = subprocess.run(["bash", str(KIND_SCRIPT), "create", str(kubeconfig)],
                                   capture_output=True, text=True, timeout=KIND_CREATE_SECONDS, check=False)
        if completed.returncode == 2:
            pytest.skip(f"the kind provider needs a Docker engine: {completed.stderr.strip()}")
        if completed.returncode != 0:
            pytest.fail(f"e2e/kind.sh create failed with code {completed.returncode}:\n{completed.stderr}",
                        pytrace=False)

        kubectl = plugin.assets.locate().binaries.get("kubectl")
        if kubectl is None:
            pytest.skip(f"kubectl not found; run `{plugin.assets.BUILD_COMMAND}`")
        connection = controlplane.Connection(kubeconfig=kubeconfig, kubectl=kubectl, runs_workloads=True)
        plugin.install_test_crds(connection, plugin.assets.locate())
        return connection

    @contextlib.contextmanager
    def run_controller(self, connection: controlplane.Connection, installation: install.Installation,
                       workdir: pathlib.Path, *, prometheus_url: str) -> Iterator[ControllerLog]:
        # The manifests keep their in-cluster Prometheus URL (prometheus_url is on this machine's loopback);
        # only the analysis timings are added, so the Deployment rolls out once more with them.
        added_args = [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": flag}
                      for flag in support.SHORT_ANALYSIS_FLAGS]
        connection.kubectl_run("patch", "deployment", installation.controller, "--namespace",
                               installation.namespace, "--type", "json", "--patch", json.dumps(added_args))
        connection.kubectl_run("rollout", "status", f"deployment/{installation.controller}",
                               "--namespace", installation.namespace, "--timeout", CONTROLLER_ROLLOUT_SECONDS)
        yield _InClusterLog(connection=connection, installation=installation)


class _InClusterLog:
    """The in-cluster controller's log, read with `kubectl logs`."""

    def __init__(self, *, connection: controlplane.Connection, installation: install.Installation) -> None:
        self.connection = connection
        self.installation = installation

    def log_tail(self) -> str:
        completed = subprocess.run(
            [str(self.connection.kubectl), "--kubeconfig", str(self.connection.kubeconfig), "logs",
             f"deployment/{self.installation.controller}", "--namespace", self.installation.namespace,
             "--tail", str(CONTROLLER_LOG_LINES)],
            capture_output=True, text=True, timeout=30, check=False)
        return completed.stdout or completed.stderr


PROVIDERS: dict[str, type[LocalProvider] | type[KindProvider]] = {
    "local": LocalProvider,
    "kind": KindProvider,
}


def get(name: str) -> Provider:
    if name not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        raise pytest.UsageError(f"unknown e2e cluster provider {name!r}; known providers: {known}")
    return PROVIDERS[name]()


def _answers_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _service_account_kubeconfig(connection: controlplane.Connection, installation: install.Installation, *,
                                path: pathlib.Path) -> pathlib.Path:
    """Write a kubeconfig that authenticates as the controller's ServiceAccount with a bound token."""
    with connection.api_client() as api_client:
        token = kubernetes.client.CoreV1Api(api_client).create_namespaced_service_account_token(
            installation.service_account, installation.namespace,
            kubernetes.client.AuthenticationV1TokenRequest(
                spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=TOKEN_SECONDS)),
        ).status.token

    admin = yaml.safe_load(connection.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster}],
        "users": [{"name": installation.service_account, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": installation.service_account,
                                                 "namespace": installation.namespace}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path
