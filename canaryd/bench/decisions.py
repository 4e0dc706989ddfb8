"""Judges' decisions on simulated rollouts, and the fixed-schedule rollout policy of the other tools.

Layer 4 (bench tool). Each judge turns `Traces` into `Decisions`: the interval after which it
rolled back, or after which it promoted. Interval indices count 15 s scrapes from the rollout's start.
canaryd walks its own steps (`canaryd.bench.judges`); the other tools follow the fixed schedule.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from canaryd.bench import simulator

NEVER = -1


class Outcome(enum.IntEnum):
    """The way a rollout ended."""

    FAILED = 0  # the judge found the canary worse and rolled back
    INCONCLUSIVE = 1  # the hold ran out without a pass; the default policy rolled back
    PROMOTED = 2


@dataclasses.dataclass(frozen=True)
class Decisions:
    """Per-run outcome and the interval of the deciding look (rollback or promotion).

    `canary_requests` (runs, intervals) holds the canary's requests under a judge that set its own
    step weights; None means the fixed schedule of the traces.
    """

    outcome: np.ndarray
    decided_at: np.ndarray
    canary_requests: np.ndarray | None = None

    def served_canary_requests(self, traces: simulator.Traces) -> np.ndarray:
        return traces.canary_requests if self.canary_requests is None else self.canary_requests

    @classmethod
    def from_looks(cls, *, fail_looks: np.ndarray, pass_looks: np.ndarray | None = None) -> Decisions:
        """Apply the rollout policy to boolean (runs, intervals) arrays of failing and passing looks.

        The first failing look rolls back. Without a pass requirement (`pass_looks` None) a run
        that never failed promotes at the end of the schedule. With one, promotion waits for the
        first passing look at or after the end of the schedule, up to the end of the hold.
        """
        schedule_end = simulator.schedule_intervals() - 1
        last = fail_looks.shape[1] - 1
        first_fail = first_true(fail_looks)

        if pass_looks is None:
            promote_at = np.full(len(first_fail), schedule_end)
        else:
            passing = pass_looks.copy()
            passing[:, :schedule_end] = False
            promote_at = first_true(passing)

        failed = (first_fail != NEVER) & ((promote_at == NEVER) | (first_fail <= promote_at))
        promoted = ~failed & (promote_at != NEVER)
        outcome = np.select([failed, promoted], [Outcome.FAILED, Outcome.PROMOTED], Outcome.INCONCLUSIVE)
        decided_at = np.select([failed, promoted], [first_fail, promote_at], last)
        return cls(outcome=outcome.astype(int), decided_at=decided_at.astype(int))


def first_true(looks: np.ndarray) -> np.ndarray:
    """Return the index of the first True along the last axis, or NEVER."""
    any_true = looks.any(axis=-1)
    return np.where(any_true, looks.argmax(axis=-1), NEVER)


def minute_sums(values: np.ndarray) -> np.ndarray:
    """Add up 15 s intervals into whole minutes along axis 1; a trailing partial minute is dropped."""
    per_minute = int(round(60 / simulator.SCRAPE_SECONDS))
    minutes = values.shape[1] // per_minute
    trimmed = values[:, : minutes * per_minute]
    return trimmed.reshape(values.shape[0], minutes, per_minute, *values.shape[2:]).sum(axis=2)


def minute_looks_to_intervals(minute_looks: np.ndarray, intervals: int) -> np.ndarray:
    """Spread per-minute looks onto 15 s intervals: a minute's look happens at its last interval."""
    per_minute = int(round(60 / simulator.SCRAPE_SECONDS))
    looks = np.zeros((minute_looks.shape[0], intervals), dtype=bool)
    looks[:, per_minute - 1 :: per_minute][:, : minute_looks.shape[1]] = minute_looks
    return looks


def histogram_quantile(quantile: float, buckets: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Estimate a quantile from cumulative bucket counts (last axis) the way PromQL does.

    Linear interpolation inside the bucket holding the rank; a rank in the +Inf bucket returns the
    highest finite bound; no observations give NaN.
    """
    total = buckets[..., -1]
    rank = quantile * total
    index = np.argmax(buckets >= rank[..., None], axis=-1)
    upper = bounds[index]
    lower = np.where(index > 0, bounds[np.maximum(index - 1, 0)], 0.0)
    below = np.where(
        index > 0, np.take_along_axis(buckets, np.maximum(index - 1, 0)[..., None], -1)[..., 0], 0.0
    )
    inside = np.take_along_axis(buckets, index[..., None], -1)[..., 0] - below
    with np.errstate(invalid="ignore", divide="ignore"):
        value = lower + (upper - lower) * (rank - below) / inside
    value = np.where(np.isinf(upper), bounds[-2], value)
    return np.where(total > 0, value, np.nan)
