"""pytest fixtures for tests that need a real Kubernetes API: `cluster` (one control plane per session),
`kube_api_client`, `kubeconfig`, `workload_cluster` (pods become Ready), `namespace` (fresh per test) and
`dedicated_cluster` (a control plane of the test's own, whose processes it may restart).

Loaded from tests/conftest.py and e2e/conftest.py. Where the binaries are missing, the tests skip with
the build command; with CI=true they fail instead, so a CI run never passes by skipping them. Set
CANARYD_TEST_USE_EXISTING_CLUSTER=1 to run against the cluster in KUBECONFIG (for example a kind cluster)
instead of starting one; nothing else makes the tests touch an existing cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import re
import secrets
import shutil
import time
from collections.abc import Iterator

import kubernetes
import pytest

from . import assets, controlplane

USE_EXISTING_VARIABLE = "CANARYD_TEST_USE_EXISTING_CLUSTER"
CANARYD_CRDS = assets.REPOSITORY / "manifests" / "crds"
SERVICE_ACCOUNT_SECONDS = 30.0


def is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI, with a message on how to get a control plane."""
    skip_or_fail(f"{reason}. Build the local control plane with `{assets.BUILD_COMMAND}` "
                 "(or `make control-plane`: minutes when cold, seconds once cached), "
                 f"or set {USE_EXISTING_VARIABLE}=1 with KUBECONFIG naming a cluster you may write to")


def skip_or_fail(message: str) -> None:
    """Skip the test; under CI=true fail it instead, so that a CI run never passes by skipping."""
    if is_ci():
        pytest.fail(f"{message} (CI=true: a missing prerequisite is a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[controlplane.Connection]:
    """A running cluster with canaryd's and the Gateway API's CRDs installed, for the whole session."""
    found = assets.locate()
    if os.environ.get(USE_EXISTING_VARIABLE) == "1":
        connection = _existing_cluster(found)
        install_test_crds(connection, found)
        yield connection
        return

    missing = found.missing(assets.REQUIRED)
    if missing:
        unavailable(f"control-plane binaries not found: {', '.join(missing)} "
                    f"(searched TEST_ASSET_* variables, {'; '.join(found.searched)})")
    missing_workload = found.missing(assets.WORKLOAD)
    if missing_workload and is_ci():
        unavailable(f"workload binaries not found: {', '.join(missing_workload)}")

    plane = controlplane.LocalControlPlane(found=found, workdir=tmp_path_factory.mktemp("control-plane"),
                                           with_workloads=not missing_workload)
    with _started(plane, found) as connection:
        yield connection


@dataclasses.dataclass(frozen=True)
class DedicatedCluster:
    """A control plane of one test's own, with workloads, for faults that would disturb other tests."""

    plane: controlplane.LocalControlPlane
    connection: controlplane.Connection


@pytest.fixture
def dedicated_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DedicatedCluster]:
    """A second local control plane for this test alone, with the CRDs installed, stopped after it.

    Starting one takes about 8 s (5 s for the processes, 2.5 s for the CRDs) on an idle 2-core machine.
    A test may restart its API server, and the session's `cluster` is not affected.
    """
    if os.environ.get(USE_EXISTING_VARIABLE) == "1":
        pytest.skip(f"{USE_EXISTING_VARIABLE}=1: this test needs a control plane whose processes it controls")
    found = assets.locate()
    missing = found.missing(assets.REQUIRED + assets.WORKLOAD)
    if missing:
        unavailable(f"control-plane binaries not found: {', '.join(missing)} "
                    f"(searched TEST_ASSET_* variables, {'; '.join(found.searched)})")

    plane = controlplane.LocalControlPlane(found=found, workdir=tmp_path_factory.mktemp("dedicated-plane"),
                                           with_workloads=True)
    with _started(plane, found) as connection:
        yield DedicatedCluster(plane=plane, connection=connection)


@contextlib.contextmanager
def _started(plane: controlplane.LocalControlPlane,
             found: assets.Assets) -> Iterator[controlplane.Connection]:
    """Start `plane`, install the test CRDs, and stop it on exit."""
    connection = plane.start()
    try:
        install_test_crds(connection, found)
        yield connection
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kubeconfig(cluster: controlplane.Connection) -> pathlib.Path:
    """Path of an admin kubeconfig for the session's cluster."""
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kube_api_client(cluster: controlplane.Connection) -> Iterator[kubernetes.client.ApiClient]:
    """An admin `kubernetes.client.ApiClient` for the session's cluster."""
    with cluster.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="session")
def workload_cluster(cluster: controlplane.Connection) -> controlplane.Connection:
    """The session's cluster, guaranteed to turn Deployments into Ready pods."""
    if not cluster.runs_workloads:
        missing = assets.locate().missing(assets.WORKLOAD)
        unavailable(f"pods cannot become Ready without {', '.join(missing)}")
    return cluster


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: controlplane.Connection,
              kube_api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A namespace made for this test and deleted after it (deletion is not awaited)."""
    with fresh_namespace(kube_api_client, test_name=request.node.name,
                         wait_for_service_account=cluster.runs_workloads) as name:
        yield name


@contextlib.contextmanager
def fresh_namespace(api_client: kubernetes.client.ApiClient, *, test_name: str,
                    wait_for_service_account: bool) -> Iterator[str]:
    """Create a namespace named after the test with a random suffix, and delete it on exit."""
    core = kubernetes.client.CoreV1Api(api_client)
    name = _namespace_name(test_name)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(
        name=name, labels={"canaryd.io/test": "true"})))

    # Pods are rejected until the namespace's "default" ServiceAccount exists, and the controller-manager
    # creates it a moment after the namespace.
    if wait_for_service_account:
        _wait_for_default_service_account(core, name)
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


def _namespace_name(test_name: str) -> str:
    # A DNS label: lower case, digits and dashes, at most 63 characters, unique through a random suffix.
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].rstrip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


def _wait_for_default_service_account(core: kubernetes.client.CoreV1Api, namespace: str) -> None:
    deadline = time.monotonic() + SERVICE_ACCOUNT_SECONDS
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", namespace)
            return
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
        time.sleep(0.2)
    raise TimeoutError(f"ServiceAccount default in namespace {namespace} was not created within "
                       f"{SERVICE_ACCOUNT_SECONDS:.0f}s; is the controller-manager running?")


def _existing_cluster(found: assets.Assets) -> controlplane.Connection:
    variable = os.environ.get("KUBECONFIG", "")
    if not variable:
        pytest.fail(f"{USE_EXISTING_VARIABLE}=1 but KUBECONFIG is not set; point KUBECONFIG at the cluster "
                    "to test against, or unset the variable to start a local control plane", pytrace=False)
    kubectl = found.binaries.get("kubectl") or shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl not found for the existing cluster")
    # KUBECONFIG may list several files; the first one names the cluster, as kubectl reads it.
    first = pathlib.Path(variable.split(os.pathsep)[0])
    return controlplane.Connection(kubeconfig=first, kubectl=pathlib.Path(kubectl), runs_workloads=True)


def install_test_crds(connection: controlplane.Connection, found: assets.Assets) -> None:
    """Install the Gateway API standard CRDs and canaryd's CRDs from manifests/crds, if that folder exists."""
    if found.gateway_api_crds is None:
        unavailable("Gateway API CRDs not found: the build did not extract them and "
                    "`go mod download sigs.k8s.io/gateway-api` failed")
    folders = [found.gateway_api_crds]
    if controlplane.has_manifests(CANARYD_CRDS):
        folders.append(CANARYD_CRDS)
    controlplane.install_crds(connection, folders=folders)
