"""`canaryd bench`: measure the judge against other tools' methods in seeded simulation."""

from __future__ import annotations

import json
import pathlib
import sys

import click
import rich.console

from canaryd.bench import report
from canaryd.cli import output


@click.command("bench")
@click.option("--quick", is_flag=True, help="Run the small seeded version (about a minute) that CI runs.")
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Root seed of every run's random stream."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=pathlib.Path),
    help="Also write every figure, with 95% intervals, to this JSON file.",
)
def bench(quick: bool, seed: int, json_path: pathlib.Path | None) -> None:
    """Measure the judge against Flagger, Argo Rollouts, Kayenta and the SPRT oracle.

    Exits with status 10 when a target is missed (docs/bench.md lists the two known misses).
    """
    # Progress lines carry the time but not the source line that logged them.
    console = rich.console.Console(stderr=True, log_path=False)
    size = report.QUICK if quick else report.FULL
    figures = report.run_bench(size=size, seed=seed, progress=lambda line: console.log(line))

    table_console = rich.console.Console()
    if not table_console.is_terminal:
        # Written to a file or a pipe: wide enough that no column wraps.
        table_console = rich.console.Console(width=200)
    table_console.print(report.render_table(figures))
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
    missed = [target["target"] for target in figures["targets"] if not target["met"]]
    if missed:
        console.print(f"{len(missed)} target(s) missed: " + "; ".join(missed))
        sys.exit(output.ExitCode.FAILED)
