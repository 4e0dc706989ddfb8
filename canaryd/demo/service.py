"""The demo's HTTP service: one version per process, with Prometheus client-library metrics.

Layer 4 tool, run as `python -m canaryd.demo.service --port N --version v2 ...`. `GET /` returns
"hello from <version>" after a short random delay. A version may add a share of 500 errors or
extra latency, which is how the demo's bad canary misbehaves. `GET /metrics` exposes the metrics
the `http` preset reads:

- `http_requests_total{method, code, version}`: a counter of completed requests;
- `http_request_duration_seconds{method, version}`: a histogram of time to answer, in seconds.

Requests to /metrics and /healthz are not counted, so scrapes do not dilute the error ratio.
"""

from __future__ import annotations

import argparse
import http.server
import random
import signal
import sys
import threading
import time

import prometheus_client

# Latency buckets in seconds, fine below 0.5 s where the demo's good and bad versions differ.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0)


class DemoService:
    """Behaviour of one version: how slow it is and how often it fails."""

    def __init__(
        self,
        *,
        version: str,
        error_ratio: float,
        latency_seconds: float,
        extra_latency_seconds: float,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= error_ratio <= 1.0:
            raise ValueError(f"error ratio {error_ratio} is out of range: allowed are 0.0..1.0")
        if latency_seconds < 0 or extra_latency_seconds < 0:
            raise ValueError("latencies must be zero or positive seconds")
        self.version = version
        self.error_ratio = error_ratio
        self.latency_seconds = latency_seconds
        self.extra_latency_seconds = extra_latency_seconds
        self.random = random.Random(seed)
        self.random_lock = threading.Lock()

        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "http_requests", "HTTP requests answered.", ["method", "code", "version"], registry=self.registry
        )
        self.duration = prometheus_client.Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, in seconds.",
            ["method", "version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def draw_outcome(self) -> tuple[float, bool]:
        """Return this request's delay in seconds and whether it fails."""
        # An exponential delay around the mean resembles real service times better than a constant.
        with self.random_lock:
            delay = self.random.expovariate(1.0 / self.latency_seconds) if self.latency_seconds else 0.0
            fails = self.random.random() < self.error_ratio
        return delay + self.extra_latency_seconds, fails


def make_handler(service: DemoService) -> type[http.server.BaseHTTPRequestHandler]:
    """Return a request handler class bound to `service`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path == "/metrics":
                self._reply(
                    200,
                    prometheus_client.generate_latest(service.registry),
                    prometheus_client.CONTENT_TYPE_LATEST,
                )
            elif self.path == "/healthz":
                self._reply(200, b"ok\n", "text/plain")
            else:
                self._serve_request()

        def _serve_request(self) -> None:
            started = time.perf_counter()
            delay, fails = service.draw_outcome()
            time.sleep(delay)
            code = 500 if fails else 200
            body = f"{'error' if fails else 'hello'} from {service.version}\n".encode()
            self._reply(code, body, "text/plain")
            service.requests.labels(method="GET", code=str(code), version=service.version).inc()
            service.duration.labels(method="GET", version=service.version).observe(
                time.perf_counter() - started
            )

        def _reply(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
            # One line per request would flood the log file; the metrics count requests.
            pass

    return Handler


def serve(*, port: int, service: DemoService) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(service))
    server.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"demo service {service.version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="canaryd demo service: one version of a small HTTP API.")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--version", required=True, help="version label, for example v1 or v2")
    parser.add_argument(
        "--error-ratio", type=float, default=0.0, help="share of requests answered 500 (0..1)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.01, help="mean random delay per request, in seconds"
    )
    parser.add_argument(
        "--extra-latency", type=float, default=0.0, help="delay added to every request, in seconds"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the random delays and errors")
    arguments = parser.parse_args(argv)
    try:
        service = DemoService(
            version=arguments.version,
            error_ratio=arguments.error_ratio,
            latency_seconds=arguments.latency,
            extra_latency_seconds=arguments.extra_latency,
            seed=arguments.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    serve(port=arguments.port, service=service)


if __name__ == "__main__":
    sys.exit(main())
