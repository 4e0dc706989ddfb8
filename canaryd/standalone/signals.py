"""Signals that stop a rollout (Ctrl-C, SIGTERM, SIGHUP), how they are described and their exit codes.

Layer 3 (engine). SIGINT raises Python's `KeyboardInterrupt`; `install` makes SIGTERM and SIGHUP
raise `StopRequested`, so every stop unwinds the same way and the runner returns all traffic to the
primary. The exit code follows the shell convention 128 + signal number: 130 for SIGINT, 143 for
SIGTERM, 129 for SIGHUP. This module imports only the standard library, so a command can install
the handlers before it loads anything slow.
"""

from __future__ import annotations

import signal
import types

EXIT_CODES = {signum: 128 + signum for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


class StopRequested(BaseException):
    """A signal other than SIGINT asked the run to stop; it unwinds like `KeyboardInterrupt`."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def raise_stop_requested(signum: int, frame: types.FrameType | None) -> None:
    """Raise `StopRequested`; a signal handler for SIGTERM and SIGHUP."""
    raise StopRequested(signum)


def install() -> None:
    """Make SIGTERM and SIGHUP raise `StopRequested` and SIGINT raise `KeyboardInterrupt`."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_stop_requested)


def is_stop(error: BaseException) -> bool:
    """Return whether `error` comes from a signal that stops the run."""
    return isinstance(error, KeyboardInterrupt | StopRequested)


def describe(error: BaseException) -> str:
    """Name the signal behind `error` for people: "interrupted by Ctrl-C (SIGINT)" or "stopped by SIGTERM"."""
    if isinstance(error, StopRequested):
        return str(error)
    return "interrupted by Ctrl-C (SIGINT)"


def exit_code(error: BaseException) -> int:
    """Return 128 + the number of the signal behind `error`."""
    if isinstance(error, StopRequested):
        return EXIT_CODES.get(error.signum, 128 + error.signum)
    return EXIT_CODES[signal.SIGINT]
