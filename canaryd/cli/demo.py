"""`canaryd demo`: a real canary rollout on this machine through HAProxy, with live progress.

Layer 4 (CLI). Exit codes, also listed in `canaryd demo --help`:
  0   the rollout promoted v2;
  10  the rollout rolled back (the expected outcome of --bad errors and --bad latency);
  11  a step was left undecided and paused (traffic returned to v1);
  1   the demo could not run (a missing tool, a process that failed to start, an output path that
      cannot be written, an aborted run);
  130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM, 129 by SIGHUP (128 + the signal
      number); every process was stopped.
"""

from __future__ import annotations

import importlib
import json
import pathlib

import click

from canaryd.standalone import signals

# The values of `canaryd.demo.scenario.BadVersion`, repeated here because importing the demo takes
# about two seconds, and the signal handlers must be in place before that.
BAD_VERSIONS = ("none", "errors", "latency")
DEFAULT_RECORD_PATH = pathlib.Path("canaryd-demo-record.json")
DEFAULT_REPORT_PATH = pathlib.Path("canaryd-demo-report.html")


@click.command("demo")
@click.option(
    "--bad",
    type=click.Choice(BAD_VERSIONS),
    default=BAD_VERSIONS[0],
    show_default=True,
    help="How v2 misbehaves: none (it should be promoted), errors (v2 answers each request with a 500 "
    "at probability 20%; the few hundred requests of one step showed 15-18% in test runs) or latency "
    "(150 ms added to each request).",
)
@click.option(
    "--fast", is_flag=True, help="Two steps (20%, 50%) with short analysis windows; ends within two minutes."
)
@click.option(
    "--verbose", is_flag=True, help="Also print canaryd's log lines (info and above) to standard error."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Also write a machine-readable summary (outcome, steps, verdicts, HAProxy counts) to this file.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=DEFAULT_REPORT_PATH,
    show_default=True,
    help="HTML report to write.",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=DEFAULT_RECORD_PATH,
    show_default=True,
    help="Rollout record (JSON) to write; `canaryd report` reads it.",
)
def demo(
    bad: str,
    fast: bool,
    verbose: bool,
    json_path: pathlib.Path | None,
    report_path: pathlib.Path,
    record_path: pathlib.Path,
) -> None:
    """Run a real rollout on this machine through HAProxy.

    Starts on 127.0.0.1 two versions of a small HTTP service, HAProxy in front of them, Prometheus
    scraping them and a bounded load generator. Then rolls v2 out in steps, judges each step on
    Prometheus metrics, and promotes or rolls back. Every process is stopped at the end, on error,
    on Ctrl-C and on SIGTERM. Needs the haproxy and prometheus programs
    (`apt-get install haproxy prometheus`).

    Every output path (--json, --report, --record) is checked before anything starts; one that
    cannot be written stops the demo with exit code 1. If a write still fails at the end, the other
    outputs are written, an error line names the file, and the exit code remains the outcome's.

    Exit codes: 0 promoted, 10 rolled back, 11 paused, 1 error, 130 interrupted by Ctrl-C,
    143 stopped by SIGTERM.
    """
    # Ctrl-C and SIGTERM end the demo with their exit codes from the first moment, including while
    # the demo's modules load.
    signals.install()
    try:
        demo_console = importlib.import_module("canaryd.demo.console")
        exit_code = demo_console.run(
            bad=bad,
            fast=fast,
            verbose=verbose,
            json_path=json_path,
            report_path=report_path,
            record_path=record_path,
        )
    except (KeyboardInterrupt, signals.StopRequested) as stop:
        _report_stop(stop, json_path=json_path)
    raise SystemExit(exit_code)


def _report_stop(stop: BaseException, *, json_path: pathlib.Path | None) -> None:
    message = f"demo {signals.describe(stop)}; every process it started was stopped"
    click.echo(message)
    code = signals.exit_code(stop)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps({"outcome": "interrupted", "reason": message, "exit_code": code}))
        except OSError as error:
            click.echo(f"Error: cannot write --json file {json_path}: {error.strerror or error}", err=True)
    raise SystemExit(code) from None
