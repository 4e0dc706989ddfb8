"""The seeded traffic simulator: what Prometheus would show of a canary rollout, for many runs at once.

Layer 4 (bench tool). Every run draws its own pods, daily phase, noise and incidents from its own
PCG64 stream, so each judge replays exactly the same traces. Counts are drawn per arm and 15 s
scrape interval (binomial errors, multinomial latency buckets), never per request: requests spread
evenly over an arm's pods, so the arm's counts follow the average of its pods' rates.

The traces follow the fixed schedule, and every run is simulated for the whole schedule plus the
hold. A judge's decision then only sets how much of the trace it reads and how many bad requests
users saw before its rollback took effect. canaryd moves to the next step when its policy allows.
For it, `counts_at_weight` draws the counts of the same runs (traffic, pods, incidents, change) as
if the canary had one weight throughout, and canaryd's replay reads each step at the weight it set.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np
from scipy import special

# The default buckets of the Prometheus client libraries, in seconds.
BUCKET_BOUNDS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf])
SCRAPE_SECONDS = 15.0
STEP_WEIGHTS = (0.01, 0.05, 0.10, 0.25, 0.50)
STEP_SECONDS = 600.0
# Simulated time after the schedule, at the last step's weight, for a judge that waits there for a pass.
HOLD_SECONDS = 600.0
ROLLBACK_DELAY_SECONDS = 30.0

BASE_ERROR_RATIO = 0.005
LATENCY_MEDIAN_SECONDS = 0.05
LATENCY_SIGMA = 0.6
# p99 of the old version's latency: median * exp(sigma * z_0.99), about 0.20 s.
OLD_P99_SECONDS = LATENCY_MEDIAN_SECONDS * math.exp(LATENCY_SIGMA * 2.3263478740408408)

CONTROL_PODS = 10
MAX_CANARY_PODS = 5
POD_ERROR_SIGMA = 0.3
POD_LATENCY_SIGMA = 0.1

# A new pod's error ratio is (1 + 1.0 * exp(-age / 60 s)) times its steady value and its latency
# (1 + 0.3 * exp(-age / 60 s)) times: about 5% extra after three minutes.
WARMUP_SECONDS = 60.0
WARMUP_EXTRA_ERRORS = 1.0
WARMUP_EXTRA_LATENCY = 0.3

# Shared incidents: with this probability a run has one, 2 to 5 minutes long, adding this error
# ratio to both arms.
INCIDENT_PROBABILITY = 0.3
INCIDENT_ERROR_RATIO = 0.02
INCIDENT_MINUTES = (2, 5)

DAILY_SWING = 0.5
MINUTE_NOISE_SIGMA = 0.1


class ControlKind(enum.StrEnum):
    """The pods that serve as the control."""

    PRIMARY = "primary"  # 10 long-running, warm primary pods
    BASELINE = "baseline"  # a fresh copy of the primary at the canary's size and share, warming up too


@dataclasses.dataclass(frozen=True)
class Change:
    """The canary's difference from the control, and when it applies."""

    error_increase: float = 0.0  # added to the error ratio, for example 0.01 for +1 pp
    error_factor: float = 1.0  # multiplies the base error ratio (0.8 for a slightly better canary)
    latency_factor: float = 1.0  # multiplies every request's latency, so p99 too
    slow_share: float = 0.0  # tail-only: this share of requests is `slow_factor` times slower
    slow_factor: float = 1.0
    onset_seconds: float = 0.0  # the change starts this long after the rollout began
    # Intermittent: the change is on for the first `on_seconds` of every `period_seconds`.
    period_seconds: float = 0.0
    on_seconds: float = 0.0

    @property
    def is_regression(self) -> bool:
        worse_errors = self.error_increase > 0 or self.error_factor > 1
        return worse_errors or self.latency_factor > 1 or self.slow_share > 0

    def active(self, times: np.ndarray) -> np.ndarray:
        """Mark the interval midpoints at which the change is in effect."""
        active = times >= self.onset_seconds
        if self.period_seconds > 0:
            active &= np.mod(times - self.onset_seconds, self.period_seconds) < self.on_seconds
        return active


@dataclasses.dataclass(frozen=True)
class Traces:
    """The judges' view of `runs` rollouts of `intervals` intervals, and the truth behind it.

    Counts have shape (runs, intervals); bucket counts (runs, intervals, buckets) are cumulative
    like Prometheus' `le` buckets. The true rates are expected values the simulator used: error
    ratios, shares slower than the old p99, and shares slower than the 0.25 s bucket bound.
    """

    weights: np.ndarray
    canary_requests: np.ndarray
    canary_errors: np.ndarray
    canary_buckets: np.ndarray
    control_requests: np.ndarray
    control_errors: np.ndarray
    control_buckets: np.ndarray
    canary_error_ratio: np.ndarray
    control_error_ratio: np.ndarray
    canary_slow_share: np.ndarray
    control_slow_share: np.ndarray
    canary_bucket_slow_share: np.ndarray
    control_bucket_slow_share: np.ndarray
    request_rate: np.ndarray  # expected requests per second of the whole service
    requests: np.ndarray  # requests of the whole service, drawn per interval
    canary_cdf: np.ndarray  # (runs, intervals, buckets): share of canary requests at or below each bound
    control_cdf: np.ndarray
    control: ControlKind = ControlKind.PRIMARY

    @property
    def runs(self) -> int:
        return self.canary_requests.shape[0]

    @property
    def intervals(self) -> int:
        return self.canary_requests.shape[1]


def interval_count() -> int:
    """Count the scrape intervals of the schedule plus the hold."""
    return int(round((len(STEP_WEIGHTS) * STEP_SECONDS + HOLD_SECONDS) / SCRAPE_SECONDS))


def schedule_intervals() -> int:
    """Count the scrape intervals of the schedule without the hold: promotion comes after them."""
    return int(round(len(STEP_WEIGHTS) * STEP_SECONDS / SCRAPE_SECONDS))


def interval_midpoints() -> np.ndarray:
    return (np.arange(interval_count()) + 0.5) * SCRAPE_SECONDS


def step_weights() -> np.ndarray:
    """Return the canary weight of every interval; the hold keeps the last step's weight."""
    steps = np.minimum(interval_midpoints() // STEP_SECONDS, len(STEP_WEIGHTS) - 1).astype(int)
    return np.asarray(STEP_WEIGHTS)[steps]


def simulate(
    *, rate: float, change: Change, control: ControlKind, streams: list[np.random.Generator]
) -> Traces:
    """Simulate one rollout per generator in `streams` at a mean of `rate` requests per second."""
    times = interval_midpoints()
    weights = step_weights()
    runs = [_simulate_run(rate=rate, change=change, control=control, rng=rng, times=times) for rng in streams]
    stacked = {field: np.stack([run[field] for run in runs]) for field in runs[0]}
    return Traces(weights=weights, control=control, **stacked)


@dataclasses.dataclass(frozen=True)
class WeightCounts:
    """Counts of every run and interval (runs, intervals) with the canary at one weight throughout.

    Slow requests are those above each run's chosen bucket bound, so only that bound's counts are drawn.
    """

    canary_requests: np.ndarray
    canary_errors: np.ndarray
    canary_slow: np.ndarray
    control_requests: np.ndarray
    control_errors: np.ndarray
    control_slow: np.ndarray


def counts_at_weight(
    traces: Traces, *, weight: float, slow_bound_index: np.ndarray, rng: np.random.Generator
) -> WeightCounts:
    """Draw the counts the judge would see with the canary at `weight`, from the runs' own rates.

    The service's requests per interval are the traces' own, so only the split between the arms and
    the counts' sampling noise differ from the fixed schedule's traces.
    """
    canary_requests = rng.binomial(traces.requests, weight)
    control_requests = traces.requests - canary_requests
    if traces.control is ControlKind.BASELINE:
        control_requests = rng.binomial(control_requests, weight / (1 - weight))

    chosen = slow_bound_index[:, None, None]
    canary_fast = np.take_along_axis(traces.canary_cdf, chosen, axis=-1)[..., 0]
    control_fast = np.take_along_axis(traces.control_cdf, chosen, axis=-1)[..., 0]
    return WeightCounts(
        canary_requests=canary_requests,
        canary_errors=rng.binomial(canary_requests, traces.canary_error_ratio),
        canary_slow=rng.binomial(canary_requests, np.clip(1 - canary_fast, 0.0, 1.0)),
        control_requests=control_requests,
        control_errors=rng.binomial(control_requests, traces.control_error_ratio),
        control_slow=rng.binomial(control_requests, np.clip(1 - control_fast, 0.0, 1.0)),
    )


def _simulate_run(*, rate, change, control, rng, times) -> dict[str, np.ndarray]:
    weights = step_weights()
    request_rate = _request_rate(rate, times, rng)
    requests = rng.poisson(request_rate * SCRAPE_SECONDS)
    canary_requests = rng.binomial(requests, weights)
    control_requests = requests - canary_requests
    if control is ControlKind.BASELINE:
        # The baseline receives the canary's share; the primary serves the rest, unobserved.
        control_requests = rng.binomial(control_requests, weights / (1 - weights))

    canary_pods = int(rng.integers(1, MAX_CANARY_PODS + 1))
    control_pods = CONTROL_PODS if control is ControlKind.PRIMARY else canary_pods
    incident = _incident(times, rng)
    warmup = np.exp(-times / WARMUP_SECONDS)
    active = change.active(times)

    canary_error_multipliers = rng.lognormal(0.0, POD_ERROR_SIGMA, canary_pods)
    canary_latency_scales = rng.lognormal(0.0, POD_LATENCY_SIGMA, canary_pods)
    control_error_multipliers = rng.lognormal(0.0, POD_ERROR_SIGMA, control_pods)
    control_latency_scales = rng.lognormal(0.0, POD_LATENCY_SIGMA, control_pods)

    # Error ratios: pods' average multiplier, warm-up, the canary's change, then shared incidents.
    canary_error_ratio = (
        BASE_ERROR_RATIO * canary_error_multipliers.mean() * (1 + WARMUP_EXTRA_ERRORS * warmup)
    )
    canary_error_ratio = np.where(
        active, canary_error_ratio * change.error_factor + change.error_increase, canary_error_ratio
    )
    control_warmup = warmup if control is ControlKind.BASELINE else np.zeros_like(times)
    control_error_ratio = (
        BASE_ERROR_RATIO * control_error_multipliers.mean() * (1 + WARMUP_EXTRA_ERRORS * control_warmup)
    )
    canary_error_ratio = np.clip(canary_error_ratio + incident, 0.0, 1.0)
    control_error_ratio = np.clip(control_error_ratio + incident, 0.0, 1.0)

    # Latency: each pod's log-normal, scaled by warm-up and the change, averaged over the arm's pods.
    canary_scale = np.outer(1 + WARMUP_EXTRA_LATENCY * warmup, canary_latency_scales)
    canary_scale = np.where(active[:, None], canary_scale * change.latency_factor, canary_scale)
    slow_share = np.where(active, change.slow_share, 0.0)
    control_scale = np.outer(1 + WARMUP_EXTRA_LATENCY * control_warmup, control_latency_scales)
    no_slow = np.zeros_like(times)

    def shares_below(bounds, scale, slow):
        return _latency_cdf(bounds, scale, slow, change.slow_factor)

    canary_cdf = shares_below(BUCKET_BOUNDS, canary_scale, slow_share)
    control_cdf = shares_below(BUCKET_BOUNDS, control_scale, no_slow)
    truth_bounds = np.array([OLD_P99_SECONDS, 0.25])
    canary_truth = 1 - shares_below(truth_bounds, canary_scale, slow_share)
    control_truth = 1 - shares_below(truth_bounds, control_scale, no_slow)

    return {
        "canary_requests": canary_requests,
        "canary_errors": rng.binomial(canary_requests, canary_error_ratio),
        "canary_buckets": _draw_buckets(canary_requests, canary_cdf, rng),
        "control_requests": control_requests,
        "control_errors": rng.binomial(control_requests, control_error_ratio),
        "control_buckets": _draw_buckets(control_requests, control_cdf, rng),
        "canary_error_ratio": canary_error_ratio,
        "control_error_ratio": control_error_ratio,
        "canary_slow_share": canary_truth[:, 0],
        "control_slow_share": control_truth[:, 0],
        "canary_bucket_slow_share": canary_truth[:, 1],
        "control_bucket_slow_share": control_truth[:, 1],
        "request_rate": request_rate,
        "requests": requests,
        "canary_cdf": canary_cdf,
        "control_cdf": control_cdf,
    }


def _request_rate(rate: float, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # A slow daily sine at a random phase, times log-normal noise drawn once per minute.
    phase = rng.uniform(0, 2 * math.pi)
    daily = 1 + DAILY_SWING * np.sin(2 * math.pi * times / 86_400 + phase)
    minutes = (times // 60).astype(int)
    noise = rng.lognormal(-(MINUTE_NOISE_SIGMA**2) / 2, MINUTE_NOISE_SIGMA, minutes[-1] + 1)
    return rate * daily * noise[minutes]


def _incident(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= INCIDENT_PROBABILITY:
        rng.random(2)  # keep the stream's position independent of the outcome
        return np.zeros_like(times)
    start = rng.uniform(0, len(STEP_WEIGHTS) * STEP_SECONDS)
    length = rng.uniform(*INCIDENT_MINUTES) * 60
    return np.where((times >= start) & (times < start + length), INCIDENT_ERROR_RATIO, 0.0)


def _latency_cdf(bounds, scale, slow_share, slow_factor) -> np.ndarray:
    """Compute each interval's share of requests no slower than each bound, averaged over pods.

    `scale` has shape (intervals, pods); returns (intervals, bounds).
    """
    log_bounds = np.log(bounds)[None, None, :]
    typical = special.ndtr((log_bounds - np.log(LATENCY_MEDIAN_SECONDS * scale)[:, :, None]) / LATENCY_SIGMA)
    slowed = special.ndtr(
        (log_bounds - np.log(LATENCY_MEDIAN_SECONDS * scale * slow_factor)[:, :, None]) / LATENCY_SIGMA
    )
    slow = slow_share[:, None, None]
    return ((1 - slow) * typical + slow * slowed).mean(axis=1)


def _draw_buckets(requests: np.ndarray, cdf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    shares = np.diff(cdf, axis=-1, prepend=0.0)
    shares = np.clip(shares, 0.0, None)
    shares /= shares.sum(axis=-1, keepdims=True)
    return np.cumsum(rng.multinomial(requests, shares), axis=-1)
