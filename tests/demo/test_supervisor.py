"""The supervisor stops every process group it started, however its block ends."""

from __future__ import annotations

import os
import pathlib
import signal
import time

import pytest

from canaryd.demo import supervisor as supervision

FORKING_SHELL = ["sh", "-c", "sleep 60 & sleep 60"]
TERM_IGNORING_SHELL = ["sh", "-c", "trap '' TERM; sleep 60 & wait"]


def test_exit_stops_process_and_its_children(tmp_path):
    with supervision.Supervisor(workdir=tmp_path) as processes:
        process = processes.start("forking", FORKING_SHELL)
        time.sleep(0.2)
        pgid = process.pid
        assert supervision.is_process_group_alive(pgid)

    assert not supervision.is_process_group_alive(pgid)


def test_exception_stops_processes(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with supervision.Supervisor(workdir=tmp_path) as processes:
            process = processes.start("sleeper", ["sleep", "60"])
            raise RuntimeError("boom")

    assert not supervision.is_process_group_alive(process.pid)


def test_sigterm_becomes_exception_and_stops_processes(tmp_path):
    with pytest.raises(supervision.TerminationRequested, match="SIGTERM"):
        with supervision.Supervisor(workdir=tmp_path) as processes:
            process = processes.start("sleeper", ["sleep", "60"])
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

    assert not supervision.is_process_group_alive(process.pid)
    assert signal.getsignal(signal.SIGTERM) is not supervision._raise_termination


def test_term_ignoring_process_is_killed(tmp_path):
    with supervision.Supervisor(workdir=tmp_path) as processes:
        process = processes.start("stubborn", TERM_IGNORING_SHELL)
        time.sleep(0.2)
        started = time.monotonic()
        processes.stop_all()

    assert not supervision.is_process_group_alive(process.pid)
    assert time.monotonic() - started < 12


def test_early_exit_reports_log_tail(tmp_path):
    with supervision.Supervisor(workdir=tmp_path) as processes:
        process = processes.start("failing", ["sh", "-c", "echo cannot bind port >&2; exit 3"])

        with pytest.raises(supervision.ProcessExitedError, match="(?s)exited with code 3.*cannot bind port"):
            processes.wait_until_ready(process, lambda: False, timeout=5)


def test_missing_tool_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(supervision, "SYSTEM_BINARY_DIRS", ())

    with pytest.raises(supervision.MissingToolError, match="apt-get install haproxy"):
        supervision.require_tool("haproxy")


def test_log_file_is_in_workdir(tmp_path):
    with supervision.Supervisor(workdir=tmp_path) as processes:
        process = processes.start("echo", ["sh", "-c", "echo hello"])
        process.popen.wait(timeout=5)

    assert pathlib.Path(tmp_path / "echo.log").read_text() == "hello\n"


@pytest.mark.skipif(not os.path.exists("/usr/sbin/haproxy"), reason="needs Debian's haproxy in /usr/sbin")
def test_tool_in_sbin_is_found(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    assert supervision.require_tool("haproxy").endswith("/sbin/haproxy")
