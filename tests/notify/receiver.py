"""A real HTTP webhook receiver on 127.0.0.1 for the notification tests.

Each test scripts the receiver's replies (status codes, delays) and reads back the JSON bodies it got.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from typing import Any


@dataclasses.dataclass
class Reply:
    """What the receiver does with one request: wait `delay_seconds`, then answer `status`."""

    status: int = 200
    delay_seconds: float = 0.0


class Receiver:
    """A threaded HTTP server that records POST bodies and answers from a script of replies.

    After the script runs out, every request gets the last reply again.
    """

    def __init__(self, *, replies: list[Reply] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.request_times: list[float] = []
        self._replies = list(replies or [Reply()])
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for_requests(self, count: int, *, timeout_seconds: float) -> int:
        """Wait until `count` requests arrived or the timeout passed; return how many arrived."""
        deadline = time.monotonic() + timeout_seconds
        with self._arrived:
            while len(self.request_times) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            return len(self.request_times)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._arrived:
            index = len(self.request_times)
            self.bodies.append(body)
            self.request_times.append(time.monotonic())
            self._arrived.notify_all()
        return self._replies[min(index, len(self._replies) - 1)]

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                reply = receiver._next_reply(body)
                time.sleep(reply.delay_seconds)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sink timed out and hung up, which is what some tests want

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        return Handler
