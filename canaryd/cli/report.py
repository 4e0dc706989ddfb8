"""`canaryd report`: write one HTML page about a rollout, from a record file or a CanaryRollout.

Layer 4 (CLI).
"""

from __future__ import annotations

import pathlib

import click

from canaryd.cli import output
from canaryd.report import html, sources
from canaryd.standalone import outputs
from canaryd.standalone import record as rollout_record


def write_report(*, source: pathlib.Path, destination: pathlib.Path, option: str) -> pathlib.Path:
    """Render the report of `source` into `destination` and return the path written.

    Raise `sources.SourceError` for an unreadable source and `outputs.OutputPathError`, naming
    `option`, when `destination` cannot be written.
    """
    return write_page(sources.load(source), destination=destination, option=option)


def write_page(
    record: rollout_record.RolloutRecord, *, destination: pathlib.Path, option: str
) -> pathlib.Path:
    """Render the report of `record` into `destination` and return the path written."""
    page = html.render(record)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(page, encoding="utf-8")
    except OSError as error:
        raise outputs.OutputPathError(
            outputs.describe_failure(destination, option=option, error=error)
        ) from error
    return destination


@click.command("report")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    "--output",
    "-o",
    "destination",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="HTML file to write. Default: SOURCE with the suffix .html.",
)
def report(source: pathlib.Path, destination: pathlib.Path | None) -> None:
    """Write an HTML report of a rollout with plots.

    SOURCE is a record written by `canaryd run --standalone` or `canaryd demo`, or a CanaryRollout
    exported with `kubectl get canaryrollout NAME -o yaml`.
    """
    destination = destination or source.with_suffix(".html")
    try:
        written = write_report(source=source, destination=destination, option="--output")
    except sources.SourceError as error:
        # The SOURCE argument names a file of the wrong kind: a usage error, not a failure of canaryd.
        raise output.CliError(str(error), exit_code=output.ExitCode.USAGE) from error
    except outputs.OutputPathError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"report written to {written}")
