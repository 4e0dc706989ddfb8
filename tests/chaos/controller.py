"""The controller under fault injection: `canaryd run` as a child process, and listeners that record requests.

`ControllerProcess` runs the real daemon against the test cluster with short lease and requeue periods,
so a test can kill it with SIGKILL at any moment and start it again. `RecordingServer` is an HTTP server
on 127.0.0.1 that records every connection and request it receives, to show where the controller sent
requests and where it did not.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from tests.cluster import processes

START_SECONDS = 30.0


class ControllerProcess:
    """One `canaryd run` replica; `kill()` is SIGKILL, so it gets no chance to clean up."""

    def __init__(
        self,
        *,
        kubeconfig: pathlib.Path,
        workdir: pathlib.Path,
        prometheus_url: str,
        lease_namespace: str,
        identity: str = "replica-a",
        namespaces: tuple[str, ...] = (),
        extra_arguments: tuple[str, ...] = (),
        environment: dict[str, str] | None = None,
    ) -> None:
        self.identity = identity
        self.health_port = processes.free_port()
        self.log_path = workdir / f"canaryd-{identity}.log"
        self.argv = [
            sys.executable, "-m", "canaryd", "run",
            "--kubeconfig", str(kubeconfig),
            "--prometheus-url", prometheus_url,
            "--health-address", f"127.0.0.1:{self.health_port}",
            "--lease-namespace", lease_namespace,
            "--identity", identity,
            "--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1",
            "--requeue", "1", "--resync", "30",
            "--scrape-interval", "1", "--analysis-interval", "6",
            "--judge-warmup", "0", "--judge-min-intervals", "3",
            "--log-format", "json", "--log-level", "info",
            *[argument for namespace in namespaces for argument in ("--namespace", namespace)],
            *extra_arguments,
        ]  # fmt: skip
        # Only the variables a test sets reach the daemon, so no webhook URL leaks in from this shell.
        self.environment = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.getcwd(),
            **(environment or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment,
                start_new_session=True,
            )
        self.starts += 1

    def wait_ready(self, *, timeout: float = START_SECONDS) -> None:
        """Wait until /readyz returns 200, which means the caches have synced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise AssertionError(
                    f"canaryd run exited with code {self._process.poll()}\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.health_port}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"canaryd run not ready within {timeout:g}s\n{self.log_tail()}")

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL the daemon's process group and wait for it to be gone."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self._process = None

    def log_lines(self) -> list[dict]:
        """The daemon's JSON log lines so far (lines that are not JSON are skipped)."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records every connection and request, and responds with `body`."""

    def __init__(self, *, body: dict | None = None, status: int = 200) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.lock = threading.Lock()
        recorder = self
        payload = json.dumps(body or {}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with recorder.lock:
                    recorder.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                return

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: socket.socket, client_address: object) -> bool:
                with recorder.lock:
                    recorder.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name=f"recorder-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
