"""PromQL shapes shared by the built-in presets: sums of increases over one interval."""

from __future__ import annotations

from canaryd.metrics import promql


def sum_increase(*, metric: str, matchers: list[promql.LabelMatcher], step_seconds: float) -> str:
    """Total increase of a counter over one interval, summed over all matching series."""
    selector = promql.render_selector(metric, matchers)
    return f"sum(increase({selector}[{promql.format_duration(step_seconds)}]))"


def sum_increase_or_zero(*, metric: str, matchers: list[promql.LabelMatcher], step_seconds: float) -> str:
    """Like `sum_increase`, but 0 where no series matches.

    Error series (for example code="500") exist only after the first error; without the `or`,
    an arm that never failed would look like an arm with no data.
    """
    # LIMITATION: the first error of a status code that never failed before is not counted, because
    # increase() needs two samples of the new series (goes away when the application creates its
    # error series at zero on start-up, for example with one .labels(code="500") call each).
    return f"{sum_increase(metric=metric, matchers=matchers, step_seconds=step_seconds)} or vector(0)"


def bucket_increase(*, metric: str, matchers: list[promql.LabelMatcher], step_seconds: float) -> str:
    """Increase of each histogram bucket over one interval, summed per `le` bound."""
    selector = promql.render_selector(metric, matchers)
    return f"sum by (le) (increase({selector}[{promql.format_duration(step_seconds)}]))"
