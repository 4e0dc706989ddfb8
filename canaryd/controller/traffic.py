"""The router for one Deployment's rollout, and the weight it reports to the decision core.

Layer 3 (engine). The spec names the router kind; this module builds the matching provider from
`canaryd.routers` and reads back the weight it holds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from canaryd.controller import names
from canaryd.kube import api as kube_api
from canaryd.routers import gateway, protocol, replica_ratio
from canaryd.spec import settings

KNOWN_ROUTERS = (settings.RouterKind.GATEWAY_API.value, settings.RouterKind.REPLICA_RATIO.value)


def build_router(
    api: kube_api.Api, *, spec: settings.RolloutSpec, deployment: dict[str, Any]
) -> protocol.Router:
    """Build the router the spec names; raise RouterError for a router the Kubernetes controller lacks."""
    namespace = deployment["metadata"]["namespace"]
    name = deployment["metadata"]["name"]
    kind = spec.router.kind
    if kind is settings.RouterKind.GATEWAY_API:
        return gateway.GatewayRouter(
            api=api,
            namespace=namespace,
            route=spec.router.httproute or "",
            primary=spec.router.primary_backend_name(deployment=name),
            canary=spec.router.canary_backend_name(deployment=name),
            baseline=names.baseline_name(name) if spec.analysis.baseline else None,
        )
    if kind is settings.RouterKind.REPLICA_RATIO:
        return replica_ratio.ReplicaRatioRouter(
            api=api, namespace=namespace, primary=names.primary_name(name), canary=name
        )
    raise protocol.RouterError(
        f"Deployment {namespace}/{name}: router {kind.value!r} (annotation canaryd.io/router) is not "
        f"available in the Kubernetes controller; known routers are {', '.join(KNOWN_ROUTERS)}"
    )


def set_weight(router: protocol.Router, *, canary: int, baseline: int) -> None:
    """Route `canary` percent to the canary, `baseline` to the baseline and the rest to the primary."""
    if isinstance(router, gateway.GatewayRouter):
        router.set_weight(weight=canary, baseline=baseline)
        return
    if baseline:
        # The spec rejects a baseline with any other router, so only a bug in canaryd reaches this.
        raise protocol.RouterError(
            f"cannot set baseline weight {baseline}, because only the gateway-api router routes to a baseline"
        )
    router.set_weight(weight=canary)


def achievable_weight(router: protocol.Router, *, desired: int, primary: dict[str, Any] | None) -> int:
    """Return the weight the router can reach for `desired`: the same, except for replica ratio."""
    if isinstance(router, replica_ratio.ReplicaRatioRouter) and primary is not None:
        primary_replicas = int(primary.get("spec", {}).get("replicas", 1))
        return replica_ratio.achievable_split(primary_replicas=primary_replicas, weight=desired).weight
    return desired


@dataclasses.dataclass(frozen=True)
class WeightReading:
    """A weight reading: `routed` as measured, `confirmed` as the decision core should treat it."""

    routed: int
    confirmed: int


def read_weight(
    router: protocol.Router, *, desired: int, primary: dict[str, Any] | None, canary: dict[str, Any]
) -> WeightReading:
    """Read the router's weight.

    Replica ratio reaches only some weights. When the canary has exactly the pods the router chose for
    the desired weight and they are all Ready, the router has done what it can: the core is told the
    desired weight is confirmed, and the status records the share actually routed.
    """
    routed = router.current_weight()
    # LIMITATION: the split is planned from the primary's desired replicas, but `routed` counts Ready ones.
    # A primary pod that stays unready keeps the step waiting until its deadline (goes away when the
    # confirmation accepts a primary short of Ready pods).
    if isinstance(router, replica_ratio.ReplicaRatioRouter) and primary is not None:
        primary_replicas = int(primary.get("spec", {}).get("replicas", 1))
        split = replica_ratio.achievable_split(primary_replicas=primary_replicas, weight=desired)
        canary_spec = int(canary.get("spec", {}).get("replicas", 0))
        canary_ready = int(canary.get("status", {}).get("readyReplicas") or 0)
        if (
            canary_spec == split.canary_replicas
            and canary_ready >= split.canary_replicas
            and routed == split.weight
        ):
            return WeightReading(routed=routed, confirmed=desired)
    return WeightReading(routed=routed, confirmed=routed)
