"""Names, labels and the revision hash the controller gives the objects it manages.

Layer 3 (engine). For a user's Deployment `web`, canaryd owns `web-primary` (the Deployment serving
the stable version), the Services `web-primary` and `web-canary`, an HPA copy `web-primary` when the
user's Deployment is autoscaled, and the CanaryRollout records `web-<attempt>`. With
`canaryd.io/baseline: "true"` it also owns the baseline Deployment and Service `web-baseline`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

FIELD_MANAGER = "canaryd"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "canaryd"
DEPLOYMENT_LABEL = "canaryd.io/deployment"  # on every object canaryd creates for a Deployment
ATTEMPT_LABEL = "canaryd.io/attempt"  # on CanaryRollouts
TRACK_LABEL = "canaryd.io/track"  # on the primary's and baseline's pods, so each Service selects its own
PRIMARY_TRACK = "primary"
BASELINE_TRACK = "baseline"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"  # set by the Deployment controller on each ReplicaSet's pods
COMMAND_ANNOTATION = "canaryd.io/command"

# Labels that canaryd or Kubernetes add to a pod template; the revision hash ignores them, so that the
# primary and the canary have the same revision exactly when they run the user's same template.
_ADDED_LABELS = (TRACK_LABEL, POD_TEMPLATE_HASH_LABEL)


def primary_name(deployment: str) -> str:
    return f"{deployment}-primary"


def canary_service_name(deployment: str) -> str:
    return f"{deployment}-canary"


def baseline_name(deployment: str) -> str:
    """Name the baseline Deployment and its Service."""
    return f"{deployment}-baseline"


def rollout_name(deployment: str, attempt: int) -> str:
    return f"{deployment}-{attempt}"


def revision_of(template: dict[str, Any]) -> str:
    """Hash a pod template, ignoring the labels canaryd and Kubernetes add, into 10 hex digits."""
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    for label in _ADDED_LABELS:
        labels.pop(label, None)
    canonical = {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()[:10]


def owned_labels(deployment: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, DEPLOYMENT_LABEL: deployment}


def owner_reference(deployment: dict[str, Any]) -> dict[str, Any]:
    """Build an ownerReference to the user's Deployment, so deleting it deletes what canaryd made for it."""
    metadata = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": False,
        "blockOwnerDeletion": False,
    }
