"""Typed outcomes of a metrics query that did not produce usable numbers.

Each outcome is an exception carrying the rendered PromQL, so the rollout status, the Events and
the logs can show exactly what was asked. They fall into three families that callers treat
differently:

- `DataMissing` (no series, NaN or Inf): the application may simply not have served enough
  traffic yet. The step is held and, at its deadline, never passes.
- `SourceUnreachable`: Prometheus is down, timed out or refused the credentials; nothing about the
  canary is known, so nothing is promoted.
- `ConfigurationError` (several series, query rejected, template rejected, window too short):
  waiting will not fix it. The rollout shows the message, so that a person fixes the spec or template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class MetricsOutcome(Exception):
    """Base of every metrics outcome. `reason` is a short constant for status conditions and Events."""

    reason = "MetricsError"

    def __init__(self, message: str, *, query: str = "") -> None:
        self.query = query
        self.message = message
        text = f"{message} (query: {query})" if query else message
        super().__init__(text)


class DataMissing(MetricsOutcome):
    """Prometheus responded, but without numbers that can be judged."""


class NoSeries(DataMissing):
    reason = "NoSeries"


class NotFinite(DataMissing):
    reason = "NotFinite"

    def __init__(self, message: str, *, query: str, value: float, timestamp: float) -> None:
        self.value = value
        self.timestamp = timestamp
        super().__init__(message, query=query)


class SourceUnreachable(MetricsOutcome):
    """Prometheus could not be reached, timed out, failed internally or refused the credentials."""

    reason = "SourceUnreachable"


class ConfigurationError(MetricsOutcome):
    """A spec, preset setting or template is wrong; more data will not change the outcome."""

    reason = "MetricsConfigurationInvalid"


class SeveralSeries(ConfigurationError):
    """A query expected to return one series returned several; the source never picks one."""

    reason = "SeveralSeries"

    def __init__(
        self, *, query: str, series_labels: Sequence[Mapping[str, str]], expected: str = "one series"
    ) -> None:
        self.series_labels = tuple(dict(labels) for labels in series_labels)
        self.differing_labels = differing_label_names(self.series_labels)
        names = ", ".join(self.differing_labels) or "(none: the series have identical labels)"
        super().__init__(
            f"query returned {len(self.series_labels)} series where {expected} was expected; "
            f"they differ in the labels {names}. Aggregate over these labels (for example "
            f"sum without ({', '.join(self.differing_labels)})) or narrow the selector",
            query=query,
        )


class QueryRejected(ConfigurationError):
    """Prometheus rejected the query; `prometheus_error` is its own error text."""

    reason = "QueryRejected"

    def __init__(self, *, query: str, status_code: int, prometheus_error: str) -> None:
        self.status_code = status_code
        self.prometheus_error = prometheus_error
        super().__init__(
            f"Prometheus rejected the query with HTTP {status_code}: {prometheus_error}", query=query
        )


class TemplateRejected(ConfigurationError):
    """A metric template is invalid or could read series outside its namespace."""

    reason = "TemplateRejected"


class BucketLabelMissing(ConfigurationError):
    """A latency query returned series without the `le` label, or without the +Inf bucket."""

    reason = "BucketLabelMissing"


class WindowTooShort(ConfigurationError):
    """The analysis interval covers too few scrapes for `increase()` to be meaningful."""

    reason = "AnalysisWindowTooShort"


def differing_label_names(series_labels: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """Return the label names whose values are not the same across all series, sorted."""
    names = sorted({name for labels in series_labels for name in labels})
    return tuple(name for name in names if len({labels.get(name) for labels in series_labels}) > 1)
