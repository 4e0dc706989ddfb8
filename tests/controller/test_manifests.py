"""The install manifests on the real control plane: they apply, and the RBAC grants only what canaryd uses."""

from __future__ import annotations

import pathlib

import kubernetes
import pytest

pytestmark = pytest.mark.cluster

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / "manifests"
ACCOUNT = "system:serviceaccount:canaryd-system:canaryd"


@pytest.fixture(scope="module")
def installed(cluster):
    cluster.kubectl_run("apply", "-k", str(MANIFESTS))
    return cluster


def test_manifests_install_the_controller(installed, kube_api_client):
    apps = kubernetes.client.AppsV1Api(kube_api_client)
    deployment = apps.read_namespaced_deployment("canaryd", "canaryd-system")
    container = deployment.spec.template.spec.containers[0]

    assert deployment.spec.replicas == 2
    assert deployment.spec.template.spec.security_context.run_as_non_root is True
    assert container.security_context.read_only_root_filesystem is True
    assert container.resources.requests["memory"] == "128Mi"
    assert container.liveness_probe.http_get.path == "/healthz"
    assert container.readiness_probe.http_get.path == "/readyz"
    extensions = kubernetes.client.ApiextensionsV1Api(kube_api_client)
    crd = extensions.read_custom_resource_definition("canaryrollouts.canaryd.io")
    established = {c.type: c.status for c in crd.status.conditions}
    assert established.get("Established") == "True"


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("patch", "httproutes.gateway.networking.k8s.io", True),
        ("update", "canaryrollouts.canaryd.io/status", True),
        ("watch", "deployments.apps", True),
        ("get", "secrets", False),
        ("list", "pods", False),
        ("delete", "httproutes.gateway.networking.k8s.io", False),
        ("delete", "services", False),
    ],
    ids=[
        "patch-routes",
        "write-status",
        "watch-deployments",
        "no-secrets",
        "no-pods",
        "no-route-delete",
        "no-service-delete",
    ],
)
def test_cluster_role_grants_least_privilege(installed, verb, resource, allowed):
    command = ["auth", "can-i", verb, resource, "-n", "shop", "--as", ACCOUNT]
    try:
        installed.kubectl_run(*command)
        granted = True
    except RuntimeError:
        granted = False

    assert granted is allowed


def test_namespaced_variant_applies(cluster):
    rendered = cluster.kubectl_run("kustomize", str(MANIFESTS / "namespaced")).stdout

    assert "kind: ClusterRole\n" not in rendered
    assert "--namespace=$(POD_NAMESPACE)" in rendered
    cluster.kubectl_run("apply", "-k", str(MANIFESTS / "namespaced"), "--dry-run=server")
