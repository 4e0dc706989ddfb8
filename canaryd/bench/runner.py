"""Run every judge over every scenario, in chunks of runs, and keep per-run records.

Layer 4 (bench tool). Traces are simulated once per chunk and replayed by every judge at every
knob value of its calibration grid, so defaults and calibrated settings see the same rollouts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from canaryd.bench import baselines, decisions, judges, scenarios, simulator
from canaryd.spec import settings as spec_settings

CHUNK_RUNS = 500
# A bad canary that was promoted keeps serving everyone for this long before someone notices.
POST_PROMOTION_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class Knob:
    """The one setting a judge is calibrated on, with its default and the values tried."""

    name: str
    default: float
    grid: tuple[float, ...]
    sensitive_first: tuple[float, ...]  # the grid ordered from most to least sensitive


def _ascending(name: str, default: float, grid: tuple[float, ...]) -> Knob:
    return Knob(name=name, default=default, grid=grid, sensitive_first=tuple(sorted(grid)))


SCALE_GRID = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
CONFIDENCE_GRID = (0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)
CANARYD_KNOB = _ascending("tolerance_scale", 1.0, (0.5, 0.75, 1.0, 1.5, 2.0))
# canaryd's two step-advance modes are two judges here: the same judge, walking the steps differently.
CANARYD_MODES = {
    "canaryd (evidence)": spec_settings.StepAdvance.EVIDENCE,
    "canaryd (no-failure)": spec_settings.StepAdvance.NO_FAILURE,
}
CANARYD_DEFAULT = "canaryd (evidence)"
KNOBS: dict[str, Knob | None] = {
    **{name: CANARYD_KNOB for name in CANARYD_MODES},
    "flagger": _ascending("threshold_scale", 1.0, SCALE_GRID),
    "argo": _ascending("threshold_scale", 1.0, SCALE_GRID),
    "kayenta_60m": _ascending("confidence", baselines.KAYENTA_CONFIDENCE, CONFIDENCE_GRID),
    "kayenta_10m": _ascending("confidence", baselines.KAYENTA_CONFIDENCE, CONFIDENCE_GRID),
    "oracle": None,
}
BASELINES = ("flagger", "argo", "kayenta_60m", "kayenta_10m")


@dataclasses.dataclass
class Records:
    """Per-run results of one judge at one knob value in one scenario."""

    outcome: list[np.ndarray] = dataclasses.field(default_factory=list)
    decided_at: list[np.ndarray] = dataclasses.field(default_factory=list)
    requests_to_decide: list[np.ndarray] = dataclasses.field(default_factory=list)
    excess_bad_requests: list[np.ndarray] = dataclasses.field(default_factory=list)

    def add(self, decided: decisions.Decisions, traces: simulator.Traces) -> None:
        self.outcome.append(decided.outcome)
        self.decided_at.append(decided.decided_at)
        served = np.cumsum(decided.served_canary_requests(traces), axis=1)
        self.requests_to_decide.append(np.take_along_axis(served, decided.decided_at[:, None], 1)[:, 0])
        self.excess_bad_requests.append(excess_bad_requests(decided, traces))

    def array(self, field: str) -> np.ndarray:
        return np.concatenate(getattr(self, field)) if getattr(self, field) else np.zeros(0)


def excess_bad_requests(decided: decisions.Decisions, traces: simulator.Traces) -> np.ndarray:
    """Compute the expected bad requests the canary caused before its rollback took effect.

    Bad means failed, or slower than the old p99, beyond what the control would have served.
    A promoted canary serves all traffic for POST_PROMOTION_SECONDS afterwards.
    """
    extra_share = (traces.canary_error_ratio - traces.control_error_ratio) + (
        traces.canary_slow_share - traces.control_slow_share
    )
    delay = int(round(simulator.ROLLBACK_DELAY_SECONDS / simulator.SCRAPE_SECONDS))
    promoted = decided.outcome == decisions.Outcome.PROMOTED
    last_served = np.where(promoted, decided.decided_at, decided.decided_at + delay)
    last_served = np.minimum(last_served, traces.intervals - 1)
    served_mask = np.arange(traces.intervals)[None, :] <= last_served[:, None]
    during = np.sum(decided.served_canary_requests(traces) * extra_share * served_mask, axis=1)

    after = traces.request_rate.mean(axis=1) * POST_PROMOTION_SECONDS * extra_share.mean(axis=1)
    return during + np.where(promoted, after, 0.0)


def run_scenario(
    scenario: scenarios.Scenario,
    *,
    runs: int,
    seed: int,
    index: int,
    progress: Callable[[str], None] | None = None,
) -> dict[tuple[str, float | None], Records]:
    """Simulate `runs` rollouts of `scenario` and record every judge at every knob value."""
    children = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(runs)
    records: dict[tuple[str, float | None], Records] = {}
    for start in range(0, runs, CHUNK_RUNS):
        streams = [
            np.random.Generator(np.random.PCG64(child)) for child in children[start : start + CHUNK_RUNS]
        ]
        traces = simulator.simulate(
            rate=scenario.rate, change=scenario.change, control=scenario.control, streams=streams
        )
        # canaryd's counts at each step weight get their own stream per chunk, apart from the traces'.
        step_rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, start, 1)))
        )
        for key, decided in _decide_all(scenario, traces, step_rng=step_rng):
            records.setdefault(key, Records()).add(decided, traces)
        if progress:
            progress(f"{scenario.name}: {min(start + CHUNK_RUNS, runs)}/{runs} runs")
    return records


def _decide_all(scenario: scenarios.Scenario, traces: simulator.Traces, *, step_rng: np.random.Generator):
    quantile = judges.canaryd_settings().latency_quantile
    step_counts = judges.draw_step_counts(traces, rng=step_rng, quantile=quantile)
    for name, step_advance in CANARYD_MODES.items():
        for scale in CANARYD_KNOB.grid:
            settings = judges.canaryd_settings(tolerance_scale=scale)
            decided = judges.decide_canaryd(
                traces, settings=settings, step_advance=step_advance, step_counts=step_counts
            )
            yield (name, scale), decided
    for scale in SCALE_GRID:
        yield ("flagger", scale), baselines.decide_flagger(traces, threshold_scale=scale)
        yield ("argo", scale), baselines.decide_argo(traces, threshold_scale=scale)
    for name, minutes in (("kayenta_60m", 60), ("kayenta_10m", 10)):
        p_values = baselines.kayenta_p_values(traces, interval_minutes=minutes)
        for confidence in CONFIDENCE_GRID:
            decided = baselines.decide_kayenta(
                traces, interval_minutes=minutes, confidence=confidence, p_values=p_values
            )
            yield (name, confidence), decided
    if scenario.oracle_metric:
        yield ("oracle", None), baselines.decide_oracle(traces, metric=scenario.oracle_metric)
