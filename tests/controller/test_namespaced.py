"""The namespaced install's RBAC is enough: canaryd runs a rollout as its ServiceAccount, bound only by
the Roles of manifests/namespaced and manifests/base, with a token from the TokenRequest API."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from tests.controller import conftest

pytestmark = pytest.mark.cluster

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / "manifests"
RBAC_FILES = ("base/serviceaccount.yaml", "base/leader-election-role.yaml", "namespaced/role.yaml")


def service_account_kubeconfig(connection, namespace: str, workdir: pathlib.Path) -> pathlib.Path:
    """Install the namespaced RBAC into `namespace` and return a kubeconfig that authenticates as canaryd."""
    documents = []
    for name in RBAC_FILES:
        for document in yaml.safe_load_all((MANIFESTS / name).read_text()):
            document["metadata"]["namespace"] = namespace
            for subject in document.get("subjects", []):
                subject["namespace"] = namespace
            documents.append(document)
    rbac = workdir / "rbac.yaml"
    rbac.write_text(yaml.safe_dump_all(documents))
    connection.kubectl_run("apply", "-f", str(rbac))

    token = connection.kubectl_run(
        "create", "token", "canaryd", "-n", namespace, "--duration", "1h"
    ).stdout.strip()
    config = yaml.safe_load(connection.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path = workdir / "canaryd.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_rollout_runs_with_namespaced_roles_only(workload_cluster, kube_api_client, namespace, tmp_path):
    kubeconfig = service_account_kubeconfig(workload_cluster, namespace, tmp_path)
    with pytest.raises(RuntimeError):  # kubectl auth can-i exits 1 for "no"
        workload_cluster.kubectl_run(
            "auth", "can-i", "list", "deployments", "-A", "--as", f"system:serviceaccount:{namespace}:canaryd"
        )

    with conftest.build_rig(
        workload_cluster, kube_api_client, kubeconfig, namespace, tmp_path, annotations=conftest.ANNOTATIONS
    ) as rig:
        rig.wait_for_phase(0, {"Idle"}, timeout=120)
        rig.set_image("example.invalid/web:2")
        rollout = rig.wait_for_phase(1, {"Succeeded", "Failed", "Aborted"})
        log = rig.controller.log_tail(200_000)

    assert rollout["status"]["phase"] == "Succeeded"
    assert "Forbidden" not in log, "no request was forbidden"
