"""The bench's scenarios: which service, which canary, which control, how many runs.

Layer 4 (bench tool). A/A cells measure false positives at every traffic level with both kinds of
control; regression cells measure detection and the bad requests served before rollback.
"""

from __future__ import annotations

import dataclasses

from canaryd.bench import simulator

TRAFFIC_LEVELS = (1.0, 10.0, 100.0, 1000.0)
STEP_SECONDS = simulator.STEP_SECONDS


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One cell of the bench: a service's traffic, the canary's change and the control."""

    name: str
    rate: float  # mean requests per second of the whole service
    change: simulator.Change
    control: simulator.ControlKind = simulator.ControlKind.PRIMARY
    headline: bool = False  # a cell the targets are checked on

    @property
    def is_regression(self) -> bool:
        return self.change.is_regression

    @property
    def oracle_metric(self) -> str | None:
        """Return the metric the oracle tests, or None when there is no regression to find."""
        if not self.is_regression:
            return None
        changes_errors = self.change.error_increase > 0 or self.change.error_factor > 1
        return "errors" if changes_errors else "latency"


def aa_scenarios() -> list[Scenario]:
    return [
        Scenario(
            name=f"aa_{rate:g}rps_{control.value}", rate=rate, change=simulator.Change(), control=control
        )
        for rate in TRAFFIC_LEVELS
        for control in simulator.ControlKind
    ]


def regression_scenarios() -> list[Scenario]:
    """Return the change scenarios at 100 requests/s (and two at 1 request/s), headline ones marked."""
    errors = simulator.Change
    return [
        Scenario("better_100rps", 100.0, errors(error_factor=0.8, latency_factor=0.95)),
        Scenario("errors_plus_0.2pp_100rps", 100.0, errors(error_increase=0.002)),
        Scenario("errors_plus_1pp_100rps", 100.0, errors(error_increase=0.01), headline=True),
        Scenario("errors_plus_5pp_100rps", 100.0, errors(error_increase=0.05)),
        Scenario("latency_plus_5pct_100rps", 100.0, errors(latency_factor=1.05)),
        Scenario("latency_plus_20pct_100rps", 100.0, errors(latency_factor=1.2), headline=True),
        Scenario("latency_plus_100pct_100rps", 100.0, errors(latency_factor=2.0)),
        Scenario("latency_tail_1pct_5x_100rps", 100.0, errors(slow_share=0.01, slow_factor=5.0)),
        Scenario("errors_plus_1pp_1rps", 1.0, errors(error_increase=0.01)),
        Scenario("errors_plus_5pp_1rps", 1.0, errors(error_increase=0.05)),
        Scenario(
            "errors_plus_1pp_from_25pct_100rps",
            100.0,
            errors(error_increase=0.01, onset_seconds=3 * STEP_SECONDS),
        ),
        Scenario(
            "errors_plus_1pp_intermittent_100rps",
            100.0,
            errors(error_increase=0.01, period_seconds=300.0, on_seconds=120.0),
        ),
    ]


def quick_regression_names() -> set[str]:
    """Name the regression cells the quick bench keeps: the headline ones and one of each other kind."""
    return {
        "better_100rps",
        "errors_plus_1pp_100rps",
        "errors_plus_5pp_100rps",
        "latency_plus_20pct_100rps",
        "latency_plus_100pct_100rps",
    }
