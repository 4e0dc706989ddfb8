"""Traffic router for Gateway API: the weights of two backendRefs of one HTTPRoute, or three with a baseline.

Layer 2. The user names an HTTPRoute and which of its backendRefs are the primary and the canary.
canaryd changes exactly those backendRefs' `weight` fields and nothing else: every other rule,
match, filter and backendRef stays as the user wrote it.

With a baseline, the router also owns a third backendRef, the baseline Service. It appends that
backendRef, a copy of the primary's with the baseline's name, to each rule that lacks it the first time
the baseline receives traffic, and later only sets its weight (0 after the rollout). A route that never
routed to a baseline keeps exactly the two weights.

How: one JSON patch (RFC 6902) with, for each backendRef to change, a `test` of its name at its
index and an `add` of its weight. The tests make the patch fail instead of writing the wrong entry
when someone reordered the list since it was read. The patch carries canaryd's field manager, so
`managedFields` shows who owns the weights. Weights are always explicit, 0 included: Gateway API
treats a missing weight as 1, which would leak traffic to a canary meant to receive none.
After the patch the router reads the route back and checks the weights it finds.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import structlog

from canaryd.kube import api as kube_api
from canaryd.routers import protocol

log = structlog.get_logger(__name__)

FIELD_MANAGER = "canaryd"
DEFAULT_BACKEND_WEIGHT = 1  # Gateway API's weight for a backendRef that sets none


@dataclasses.dataclass(frozen=True)
class BackendPosition:
    """The position of one of canaryd's backendRefs in the route: rule index, backendRef index, name."""

    rule: int
    ref: int
    name: str

    @property
    def path(self) -> str:
        return f"/spec/rules/{self.rule}/backendRefs/{self.ref}"


def _is_service_ref(ref: dict[str, Any], name: str) -> bool:
    return (
        ref.get("name") == name
        and ref.get("group", "") in ("", "core")
        and ref.get("kind", "Service") == "Service"
    )


def find_backends(
    route: dict[str, Any], *, primary: str, canary: str
) -> list[tuple[BackendPosition, BackendPosition]]:
    """Find the (primary, canary) backendRef pair in every rule that routes to either of them.

    Raises RouterError when a rule has one of the two without the other, or when no rule has them:
    canaryd would otherwise shift traffic in some rules and not in others.
    """
    where = _route_name(route)
    pairs = []
    for rule_index, rule in enumerate(route.get("spec", {}).get("rules") or []):
        refs = rule.get("backendRefs") or []
        primary_at = [i for i, ref in enumerate(refs) if _is_service_ref(ref, primary)]
        canary_at = [i for i, ref in enumerate(refs) if _is_service_ref(ref, canary)]
        if not primary_at and not canary_at:
            continue
        if len(primary_at) != 1 or len(canary_at) != 1:
            raise protocol.RouterError(
                f"HTTPRoute {where} rule {rule_index} must list Service backendRefs {primary!r} and "
                f"{canary!r} once each, found {len(primary_at)} and {len(canary_at)}: add the missing "
                f"backendRef with weight 0 or remove the duplicate"
            )
        pairs.append(
            (
                BackendPosition(rule_index, primary_at[0], primary),
                BackendPosition(rule_index, canary_at[0], canary),
            )
        )
    if not pairs:
        raise protocol.RouterError(
            f"HTTPRoute {where} has no rule with backendRefs {primary!r} and {canary!r}: add both "
            f"Services to the rule that serves the app, or fix the backend names in the annotations"
        )
    return pairs


def find_baseline(route: dict[str, Any], *, rule: int, baseline: str) -> BackendPosition | None:
    """Find the baseline's backendRef in rule `rule`, or return None when the rule has none yet."""
    refs = route["spec"]["rules"][rule].get("backendRefs") or []
    found = [i for i, ref in enumerate(refs) if _is_service_ref(ref, baseline)]
    if len(found) > 1:
        raise protocol.RouterError(
            f"HTTPRoute {_route_name(route)} rule {rule} lists Service backendRef {baseline!r} "
            f"{len(found)} times: remove the duplicates, canaryd sets the weight of one"
        )
    return BackendPosition(rule, found[0], baseline) if found else None


def weight_patch(
    pairs: list[tuple[BackendPosition, BackendPosition]], *, weight: int, baseline: int = 0
) -> list[dict[str, Any]]:
    """Build the JSON patch that sets the canary to `weight` and the primary to the rest.

    `baseline` is the share of a baseline backendRef that `baseline_patch` sets; the primary gets
    what neither the canary nor the baseline gets.
    """
    operations: list[dict[str, Any]] = []
    for primary, canary in pairs:
        for position, value in ((primary, protocol.FULL_WEIGHT - weight - baseline), (canary, weight)):
            operations.append({"op": "test", "path": f"{position.path}/name", "value": position.name})
            operations.append({"op": "add", "path": f"{position.path}/weight", "value": value})
    return operations


def baseline_patch(
    route: dict[str, Any],
    pairs: list[tuple[BackendPosition, BackendPosition]],
    *,
    baseline: str,
    weight: int,
) -> list[dict[str, Any]]:
    """Build the JSON patch that gives the baseline's backendRef `weight` in every rule of `pairs`.

    A rule without that backendRef gets a copy of the primary's backendRef renamed to `baseline`, unless
    `weight` is 0. A `test` of the rule's whole backendRefs list guards the append, so a list changed
    since `route` was read fails the patch instead of gaining a duplicate. These operations must come
    before `weight_patch`'s, whose tests would otherwise see the weights already changed.
    """
    operations: list[dict[str, Any]] = []
    for primary, _ in pairs:
        position = find_baseline(route, rule=primary.rule, baseline=baseline)
        if position is not None:
            operations.append({"op": "test", "path": f"{position.path}/name", "value": baseline})
            operations.append({"op": "add", "path": f"{position.path}/weight", "value": weight})
            continue
        if weight == 0:
            continue
        refs = route["spec"]["rules"][primary.rule]["backendRefs"]
        # NOTE: the copy keeps the primary backendRef's port. The controller's baseline Service exposes the
        # container ports, as its primary Service does, so a hand-made primary Service on other port
        # numbers needs the baseline backendRef listed in the rule with a container port.
        ref = {**copy.deepcopy(refs[primary.ref]), "name": baseline, "weight": weight}
        path = f"/spec/rules/{primary.rule}/backendRefs"
        operations.append({"op": "test", "path": path, "value": copy.deepcopy(refs)})
        operations.append({"op": "add", "path": f"{path}/-", "value": ref})
    return operations


def canary_weight(
    route: dict[str, Any],
    pairs: list[tuple[BackendPosition, BackendPosition]],
    *,
    baseline: str | None = None,
) -> int:
    """Return the canary's share in whole percent, from the first rule (all rules are checked equal).

    With `baseline`, that backendRef's weight counts in the total of each rule that lists it.
    """
    shares = {_share(route, primary, canary, baseline=baseline) for primary, canary in pairs}
    if len(shares) != 1:
        raise protocol.WeightMismatchError(
            f"HTTPRoute {_route_name(route)} splits traffic differently in different rules "
            f"(canary shares {sorted(shares)} percent): canaryd will set one split on its next write"
        )
    return shares.pop()


def _share(
    route: dict[str, Any], primary: BackendPosition, canary: BackendPosition, *, baseline: str | None
) -> int:
    primary_weight = _weight_at(route, primary)
    canary_weight_value = _weight_at(route, canary)
    total = primary_weight + canary_weight_value
    if baseline is not None:
        position = find_baseline(route, rule=primary.rule, baseline=baseline)
        total += _weight_at(route, position) if position is not None else 0
    return 0 if total == 0 else round(100 * canary_weight_value / total)


def _weight_at(route: dict[str, Any], position: BackendPosition) -> int:
    ref = route["spec"]["rules"][position.rule]["backendRefs"][position.ref]
    return int(ref.get("weight", DEFAULT_BACKEND_WEIGHT))


def _route_name(route: dict[str, Any]) -> str:
    metadata = route.get("metadata", {})
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


class GatewayRouter:
    """Splits traffic through the weights of two backendRefs of one HTTPRoute, three with a baseline.

    `baseline` names the baseline Service when the rollout runs one, and is None otherwise.
    """

    def __init__(
        self,
        *,
        api: kube_api.Api,
        namespace: str,
        route: str,
        primary: str,
        canary: str,
        baseline: str | None = None,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._route = route
        self._primary = primary
        self._canary = canary
        self._baseline = baseline

    def set_weight(self, *, weight: int, baseline: int = 0) -> None:
        """Route `weight` percent to the canary, `baseline` to the baseline, the rest to the primary."""
        protocol.check_weight(weight)
        protocol.check_weight(weight + baseline)
        if baseline and self._baseline is None:
            raise ValueError(f"cannot set baseline weight {baseline}: this router has no baseline backend")
        self._patch_weights(weight, baseline)

        # Read back: an admission webhook or another controller may have changed what was written.
        route = self._read()
        if self._baseline is None:
            self._check_weights(route, weight=weight)
        else:
            self._check_weights_with_baseline(route, weight=weight, baseline=baseline)
        fields = {} if self._baseline is None else {"baseline_weight": baseline}
        log.info("canary_weight_set", namespace=self._namespace, route=self._route, weight=weight, **fields)

    def _check_weights(self, route: dict[str, Any], *, weight: int) -> None:
        for primary, canary in find_backends(route, primary=self._primary, canary=self._canary):
            found = (_weight_at(route, primary), _weight_at(route, canary))
            if found != (protocol.FULL_WEIGHT - weight, weight):
                raise protocol.WeightMismatchError(
                    f"HTTPRoute {self._namespace}/{self._route} rule {primary.rule} has weights "
                    f"{self._primary}={found[0]} {self._canary}={found[1]} after canaryd set "
                    f"{protocol.FULL_WEIGHT - weight}/{weight}: another controller may be writing them"
                )

    def _check_weights_with_baseline(self, route: dict[str, Any], *, weight: int, baseline: int) -> None:
        assert self._baseline is not None
        expected = (protocol.FULL_WEIGHT - weight - baseline, weight, baseline)
        for primary, canary in find_backends(route, primary=self._primary, canary=self._canary):
            position = find_baseline(route, rule=primary.rule, baseline=self._baseline)
            # A rule that never routed to the baseline has no backendRef for it, which is its weight 0.
            baseline_found = _weight_at(route, position) if position is not None else 0
            found = (_weight_at(route, primary), _weight_at(route, canary), baseline_found)
            if found != expected:
                raise protocol.WeightMismatchError(
                    f"HTTPRoute {self._namespace}/{self._route} rule {primary.rule} has weights "
                    f"{self._primary}={found[0]} {self._canary}={found[1]} {self._baseline}={found[2]} "
                    f"after canaryd set {'/'.join(str(value) for value in expected)}: another controller "
                    "may be writing them"
                )

    def current_weight(self) -> int:
        route = self._read()
        pairs = find_backends(route, primary=self._primary, canary=self._canary)
        return canary_weight(route, pairs, baseline=self._baseline)

    def _patch_weights(self, weight: int, baseline: int, *, attempts: int = 3) -> None:
        # A failed `test` (the list changed since the read) returns 422; read again and rebuild the patch.
        for attempt in range(attempts):
            route = self._read()
            pairs = find_backends(route, primary=self._primary, canary=self._canary)
            patch = weight_patch(pairs, weight=weight, baseline=baseline)
            if self._baseline is not None:
                patch = baseline_patch(route, pairs, baseline=self._baseline, weight=baseline) + patch
            try:
                self._api.patch(
                    kube_api.HTTP_ROUTES,
                    namespace=self._namespace,
                    name=self._route,
                    body=patch,
                    content_type=kube_api.JSON_PATCH,
                    field_manager=FIELD_MANAGER,
                )
                return
            except kube_api.ApiException as error:
                if error.status not in (409, 422) or attempt == attempts - 1:
                    raise

    def _read(self) -> dict[str, Any]:
        route = self._api.get_or_none(kube_api.HTTP_ROUTES, namespace=self._namespace, name=self._route)
        if route is None:
            raise protocol.RouterError(
                f"HTTPRoute {self._namespace}/{self._route} not found: create it or fix the route name "
                f"in the canaryd.io/httproute annotation"
            )
        return route
