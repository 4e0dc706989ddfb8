"""The standalone mode as a command: run one rollout file, print the outcome, exit with its code.

Layer 3 (engine). `canaryd run --standalone rollout.yaml` calls `canaryd.standalone.run`, which
lands here. Exit codes: 0 promoted, 10 rolled back, 11 paused, 6 invalid rollout file, 1 any other
error (traffic returned to the primary where possible), 130 interrupted by Ctrl-C (SIGINT),
143 stopped by SIGTERM, 129 by SIGHUP (128 + the signal number).
"""

from __future__ import annotations

import pathlib
import sys

from canaryd.metrics import outcomes
from canaryd.observability import logging as observability_logging
from canaryd.routers import protocol
from canaryd.standalone import config as standalone_config
from canaryd.standalone import outputs, runner, signals


def run(*, config_path: pathlib.Path, record_path: pathlib.Path | None = None) -> None:
    """Run the rollout in `config_path` and exit with the code of its outcome."""
    observability_logging.configure(log_format="console", level="info")
    # SIGTERM (a service manager stopping the run) then unwinds like Ctrl-C, and the runner returns
    # all traffic to the primary before exiting.
    signals.install()
    try:
        result = runner.run_file(config_path, record_path=record_path)
    except standalone_config.ConfigError as error:
        _fail(str(error), runner.EXIT_INVALID_CONFIG)
    except outputs.OutputPathError as error:
        _fail(str(error), runner.EXIT_ERROR)
    except (runner.RunnerError, protocol.RouterError, outcomes.MetricsOutcome) as error:
        _fail(f"rollout stopped: {error}", runner.EXIT_ERROR)
    except (KeyboardInterrupt, signals.StopRequested) as stop:
        _fail(
            f"rollout {signals.describe(stop)}; all traffic was returned to the primary",
            signals.exit_code(stop),
        )

    print(f"{result.outcome.value}: {result.record.reason}")
    if result.record.cause:
        print(f"cause: {result.record.cause}")
    if result.record_error is None:
        print(f"record: {result.record_path} (write a report with `canaryd report {result.record_path}`)")
    else:
        # The exit code stays the outcome's: the rollout itself ended as printed above.
        print(f"Error: {result.record_error}", file=sys.stderr)
    raise SystemExit(runner.EXIT_CODES[result.outcome])


def _fail(message: str, code: int) -> None:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(code)
