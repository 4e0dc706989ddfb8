"""Kubernetes objects and waits shared by the controller chaos tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import kubernetes
import urllib3

from canaryd.controller import names

T = TypeVar("T")
# Statuses a restarting API server responds with (0: the client got no response at all).
TRANSIENT_STATUSES = (0, 429, 500, 502, 503, 504)


def deployment(
    name: str, *, image: str, annotations: dict[str, str], replicas: int = 2, **extra: object
) -> dict:
    """An annotated Deployment whose pods kwok marks Ready; `extra` adds labels or container env."""
    labels = {"app": name, **extra.get("labels", {})}  # type: ignore[dict-item]
    container = {"name": "app", "image": image, "env": extra.get("env", [])}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def set_image(api_client: kubernetes.client.ApiClient, *, namespace: str, name: str, image: str) -> None:
    """Change the Deployment's pod template, as `kubectl set image` does: a new revision."""
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    kubernetes.client.AppsV1Api(api_client).patch_namespaced_deployment(name, namespace, patch)


def read_deployment(api_client: kubernetes.client.ApiClient, *, namespace: str, name: str) -> dict | None:
    try:
        found = kubernetes.client.AppsV1Api(api_client).read_namespaced_deployment(name, namespace)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return api_client.sanitize_for_serialization(found)


def events(api_client: kubernetes.client.ApiClient, *, namespace: str) -> list[dict]:
    found = kubernetes.client.CoreV1Api(api_client).list_namespaced_event(namespace)
    return [api_client.sanitize_for_serialization(item) for item in found.items]


def rollouts(api_client: kubernetes.client.ApiClient, *, namespace: str, deployment: str) -> list[dict]:
    """The CanaryRollout objects of one Deployment, by attempt (attempt 0 is the bootstrap record)."""
    found = kubernetes.client.CustomObjectsApi(api_client).list_namespaced_custom_object(
        "canaryd.io",
        "v1alpha1",
        namespace,
        "canaryrollouts",
        label_selector=f"{names.DEPLOYMENT_LABEL}={deployment}",
    )
    return sorted(
        found["items"], key=lambda item: int(item["metadata"]["labels"].get(names.ATTEMPT_LABEL, 0))
    )


def latest_status(api_client: kubernetes.client.ApiClient, *, namespace: str, deployment: str) -> dict:
    """The status of the Deployment's latest CanaryRollout, or {} when it has none yet."""
    found = rollouts(api_client, namespace=namespace, deployment=deployment)
    return (found[-1].get("status") or {}) if found else {}


def latest_status_or_none(
    api_client: kubernetes.client.ApiClient, *, namespace: str, deployment: str
) -> dict | None:
    """Like `latest_status`, but None while the API server cannot be reached or is not ready yet."""
    try:
        return latest_status(api_client, namespace=namespace, deployment=deployment)
    except kubernetes.client.ApiException as error:
        if error.status in TRANSIENT_STATUSES:
            return None
        raise
    except urllib3.exceptions.HTTPError:
        return None


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    message: str,
    interval: float = 0.5,
    describe: Callable[[], object] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy; fail with `message` after `timeout` seconds.

    `describe`, when given, adds the state it returns to the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            state = f"; state: {describe()}" if describe is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}{state}")
        time.sleep(interval)
