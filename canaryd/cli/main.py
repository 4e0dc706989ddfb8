"""The `canaryd` command group. Each subcommand lives in its own module under `canaryd.cli`.

Subcommand modules are imported lazily, so `canaryd --help` stays fast and a command whose optional
dependencies are missing fails alone, with its own message.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> (module, attribute, one-line purpose). The purpose shows in `canaryd --help` without importing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "canaryd.cli.run",
        "run",
        "Run the controller daemon (Kubernetes, or --standalone with a config file).",
    ),
    "status": ("canaryd.cli.rollouts", "status", "Show a rollout's phase, step, weights and verdicts."),
    "history": ("canaryd.cli.rollouts", "history", "List past rollout attempts of a Deployment."),
    "promote": ("canaryd.cli.rollouts", "promote", "Promote the canary now, skipping remaining steps."),
    "abort": ("canaryd.cli.rollouts", "abort", "Abort the rollout and roll traffic back to the primary."),
    "pause": ("canaryd.cli.rollouts", "pause", "Pause the rollout at its current step."),
    "resume": ("canaryd.cli.rollouts", "resume", "Resume a paused rollout."),
    "analyze": ("canaryd.cli.analyze", "analyze", "Judge a past time window from Prometheus, offline."),
    "report": ("canaryd.cli.report", "report", "Write an HTML report of a rollout with plots."),
    "demo": ("canaryd.cli.demo", "demo", "Run a real rollout on this machine through HAProxy."),
    "bench": ("canaryd.cli.bench", "bench", "Measure the judge against other tools' methods in simulation."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute, purpose = COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            return _unavailable(cmd_name, purpose)
        return getattr(module, attribute)


    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version imports every subcommand module to read its short help, which takes
        # seconds. The purposes in COMMANDS give the same text without importing anything.
        rows = [(name, purpose) for name, (_, _, purpose) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, purpose: str) -> click.Command:
    def fail() -> None:
        raise click.ClickException(f"'canaryd {name}' is not available in this build.")

    return click.Command(name, callback=fail, help=purpose, short_help=purpose)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="canaryd")
def cli() -> None:
    """canaryd: progressive canary rollouts judged by sound statistics."""


def main() -> None:
    # kubectl runs the `kubectl-canary` script for `kubectl canary ...`, so usage lines name that command.
    program = os.path.basename(sys.argv[0])
    cli(prog_name="kubectl canary" if program.startswith("kubectl-canary") else "canaryd")
