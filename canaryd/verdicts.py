"""The judge's outcomes as plain data, shared by the judge, the decision core and the records.

Bottom layer: imports nothing from the package. The judge fills these models; the decision core
reads them and copies them into the `CanaryRollout` status; the CLI and the report print them.
"""

from __future__ import annotations

import enum

import pydantic


class Verdict(enum.StrEnum):
    """The conclusion about the canary for one metric or overall."""

    PASS = "pass"  # the canary is no worse than control beyond the tolerance, with enough evidence
    FAIL = "fail"  # the canary is worse than control beyond the tolerance, with enough evidence
    INCONCLUSIVE = "inconclusive"  # data arrived but supports neither pass nor fail yet
    NO_DATA = "no_data"  # nothing to judge: no series, NaN, zero canary traffic, or a source error


class MetricResult(pydantic.BaseModel):
    """One SLI's verdict with the numbers behind it."""

    model_config = pydantic.ConfigDict(frozen=True)

    metric: str  # SLI name, for example "error_ratio" or "latency"
    verdict: Verdict
    critical: bool = True  # a failing critical metric fails the canary
    canary_value: float | None = None  # observed canary SLI (error ratio, or share of slow requests)
    control_value: float | None = None
    effect: float | None = None  # canary minus control, in the metric's unit
    tolerance: float | None = None  # the harmless difference the test allows, in the same unit
    evidence: float | None = None  # strength of evidence: the e-value or likelihood ratio against "no worse"
    threshold: float | None = None  # evidence needed to decide
    pass_evidence: float | None = None  # strength of evidence for "no worse": the e-value against "worse"
    pass_threshold: float | None = None  # pass evidence needed to pass
    canary_samples: int = 0  # requests counted on the canary
    control_samples: int = 0
    # Both arms reached the judge's minimum sample (intervals and requests); False when no judge set it.
    has_minimum_sample: bool = False
    reason: str = ""  # one sentence for people: why this verdict
    queries: tuple[str, ...] = ()  # rendered PromQL behind the numbers, when they came from Prometheus


class Judgement(pydantic.BaseModel):
    """The overall verdict of one analysis, with each metric's result."""

    model_config = pydantic.ConfigDict(frozen=True)

    verdict: Verdict
    metrics: tuple[MetricResult, ...] = ()
    intervals_used: int = 0  # scrape intervals that counted (canary Ready, non-zero weight)
    reason: str = ""


def combine(results: tuple[MetricResult, ...] | list[MetricResult]) -> Verdict:
    """Combine per-metric verdicts: a failing critical metric fails, all passing pass, else no pass.

    No data on any metric keeps the whole analysis from passing: missing evidence is never a pass.
    """
    results = tuple(results)
    if not results:
        return Verdict.NO_DATA
    if any(result.verdict is Verdict.FAIL and result.critical for result in results):
        return Verdict.FAIL
    if all(result.verdict is Verdict.PASS for result in results):
        return Verdict.PASS
    if all(result.verdict is Verdict.NO_DATA for result in results):
        return Verdict.NO_DATA
    return Verdict.INCONCLUSIVE
