"""The analysis window: which intervals are queried, and whether they are long enough to measure.

An interval (the range query's step) is also the range of `increase()`. Prometheus needs at least
two samples in a range to compute an increase and extrapolates from them to the range's edges, so
a range covering only one or two scrapes gives missing or noisy numbers. The common guidance is a
range of at least four scrape intervals; `check_window` enforces a configurable minimum and
reports a shorter window as a configuration error, not as a failing application.
"""

from __future__ import annotations

import dataclasses
import math

from canaryd.metrics import outcomes

DEFAULT_MIN_SCRAPES_PER_INTERVAL = 4


@dataclasses.dataclass(frozen=True)
class Window:
    """Intervals of `step_seconds` ending at `start + step`, `start + 2 * step`, ... up to `end`.

    `start` and `end` are Unix seconds. Prometheus evaluates a range query at those interval ends,
    and each value is the increase over the `step_seconds` before it.
    """

    start: float
    end: float
    step_seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.step_seconds) and self.step_seconds > 0):
            raise ValueError(f"Window step_seconds must be positive, got {self.step_seconds!r}")
        if self.end < self.start + self.step_seconds:
            raise ValueError(
                f"Window from {self.start} to {self.end} is shorter than one step of "
                f"{self.step_seconds} s; widen the window or shorten the step"
            )

    @property
    def first_interval_end(self) -> float:
        return self.start + self.step_seconds

    @property
    def interval_count(self) -> int:
        return int((self.end - self.start) // self.step_seconds)


def check_window(
    *,
    step_seconds: float,
    scrape_interval_seconds: float,
    min_scrapes_per_interval: int = DEFAULT_MIN_SCRAPES_PER_INTERVAL,
) -> None:
    """Raise `WindowTooShort` unless one analysis interval spans enough scrapes.

    The message names both durations and the smallest interval that would be accepted.
    """
    if scrape_interval_seconds <= 0:
        raise outcomes.WindowTooShort(
            f"scrape interval must be positive, got {scrape_interval_seconds} s; set the metrics "
            "source's scrape_interval_seconds to Prometheus' scrape interval for these targets"
        )
    needed = min_scrapes_per_interval * scrape_interval_seconds
    if step_seconds < needed:
        raise outcomes.WindowTooShort(
            f"analysis interval of {step_seconds:g} s covers fewer than {min_scrapes_per_interval} "
            f"scrapes at a scrape interval of {scrape_interval_seconds:g} s; increase() needs "
            f"several samples per range, so set the interval to at least {needed:g} s"
        )
