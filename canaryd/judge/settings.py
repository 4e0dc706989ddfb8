"""The judge's settings: tolerances, error rates and minimum sample, validated by pydantic.

Layer 1 (pure logic). The rollout spec builds a `JudgeSettings` from annotations; the bench builds
one per calibration point. Defaults were chosen on simulated services with an error ratio near 0.5%
and a p99 near 200 ms; `docs/bench.md` records how they behave.
"""

from __future__ import annotations

import pydantic


class Tolerance(pydantic.BaseModel):
    """The harmless difference allowed on one SLI, and whether failing it fails the canary.

    The canary counts as worse only when its rate exceeds `control * (1 + relative) + absolute`.
    """

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    relative: float = pydantic.Field(default=0.5, ge=0.0)
    absolute: float = pydantic.Field(default=0.0, ge=0.0, le=1.0)
    critical: bool = True


class JudgeSettings(pydantic.BaseModel):
    """Everything the judge needs besides the data."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    # Chance of failing a canary that sits exactly at the tolerance, however often the judge looks.
    alpha: float = pydantic.Field(default=0.01, gt=0.0, lt=0.5)
    # Chance of passing a canary that sits exactly at the tolerance, however often the judge looks.
    pass_alpha: float = pydantic.Field(default=0.05, gt=0.0, lt=0.5)
    # Divides the log-likelihood ratios (a tempered likelihood), so extra-binomial variation from
    # interval to interval does not read as evidence. 1 trusts the binomial model. It cannot absorb
    # a canary pod that is steadily worse than average: only the tolerance does that.
    variance_inflation: float = pydantic.Field(default=1.0, ge=1.0)
    # Intervals ending less than this long after the canary first served are not counted, because
    # new pods are slower and fail more while they warm up.
    # NOTE: the warm-up starts at the first serving interval of the comparison, so a comparison
    # that starts after the canary pods did should come with 0 here.
    warmup_seconds: float = pydantic.Field(default=120.0, ge=0.0)
    # The "worse" test may also start afresh every this many seconds of judged time, so a
    # regression that begins at a later step is not first offset by the good minutes before it.
    restart_seconds: float = pydantic.Field(default=600.0, gt=0.0)
    # No verdict, pass or fail, before both arms reached these counts.
    min_canary_requests: int = pydantic.Field(default=100, ge=1)
    min_control_requests: int = pydantic.Field(default=100, ge=1)
    min_intervals: int = pydantic.Field(default=4, ge=1)

    # Tolerances wide enough for pods of one version that differ by chance: in simulation, per-pod
    # error multipliers (log-normal, sigma 0.3) and latency scales (sigma 0.1) with 1-5 canary pods
    # keep the A/A false-positive rate below 1% with these values (docs/bench.md).
    error_ratio: Tolerance = Tolerance(relative=0.4, absolute=0.003)
    # LIMITATION: per-arm totals cannot tell a version's latency shift from slower pods, so this
    # tolerance lets a canary whose requests are all 20% slower pass (goes away when the metrics
    # sources hand over per-pod series and the judge models the spread between pods).
    latency: Tolerance = Tolerance(relative=1.0, absolute=0.004)
    # The latency test compares the share of requests slower than the histogram bound nearest
    # this quantile of the control's latency.
    latency_quantile: float = pydantic.Field(default=0.99, gt=0.5, lt=1.0)
