"""Collect one analysis window from a metrics source into a `canaryd.observations.Comparison`.

This is where query results are checked before the judge reads them: a missing requests series is
`NoSeries`, more than one is `SeveralSeries`, a NaN or Inf anywhere is `NotFinite`. Intervals are
kept only where every query of both arms has a value, so a gap in one series never turns into a
zero count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from canaryd import observations
from canaryd.metrics import outcomes, protocol, windows


def collect_comparison(
    *,
    source: protocol.MetricsSource,
    preset: protocol.Preset,
    canary: protocol.ArmTarget,
    control: protocol.ArmTarget,
    window: windows.Window,
) -> observations.Comparison:
    """Query both arms over `window` and return their per-interval increases.

    `canary_ready` marks the intervals where the canary had data; the caller, which has pod
    readiness and router weights, narrows it further.
    """
    source.check_window(step_seconds=window.step_seconds)
    canary_points = _query_arm(source=source, preset=preset, target=canary, window=window)
    control_points = _query_arm(source=source, preset=preset, target=control, window=window)

    # Keep the intervals both arms measured; a gap is missing data, not zero traffic.
    interval_ends = np.array(sorted(canary_points.timestamps & control_points.timestamps), dtype=float)
    if len(interval_ends) == 0:
        raise outcomes.NoSeries(
            "canary and control have no interval in common where every query returned a value",
            query=f"{canary_points.queries.requests} ; {control_points.queries.requests}",
        )
    bounds = _shared_bounds(canary_points, control_points)
    canary_series = canary_points.to_arm_series(interval_ends=interval_ends, bounds=bounds)
    control_series = control_points.to_arm_series(interval_ends=interval_ends, bounds=bounds)

    total = canary_series.requests + control_series.requests
    share = np.divide(canary_series.requests, total, out=np.zeros_like(total, dtype=float), where=total > 0)
    return observations.Comparison(
        canary=canary_series,
        control=control_series,
        canary_share=share,
        # LIMITATION: marks every interval where the canary had data as ready, not where its pods were
        # Ready (goes away when the engine overlays readiness from its Deployment cache).
        canary_ready=np.ones(len(interval_ends), dtype=bool),
    )


class _ArmPoints:
    """One arm's query results keyed by interval end, before the arms are aligned."""

    def __init__(self, *, queries: protocol.ArmQueries) -> None:
        self.queries = queries
        self.requests: dict[float, float] = {}
        self.errors: dict[float, float] = {}
        self.buckets: dict[float, dict[float, float]] = {}  # bound in seconds -> interval end -> count

    @property
    def timestamps(self) -> set[float]:
        present = set(self.requests) & set(self.errors)
        for counts in self.buckets.values():
            present &= set(counts)
        return present

    def to_arm_series(
        self, *, interval_ends: np.ndarray, bounds: list[float] | None
    ) -> observations.ArmSeries:
        requests = np.array([self.requests[end] for end in interval_ends], dtype=float)
        errors = np.array([self.errors[end] for end in interval_ends], dtype=float)
        if bounds is None:
            return observations.ArmSeries(
                interval_ends=interval_ends,
                requests=requests,
                errors=errors,
                bucket_bounds=np.zeros(0),
                bucket_counts=None,
            )
        counts = np.array(
            [[self.buckets[bound][end] for bound in bounds] for end in interval_ends], dtype=float
        ).reshape(len(interval_ends), len(bounds))
        return observations.ArmSeries(
            interval_ends=interval_ends,
            requests=requests,
            errors=errors,
            bucket_bounds=np.array(bounds, dtype=float),
            bucket_counts=counts,
        )


def _query_arm(
    *,
    source: protocol.MetricsSource,
    preset: protocol.Preset,
    target: protocol.ArmTarget,
    window: windows.Window,
) -> _ArmPoints:
    queries = preset.queries(target=target, step_seconds=window.step_seconds)
    points = _ArmPoints(queries=queries)

    points.requests = _single_series(
        source.range_query(query=queries.requests, window=window), queries.requests
    )
    points.errors = _single_series(source.range_query(query=queries.errors, window=window), queries.errors)
    if queries.latency_buckets is not None:
        result = source.range_query(query=queries.latency_buckets, window=window)
        points.buckets = _bucket_series(result, queries.latency_buckets, queries.bucket_unit_seconds)
    return points


def _single_series(result: tuple[protocol.Series, ...], query: str) -> dict[float, float]:
    if not result:
        raise outcomes.NoSeries(
            "query returned no series: the workload served no traffic in the window, or the "
            "selector or metric name matches nothing",
            query=query,
        )
    if len(result) > 1:
        raise outcomes.SeveralSeries(query=query, series_labels=[series.labels for series in result])
    return _finite_points(result[0], query)


def _bucket_series(
    result: tuple[protocol.Series, ...], query: str, unit_seconds: float
) -> dict[float, dict[float, float]]:
    """Return bound in seconds -> interval end -> cumulative count; an empty result means no histogram."""
    if not result:
        return {}
    by_bound: dict[str, list[protocol.Series]] = {}
    for series in result:
        if "le" not in series.labels:
            raise outcomes.BucketLabelMissing(
                f"latency query returned a series without the le label ({dict(series.labels)}); "
                "aggregate histogram buckets with sum by (le) (...)",
                query=query,
            )
        by_bound.setdefault(series.labels["le"], []).append(series)

    if not any(math.isinf(_parse_bound(bound, query)) for bound in by_bound):
        raise outcomes.BucketLabelMissing(
            "latency query returned no +Inf bucket, so the total count per interval is unknown",
            query=query,
        )
    buckets: dict[float, dict[float, float]] = {}
    for bound, group in by_bound.items():
        if len(group) > 1:
            raise outcomes.SeveralSeries(
                query=query,
                series_labels=[series.labels for series in group],
                expected=f"one series per le bound (le={bound})",
            )
        buckets[_parse_bound(bound, query) * unit_seconds] = _finite_points(group[0], query)
    return buckets


def _shared_bounds(canary: _ArmPoints, control: _ArmPoints) -> list[float] | None:
    """Return the bounds both arms expose, ascending, or None when either has no histogram.

    Cumulative counts at a shared bound stay exact when a new version changes its other bounds.
    """
    if not canary.buckets or not control.buckets:
        return None
    return sorted(set(canary.buckets) & set(control.buckets))


def _finite_points(series: protocol.Series, query: str) -> dict[float, float]:
    for timestamp, value in zip(series.timestamps, series.values, strict=True):
        if not math.isfinite(value):
            raise outcomes.NotFinite(
                f"query returned {value} at {timestamp:.3f} for series {_labels(series.labels)}; "
                "the judge needs finite counts",
                query=query,
                value=float(value),
                timestamp=float(timestamp),
            )
    return dict(zip(series.timestamps.tolist(), series.values.tolist(), strict=True))


def _parse_bound(text: str, query: str) -> float:
    try:
        return float(text)
    except ValueError as error:
        raise outcomes.BucketLabelMissing(
            f"latency query returned le={text!r}, which is not a number", query=query
        ) from error


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{name}={value!r}" for name, value in sorted(labels.items())) + "}"
