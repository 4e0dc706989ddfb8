"""Install canaryd into a cluster from manifests/ with `kubectl apply -k`, as a platform team would.

The controller's namespace, Deployment and ServiceAccount are read from the rendered manifests, so the
suite follows whatever manifests/ declares instead of repeating its names.
"""

from __future__ import annotations

import dataclasses
import pathlib

import yaml

from tests.cluster import assets, controlplane

MANIFESTS = assets.REPOSITORY / "manifests"
# The controller's Deployment is the one whose pods run the canaryd image.
CONTROLLER_IMAGE_NAME = "canaryd"


class ManifestsError(RuntimeError):
    """manifests/ is missing or does not declare the controller in a way the suite can find."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Installation:
    """Where the controller was installed."""

    namespace: str
    controller: str
    service_account: str
    objects: list[dict]


def render(connection: controlplane.Connection, *, folder: pathlib.Path = MANIFESTS) -> list[dict]:
    """Return the objects `kubectl kustomize` renders from `folder`."""
    if not (folder / "kustomization.yaml").is_file():
        raise ManifestsError(f"{folder}/kustomization.yaml not found; canaryd is installed with "
                             f"`kubectl apply -k {folder.name}/`")
    rendered = connection.kubectl_run("kustomize", str(folder)).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def find_controller(objects: list[dict]) -> Installation:
    """Pick the controller's Deployment out of the rendered objects."""
    for item in objects:
        if item.get("kind") != "Deployment":
            continue
        pod_spec = item["spec"]["template"]["spec"]
        images = [container.get("image", "") for container in pod_spec.get("containers", [])]
        if any(_image_name(image) == CONTROLLER_IMAGE_NAME for image in images):
            return Installation(
                namespace=item["metadata"].get("namespace", "default"),
                controller=item["metadata"]["name"],
                service_account=pod_spec.get("serviceAccountName", "default"),
                objects=objects,
            )
    raise ManifestsError(f"no Deployment in {MANIFESTS} runs an image named {CONTROLLER_IMAGE_NAME!r}; "
                         "the e2e suite reads the controller's namespace and ServiceAccount from it")


def apply(connection: controlplane.Connection, *, folder: pathlib.Path = MANIFESTS) -> Installation:
    """Apply manifests/ server-side and wait until its CRDs are Established."""
    installation = find_controller(render(connection, folder=folder))
    connection.kubectl_run("apply", "--server-side", "--force-conflicts", "-k", str(folder))

    crds = [f"crd/{item['metadata']['name']}" for item in installation.objects
            if item.get("kind") == "CustomResourceDefinition"]
    if crds:
        connection.kubectl_run("wait", "--for", "condition=Established", *crds, "--timeout", "60s")
    return installation


def _image_name(reference: str) -> str:
    # registry.example/team/canaryd:1.2@sha256:... -> canaryd
    without_digest = reference.split("@", 1)[0]
    last_part = without_digest.rsplit("/", 1)[-1]
    return last_part.split(":", 1)[0]
