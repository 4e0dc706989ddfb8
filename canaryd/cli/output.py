"""Output of the read commands: rich tables for people, `--output json` for scripts, and exit codes.

Layer 4 (CLI). Each read command builds one plain, JSON-ready view (a dict) and hands it here, so the
table and the JSON always show the same facts. The exit codes below are part of the CLI's contract and
are listed in docs/cli.md; scripts may rely on them.
"""

from __future__ import annotations

import datetime
import enum
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click
import rich.console
import rich.table
import rich.text

from canaryd import verdicts
from canaryd.core import explain

STATUS_SCHEMA = "canaryd.io/cli/status/v1"
HISTORY_SCHEMA = "canaryd.io/cli/history/v1"
ANALYSIS_SCHEMA = "canaryd.io/cli/analysis/v1"
COMMAND_SCHEMA = "canaryd.io/cli/command/v1"


class ExitCode(enum.IntEnum):
    """Exit codes that scripts can rely on; docs/cli.md lists them with examples."""

    OK = 0  # the command did what was asked; for status, the rollout is healthy or still progressing
    ERROR = 1  # an unexpected error; the message names what failed
    USAGE = 2  # invalid options or arguments (click's own code)
    NOT_FOUND = 3  # the Deployment or its CanaryRollout does not exist
    UNREACHABLE = 4  # the Kubernetes API or Prometheus is unreachable or refused us, or the kubeconfig is bad
    REJECTED = 5  # the command does not apply now, for example promoting a rollout that already ended
    INVALID_CONFIG = 6  # the canaryd.io annotations or the analysis settings are invalid
    FAILED = 10  # status: the rollout failed or was aborted; analyze: the verdict is fail
    NEEDS_ATTENTION = 11  # status: paused or invalid annotations; analyze: the verdict is inconclusive
    NO_DATA = 12  # analyze: no data to judge
    TIMED_OUT = 13  # status --watch or --wait ended at its timeout before the rollout settled


class CliError(click.ClickException):
    """A failure the user can act on, printed as `Error: <message>` with a documented exit code."""

    def __init__(self, message: str, *, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = int(exit_code)


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


F = TypeVar("F", bound=Callable[..., Any])


def output_option(function: F) -> F:
    """Add `-o/--output text|json` to a read command."""
    return click.option(
        "-o",
        "--output",
        "output_format",
        type=click.Choice([member.value for member in OutputFormat]),
        default=OutputFormat.TEXT.value,
        show_default=True,
        help="Print a table for people, or one JSON document for scripts.",
    )(function)


def print_json(view: Mapping[str, Any]) -> None:
    """Print one JSON document on stdout, keys in view order, one line per field for diff-friendly logs."""
    click.echo(json.dumps(view, indent=2, default=_json_default))


def json_line(view: Mapping[str, Any]) -> str:
    """Render a view as one line of JSON, for streams such as `status --watch -o json` (JSON Lines)."""
    return json.dumps(view, separators=(",", ":"), default=_json_default)


# Line width when standard output is not a terminal. Rich would otherwise assume 80 columns and fold a
# table's last column to a few characters per line; tables are only as wide as their content.
PIPE_WIDTH = 10_000


def console() -> rich.console.Console:
    """Return a console for standard output: the terminal's width, or PIPE_WIDTH in a pipe or a log.

    Without a terminal rich drops colours. Markup is off because names, messages and PromQL
    (`pod=~"web-[a-z0-9]+"`) contain square brackets that rich would read as style tags and drop, so
    styles are set on Text objects instead.
    """
    terminal = rich.console.Console(highlight=False, soft_wrap=False, markup=False)
    if terminal.is_terminal:
        return terminal
    return rich.console.Console(highlight=False, soft_wrap=False, markup=False, width=PIPE_WIDTH)


def plain(value: object) -> rich.text.Text:
    """Wrap a name, message or query as rich Text, so that square brackets in it print as they are."""
    return rich.text.Text("" if value is None else str(value))


def _json_default(value: object) -> object:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Number formatting shared by every table. It lives in the pure layer, so the standalone mode and the
# report print the same units as the CLI.
format_ratio = explain.format_ratio
format_effect = explain.format_effect
format_count = explain.format_count


def format_time(value: str | None, *, now: datetime.datetime | None = None) -> str:
    """Format an ISO 8601 time in UTC, adding how long ago or how soon it is when `now` is given."""
    if not value:
        return "-"
    moment = datetime.datetime.fromisoformat(value)
    text = moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now is not None:
        text += f" ({format_relative(moment - now)})"
    return text


def format_relative(delta: datetime.timedelta) -> str:
    """Format a signed duration as `in 4m10s` or `2h3m ago`."""
    seconds = int(delta.total_seconds())
    magnitude = format_duration(abs(seconds))
    return f"in {magnitude}" if seconds > 0 else f"{magnitude} ago"


def format_duration(seconds: int) -> str:
    hours, remainder = divmod(seconds, 3600)
    minutes, seconds = divmod(remainder, 60)
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


VERDICT_STYLES = {"pass": "green", "fail": "bold red", "inconclusive": "yellow", "no_data": "magenta"}
PHASE_STYLES = {
    "Succeeded": "green",
    "Failed": "bold red",
    "Aborted": "red",
    "RollingBack": "red",
    "Holding": "yellow",
    "Paused": "yellow",
    "Invalid": "bold red",
}


def styled(value: str | None, styles: Mapping[str, str]) -> rich.text.Text:
    if value is None:
        return rich.text.Text("-")
    return rich.text.Text(value, style=styles.get(value, ""))


def metrics_table(*, title: str, metrics: Sequence[Mapping[str, Any]]) -> rich.table.Table:
    """Build the per-SLI table: verdict, canary and control values, effect, tolerance, sample sizes, why."""
    table = rich.table.Table(title=plain(title), title_justify="left", show_edge=False, pad_edge=False)
    for header, justify in [
        ("SLI", "left"),
        ("verdict", "left"),
        ("canary", "right"),
        ("control", "right"),
        ("effect", "right"),
        ("tolerance", "right"),
        ("n canary", "right"),
        ("n control", "right"),
        ("why", "left"),
    ]:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for metric in metrics:
        table.add_row(*metric_cells(metric))
    return table


def metric_cells(metric: Mapping[str, Any]) -> list[rich.text.Text | str]:
    name = metric["metric"] + ("" if metric.get("critical", True) else " (not critical)")
    return [
        plain(name),
        styled(metric["verdict"], VERDICT_STYLES),
        format_ratio(metric.get("canary_value")),
        format_ratio(metric.get("control_value")),
        format_effect(metric.get("effect")),
        format_effect(metric.get("tolerance")).lstrip("+"),
        format_count(metric.get("canary_samples")),
        format_count(metric.get("control_samples")),
        plain(metric.get("reason") or ""),
    ]


def metric_view(result: verdicts.MetricResult) -> dict[str, Any]:
    """Turn a `canaryd.verdicts.MetricResult` into the JSON-ready view every read command prints."""
    return {
        "metric": result.metric,
        "verdict": result.verdict.value,
        "critical": result.critical,
        "canary_value": result.canary_value,
        "control_value": result.control_value,
        "effect": result.effect,
        "tolerance": result.tolerance,
        "evidence": result.evidence,
        "threshold": result.threshold,
        "canary_samples": result.canary_samples,
        "control_samples": result.control_samples,
        "reason": result.reason,
        "queries": list(result.queries),
    }
