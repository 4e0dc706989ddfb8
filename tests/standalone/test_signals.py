"""Stop signals are named for people and exit with 128 + the signal number."""

from __future__ import annotations

import os
import signal

import pytest

from canaryd.standalone import signals


@pytest.mark.parametrize(
    ("error", "description", "exit_code"),
    [
        (KeyboardInterrupt(), "interrupted by Ctrl-C (SIGINT)", 130),
        (signals.StopRequested(signal.SIGTERM), "stopped by SIGTERM", 143),
        (signals.StopRequested(signal.SIGHUP), "stopped by SIGHUP", 129),
    ],
    ids=["sigint", "sigterm", "sighup"],
)
def test_stop_is_described_with_exit_code(error, description, exit_code):
    assert signals.is_stop(error)
    assert signals.describe(error) == description
    assert signals.exit_code(error) == exit_code


def test_other_errors_are_not_stops():
    assert not signals.is_stop(RuntimeError("boom"))


def test_installed_sigterm_raises_stop_requested():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        signals.install()
        with pytest.raises(signals.StopRequested) as raised:
            os.kill(os.getpid(), signal.SIGTERM)

        assert raised.value.signum == signal.SIGTERM
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
