"""The seams of the metrics layer: a source that runs PromQL, and a preset that writes it.

A `MetricsSource` runs range queries and reports its health; `canaryd.metrics.prometheus` is the
implementation. A `Preset` (built in, or a user's metric template) writes the three queries one
arm needs. `canaryd.metrics.collect` joins the two into a `canaryd.observations.Comparison`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from canaryd import observations
from canaryd.metrics import promql, windows


@dataclasses.dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its (timestamp, value) points, ascending."""

    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray


@dataclasses.dataclass(frozen=True)
class ArmTarget:
    """Where one arm's traffic is recorded.

    `workload` is the Deployment serving the arm (for example `web-primary` for control and `web`
    for the canary); `service` is the Service in front of it, when a preset selects by Service.
    """

    arm: observations.Arm
    namespace: str
    workload: str
    service: str | None = None

    @property
    def service_name(self) -> str:
        return self.service or self.workload

    @property
    def pod_regex(self) -> str:
        """A regex matching the workload's pods and not those of `<workload>-<suffix>`.

        Deployment pods are named `<deployment>-<replicaset hash>-<5 characters>`; neither part
        contains a dash, so `web-[a-z0-9]+-[a-z0-9]+` (anchored, as all PromQL regexes are) does
        not match `web-primary-6d9f7-x2k9p`.
        """
        return f"{promql.escape_regex(self.workload)}-[a-z0-9]+-[a-z0-9]+"


@dataclasses.dataclass(frozen=True)
class ArmQueries:
    """The rendered PromQL for one arm, each an increase over one interval.

    `requests` and `errors` must each return one series; `latency_buckets`, when present, one
    series per `le` bound, with bounds in units of `bucket_unit_seconds` (0.001 for milliseconds).
    """

    requests: str
    errors: str
    latency_buckets: str | None = None
    bucket_unit_seconds: float = 1.0


class MetricsSource(Protocol):
    def range_query(self, *, query: str, window: windows.Window) -> tuple[Series, ...]:
        """Run `query` at every interval end of `window`; raise a `MetricsOutcome` on failure."""
        ...

    def check_health(self) -> None:
        """Raise `SourceUnreachable` unless the source answers a trivial query."""
        ...

    def check_window(self, *, step_seconds: float) -> None:
        """Raise `WindowTooShort` unless an interval of `step_seconds` spans enough scrapes."""
        ...


class Preset(Protocol):
    name: str

    def queries(self, *, target: ArmTarget, step_seconds: float) -> ArmQueries:
        """Write the queries for `target`, each an increase over `step_seconds`."""
        ...
