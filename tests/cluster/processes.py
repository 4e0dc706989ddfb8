"""Child processes of the control plane: started in their own process group with output to a log file,
polled until ready within a deadline, and stopped with SIGTERM then SIGKILL, each wait bounded.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40
# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


# PR_SET_PDEATHSIG fires when the thread that forked the child ends, not the whole process. One thread that
# lives as long as the test process forks every child, so a server started again from a short-lived
# thread (a test that restarts the API server mid-rollout) does not die when that thread returns.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="control-plane-spawner")


class StartupError(RuntimeError):
    """A control-plane process exited or did not become ready in time."""


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this child when the test process dies, even by SIGKILL, so no server outlives
    the tests."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ManagedProcess:
    """One control-plane binary running in its own process group."""

    def __init__(self, *, name: str, argv: list[str], log_path: pathlib.Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            # A new session makes the process the leader of its own group, so stop() reaches its children.
            self._process = _SPAWNER.submit(
                subprocess.Popen, self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            ).result()

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_until(self, *, is_ready: Callable[[], bool], timeout: float, condition: str) -> None:
        """Poll `is_ready` until it returns True; raise StartupError with the log tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise StartupError(
                    f"{self.name} exited with code {self._exit_code()} before {condition}\n{self.log_tail()}")
            if is_ready():
                return
            time.sleep(0.25)
        raise StartupError(f"{self.name} timed out after {timeout:.0f}s waiting for '{condition}'\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=STOP_GRACE_SECONDS)

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(lines[-LOG_TAIL_LINES:])

    def _exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()


def https_answers_ok(url: str, *, context: ssl.SSLContext) -> bool:
    """True when GET `url` returns HTTP 200; connection errors and other statuses count as not yet."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
        return False


def http_answers_ok(url: str) -> bool:
    # Loopback only: a proxy from the environment must never see these requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
