"""`canaryd demo`'s run in the terminal: live progress, the summary and the output files.

Layer 4 tool. `canaryd.cli.demo` installs the signal handlers and then imports this module, which
loads the whole demo (HAProxy, Prometheus, the runner, the report). `run` checks the output paths,
runs the demo and writes its outputs.
"""

from __future__ import annotations

import json
import pathlib

import click
import rich.console
import rich.live
import rich.table
import rich.text

from canaryd.cli import report as report_command
from canaryd.core import phase as phases
from canaryd.demo import scenario
from canaryd.demo import supervisor as supervision
from canaryd.metrics import outcomes
from canaryd.observability import logging as observability_logging
from canaryd.routers import protocol
from canaryd.standalone import config as standalone_config
from canaryd.standalone import outputs, runner
from canaryd.standalone import record as rollout_record

# Failures that end the demo with exit code 1 and a message, as opposed to a programming error.
DEMO_ERRORS = (
    supervision.DemoError,
    runner.RunnerError,
    protocol.RouterError,
    outcomes.MetricsOutcome,
    standalone_config.ConfigError,
    outputs.OutputPathError,
)

VERDICT_STYLES = {"pass": "green", "fail": "bold red", "inconclusive": "yellow", "no_data": "dim"}


class ProgressView:
    """Live progress: a table of steps redrawn in place on a terminal, one line per change elsewhere."""

    def __init__(self, *, console: rich.console.Console, steps: tuple[int, ...]) -> None:
        self.console = console
        self.steps = steps
        self.rows: dict[int, dict[str, str]] = {}
        self.headline = "starting"
        self.live: rich.live.Live | None = None
        self.last_line = ""

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self.live = rich.live.Live(self._render(), console=self.console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)
            self.live = None

    def stage(self, message: str) -> None:
        self.console.print(f"[dim]•[/dim] {message}")

    def update(self, report: runner.PassReport) -> None:
        status = report.status
        step = min(status.step_index, len(self.steps) - 1)
        weight = "?" if report.actual_weight is None else f"{report.actual_weight}%"
        self.headline = f"{status.phase.value}: {status.message}"
        row = self.rows.setdefault(step, {"verdict": "", "reason": ""})
        # Counts after a rollback or promotion belong to no step, so they do not overwrite the last one.
        if status.phase in phases.ANALYSING_PHASES:
            row.update(
                weight=weight,
                canary=str(report.canary_requests),
                primary=str(report.primary_requests),
                share=_share(report.canary_requests, report.primary_requests),
            )
        if report.analysis is not None and report.analysis.step == step:
            row.update(
                verdict=report.analysis.judgement.verdict.value, reason=report.analysis.judgement.reason
            )

        if self.live is not None:
            self.live.update(self._render())
            return
        # Most status messages already start with the step ("step 1/3: ..."), which is then not repeated.
        where = "" if status.message.startswith("step ") else f"step {step + 1}/{len(self.steps)} "
        line = f"{where}weight {weight} {row.get('verdict') or '-'}: {status.message}"
        if line != self.last_line:
            # One line per change, never wrapped, so that a log or a pipe keeps each line whole.
            self.console.print(
                f"{line} (HAProxy requests since the weight was set: canary {report.canary_requests}, "
                f"primary {report.primary_requests})",
                highlight=False,
                soft_wrap=True,
            )
            self.last_line = line

    def _render(self) -> rich.table.Table:
        table = rich.table.Table(title=self.headline, title_justify="left", expand=False)
        for column in (
            "step",
            "target",
            "weight",
            "canary req",
            "primary req",
            "canary share",
            "verdict",
            "reason",
        ):
            table.add_column(column, overflow="fold")
        for index, target in enumerate(self.steps):
            row = self.rows.get(index, {})
            verdict = row.get("verdict", "")
            table.add_row(
                str(index + 1),
                f"{target}%",
                row.get("weight", ""),
                row.get("canary", ""),
                row.get("primary", ""),
                row.get("share", ""),
                rich.text.Text(verdict, style=VERDICT_STYLES.get(verdict, "")),
                row.get("reason", ""),
            )
        return table


def _share(canary: int, primary: int) -> str:
    total = canary + primary
    return f"{100 * canary / total:.1f}%" if total else "–"


def print_summary(
    console: rich.console.Console,
    result: scenario.DemoResult,
    *,
    report_path: pathlib.Path | None,
    record_path: pathlib.Path | None,
) -> None:
    """Print the outcome, each step's verdict and HAProxy counts, and the files written (None: failed)."""
    style = "bold green" if result.outcome is rollout_record.Outcome.PROMOTED else "bold red"
    console.print()
    console.print(rich.text.Text(f"outcome: {result.outcome.value}", style=style))
    console.print(result.reason, highlight=False)
    if result.record.cause:
        # One line however wide the terminal, so logs and scripts can find it.
        console.print(f"cause: {result.record.cause}", highlight=False, soft_wrap=True)
    for step in result.steps:
        share = "–" if step.canary_share is None else f"{100 * step.canary_share:.1f}%"
        console.print(
            f"  step {step.step} at {step.weight}%: {step.verdict}, HAProxy sent "
            f"{step.canary_requests} requests to v2 and {step.primary_requests} to v1 (canary share {share})",
            highlight=False,
            soft_wrap=True,
        )
    report = report_path or "not written"
    record = record_path or "not written"
    console.print(f"report: {report}   record: {record}   time: {result.duration_seconds:.0f} s")


def run(
    *,
    bad: str,
    fast: bool,
    verbose: bool,
    json_path: pathlib.Path | None,
    report_path: pathlib.Path,
    record_path: pathlib.Path,
) -> int:
    """Run the demo and write its outputs; return the exit code of its outcome.

    Raise `click.ClickException` when the demo cannot run. Ctrl-C and other stop signals propagate
    after every process the demo started was stopped.
    """
    # The live table shows the progress; log lines would tear it apart unless asked for.
    observability_logging.configure(log_format="console", level="info" if verbose else "error")
    console = rich.console.Console()
    _check_outputs(json_path=json_path, report_path=report_path, record_path=record_path)
    plan = scenario.FAST_PLAN if fast else scenario.FULL_PLAN
    try:
        with ProgressView(console=console, steps=plan.steps) as view:
            result = scenario.run_demo(
                bad=scenario.BadVersion(bad),
                fast=fast,
                record_path=record_path,
                on_pass=view.update,
                on_stage=view.stage,
            )
    except DEMO_ERRORS as error:
        write_json(json_path, {"outcome": "error", "reason": str(error), "exit_code": runner.EXIT_ERROR})
        raise click.ClickException(str(error)) from error

    exit_code = runner.EXIT_CODES[result.outcome]
    failures = write_outputs(console, result, json_path=json_path, report_path=report_path)
    for failure in failures:
        click.echo(f"Error: {failure}", err=True)
    # The exit code stays the outcome's even when an output failed: the rollout ended as printed.
    return exit_code


def write_outputs(
    console: rich.console.Console,
    result: scenario.DemoResult,
    *,
    json_path: pathlib.Path | None,
    report_path: pathlib.Path,
) -> list[str]:
    """Write the report, print the summary and write the JSON summary; return what failed.

    Each output is written even when another one failed, and each failure is one line.
    """
    failures = [] if result.record_error is None else [result.record_error]
    report: pathlib.Path | None = report_path
    try:
        report_command.write_page(result.record, destination=report_path, option="--report")
    except outputs.OutputPathError as error:
        failures.append(str(error))
        report = None
    record = None if result.record_error is not None else result.record_path

    print_summary(console, result, report_path=report, record_path=record)
    exit_code = runner.EXIT_CODES[result.outcome]
    summary = {
        **result.as_json(),
        "record": None if record is None else str(record),
        "report": None if report is None else str(report),
        "exit_code": exit_code,
    }
    try:
        write_json(json_path, summary)
    except OSError as error:
        failures.append(outputs.describe_failure(json_path, option="--json", error=error))
    return failures


def _check_outputs(
    *, json_path: pathlib.Path | None, report_path: pathlib.Path, record_path: pathlib.Path
) -> None:
    # The rollout takes minutes, so an output that cannot be written stops the demo before it starts.
    paths = {"--report": report_path, "--record": record_path}
    if json_path is not None:
        paths["--json"] = json_path
    failures = {}
    for option, path in paths.items():
        try:
            outputs.check_writable(path, option=option)
        except outputs.OutputPathError as error:
            failures[option] = str(error)
    if not failures:
        return
    message = "; ".join(failures.values())
    if "--json" not in failures:
        # Scripts read the outcome from the JSON file, so it says why nothing ran.
        write_json(json_path, {"outcome": "error", "reason": message, "exit_code": runner.EXIT_ERROR})
    raise click.ClickException(message)


def write_json(path: pathlib.Path | None, summary: dict[str, object]) -> None:
    # Scripts read the outcome from this file, so it is written for failed runs too.
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
