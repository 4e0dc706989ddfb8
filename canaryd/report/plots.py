"""The report's plots as PNG images: weight over time, and per step canary vs control.

Layer 4 tool. matplotlib runs on its Agg backend, so no display is needed. Each figure is returned
as PNG bytes, which the HTML page embeds as base64, so the report is one self-contained file.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402 - after choosing the backend
from matplotlib import figure, lines  # noqa: E402

from canaryd import verdicts  # noqa: E402
from canaryd.standalone import record as rollout_record  # noqa: E402

VERDICT_COLOURS = {
    verdicts.Verdict.PASS: "#2e7d32",
    verdicts.Verdict.FAIL: "#c62828",
    verdicts.Verdict.INCONCLUSIVE: "#f9a825",
    verdicts.Verdict.NO_DATA: "#757575",
}
CANARY_COLOUR = "#d84315"
CONTROL_COLOUR = "#1565c0"


def weight_plot(record: rollout_record.RolloutRecord) -> bytes:
    """Plot the canary weight as a step function of time, with each analysis marked by its verdict."""
    fig = figure.Figure(figsize=(9, 3.2), dpi=100)
    axes = fig.add_subplot()
    end = record.finished_at or max([change.at for change in record.weights] + [record.started_at + 1])

    times = [change.at - record.started_at for change in record.weights]
    weights = [change.weight for change in record.weights]
    if times:
        axes.step(
            times + [end - record.started_at], weights + weights[-1:], where="post", color=CANARY_COLOUR
        )
    for analysis in record.analyses:
        colour = VERDICT_COLOURS[analysis.judgement.verdict]
        axes.plot(analysis.at - record.started_at, analysis.weight, "o", color=colour, markersize=5)

    axes.set_xlabel("seconds since start")
    axes.set_ylabel("canary weight (%)")
    axes.set_ylim(-3, 103)
    axes.grid(alpha=0.3)
    handles = [
        lines.Line2D([], [], marker="o", linestyle="", color=colour, label=verdict.value)
        for verdict, colour in VERDICT_COLOURS.items()
    ]
    axes.legend(handles=handles, loc="upper left", fontsize="small", title="analysis verdict")
    fig.tight_layout()
    return _png(fig)


def step_plot(analysis: rollout_record.AnalysisRecord, *, started_at: float, quantile: float = 0.99) -> bytes:
    """Plot canary vs control per interval: error ratio, and latency at `quantile` from the histograms."""
    fig = figure.Figure(figsize=(9, 3.2), dpi=100)
    error_axes, latency_axes = fig.subplots(1, 2)

    for arm, points, colour in (
        ("canary", analysis.canary, CANARY_COLOUR),
        ("control", analysis.control, CONTROL_COLOUR),
    ):
        if points is None or not points.interval_ends:
            continue
        times = np.array(points.interval_ends) - started_at
        error_axes.plot(times, error_ratios(points), marker=".", color=colour, label=arm)
        latencies = latency_quantiles(points, quantile=quantile)
        if latencies is not None:
            latency_axes.plot(times, latencies * 1000, marker=".", color=colour, label=arm)

    error_axes.set_title("error ratio per interval", fontsize="medium")
    error_axes.set_xlabel("seconds since start")
    error_axes.set_ylim(bottom=0)
    latency_axes.set_title(f"latency p{quantile * 100:g} per interval (ms)", fontsize="medium")
    latency_axes.set_xlabel("seconds since start")
    latency_axes.set_ylim(bottom=0)
    for axes in (error_axes, latency_axes):
        axes.grid(alpha=0.3)
        if axes.get_lines():
            axes.legend(fontsize="small")
        else:
            axes.text(
                0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes, color="#757575"
            )
    fig.suptitle(
        f"step {analysis.step + 1} at {analysis.weight}%: {analysis.judgement.verdict.value}",
        color=VERDICT_COLOURS[analysis.judgement.verdict],
    )
    fig.tight_layout()
    return _png(fig)


def error_ratios(points: rollout_record.ArmPoints) -> np.ndarray:
    """Errors over requests per interval; NaN where an interval had no requests."""
    requests = np.array(points.requests, dtype=float)
    errors = np.array(points.errors, dtype=float)
    return np.divide(errors, requests, out=np.full_like(requests, np.nan), where=requests > 0)


def latency_quantiles(points: rollout_record.ArmPoints, *, quantile: float) -> np.ndarray | None:
    """Estimate a latency quantile per interval from cumulative buckets, in seconds.

    Interpolates linearly inside the bucket that contains the quantile, as PromQL's
    `histogram_quantile` does; a quantile in the +Inf bucket reads as the highest finite bound.
    Returns None without a histogram, and NaN for intervals without requests.
    """
    if not points.latency_bounds or not points.latency_counts:
        return None
    bounds = np.array(points.latency_bounds, dtype=float)
    estimates = []
    for row in points.latency_counts:
        counts = np.array(row, dtype=float)
        total = counts[-1]
        if total <= 0:
            estimates.append(np.nan)
            continue
        rank = quantile * total
        index = int(np.searchsorted(counts[:-1], rank, side="left"))
        if index >= len(bounds):
            estimates.append(bounds[-1])
            continue
        lower_bound = bounds[index - 1] if index > 0 else 0.0
        lower_count = counts[index - 1] if index > 0 else 0.0
        in_bucket = counts[index] - lower_count
        fraction = (rank - lower_count) / in_bucket if in_bucket > 0 else 1.0
        estimates.append(lower_bound + (bounds[index] - lower_bound) * fraction)
    return np.array(estimates)


def _png(fig: figure.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
