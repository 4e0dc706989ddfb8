"""Fixtures of the e2e suite: the cluster from the chosen provider, canaryd installed from manifests/, and
the controller running against it.

    pytest e2e                     # local control plane (hack/build-control-plane.sh)
    pytest e2e --provider kind     # kind cluster from e2e/kind.sh (needs a Docker engine)

CANARYD_E2E_PROVIDER sets the default provider.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import kubernetes
import pytest

# This file imports the plugin before pytest loads it through pytest_plugins, so register it for
# assertion rewriting first.
pytest.register_assert_rewrite("tests.cluster")

from e2e import install, providers  # noqa: E402
from tests.cluster import controlplane, plugin  # noqa: E402

pytest_plugins = ["tests.cluster.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--provider", default=os.environ.get("CANARYD_E2E_PROVIDER", "local"),
                     help=f"cluster provider for the e2e suite, one of: {', '.join(providers.PROVIDERS)}")


@pytest.fixture(scope="session")
def e2e_provider(request: pytest.FixtureRequest) -> providers.Provider:
    return providers.get(request.config.getoption("--provider"))


@pytest.fixture(scope="session")
def e2e_cluster(request: pytest.FixtureRequest, e2e_provider: providers.Provider) -> controlplane.Connection:
    return e2e_provider.connect(request)


@pytest.fixture(scope="session")
def e2e_api_client(e2e_cluster: controlplane.Connection) -> Iterator[kubernetes.client.ApiClient]:
    with e2e_cluster.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="session")
def canaryd_installation(e2e_cluster: controlplane.Connection) -> install.Installation:
    """canaryd applied from manifests/ with `kubectl apply -k`."""
    try:
        return install.apply(e2e_cluster)
    except install.ManifestsError as error:
        plugin.skip_or_fail(f"canaryd cannot be installed: {error}")
        raise


@pytest.fixture(scope="session")
def canaryd_controller(e2e_provider: providers.Provider, e2e_cluster: controlplane.Connection,
                       canaryd_installation: install.Installation,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[install.Installation]:
    """The installation, with its controller running for the rest of the session."""
    workdir: pathlib.Path = tmp_path_factory.mktemp("canaryd")
    with e2e_provider.run_controller(e2e_cluster, canaryd_installation, workdir):
        yield canaryd_installation


@pytest.fixture
def e2e_namespace(request: pytest.FixtureRequest,
                  e2e_api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A namespace for this test in the provider's cluster, deleted after it."""
    with plugin.fresh_namespace(e2e_api_client, test_name=request.node.name,
                                wait_for_service_account=True) as name:
        yield name
