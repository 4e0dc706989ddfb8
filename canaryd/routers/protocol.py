"""The traffic router seam: what the rollout engines need from anything that splits traffic.

Layer 2. A router sends `weight` percent of new requests to the canary and the rest to the primary.
Each provider lives in its own module (gateway.py, replica_ratio.py, haproxy.py) and is built for one
rollout target; the engines see only this Protocol.

`set_weight` returns once the router holds the new split, verified by reading it back. A router
that cannot reach the requested split exactly (replica ratio: a share of whole pods) sets the
closest it can, and `current_weight` reports what it reached, which the controller records as the
actual weight next to the desired one.
"""

from __future__ import annotations

from typing import Protocol

FULL_WEIGHT = 100  # weights are whole percent; primary + canary is always this after a change


class RouterError(Exception):
    """A router could not read or change the split; the message names the object and the fix."""


class WeightMismatchError(RouterError):
    """The split read back after a change differs from the one just written."""


class Router(Protocol):
    """Splits new requests between the primary and the canary."""

    def set_weight(self, *, weight: int) -> None:
        """Route `weight` percent (0..100) to the canary and the rest to the primary, then verify."""
        ...

    def current_weight(self) -> int:
        """Return the canary's share of new requests in whole percent, as the router holds it now."""
        ...


def check_weight(weight: int) -> None:
    if not 0 <= weight <= FULL_WEIGHT:
        raise ValueError(f"canary weight {weight} is out of range: allowed are 0..{FULL_WEIGHT} percent")
