"""The record of one standalone rollout: weights over time, every analysis with its numbers, the outcome.

Layer 3 (engine). The runner rewrites the record file after every change, so a crash leaves a
readable record of everything up to it. `canaryd report` turns the file into an HTML page. The
per-interval numbers behind each analysis are kept, so the report can plot the canary against the
control without asking Prometheus again.
"""

from __future__ import annotations

import enum
import math
import os
import pathlib
import tempfile

import numpy as np
import pydantic

from canaryd import observations, verdicts


class Outcome(enum.StrEnum):
    """The end state of a rollout."""

    PROMOTED = "promoted"  # the canary passed every step and receives all traffic
    ROLLED_BACK = "rolled_back"  # all traffic is back on the primary after a failure or a deadline
    # A step reached its deadline under the pause policy. Kubernetes keeps the traffic split, and the
    # standalone run returns it to the primary.
    PAUSED = "paused"
    ABORTED = "aborted"  # stopped by an error or by the user; traffic is back on the primary


class ArmPoints(pydantic.BaseModel):
    """One arm's per-interval increases, as the judge saw them.

    `latency_bounds` are the histogram's finite `le` bounds in seconds. Each row of
    `latency_counts` has one cumulative count per bound and then the total (the +Inf bucket).
    """

    interval_ends: list[float]
    requests: list[float]
    errors: list[float]
    latency_bounds: list[float] = []
    latency_counts: list[list[float]] = []

    @classmethod
    def from_series(cls, series: observations.ArmSeries) -> ArmPoints:
        points = cls(
            interval_ends=series.interval_ends.tolist(),
            requests=series.requests.tolist(),
            errors=series.errors.tolist(),
        )
        if not series.has_latency or series.bucket_counts is None:
            return points
        finite = [bool(math.isfinite(bound)) for bound in series.bucket_bounds]
        columns = [index for index, is_finite in enumerate(finite) if is_finite]
        total_column = finite.index(False) if False in finite else len(finite) - 1
        counts = series.bucket_counts[:, columns + [total_column]]
        return points.model_copy(
            update={
                "latency_bounds": series.bucket_bounds[columns].tolist(),
                "latency_counts": np.asarray(counts).tolist(),
            }
        )


class WeightChange(pydantic.BaseModel):
    """The canary weight HAProxy held from `at` (Unix seconds) on."""

    at: float
    weight: int
    step: int | None  # index into the steps; None before the first step and after the end
    reason: str


class StepTraffic(pydantic.BaseModel):
    """Requests HAProxy sent to each arm at one step, as of the last pass at that step."""

    canary_requests: int
    primary_requests: int


class AnalysisRecord(pydantic.BaseModel):
    """One analysis of a step: the judgement, the data behind it, and the traffic HAProxy counted."""

    at: float
    step: int
    weight: int
    judgement: verdicts.Judgement
    canary: ArmPoints | None = None
    control: ArmPoints | None = None
    # Requests HAProxy sent to each arm since the step's weight was set (`lbtot` differences).
    canary_requests: int = 0
    primary_requests: int = 0
    decision: str = ""  # what the rollout did next: "hold", "next step", "promote", "roll back"

    @property
    def canary_share(self) -> float | None:
        total = self.canary_requests + self.primary_requests
        return self.canary_requests / total if total else None


class RolloutRecord(pydantic.BaseModel):
    """Everything `canaryd report` needs about one rollout."""

    rollout: str
    source: str = "standalone"  # "standalone", or "kubernetes" for a CanaryRollout object
    started_at: float
    finished_at: float | None = None
    steps: list[int]
    outcome: Outcome | None = None
    reason: str = ""  # one sentence on why the rollout ended as it did
    cause: str = ""  # for a rollback: the failing SLIs with both arms' values, tolerance and samples
    weights: list[WeightChange] = []
    analyses: list[AnalysisRecord] = []
    # By step index. A step stopped before its first analysis has counts here and no analysis.
    traffic: dict[int, StepTraffic] = {}
    settings: dict[str, object] = {}  # the rollout's settings as written, for the report's header
    latency_quantile: float = 0.99  # the quantile the judge's latency SLI is built on, for the plots

    def final_analysis(self, step: int) -> AnalysisRecord | None:
        """Return the last analysis of `step`, the one that decided it."""
        found = [analysis for analysis in self.analyses if analysis.step == step]
        return found[-1] if found else None


def write_record(record: RolloutRecord, path: pathlib.Path) -> None:
    """Write the record as JSON, atomically, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        handle.write(record.model_dump_json(indent=2))
        temporary = pathlib.Path(handle.name)
    os.replace(temporary, path)


def read_record(path: pathlib.Path) -> RolloutRecord:
    return RolloutRecord.model_validate_json(path.read_text(encoding="utf-8"))
