"""The controller's HTTP endpoint: `/healthz` (liveness), `/readyz` (readiness) and `/metrics`.

Layer 2. Liveness answers whether the process still makes progress: it fails only when the
controller's heartbeat (touched by its main loop and its workers when idle or between keys) is older
than `stall_after` seconds. It is deliberately not tied to the work-queue backlog, because a long
queue after a restart is work, not a fault, and restarting the pod would only make it longer.
Readiness answers whether the caches have synced, so a rolling update of canaryd waits for it.
"""

from __future__ import annotations

import collections.abc
import http.server
import threading
import time

import prometheus_client

from canaryd.observability import metrics as controller_metrics


class Heartbeat:
    """The last time the controller showed progress, on the monotonic clock."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self._last


class HealthServer:
    """A small threaded HTTP server for probes and scrapes."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        metrics: controller_metrics.ControllerMetrics,
        heartbeat: Heartbeat,
        is_ready: collections.abc.Callable[[], bool],
        stall_after: float = 120.0,
    ) -> None:
        self._metrics = metrics
        self._heartbeat = heartbeat
        self._is_ready = is_ready
        self._stall_after = stall_after
        self._server = http.server.ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        # shutdown() waits for serve_forever() to return, so it would hang on a server never started.
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """Return status, content type and body for a GET of `path`."""
        if path == "/healthz":
            age = self._heartbeat.age()
            if age > self._stall_after:
                return 500, "text/plain", f"stalled: no progress for {age:.0f} s\n".encode()
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            if self._is_ready():
                return 200, "text/plain", b"ok\n"
            return 503, "text/plain", b"not ready: caches have not synced yet\n"
        if path == "/metrics":
            return 200, prometheus_client.CONTENT_TYPE_LATEST, self._metrics.render()
        return 404, "text/plain", b"not found: try /healthz, /readyz or /metrics\n"

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- the name http.server dispatches to
                status, content_type, body = server.respond(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                # Probes hit this every few seconds; access lines would drown the controller's logs.
                return

        return Handler
