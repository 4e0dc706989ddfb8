"""Traffic routers, one module per provider, chosen by name.

Layer 2. `KUBERNETES_ROUTERS` lists the routers the Kubernetes controller can use; the HAProxy router
(haproxy.py) serves the standalone mode and is built there from its config file.
"""

from __future__ import annotations

KUBERNETES_ROUTERS = ("gateway", "replica-ratio")


class UnknownRouterError(ValueError):
    """A rollout names a router canaryd does not have."""


def check_router_name(name: str, *, known: tuple[str, ...] = KUBERNETES_ROUTERS) -> None:
    """Raise UnknownRouterError naming the known routers unless `name` is one of them."""
    if name not in known:
        raise UnknownRouterError(
            f"unknown traffic router {name!r}: known routers are {', '.join(known)}; "
            f"set the canaryd.io/router annotation to one of them"
        )
