"""The primary and canary workloads: observing them and changing them as the decision core asks.

Layer 3 (engine). The user's Deployment `web` is the canary template: canaryd scales it (to zero between
rollouts) and never edits its pod template. canaryd owns `web-primary`, a copy of the template with one
extra pod label (`canaryd.io/track: primary`), and two Services:

- `web-primary` selects the user's selector plus that label: the primary's pods only;
- `web-canary` selects the user's selector plus the `pod-template-hash` of `web`'s current ReplicaSet:
  the canary's pods only, since the primary's pods have a different template and so a different hash.

With a baseline, canaryd also owns `web-baseline`. That Deployment runs the primary's pod template with
the pod label `canaryd.io/track: baseline` and is created at the start of a rollout. The Service of the
same name selects the user's selector plus that label.

The user's own Service (if any) keeps selecting both, which is what the replica-ratio router relies on.
"""

from __future__ import annotations

import copy
from typing import Any

from canaryd.controller import names
from canaryd.core import observed
from canaryd.kube import api as kube_api

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"  # set by the Deployment controller


def workload_state(deployment: dict[str, Any] | None) -> observed.WorkloadState | None:
    """Observe a Deployment: its revision, desired replicas and Ready replicas of the current template."""
    if deployment is None:
        return None
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    replicas = int(spec.get("replicas", 1))

    # Until the Deployment controller observes the latest generation (a new template or a scale), the
    # counts describe an older spec: a template change just made may still show the old pods as current.
    generation = int(deployment["metadata"].get("generation", 0))
    is_observed = int(status.get("observedGeneration", 0)) >= generation

    # Ready pods of older ReplicaSets are counted in readyReplicas; subtracting every old pod gives a
    # lower bound of the current template's Ready pods.
    old = max(0, int(status.get("replicas", 0)) - int(status.get("updatedReplicas", 0)))
    ready = max(0, int(status.get("readyReplicas", 0)) - old)
    return observed.WorkloadState(
        revision=names.revision_of(spec.get("template", {})),
        replicas=replicas,
        ready_replicas=ready,
        is_observed=is_observed,
    )


def primary_template(deployment: dict[str, Any]) -> dict[str, Any]:
    return _tracked_template(deployment["spec"]["template"], track=names.PRIMARY_TRACK)


def _tracked_template(template: dict[str, Any], *, track: str) -> dict[str, Any]:
    """Copy a pod template with canaryd's track label set to `track`."""
    tracked = copy.deepcopy(template)
    labels = tracked.setdefault("metadata", {}).setdefault("labels", {})
    labels[names.TRACK_LABEL] = track
    return tracked


def _create_unless_present(api: kube_api.Api, *, namespace: str, body: dict[str, Any]) -> bool:
    """Create the Deployment `body`; return False when it exists already.

    It exists when an earlier pass created it and the cache had not shown it yet.
    """
    try:
        api.create(kube_api.DEPLOYMENTS, namespace=namespace, body=body)
    except kube_api.ApiException as error:
        if not kube_api.is_conflict(error):
            raise
        return False
    return True


def primary_selector(deployment: dict[str, Any]) -> dict[str, str]:
    return track_selector(deployment, track=names.PRIMARY_TRACK)


def track_selector(deployment: dict[str, Any], *, track: str) -> dict[str, str]:
    """Build the user's selector narrowed to the pods of one of canaryd's Deployments by their track label."""
    match = dict(deployment["spec"]["selector"].get("matchLabels") or {})
    match[names.TRACK_LABEL] = track
    return match


def primary_body(deployment: dict[str, Any], *, replicas: int | None) -> dict[str, Any]:
    """Build the primary Deployment from the user's: same spec, its own selector and pod label."""
    name = deployment["metadata"]["name"]
    spec = copy.deepcopy(deployment["spec"])
    spec.pop("paused", None)
    spec["selector"] = {"matchLabels": primary_selector(deployment)}
    spec["template"] = primary_template(deployment)
    if replicas is None:
        spec.pop("replicas", None)
    else:
        spec["replicas"] = replicas
    return _owned_deployment(deployment, name=names.primary_name(name), spec=spec)


def _owned_deployment(deployment: dict[str, Any], *, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Wrap `spec` in a Deployment named `name`, labelled as canaryd's and owned by the user's Deployment."""
    owner = deployment["metadata"]["name"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": deployment["metadata"]["namespace"],
            "labels": {**(deployment["metadata"].get("labels") or {}), **names.owned_labels(owner)},
            "ownerReferences": [names.owner_reference(deployment)],
        },
        "spec": spec,
    }


def copy_template_to_primary(
    api: kube_api.Api, *, deployment: dict[str, Any], primary: dict[str, Any] | None, replicas: int | None
) -> None:
    """Create the primary from the Deployment, or give the existing primary the Deployment's template."""
    namespace = deployment["metadata"]["namespace"]
    if primary is None:
        body = primary_body(deployment, replicas=replicas)
        if _create_unless_present(api, namespace=namespace, body=body):
            return
        primary = api.get(kube_api.DEPLOYMENTS, namespace=namespace, name=body["metadata"]["name"])
    set_primary_template(api, primary=primary, template=primary_template(deployment))


def set_primary_template(api: kube_api.Api, *, primary: dict[str, Any], template: dict[str, Any]) -> None:
    """Replace the primary's whole pod template (a merge patch would keep keys the new template dropped)."""
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[names.TRACK_LABEL] = names.PRIMARY_TRACK
    patch = [{"op": "replace", "path": "/spec/template", "value": template}]
    api.patch(
        kube_api.DEPLOYMENTS,
        namespace=primary["metadata"]["namespace"],
        name=primary["metadata"]["name"],
        body=patch,
        content_type=kube_api.JSON_PATCH,
        field_manager=names.FIELD_MANAGER,
    )


def scale(api: kube_api.Api, *, namespace: str, name: str, replicas: int) -> None:
    api.patch(
        kube_api.DEPLOYMENTS,
        namespace=namespace,
        name=name,
        body={"spec": {"replicas": replicas}},
        field_manager=names.FIELD_MANAGER,
    )


# The baseline.


def baseline_template(primary: dict[str, Any]) -> dict[str, Any]:
    return _tracked_template(primary["spec"]["template"], track=names.BASELINE_TRACK)


def baseline_body(deployment: dict[str, Any], *, primary: dict[str, Any], replicas: int) -> dict[str, Any]:
    """Build the baseline Deployment: the primary's spec and pod template, its own selector and pod label."""
    name = deployment["metadata"]["name"]
    spec = copy.deepcopy(primary["spec"])
    spec["selector"] = {"matchLabels": track_selector(deployment, track=names.BASELINE_TRACK)}
    spec["template"] = baseline_template(primary)
    spec["replicas"] = replicas
    return _owned_deployment(deployment, name=names.baseline_name(name), spec=spec)


def scale_baseline(
    api: kube_api.Api,
    *,
    deployment: dict[str, Any],
    primary: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    replicas: int,
) -> None:
    """Run `replicas` baseline pods of the primary's current template. Scaling to zero keeps the template.

    The baseline is created on its first scale-up, and every later scale-up gives it the primary's
    template again, because the primary may have been promoted to a new revision since the last rollout.
    """
    namespace = deployment["metadata"]["namespace"]
    name = names.baseline_name(deployment["metadata"]["name"])
    if replicas == 0:
        if baseline is not None:
            scale(api, namespace=namespace, name=name, replicas=0)
        return
    if primary is None:
        raise ValueError(
            f"Deployment {namespace}/{deployment['metadata']['name']}: the baseline {name} copies the "
            f"primary's pod template, but {names.primary_name(deployment['metadata']['name'])} does not exist"
        )

    if baseline is None:
        body = baseline_body(deployment, primary=primary, replicas=replicas)
        if _create_unless_present(api, namespace=namespace, body=body):
            return
    patch = [
        {"op": "replace", "path": "/spec/template", "value": baseline_template(primary)},
        {"op": "add", "path": "/spec/replicas", "value": replicas},
    ]
    api.patch(
        kube_api.DEPLOYMENTS,
        namespace=namespace,
        name=name,
        body=patch,
        content_type=kube_api.JSON_PATCH,
        field_manager=names.FIELD_MANAGER,
    )


# Services.


def service_ports(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """Build one Service port per container port of the template, with the same number on both sides."""
    ports = []
    seen = set()
    for container in deployment["spec"]["template"]["spec"].get("containers", []):
        for port in container.get("ports", []) or []:
            number = port["containerPort"]
            protocol = port.get("protocol", "TCP")
            if (number, protocol) in seen:
                continue
            seen.add((number, protocol))
            ports.append(
                {
                    "name": port.get("name") or f"{protocol.lower()}-{number}",
                    "port": number,
                    "targetPort": number,
                    "protocol": protocol,
                }
            )
    return ports or [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]


def ensure_service(
    api: kube_api.Api,
    *,
    deployment: dict[str, Any],
    name: str,
    selector: dict[str, str],
    existing: dict[str, Any] | None,
) -> None:
    """Create the Service, or point the existing one at `selector` when it selects something else."""
    namespace = deployment["metadata"]["namespace"]
    if existing is None:
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": names.owned_labels(deployment["metadata"]["name"]),
                "ownerReferences": [names.owner_reference(deployment)],
            },
            "spec": {"selector": selector, "ports": service_ports(deployment)},
        }
        api.create(kube_api.SERVICES, namespace=namespace, body=body)
        return
    if existing.get("spec", {}).get("selector") == selector:
        return
    # A merge patch merges selector maps; replacing the map drops keys of an older selector.
    patch = [{"op": "replace", "path": "/spec/selector", "value": selector}]
    api.patch(
        kube_api.SERVICES,
        namespace=namespace,
        name=name,
        body=patch,
        content_type=kube_api.JSON_PATCH,
        field_manager=names.FIELD_MANAGER,
    )


def canary_selector(deployment: dict[str, Any], *, pod_template_hash: str | None) -> dict[str, str]:
    match = dict(deployment["spec"]["selector"].get("matchLabels") or {})
    if pod_template_hash:
        match[names.POD_TEMPLATE_HASH_LABEL] = pod_template_hash
    return match


def current_pod_template_hash(api: kube_api.Api, *, deployment: dict[str, Any]) -> str | None:
    """Find the `pod-template-hash` of the Deployment's current ReplicaSet; None before it exists."""
    metadata = deployment["metadata"]
    revision = (metadata.get("annotations") or {}).get(REVISION_ANNOTATION)
    match = deployment["spec"]["selector"].get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(match.items()))
    listing = api.list(REPLICA_SETS, namespace=metadata["namespace"], query={"labelSelector": selector})
    for replica_set in listing.get("items", []):
        rs_metadata = replica_set["metadata"]
        owners = rs_metadata.get("ownerReferences") or []
        if not any(owner.get("uid") == metadata["uid"] for owner in owners):
            continue
        if (rs_metadata.get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return (rs_metadata.get("labels") or {}).get(names.POD_TEMPLATE_HASH_LABEL)
    return None


REPLICA_SETS = kube_api.Resource("apps", "v1", "replicasets", "ReplicaSet")


# Autoscaling.


def primary_autoscaler_body(hpa: dict[str, Any], *, deployment: dict[str, Any]) -> dict[str, Any]:
    """Copy the HPA that scales the user's Deployment into one that scales the primary the same way."""
    name = deployment["metadata"]["name"]
    spec = copy.deepcopy(hpa["spec"])
    spec["scaleTargetRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.primary_name(name)}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": names.primary_name(name),
            "namespace": deployment["metadata"]["namespace"],
            "labels": names.owned_labels(name),
            "ownerReferences": [names.owner_reference(deployment)],
        },
        "spec": spec,
    }


def find_autoscaler(hpas: list[dict[str, Any]], *, namespace: str, target: str) -> dict[str, Any] | None:
    for hpa in hpas:
        ref = hpa.get("spec", {}).get("scaleTargetRef", {})
        if hpa["metadata"].get("namespace") == namespace and ref.get("kind") == "Deployment":
            if ref.get("name") == target:
                return hpa
    return None
