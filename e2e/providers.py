"""Cluster providers of the e2e suite. The suite is the same on each; only where the cluster comes from and
where the controller runs differ.

- `local` (default): the control plane from hack/build-control-plane.sh with kwok's fake node. Pods never
  run there, so the controller runs on this machine as a process, with the token of its ServiceAccount
  from manifests/: its RBAC is enforced as it would be in a cluster.
- `kind`: a kind cluster made by e2e/kind.sh where a Docker engine exists. The controller runs in the
  cluster from the image built by ./Dockerfile, as the manifests deploy it.
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Protocol

import kubernetes
import pytest
import yaml

from e2e import install
from tests.cluster import controlplane, plugin, processes

KIND_SCRIPT = pathlib.Path(__file__).with_name("kind.sh")
KIND_CREATE_SECONDS = 900
CONTROLLER_ROLLOUT_SECONDS = "180s"
TOKEN_SECONDS = 3600
# A controller that cannot start (bad flags, no RBAC) exits within this time, so the harness reports it
# there. Later failures show in the tests.
CONTROLLER_SETTLE_SECONDS = 3.0


class Provider(Protocol):
    name: str

    def connect(self, request: pytest.FixtureRequest) -> controlplane.Connection:
        """Return a cluster that turns Deployments into Ready pods, with the Gateway API CRDs installed."""

    def run_controller(self, connection: controlplane.Connection, installation: install.Installation,
                       workdir: pathlib.Path) -> contextlib.AbstractContextManager[None]:
        """Run canaryd's controller for the duration of the context."""


class LocalProvider:
    name = "local"

    def connect(self, request: pytest.FixtureRequest) -> controlplane.Connection:
        return request.getfixturevalue("workload_cluster")

    @contextlib.contextmanager
    def run_controller(self, connection: controlplane.Connection, installation: install.Installation,
                       workdir: pathlib.Path) -> Iterator[None]:
        # The in-cluster replica would only be a fake kwok pod, so scale it away. The real controller runs
        # here with the ServiceAccount's identity.
        connection.kubectl_run("scale", "deployment", installation.controller, "--replicas=0",
                               "--namespace", installation.namespace)
        kubeconfig = _service_account_kubeconfig(connection, installation,
                                                 path=workdir / "canaryd.kubeconfig")
        # TODO: pass the flags `canaryd run` settles on (metrics source, health port).
        controller = processes.ManagedProcess(
            name="canaryd-controller", log_path=workdir / "canaryd-controller.log",
            argv=["env", f"KUBECONFIG={kubeconfig}", f"POD_NAMESPACE={installation.namespace}",
                  sys.executable, "-m", "canaryd", "run"])
        controller.start()
        try:
            time.sleep(CONTROLLER_SETTLE_SECONDS)
            if not controller.is_running():
                pytest.fail(f"canaryd run exited at start\n{controller.log_tail()}", pytrace=False)
            yield
        finally:
            controller.stop()


class KindProvider:
    name = "kind"

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
                       workdir: pathlib.Path) -> Iterator[None]:
        connection.kubectl_run("rollout", "status", f"deployment/{installation.controller}",
                               "--namespace", installation.namespace, "--timeout", CONTROLLER_ROLLOUT_SECONDS)
        yield


PROVIDERS: dict[str, type[LocalProvider] | type[KindProvider]] = {
    "local": LocalProvider,
    "kind": KindProvider,
}


def get(name: str) -> Provider:
    if name not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        raise pytest.UsageError(f"unknown e2e cluster provider {name!r}; known providers: {known}")
    return PROVIDERS[name]()


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
