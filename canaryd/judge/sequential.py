"""Anytime-valid evidence about the ratio of two event rates, from per-interval counts.

Layer 1 (pure numpy). The judge calls it for errors (events = failed requests) and for latency
(events = requests slower than a histogram bound).

Why this test. The judge looks at the data every scrape interval and may stop at any look, so a
fixed-sample test would see its false-positive rate grow with every look. A mixture sequential
probability ratio test is an e-process: under the null hypothesis its value is a nonnegative
supermartingale. By Ville's inequality the chance that it *ever* exceeds 1/alpha is therefore at
most alpha, however often and whenever it is checked. Unlike a group-sequential design it needs
no planned sample size and no alpha spending schedule, and that matters because the intervals
come at the traffic's pace, not on a plan.

The model. In interval i the canary served n_c requests with rate p_c and the control n_k with rate
p_k. Given the total number of events E = x_c + x_k, the canary's share is binomial, with
x_c ~ Binomial(E, theta_i) and theta_i = r n_c / (r n_c + n_k), where r = p_c / p_k. Conditioning on
E removes the unknown control rate and any shared incident that scales both arms, and the actual
request counts carry the realized traffic share. The null "canary no worse than the tolerance" is
r <= r0; because the binomial has a monotone likelihood ratio, a likelihood ratio of r1 > r0 against
r0 is a supermartingale for every r <= r0, so testing at the boundary r0 covers the composite null.
Mixing over a grid of alternatives r1 spares us from guessing the effect size. The opposite test
(null r >= r0, alternatives below r0) gives positive evidence that the canary is no worse.

The absolute tolerance. `control * (1 + relative) + absolute` is the ratio
r0 = 1 + relative + absolute / p_k, and p_k is unknown. Interval i uses the control's rate up to
interval i - 1 (a predictable plug-in), so each interval's likelihood ratio is fixed before its
counts arrive. The running product then stays a test supermartingale as long as the estimate is
close to the truth. The first interval, with no history, uses its own control rate.

Robustness. Per-pod differences and warm-up add variation the binomial model does not have.
Raising each likelihood ratio to the power 1/phi (phi >= 1) keeps it a supermartingale, because
x -> x^(1/phi) is concave, and scales the evidence down like a quasi-likelihood with dispersion phi.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import special

# Alternatives of the "worse" test, as multiples of the boundary ratio r0, weighted equally.
WORSE_RATIO_STEPS = np.array([1.25, 1.5, 2.0, 3.0, 5.0, 10.0])
# Alternatives of the "no worse" test, as multiples of r0, weighted equally.
NO_WORSE_RATIO_STEPS = np.array([0.75, 0.5, 0.3, 0.15])

# Half an event added to the control's count, so a control without events still gives a finite rate.
CONTROL_RATE_PRIOR_EVENTS = 0.5

# e-values beyond this are reported as this, so they stay finite in JSON and in the API status.
MAX_REPORTED_EVIDENCE = 1e12


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The two e-values after each interval: against "no worse than r0" and against "worse than r0".

    Both arrays have the shape of the counts given; the last axis is time.
    """

    worse: np.ndarray
    no_worse: np.ndarray


def boundary_ratios(
    *, control_events: np.ndarray, control_totals: np.ndarray, relative: float, absolute: float
) -> np.ndarray:
    """Compute r0 for each interval from the control's rate over the intervals before it."""
    events_before = np.cumsum(control_events, axis=-1) - control_events
    totals_before = np.cumsum(control_totals, axis=-1) - control_totals
    no_history = totals_before <= 0
    events_before = np.where(no_history, control_events, events_before)
    totals_before = np.where(no_history, control_totals, totals_before)

    # Half an event keeps the rate positive, so a control without errors gives a large, finite r0.
    control_rate = (events_before + CONTROL_RATE_PRIOR_EVENTS) / (totals_before + 1)
    return 1 + relative + absolute / control_rate


def interval_log_likelihoods(
    *,
    canary_events: np.ndarray,
    canary_totals: np.ndarray,
    control_events: np.ndarray,
    control_totals: np.ndarray,
    null_ratios: np.ndarray,
    steps: np.ndarray,
) -> np.ndarray:
    """Compute each interval's log-likelihood ratio of r0 * step against r0, for every step.

    Returns an array with a leading axis for the steps. Intervals where either arm served no
    request carry no information and contribute zero.
    """
    informative = (canary_totals > 0) & (control_totals > 0)
    canary_totals = np.where(informative, canary_totals, 1.0)
    control_totals = np.where(informative, control_totals, 1.0)
    step_shape = (len(steps),) + (1,) * canary_totals.ndim
    alternative_ratios = null_ratios * steps.reshape(step_shape)

    null_share = _canary_event_share(null_ratios, canary_totals, control_totals)
    alternative_share = _canary_event_share(alternative_ratios, canary_totals, control_totals)

    # Events on the canary weigh log(theta1/theta0); events on the control log((1-theta1)/(1-theta0)).
    canary_term = canary_events * (np.log(alternative_share) - np.log(null_share))
    control_term = control_events * (np.log1p(-alternative_share) - np.log1p(-null_share))
    return np.where(informative, canary_term + control_term, 0.0)


def _canary_event_share(ratio, canary_totals: np.ndarray, control_totals: np.ndarray) -> np.ndarray:
    weighted_canary = ratio * canary_totals
    return weighted_canary / (weighted_canary + control_totals)


def mixture_e_values(log_likelihoods: np.ndarray, *, variance_inflation: float) -> np.ndarray:
    """Average tempered likelihood ratios over the leading (step) axis, with equal weights.

    Values are capped at MAX_REPORTED_EVIDENCE.
    """
    steps = log_likelihoods.shape[0]
    log_values = special.logsumexp(log_likelihoods / variance_inflation, axis=0) - np.log(steps)
    return np.minimum(np.exp(np.minimum(log_values, 700.0)), MAX_REPORTED_EVIDENCE)


def restart_weights(count: int) -> np.ndarray:
    """Return prior weights of the `count` first start points of the "worse" test; they sum to below 1.

    Half the weight is on the first start; start k >= 1 gets 1 / (2 k (k + 1)), which sums to 1/2
    over all k, so the weights stay valid however long the judge keeps looking.
    """
    later = np.arange(1, count)
    return np.concatenate([[0.5], 0.5 / (later * (later + 1))])


def evidence_paths(
    *,
    canary_events: np.ndarray,
    canary_totals: np.ndarray,
    control_events: np.ndarray,
    control_totals: np.ndarray,
    relative: float,
    absolute: float,
    variance_inflation: float,
    restarts: np.ndarray | None = None,
) -> Evidence:
    """Compute both e-values after every interval (last axis), for any number of leading run axes.

    `restarts` are the interval indices, ascending and starting with 0, where the "worse" test may
    begin afresh. A regression that starts late would otherwise first have to undo the evidence
    against it from the intervals before it. Each start is a test supermartingale of its own
    (worth 1 before it begins), so their mixture under `restart_weights` is one as well.
    """
    null_ratios = boundary_ratios(
        control_events=control_events, control_totals=control_totals, relative=relative, absolute=absolute
    )
    counts = {
        "canary_events": canary_events,
        "canary_totals": canary_totals,
        "control_events": control_events,
        "control_totals": control_totals,
        "null_ratios": null_ratios,
    }
    worse = np.cumsum(interval_log_likelihoods(**counts, steps=WORSE_RATIO_STEPS), axis=-1)
    no_worse = np.cumsum(interval_log_likelihoods(**counts, steps=NO_WORSE_RATIO_STEPS), axis=-1)
    starts = np.array([0]) if restarts is None else np.asarray(restarts, dtype=int)
    return Evidence(
        worse=_restarted_e_values(worse, starts, variance_inflation=variance_inflation),
        no_worse=mixture_e_values(no_worse, variance_inflation=variance_inflation),
    )


def _restarted_e_values(
    cumulative: np.ndarray, starts: np.ndarray, *, variance_inflation: float
) -> np.ndarray:
    weights = restart_weights(len(starts))
    looks = np.arange(cumulative.shape[-1])
    total = np.zeros(cumulative.shape[1:])
    for weight, start in zip(weights, starts, strict=True):
        # The log-likelihood since `start` is the running sum minus its value just before `start`.
        before = cumulative[..., start - 1 : start] if start > 0 else 0.0
        since_start = mixture_e_values(cumulative - before, variance_inflation=variance_inflation)
        total += weight * np.where(looks >= start, since_start, 1.0)
    return np.minimum(total, MAX_REPORTED_EVIDENCE)
