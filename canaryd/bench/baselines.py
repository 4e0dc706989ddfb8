"""Re-implementations of other tools' documented analysis methods, and the oracle bound.

Layer 4 (bench tool). Each function reads the same `Traces` as canaryd's judge and returns
`Decisions`. They follow the methods as the tools' documentation describes them, with the defaults
the bench compares against. Each has one knob, so the bench can calibrate every method to the
same false-positive rate.

- Flagger: a check every minute on the canary alone, passing with a success rate of at least
  99% and a p99 of at most 500 ms. No data counts as a failed check. Rollback comes once 5
  checks failed in total.
- Argo Rollouts: a measurement every minute (canary error ratio at most 1%); a measurement with
  no data evaluates NaN <= 0.01, which is false, so it fails; rollback once more than 2 failed.
- Kayenta: at the end of every analysis interval, a Mann-Whitney U test of per-minute canary
  points against per-minute control points since the rollout began, for the error ratio
  (critical) and p99; a metric is "High" when the test rejects at the configured confidence and
  the canary's median is higher. A critical High scores 0; otherwise the score is the share of
  metrics not High. Below the marginal score (75) rolls back at once; the last interval must
  score at least the pass score (95) to promote. A metric without data is left out of the score,
  and an interval without any scores 100.
- Oracle: Wald's sequential probability ratio test on the canary's own counts, knowing the true
  control rate (H0) and the true canary rate (H1) of every interval.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from canaryd.bench import decisions, simulator

FLAGGER_MIN_SUCCESS = 0.99
FLAGGER_MAX_P99_SECONDS = 0.5
FLAGGER_FAILED_CHECKS = 5
ARGO_MAX_ERROR_RATIO = 0.01
ARGO_FAILURE_LIMIT = 2
KAYENTA_CONFIDENCE = 0.98
KAYENTA_PASS_SCORE = 95
KAYENTA_MARGINAL_SCORE = 75
ORACLE_ALPHA = 0.01
ORACLE_BETA = 0.05


def decide_flagger(traces: simulator.Traces, *, threshold_scale: float = 1.0) -> decisions.Decisions:
    """Count failed 1-minute checks of success rate and p99; `threshold_scale` widens both limits."""
    requests = decisions.minute_sums(traces.canary_requests)
    errors = decisions.minute_sums(traces.canary_errors)
    buckets = decisions.minute_sums(traces.canary_buckets)
    p99 = decisions.histogram_quantile(0.99, buckets.astype(float), simulator.BUCKET_BOUNDS)

    max_error_ratio = (1 - FLAGGER_MIN_SUCCESS) * threshold_scale
    with np.errstate(invalid="ignore", divide="ignore"):
        error_ratio = errors / requests
    no_data = requests == 0
    failed = no_data | (error_ratio > max_error_ratio) | (p99 > FLAGGER_MAX_P99_SECONDS * threshold_scale)
    failed_so_far = np.cumsum(failed, axis=1)
    minute_fail_looks = failed_so_far >= FLAGGER_FAILED_CHECKS
    return _decisions_from_minutes(traces, minute_fail_looks)


def decide_argo(traces: simulator.Traces, *, threshold_scale: float = 1.0) -> decisions.Decisions:
    """Count failed 1-minute error-ratio measurements; `threshold_scale` widens the limit."""
    requests = decisions.minute_sums(traces.canary_requests)
    errors = decisions.minute_sums(traces.canary_errors)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_ratio = errors / requests

    # NaN <= limit is false, so a minute without canary requests fails like a breach.
    passed = error_ratio <= ARGO_MAX_ERROR_RATIO * threshold_scale
    failed_so_far = np.cumsum(~passed, axis=1)
    return _decisions_from_minutes(traces, failed_so_far > ARGO_FAILURE_LIMIT)


def _decisions_from_minutes(traces: simulator.Traces, minute_fail_looks: np.ndarray) -> decisions.Decisions:
    fail_looks = decisions.minute_looks_to_intervals(minute_fail_looks, traces.intervals)
    fail_looks[:, simulator.schedule_intervals() :] = False
    return decisions.Decisions.from_looks(fail_looks=fail_looks)


def kayenta_p_values(traces: simulator.Traces, *, interval_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Compute one-sided Mann-Whitney p-values for errors and p99 at each analysis interval's end.

    Returns (analysis interval indices, p-values of shape (runs, analyses, 2)), where a small
    p-value means the canary's per-minute values are higher. A metric without data gets NaN.
    """
    schedule_minutes = int(simulator.schedule_intervals() * simulator.SCRAPE_SECONDS // 60)
    ends = list(range(interval_minutes, schedule_minutes, interval_minutes)) + [schedule_minutes]
    points = _kayenta_points(traces)
    p_values = np.full((traces.runs, len(ends), 2), np.nan)
    for analysis, end in enumerate(ends):
        for metric, (canary, control) in enumerate(points):
            p_values[:, analysis, metric] = _mann_whitney_greater(canary[:, :end], control[:, :end])
    per_minute = int(round(60 / simulator.SCRAPE_SECONDS))
    return np.array(ends) * per_minute - 1, p_values


def _kayenta_points(traces: simulator.Traces):
    bounds = simulator.BUCKET_BOUNDS
    points = []
    for errors_of, requests_of, buckets_of in (
        (traces.canary_errors, traces.canary_requests, traces.canary_buckets),
        (traces.control_errors, traces.control_requests, traces.control_buckets),
    ):
        requests = decisions.minute_sums(requests_of).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            error_ratio = decisions.minute_sums(errors_of) / requests
        p99 = decisions.histogram_quantile(0.99, decisions.minute_sums(buckets_of).astype(float), bounds)
        points.append((error_ratio, p99))
    (canary_errors, canary_p99), (control_errors, control_p99) = points
    return [(canary_errors, control_errors), (canary_p99, control_p99)]


def _mann_whitney_greater(canary: np.ndarray, control: np.ndarray) -> np.ndarray:
    # Runs with complete data go through scipy at once; runs with gaps one at a time.
    complete = np.isfinite(canary).all(axis=1) & np.isfinite(control).all(axis=1)
    p_values = np.full(canary.shape[0], np.nan)
    if complete.any():
        result = stats.mannwhitneyu(
            canary[complete], control[complete], alternative="greater", axis=1, method="asymptotic"
        )
        p_values[complete] = result.pvalue
    for run in np.flatnonzero(~complete):
        canary_values = canary[run][np.isfinite(canary[run])]
        control_values = control[run][np.isfinite(control[run])]
        if len(canary_values) and len(control_values):
            p_values[run] = stats.mannwhitneyu(
                canary_values, control_values, alternative="greater", method="asymptotic"
            ).pvalue
    return p_values


def decide_kayenta(
    traces: simulator.Traces, *, interval_minutes: int, confidence: float = KAYENTA_CONFIDENCE, p_values=None
) -> decisions.Decisions:
    """Score every analysis interval; `p_values` from `kayenta_p_values` can be shared across confidences."""
    ends, p_values = (
        p_values if p_values is not None else kayenta_p_values(traces, interval_minutes=interval_minutes)
    )

    # A two-sided test at this confidence finds "higher" when the one-sided p-value is below
    # half of 1 - confidence.
    high = np.nan_to_num(p_values, nan=1.0) < (1 - confidence) / 2
    with_data = np.isfinite(p_values)
    error_high = high[..., 0]
    not_high = (with_data & ~high).sum(axis=-1)
    scored = with_data.sum(axis=-1)
    # With no metric scored nothing failed, so the score stays 100.
    score = np.where(scored > 0, 100.0 * not_high / np.maximum(scored, 1), 100.0)
    score = np.where(error_high, 0.0, score)

    fail_at = np.zeros((traces.runs, len(ends)), dtype=bool)
    fail_at[:, :-1] = score[:, :-1] < KAYENTA_MARGINAL_SCORE
    fail_at[:, -1] = score[:, -1] < KAYENTA_PASS_SCORE
    fail_looks = np.zeros((traces.runs, traces.intervals), dtype=bool)
    fail_looks[:, ends] = fail_at
    return decisions.Decisions.from_looks(fail_looks=fail_looks)


def decide_oracle(traces: simulator.Traces, *, metric: str) -> decisions.Decisions:
    """Run Wald's SPRT on the canary's errors ("errors") or requests slower than 0.25 s ("latency")."""
    if metric == "errors":
        events, totals = traces.canary_errors, traces.canary_requests
        null_rate, alternative_rate = traces.control_error_ratio, traces.canary_error_ratio
    else:
        events = traces.canary_buckets[..., -1] - traces.canary_buckets[..., 5]
        totals = traces.canary_buckets[..., -1]
        null_rate, alternative_rate = traces.control_bucket_slow_share, traces.canary_bucket_slow_share

    null_rate = np.clip(null_rate, 1e-9, 1 - 1e-9)
    alternative_rate = np.clip(alternative_rate, 1e-9, 1 - 1e-9)
    log_ratio = events * np.log(alternative_rate / null_rate)
    log_ratio += (totals - events) * (np.log1p(-alternative_rate) - np.log1p(-null_rate))
    cumulative = np.cumsum(log_ratio, axis=1)

    upper = math.log((1 - ORACLE_BETA) / ORACLE_ALPHA)
    lower = math.log(ORACLE_BETA / (1 - ORACLE_ALPHA))
    first_reject = decisions.first_true(cumulative >= upper)
    first_accept = decisions.first_true(cumulative <= lower)

    # Once the test accepts H0 it stops looking, so a later crossing of the upper bound does not count.
    rejected = (first_reject != decisions.NEVER) & (
        (first_accept == decisions.NEVER) | (first_reject < first_accept)
    )
    fail_looks = np.zeros(cumulative.shape, dtype=bool)
    fail_looks[rejected, first_reject[rejected]] = True
    fail_looks[:, simulator.schedule_intervals() :] = False
    return decisions.Decisions.from_looks(fail_looks=fail_looks)
