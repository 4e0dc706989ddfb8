"""Turn a `Comparison` into per-interval event counts for each SLI, dropping intervals that do not count.

Layer 1 (pure numpy). An interval counts when the canary was Ready with a non-zero share, and
its numbers are finite, non-negative and consistent (no more errors than requests). For latency
the events are requests slower than the histogram bound nearest the control's chosen quantile.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from canaryd import observations


@dataclasses.dataclass(frozen=True)
class RateCounts:
    """Per-interval events and totals of both arms, only for intervals that count.

    `dropped` counts the otherwise counted intervals left out for non-finite or inconsistent
    numbers. `bound` is the latency bucket bound in seconds, None for errors.
    """

    canary_events: np.ndarray
    canary_totals: np.ndarray
    control_events: np.ndarray
    control_totals: np.ndarray
    interval_ends: np.ndarray
    dropped: int = 0
    bound: float | None = None

    @property
    def interval_count(self) -> int:
        return len(self.canary_totals)

    @classmethod
    def empty(cls, *, dropped: int = 0) -> RateCounts:
        nothing = np.zeros(0)
        return cls(nothing, nothing, nothing, nothing, nothing, dropped=dropped)


def counted_intervals(comparison: observations.Comparison, *, warmup_seconds: float = 0.0) -> np.ndarray:
    """Mark the intervals in which the canary was Ready with a non-zero share, after its warm-up."""
    share = np.asarray(comparison.canary_share, dtype=float)
    ready = np.asarray(comparison.canary_ready, dtype=bool)
    with np.errstate(invalid="ignore"):
        serving = ready & np.isfinite(share) & (share > 0)
    return serving & after_warmup(
        np.asarray(comparison.canary.interval_ends, dtype=float), serving, warmup_seconds=warmup_seconds
    )


def after_warmup(interval_ends: np.ndarray, serving: np.ndarray, *, warmup_seconds: float) -> np.ndarray:
    """Mark the intervals that end at least `warmup_seconds` after the first serving interval ended.

    New pods are slower and fail more for their first minutes; counting those minutes would
    blame the version for the warm-up. Only the first serving interval starts the warm-up.
    """
    serving_ends = interval_ends[serving]
    if warmup_seconds <= 0 or serving_ends.size == 0:
        return np.ones(interval_ends.shape, dtype=bool)
    return interval_ends - serving_ends[0] >= warmup_seconds


def error_counts(comparison: observations.Comparison, *, warmup_seconds: float = 0.0) -> RateCounts:
    """Collect failed requests (events) and requests (totals) of both arms per counted interval."""
    counted = counted_intervals(comparison, warmup_seconds=warmup_seconds)
    columns = [
        np.asarray(comparison.canary.errors, dtype=float),
        np.asarray(comparison.canary.requests, dtype=float),
        np.asarray(comparison.control.errors, dtype=float),
        np.asarray(comparison.control.requests, dtype=float),
    ]
    return _keep_valid(columns, counted, comparison.canary.interval_ends)


def latency_counts(
    comparison: observations.Comparison, *, quantile: float, warmup_seconds: float = 0.0
) -> RateCounts | None:
    """Collect requests slower than the bound nearest the control's `quantile` (events) per interval.

    Returns None when either arm has no histogram or the two arms' bucket bounds differ.
    """
    canary, control = comparison.canary, comparison.control
    if not (canary.has_latency and control.has_latency):
        return None
    if not np.array_equal(canary.bucket_bounds, control.bucket_bounds):
        return None

    counted = counted_intervals(comparison, warmup_seconds=warmup_seconds)
    canary_buckets = np.asarray(canary.bucket_counts, dtype=float)
    control_buckets = np.asarray(control.bucket_counts, dtype=float)
    usable = counted & _finite_rows(canary_buckets) & _finite_rows(control_buckets)
    bound_index = nearest_bound_index(control_buckets[usable], np.asarray(control.bucket_bounds), quantile)
    if bound_index is None:
        return RateCounts.empty(dropped=int(np.sum(counted & ~usable)))

    # The +Inf bucket counts every request, so the events are the requests above the chosen bound.
    columns = [
        canary_buckets[:, -1] - canary_buckets[:, bound_index],
        canary_buckets[:, -1],
        control_buckets[:, -1] - control_buckets[:, bound_index],
        control_buckets[:, -1],
    ]
    counts = _keep_valid(columns, counted, canary.interval_ends)
    return dataclasses.replace(counts, bound=float(control.bucket_bounds[bound_index]))


def _finite_rows(buckets: np.ndarray) -> np.ndarray:
    if buckets.shape[1] == 0:
        return np.zeros(buckets.shape[0], dtype=bool)
    return np.all(np.isfinite(buckets), axis=1)


def nearest_bound_index(control_buckets: np.ndarray, bounds: np.ndarray, quantile: float) -> int | None:
    """Pick the finite bucket bound whose pooled control cumulative share is nearest `quantile`.

    `control_buckets` has one row per interval; returns None when the control served nothing.
    """
    finite = np.flatnonzero(np.isfinite(bounds))
    pooled = control_buckets.sum(axis=0)
    if len(finite) == 0 or pooled.size == 0 or pooled[-1] <= 0:
        return None
    shares = pooled[finite] / pooled[-1]
    return int(finite[np.argmin(np.abs(shares - quantile))])


def _keep_valid(columns: list[np.ndarray], counted: np.ndarray, interval_ends: np.ndarray) -> RateCounts:
    canary_events, canary_totals, control_events, control_totals = columns
    with np.errstate(invalid="ignore"):
        valid = np.all([np.isfinite(column) & (column >= 0) for column in columns], axis=0)
        valid &= (canary_events <= canary_totals) & (control_events <= control_totals)
    keep = counted & valid
    return RateCounts(
        canary_events=canary_events[keep],
        canary_totals=canary_totals[keep],
        control_events=control_events[keep],
        control_totals=control_totals[keep],
        interval_ends=np.asarray(interval_ends, dtype=float)[keep],
        dropped=int(np.sum(counted & ~valid)),
    )
