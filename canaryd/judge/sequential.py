"""Anytime-valid evidence about the ratio of two event rates, from per-interval counts.

Layer 1 (pure numpy). The judge calls it for errors (events = failed requests) and for latency
(events = requests slower than a histogram bound).

Why this test. The judge looks at the data every scrape interval and may stop at any look, so a
fixed-sample test would see its false-positive rate grow with every look. A mixture sequential
probability ratio test is an e-process: under the null hypothesis its value is a nonnegative
supermartingale, so by Ville's inequality the chance that it *ever* exceeds 1/alpha is at most
alpha, however often and whenever it is checked. It needs no planned sample size and no alpha
spending schedule, unlike a group-sequential design, which matters because the intervals come
at the traffic's pace, not on a plan.

The model. In interval i the canary served n_c requests with rate p_c and the control n_k with rate
p_k. Given the total number of events E = x_c + x_k, the canary's share is binomial, with
x_c ~ Binomial(E, theta_i) and theta_i = r n_c / (r n_c + n_k), where r = p_c / p_k. Conditioning on
E removes the unknown control rate and any shared incident that scales both arms, and the actual
request counts carry the realized traffic share. The null "canary no worse than the tolerance" is
r <= r0; because the binomial has a monotone likelihood ratio, a likelihood ratio of r1 > r0 against
r0 is a supermartingale for every r <= r0, so testing at the boundary r0 covers the composite null.
Mixing over a grid of alternatives r1 spares us from guessing the effect size. The opposite test
(null r >= r0, alternatives below r0) gives positive evidence that the canary is no worse.

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

# e-values beyond this are reported as this, so they stay finite in JSON and in the API status.
MAX_REPORTED_EVIDENCE = 1e12


@dataclasses.dataclass(frozen=True)
class Evidence:
    """The two e-values for one SLI: against "no worse than r0" and against "worse than r0"."""

    worse: float
    no_worse: float


def ratio_log_likelihoods(
    *,
    canary_events: np.ndarray,
    canary_totals: np.ndarray,
    control_events: np.ndarray,
    control_totals: np.ndarray,
    null_ratio: float,
    alternative_ratios: np.ndarray,
) -> np.ndarray:
    """Sum the conditional-binomial log-likelihood ratios of each alternative ratio against `null_ratio`.

    Intervals where either arm served nothing carry no information and must be dropped by the caller.
    Returns one value per alternative.
    """
    null_share = _canary_event_share(null_ratio, canary_totals, control_totals)
    alternative_share = _canary_event_share(alternative_ratios[:, None], canary_totals, control_totals)

    # Events on the canary weigh log(theta1/theta0); events on the control log((1-theta1)/(1-theta0)).
    canary_term = canary_events * (np.log(alternative_share) - np.log(null_share))
    control_term = control_events * (np.log1p(-alternative_share) - np.log1p(-null_share))
    return np.sum(canary_term + control_term, axis=1)


def _canary_event_share(ratio, canary_totals: np.ndarray, control_totals: np.ndarray) -> np.ndarray:
    weighted_canary = ratio * canary_totals
    return weighted_canary / (weighted_canary + control_totals)


def mixture_e_value(log_likelihoods: np.ndarray, *, variance_inflation: float) -> float:
    """Average the tempered likelihood ratios with equal weights; capped at MAX_REPORTED_EVIDENCE."""
    log_value = special.logsumexp(log_likelihoods / variance_inflation) - np.log(len(log_likelihoods))
    return float(min(np.exp(min(log_value, 700.0)), MAX_REPORTED_EVIDENCE))


def weigh_ratio(
    *,
    canary_events: np.ndarray,
    canary_totals: np.ndarray,
    control_events: np.ndarray,
    control_totals: np.ndarray,
    null_ratio: float,
    variance_inflation: float,
) -> Evidence:
    """Compute the e-values that the canary's rate ratio is above, and below, `null_ratio`."""
    counts = {
        "canary_events": canary_events,
        "canary_totals": canary_totals,
        "control_events": control_events,
        "control_totals": control_totals,
    }
    worse = ratio_log_likelihoods(
        **counts, null_ratio=null_ratio, alternative_ratios=null_ratio * WORSE_RATIO_STEPS
    )
    no_worse = ratio_log_likelihoods(
        **counts, null_ratio=null_ratio, alternative_ratios=null_ratio * NO_WORSE_RATIO_STEPS
    )
    return Evidence(
        worse=mixture_e_value(worse, variance_inflation=variance_inflation),
        no_worse=mixture_e_value(no_worse, variance_inflation=variance_inflation),
    )
