"""Traffic router for clusters with no mesh: the canary's share is its share of Ready pods.

Layer 2. A Service that selects both the primary's and the canary's pods spreads new connections
about evenly over Ready endpoints, so the canary's share of traffic is its share of Ready pods. The
router never scales the primary (its replicas belong to the user or a HorizontalPodAutoscaler, and
shrinking it would cut serving capacity); it scales the canary to the number of pods that comes
closest to the requested weight next to the primary's current replicas.

Whole pods make only some weights reachable: with 4 primary pods the smallest non-zero share is
1 of 5 pods, 20%. The router sets the closest reachable split, logs a warning when it differs from
the request, and `current_weight` reports the share of Ready pods, which the controller records as
the actual weight.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import structlog

from canaryd.kube import api as kube_api
from canaryd.routers import protocol

log = structlog.get_logger(__name__)

FIELD_MANAGER = "canaryd"


@dataclasses.dataclass(frozen=True)
class Split:
    """Canary replicas for a requested weight, and the weight they achieve next to the primary."""

    canary_replicas: int
    weight: int  # achieved canary share in whole percent


def achievable_split(*, primary_replicas: int, weight: int) -> Split:
    """Choose the canary replicas whose share of all pods comes closest to `weight` percent.

    A non-zero weight gets at least one canary pod (no canary pod would route nothing and judge
    nothing); the canary never gets more pods than the primary has, so 50% is the largest share.
    """
    protocol.check_weight(weight)
    if weight == 0 or primary_replicas <= 0:
        # With no primary pods every request reaches the canary, whatever its size.
        canary = 0 if weight == 0 else 1
        return Split(
            canary_replicas=canary, weight=share(primary_replicas=primary_replicas, canary_replicas=canary)
        )

    if weight >= protocol.FULL_WEIGHT:
        canary = primary_replicas
    else:
        # k / (n + k) = w  <=>  k = n * w / (1 - w)
        exact = primary_replicas * weight / (protocol.FULL_WEIGHT - weight)
        canary = max(1, min(primary_replicas, _closest(primary_replicas, exact, weight)))
    return Split(
        canary_replicas=canary, weight=share(primary_replicas=primary_replicas, canary_replicas=canary)
    )


def _closest(primary_replicas: int, exact: float, weight: int) -> int:
    # Rounding k is not always closest in share; compare the two neighbours' shares directly.
    low, high = int(exact), int(exact) + 1
    low_error = abs(share(primary_replicas=primary_replicas, canary_replicas=low) - weight)
    high_error = abs(share(primary_replicas=primary_replicas, canary_replicas=high) - weight)
    return low if low_error <= high_error else high


def share(*, primary_replicas: int, canary_replicas: int) -> int:
    """Return the canary's share of all pods in whole percent (0 when there are none)."""
    total = primary_replicas + canary_replicas
    return 0 if total <= 0 else round(protocol.FULL_WEIGHT * canary_replicas / total)


class ReplicaRatioRouter:
    """Splits traffic by scaling the canary Deployment next to the primary's replicas."""

    def __init__(self, *, api: kube_api.Api, namespace: str, primary: str, canary: str) -> None:
        self._api = api
        self._namespace = namespace
        self._primary = primary  # Deployment names
        self._canary = canary

    def set_weight(self, *, weight: int) -> None:
        primary = self._read(self._primary)
        primary_replicas = int(primary.get("spec", {}).get("replicas", 1))
        split = achievable_split(primary_replicas=primary_replicas, weight=weight)
        self._api.patch(
            kube_api.DEPLOYMENTS,
            namespace=self._namespace,
            name=self._canary,
            body={"spec": {"replicas": split.canary_replicas}},
            field_manager=FIELD_MANAGER,
        )

        held = self._read(self._canary).get("spec", {}).get("replicas")
        if held != split.canary_replicas:
            raise protocol.WeightMismatchError(
                f"Deployment {self._namespace}/{self._canary} has {held} replicas after canaryd set "
                f"{split.canary_replicas}: another controller (an autoscaler?) is scaling it"
            )
        if split.weight != weight:
            log.warning(
                "canary_weight_approximated",
                namespace=self._namespace,
                rollout=self._canary,
                weight=weight,
                actual_weight=split.weight,
                primary_replicas=primary_replicas,
                canary_replicas=split.canary_replicas,
            )
        log.info("canary_weight_set", namespace=self._namespace, rollout=self._canary, weight=split.weight)

    def current_weight(self) -> int:
        ready = [
            int(self._read(name).get("status", {}).get("readyReplicas") or 0)
            for name in (self._primary, self._canary)
        ]
        return share(primary_replicas=ready[0], canary_replicas=ready[1])

    def _read(self, name: str) -> dict[str, Any]:
        deployment = self._api.get_or_none(kube_api.DEPLOYMENTS, namespace=self._namespace, name=name)
        if deployment is None:
            raise protocol.RouterError(
                f"Deployment {self._namespace}/{name} not found: the replica-ratio router needs both the "
                f"primary and the canary Deployment"
            )
        return deployment
