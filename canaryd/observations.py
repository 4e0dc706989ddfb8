"""Per-arm counts per scrape interval, passed from the metrics sources to the judge.

This module sits at the bottom of canaryd's layers, beside `canaryd.verdicts`. It imports nothing
from the package, so the metrics sources (which fill it) and the judge (which reads it) depend on it
and not on each other.

Every number is an increase over one interval, the way Prometheus' `increase()` would report it,
not a cumulative counter and not a ratio: the judge needs counts to weigh the evidence.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np


class Arm(enum.StrEnum):
    """One side of the comparison."""

    CANARY = "canary"
    CONTROL = "control"


@dataclasses.dataclass(frozen=True)
class ArmSeries:
    """Per-interval request, error and latency-bucket increases of one arm.

    `interval_ends` are Unix seconds, ascending; every other array has one row per interval.
    `bucket_bounds` are the histogram's `le` upper bounds in seconds, ascending, ending with +Inf;
    `bucket_counts[i, j]` is the cumulative count of requests of interval i no slower than
    `bucket_bounds[j]`, as Prometheus histograms expose it. A series without a latency histogram
    has zero bounds and a (n, 0) array.
    """

    interval_ends: np.ndarray
    requests: np.ndarray
    errors: np.ndarray
    bucket_bounds: np.ndarray = dataclasses.field(default_factory=lambda: np.array([math.inf]))
    bucket_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.interval_ends)
        if len(self.requests) != count or len(self.errors) != count:
            raise ValueError(
                f"ArmSeries arrays differ in length: {count} interval ends, "
                f"{len(self.requests)} request counts, {len(self.errors)} error counts"
            )
        if self.bucket_counts is not None and self.bucket_counts.shape != (count, len(self.bucket_bounds)):
            raise ValueError(
                f"ArmSeries bucket_counts has shape {self.bucket_counts.shape}, "
                f"expected ({count}, {len(self.bucket_bounds)}) for {count} intervals"
            )

    @property
    def interval_count(self) -> int:
        return len(self.interval_ends)

    @property
    def has_latency(self) -> bool:
        return self.bucket_counts is not None and len(self.bucket_bounds) > 0

    @classmethod
    def empty(cls) -> ArmSeries:
        return cls(interval_ends=np.zeros(0), requests=np.zeros(0), errors=np.zeros(0))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Canary and control series over the same intervals, plus the canary's realized traffic share.

    `canary_share[i]` is the fraction (0..1) of interval i's requests that the router sent to the
    canary. `canary_ready[i]` is true when the canary had Ready pods and a non-zero weight for the
    whole interval. The judge ignores intervals where either is false or zero.
    """

    canary: ArmSeries
    control: ArmSeries
    canary_share: np.ndarray
    canary_ready: np.ndarray

    @property
    def interval_count(self) -> int:
        return self.canary.interval_count
