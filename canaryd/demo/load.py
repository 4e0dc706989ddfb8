"""A bounded HTTP load generator for the demo: a steady request rate to one loopback URL.

Layer 4 tool, run as `python -m canaryd.demo.load --url http://127.0.0.1:N/ --rate 40 ...`. It
stops at whichever comes first: the time limit, the request limit, SIGTERM or SIGINT. It accepts
only loopback URLs, so the demo can never send traffic off the machine. On exit it writes a JSON
summary (requests sent, responses by status code, transport errors) to --summary, when given.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import http.client
import json
import pathlib
import signal
import sys
import threading
import time
import urllib.parse

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_WORKERS = 64


@dataclasses.dataclass
class LoadLimits:
    """When to stop: after `duration` seconds or `max_requests` requests, whichever comes first."""

    rate: float  # requests per second, spread evenly
    duration: float  # seconds
    max_requests: int
    workers: int

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"rate {self.rate} must be a positive number of requests per second")
        if self.duration <= 0:
            raise ValueError(f"duration {self.duration} must be a positive number of seconds")
        if self.max_requests <= 0:
            raise ValueError(f"max_requests {self.max_requests} must be positive")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers {self.workers} is out of range: allowed are 1..{MAX_WORKERS}")


@dataclasses.dataclass
class LoadSummary:
    """Counts of requests sent and of responses received, by status code."""

    sent: int = 0
    responses: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    transport_errors: int = 0
    elapsed_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "responses": dict(self.responses),
            "transport_errors": self.transport_errors,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def validate_loopback_url(url: str) -> urllib.parse.SplitResult:
    """Return the parsed URL, or raise ValueError unless it is plain http to a loopback host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"load URL {url!r} must use http://")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"load URL {url!r} must point at a loopback host ({', '.join(LOOPBACK_HOSTS)})")
    return parts


class LoadGenerator:
    """Send GET requests at a fixed rate from a pool of worker threads with keep-alive connections."""

    def __init__(self, *, url: str, limits: LoadLimits) -> None:
        self.target = validate_loopback_url(url)
        self.limits = limits
        self.summary = LoadSummary()
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._started = 0.0
        self._scheduled = 0  # send slots handed out, including any still waiting for their time

    def run(self) -> LoadSummary:
        """Send requests until a limit is reached or `stop` is called; return the summary."""
        self._started = time.monotonic()
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self.limits.workers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.summary.elapsed_seconds = time.monotonic() - self._started
        return self.summary

    def stop(self) -> None:
        self.stopped.set()

    def _next_slot(self) -> float | None:
        # Hands out send times on a fixed grid (request n at n / rate), so the rate stays steady even
        # when one worker waits on a slow response. None means a limit is reached.
        with self._lock:
            if self._scheduled >= self.limits.max_requests:
                return None
            slot = self._started + self._scheduled / self.limits.rate
            if slot - self._started >= self.limits.duration:
                return None
            self._scheduled += 1
            return slot

    def _record(self, status: str | None) -> None:
        with self._lock:
            self.summary.sent += 1
            if status is None:
                self.summary.transport_errors += 1
            else:
                self.summary.responses[status] += 1

    def _work(self) -> None:
        connection = self._connect()
        path = self.target.path or "/"
        while not self.stopped.is_set():
            slot = self._next_slot()
            if slot is None:
                break
            if self.stopped.wait(max(0.0, slot - time.monotonic())):
                break
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                self._record(str(response.status))
            except (OSError, http.client.HTTPException):
                self._record(None)
                connection.close()
                connection = self._connect()
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.target.hostname, self.target.port or 80, timeout=10.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="canaryd demo load: a bounded request rate to a loopback URL."
    )
    parser.add_argument("--url", required=True, help="http URL on 127.0.0.1, localhost or ::1")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=300.0, help="time limit, in seconds")
    parser.add_argument("--max-requests", type=int, default=100_000, help="request limit")
    parser.add_argument("--workers", type=int, default=8, help="concurrent connections (1..64)")
    parser.add_argument("--summary", type=pathlib.Path, help="write a JSON summary to this file on exit")
    arguments = parser.parse_args(argv)
    try:
        limits = LoadLimits(
            rate=arguments.rate,
            duration=arguments.duration,
            max_requests=arguments.max_requests,
            workers=arguments.workers,
        )
        generator = LoadGenerator(url=arguments.url, limits=limits)
    except ValueError as error:
        parser.error(str(error))

    signal.signal(signal.SIGTERM, lambda signum, frame: generator.stop())
    signal.signal(signal.SIGINT, lambda signum, frame: generator.stop())
    summary = generator.run()
    if arguments.summary:
        arguments.summary.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    print(json.dumps(summary.as_dict()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
