"""Fixtures of the e2e suite: the cluster from the chosen provider, canaryd installed from manifests/, a
real Prometheus, the controller running against both, and per-test pod traffic for Prometheus to scrape.

    pytest e2e                     # local control plane (hack/build-control-plane.sh)
    pytest e2e --provider kind     # kind cluster from e2e/kind.sh (needs a Docker engine)

CANARYD_E2E_PROVIDER sets the default provider.
"""

from __future__ import annotations

import dataclasses
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
from tests.controller import conftest as controller_rig  # noqa: E402
from tests.controller import support  # noqa: E402
from tests.harness import prometheus  # noqa: E402

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


@pytest.fixture(scope="package")
def e2e_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prometheus.PrometheusServer]:
    """A real Prometheus on 127.0.0.1 for the e2e suite. Each rollout test points it at its traffic."""
    with prometheus.harness(tmp_path_factory.mktemp("prometheus")) as harness:
        yield harness.start_prometheus(targets=[])


@dataclasses.dataclass(frozen=True)
class Controller:
    installation: install.Installation
    prometheus: prometheus.PrometheusServer
    log: providers.ControllerLog


@pytest.fixture(scope="package")
def canaryd_controller(e2e_provider: providers.Provider, e2e_cluster: controlplane.Connection,
                       canaryd_installation: install.Installation,
                       e2e_prometheus: prometheus.PrometheusServer,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """The installation, with its controller running until the e2e suite ends, so that it reconciles no
    namespace of the tests that run after it."""
    workdir: pathlib.Path = tmp_path_factory.mktemp("canaryd")
    with e2e_provider.run_controller(e2e_cluster, canaryd_installation, workdir,
                                     prometheus_url=e2e_prometheus.url) as log:
        yield Controller(installation=canaryd_installation, prometheus=e2e_prometheus, log=log)


@pytest.fixture
def e2e_namespace(request: pytest.FixtureRequest,
                  e2e_api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A namespace for this test in the provider's cluster, deleted after it."""
    with plugin.fresh_namespace(e2e_api_client, test_name=request.node.name,
                                wait_for_service_account=True) as name:
        yield name


@pytest.fixture
def rollout_rig(e2e_provider: providers.Provider, e2e_cluster: controlplane.Connection,
                e2e_api_client: kubernetes.client.ApiClient, canaryd_controller: Controller,
                e2e_namespace: str, tmp_path: pathlib.Path) -> Iterator[controller_rig.Rig]:
    """The app of the controller's cluster tests (HTTPRoute, annotated Deployment) in this test's
    namespace, with pod traffic that follows the route's weights scraped by the session's Prometheus."""
    if not e2e_provider.reads_local_prometheus:
        pytest.skip(f"the {e2e_provider.name} provider's controller cannot reach the suite's Prometheus "
                    "on 127.0.0.1")
    custom = kubernetes.client.CustomObjectsApi(e2e_api_client)
    custom.create_namespaced_custom_object(*support.GATEWAY[:2], e2e_namespace, support.GATEWAY[2],
                                           controller_rig.ROUTE)
    kubernetes.client.AppsV1Api(e2e_api_client).create_namespaced_deployment(
        e2e_namespace, controller_rig.deployment_body(annotations=controller_rig.ANNOTATIONS))

    traffic = support.PodTraffic(api_client=e2e_api_client, namespace=e2e_namespace, route=controller_rig.APP,
                                 backends=("web-primary", "web-canary"), requests_per_second=1000.0,
                                 error_ratio_by_image={"bad": 0.3})
    watcher = support.RouteWatcher(api_client=e2e_api_client, namespace=e2e_namespace,
                                   route=controller_rig.APP)
    traffic.start()
    watcher.start()
    canaryd_controller.prometheus.set_targets([prometheus.ScrapeTarget(address=traffic.address)])
    try:
        yield controller_rig.Rig(
            namespace=e2e_namespace, api_client=e2e_api_client, kubeconfig=e2e_cluster.kubeconfig,
            prometheus_url=canaryd_controller.prometheus.url, workdir=tmp_path,
            # Rig reads only log_tail() from its controller, which every provider's log offers.
            controller=canaryd_controller.log,  # type: ignore[arg-type]
            traffic=traffic, route_watcher=watcher, connection=e2e_cluster)
    finally:
        canaryd_controller.prometheus.set_targets([])
        traffic.stop()
        watcher.stop()
