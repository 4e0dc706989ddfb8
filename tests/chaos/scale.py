"""How much fault injection a chaos run does: a bounded, seeded form for CI, or the full form.

Set `CANARYD_CHAOS_SCALE=full` for the full form; anything else (or nothing) runs the bounded form,
which keeps `pytest -m chaos` to a few minutes on a two-core machine. `CANARYD_CHAOS_SEED` changes the
seed of every generator, so a failure found with one seed can be replayed with the same value.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Scale:
    """How many cases each chaos test generates or injects."""

    name: str
    annotation_sets: int
    config_files: int
    promql_templates: int
    outage_cycles: int
    restart_rollouts: int


BOUNDED = Scale(
    name="bounded",
    annotation_sets=10_000,
    config_files=2_000,
    promql_templates=1_500,
    outage_cycles=1,
    restart_rollouts=6,
)
FULL = Scale(
    name="full",
    annotation_sets=100_000,
    config_files=20_000,
    promql_templates=10_000,
    outage_cycles=6,
    restart_rollouts=200,
)


def current() -> Scale:
    """Return the scale chosen by CANARYD_CHAOS_SCALE."""
    return FULL if os.environ.get("CANARYD_CHAOS_SCALE", "").strip().lower() == "full" else BOUNDED


def seed() -> int:
    """Return the base seed, CANARYD_CHAOS_SEED or 9 by default."""
    return int(os.environ.get("CANARYD_CHAOS_SEED", "9"))
