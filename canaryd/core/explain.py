"""Sentences for people about a rollout's status: why it was rolled back, with the numbers.

Layer 1 (pure logic). `canaryd status` prints the cause on its Cause line; the standalone mode,
`canaryd demo` and `canaryd report` add it to their outcome. The numbers use the CLI's units:
ratios in percent, differences of ratios in percentage points.
"""

from __future__ import annotations

from canaryd import verdicts
from canaryd.core import phase as phases
from canaryd.core import status as rollout_status

_ENDED_BY_ROLLBACK = (phases.Phase.ROLLING_BACK, phases.Phase.FAILED, phases.Phase.ABORTED)


def rollback_cause(current: rollout_status.RolloutStatus) -> str | None:
    """Say why a rollout was rolled back, with the numbers of the SLIs that decided it; None otherwise."""
    if current.phase not in _ENDED_BY_ROLLBACK:
        return None
    if current.is_aborted:
        return "aborted on request; the AbortRequested Event names who asked"

    # A failed step carries the judgement that failed it; otherwise the step ran out of time undecided.
    failed = [record for record in current.steps if record.verdict is verdicts.Verdict.FAIL]
    if failed:
        record = failed[-1]
    elif current.steps:
        record = current.steps[-1]
    else:
        return None
    if record.judgement is None:
        return None
    where = f"step {record.index + 1} at {record.weight}%"
    if failed:
        deciding = [result for result in record.judgement.metrics if result.verdict is verdicts.Verdict.FAIL]
        return f"{where} failed: " + "; ".join(metric_evidence(result) for result in deciding)
    latest = record.judgement.verdict.value
    return f"{where} did not pass before its deadline (latest verdict: {latest}): {record.judgement.reason}"


# The latency SLI is a share of requests, which its bare name does not tell.
_METRIC_LABELS = {"latency": "latency (share of requests slower than the bound taken from the control)"}


def metric_evidence(result: verdicts.MetricResult) -> str:
    """Describe one SLI's failure: both arms' values, the effect against the tolerance, the samples."""
    canary = format_ratio(result.canary_value)
    control = format_ratio(result.control_value)
    effect = format_effect(result.effect)
    tolerance = format_effect(result.tolerance).lstrip("+")
    canary_samples = format_count(result.canary_samples)
    control_samples = format_count(result.control_samples)
    return (
        f"{_METRIC_LABELS.get(result.metric, result.metric)} {canary} on the canary vs {control} on the "
        f"control, effect {effect} beyond the "
        f"tolerance of {tolerance}, over {canary_samples} canary and {control_samples} control requests"
    )


def format_ratio(value: float | None) -> str:
    """Format a share of requests (an error ratio, a share of slow requests) as a percentage."""
    if value is None:
        return "-"
    return f"{value * 100:.3g}%"


def format_effect(value: float | None) -> str:
    """Format a difference of two ratios in percentage points, with its sign."""
    if value is None:
        return "-"
    return f"{value * 100:+.3g}pp"


def format_count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
