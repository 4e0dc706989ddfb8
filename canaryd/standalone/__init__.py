"""Standalone mode: one rollout through HAProxy outside Kubernetes, with the same core, judge and metrics.

`config` reads the rollout file, `runner` drives the rollout, `analysis` judges each step from
Prometheus, `record` keeps what happened for `canaryd report`, and `command` is the entry point of
`canaryd run --standalone`.
"""

from __future__ import annotations

import pathlib
import sys

from canaryd.standalone import signals


def run(*, config_path: str | pathlib.Path) -> None:
    """Run the rollout file at `config_path` and exit with its outcome's code (0 means promoted)."""
    # Loading the engine takes seconds, and a signal in that time must already stop the run cleanly.
    signals.install()
    try:
        # Imported here, so that reading a record (`canaryd report`) does not load the Prometheus client.
        from canaryd.standalone import command
    except (KeyboardInterrupt, signals.StopRequested) as stop:
        print(f"Error: rollout {signals.describe(stop)} before it started; nothing changed", file=sys.stderr)
        raise SystemExit(signals.exit_code(stop)) from None

    command.run(config_path=pathlib.Path(config_path))
