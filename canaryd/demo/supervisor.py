"""Start the demo's processes on 127.0.0.1 and stop every one of them, whatever happens.

Layer 4 tool. Each child runs in its own session, so its process group ID equals its PID and one
signal reaches it and anything it forks. `Supervisor.stop_all` signals every group with SIGTERM,
waits, then sends SIGKILL to what is left. It runs when the `with` block ends (normal exit, an
exception, or Ctrl-C, which Python raises as KeyboardInterrupt), on SIGTERM and SIGHUP (turned
into the same exception), and from `atexit` as a last resort. Only a SIGKILL of the demo itself,
which no handler can catch, leaves the children running.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time
import types
from collections.abc import Callable, Sequence

import httpx
import structlog

from canaryd.standalone import signals

logger = structlog.get_logger(__name__)

LOOPBACK = "127.0.0.1"

# How to install each external tool the demo runs, for the error when it is missing.
INSTALL_HINTS = {
    "haproxy": "apt-get install haproxy",
    "prometheus": "apt-get install prometheus",
}


class DemoError(Exception):
    """The demo could not start or run one of its parts."""


class MissingToolError(DemoError):
    """An external program the demo needs is not installed."""


class ProcessExitedError(DemoError):
    """A supervised process exited before it became ready."""


class TerminationRequested(signals.StopRequested):
    """SIGTERM or SIGHUP arrived; raised like KeyboardInterrupt so cleanup runs."""


# Debian installs haproxy in /usr/sbin, which is not on an ordinary user's PATH.
SYSTEM_BINARY_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def require_tool(name: str) -> str:
    """Return the path of an external program, or raise naming the command that installs it."""
    path = shutil.which(name)
    if path is None:
        path = shutil.which(name, path=os.pathsep.join(SYSTEM_BINARY_DIRS))
    if path is None:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise MissingToolError(
            f"{name} is not installed or not on PATH; the demo runs a real {name}. "
            f"Install it with `{hint}` (Debian or Ubuntu, as root), or run `make demo`, which installs it"
        )
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    # NOTE: another program may take the port between this call and the child's bind; the child
    # then exits, and `wait_until_ready` raises with its log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class SupervisedProcess:
    """One child process, its log file and its process group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: pathlib.Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def is_running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Owner of the demo's child processes; use as a context manager."""

    def __init__(self, *, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.processes: list[SupervisedProcess] = []
        self._previous_handlers: dict[int, object] = {}

    def __enter__(self) -> Supervisor:
        atexit.register(self.stop_all)

        # Python lets only the main thread install signal handlers; elsewhere the caller's own
        # handling and `atexit` remain.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGHUP):
                self._previous_handlers[signum] = signal.signal(signum, _raise_termination)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous_handlers.clear()
        atexit.unregister(self.stop_all)

    def start(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> SupervisedProcess:
        """Start `argv` in a new session with its output in `<workdir>/<name>.log`."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log_file:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        process = SupervisedProcess(name=name, popen=popen, log_path=log_path)
        self.processes.append(process)
        logger.debug("process_started", process=name, pid=popen.pid)
        return process

    def wait_until_ready(
        self, process: SupervisedProcess, is_ready: Callable[[], bool], *, timeout: float = 20.0
    ) -> None:
        """Poll `is_ready` until it returns True; raise if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.is_running:
                raise ProcessExitedError(
                    f"{process.name} exited with code {process.popen.returncode} before it was ready. "
                    f"Its log {process.log_path} ends with:\n{process.log_tail()}"
                )
            if is_ready():
                return
            time.sleep(0.1)
        raise DemoError(
            f"{process.name} was not ready after {timeout:.0f} s. "
            f"Its log {process.log_path} ends with:\n{process.log_tail()}"
        )

    def stop(self, process: SupervisedProcess, *, grace: float = 5.0) -> None:
        """Stop one process group: SIGTERM, then SIGKILL after `grace` seconds."""
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("process_kill_sent", process=process.name, pid=process.pid, grace_seconds=grace)
            _signal_group(process.pid, signal.SIGKILL)
            process.popen.wait(timeout=grace)
        # Children the leader forked may outlive it; the group signal above reached them too, and
        # SIGKILL now ends any that ignored SIGTERM. A killed process takes a moment to exit, so the
        # group is watched until none of it runs.
        _signal_group(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + grace
        while is_process_group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop_all(self) -> None:
        """Stop every process started, newest first; safe to call more than once."""
        while self.processes:
            process = self.processes.pop()
            try:
                self.stop(process)
            except (OSError, subprocess.TimeoutExpired) as error:
                logger.error("process_stop_failed", process=process.name, pid=process.pid, error=str(error))
            else:
                logger.debug("process_stopped", process=process.name, pid=process.pid)

    @property
    def process_groups(self) -> list[int]:
        """Process group IDs of the children still supervised."""
        return [process.pid for process in self.processes]


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _raise_termination(signum: int, frame: types.FrameType | None) -> None:
    raise TerminationRequested(signum)


def is_http_ready(url: str) -> Callable[[], bool]:
    """Return a readiness probe that is true once `url` responds with a 2xx status."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    return probe


def is_process_group_alive(pgid: int) -> bool:
    """Return whether any process of the group still runs; zombies waiting to be reaped do not count."""
    proc = pathlib.Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True

    # /proc/<pid>/stat is "pid (comm) state ppid pgrp ..."; comm may contain spaces, so split after ")".
    for stat_path in proc.glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False
