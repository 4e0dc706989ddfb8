"""A real HTTP service for tests: serves requests with a set error ratio and latency, exports metrics.

Run as `python -m tests.harness.app --port 8080 --namespace shop --workload web --error-ratio 0.1`.
`GET /` is one request of the service; `GET /metrics` is the Prometheus exposition. Each request is
counted in three metric shapes at once, so one process can stand behind any built-in preset:

- client library: `http_requests_total{code}` and `http_request_duration_seconds`;
- Istio: `istio_requests_total{reporter, destination_workload, destination_workload_namespace,
  response_code}` and `istio_request_duration_milliseconds`;
- ingress-nginx: `nginx_ingress_controller_requests{namespace, ingress, service, status}` and
  `nginx_ingress_controller_request_duration_seconds`;
- Envoy: `envoy_cluster_upstream_rq_total{envoy_cluster_name}`,
  `envoy_cluster_upstream_rq_xx{envoy_cluster_name, envoy_response_code_class}` and
  `envoy_cluster_upstream_rq_time` (milliseconds), with the cluster named
  `<namespace>/<service>/80/<hash>`.

Errors and slow requests are spread evenly and deterministically: request n (from 1) fails when
floor(n * error_ratio) > floor((n - 1) * error_ratio), so any run of requests has the configured
ratio to within one request. Each request sleeps for its latency and the histograms record that
configured latency, not the measured time, so bucket counts are exact.
"""

from __future__ import annotations

import argparse
import http.server
import math
import threading
import time

import prometheus_client

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MILLISECOND_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500)


class Service:
    """Decides each request's outcome and records it in every metric shape."""

    def __init__(self, *, options: argparse.Namespace) -> None:
        self.options = options
        self.lock = threading.Lock()
        self.served = 0
        self.registry = prometheus_client.CollectorRegistry()
        self._create_metrics()

    def _create_metrics(self) -> None:
        registry = self.registry
        self.http_requests = prometheus_client.Counter(
            "http_requests", "Requests served.", ["code"], registry=registry
        )
        self.http_duration = prometheus_client.Histogram(
            "http_request_duration_seconds", "Request latency.", buckets=HTTP_BUCKETS, registry=registry
        )
        istio_labels = ["reporter", "destination_workload", "destination_workload_namespace", "response_code"]
        self.istio_requests = prometheus_client.Counter(
            "istio_requests", "Requests seen by the sidecar.", istio_labels, registry=registry
        )
        self.istio_duration = prometheus_client.Histogram(
            "istio_request_duration_milliseconds",
            "Request latency in milliseconds.",
            istio_labels[:3],
            buckets=MILLISECOND_BUCKETS,
            registry=registry,
        )
        nginx_labels = ["namespace", "ingress", "service", "status"]
        # ingress-nginx names this counter without the `_total` suffix, which prometheus_client
        # always adds to a Counter; a Gauge that only grows has the same samples.
        self.nginx_requests = prometheus_client.Gauge(
            "nginx_ingress_controller_requests",
            "Requests through the ingress.",
            nginx_labels,
            registry=registry,
        )
        self.nginx_duration = prometheus_client.Histogram(
            "nginx_ingress_controller_request_duration_seconds",
            "Request latency at the ingress.",
            nginx_labels[:3],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )

        envoy_labels = ["envoy_cluster_name"]
        self.envoy_requests = prometheus_client.Counter(
            "envoy_cluster_upstream_rq", "Upstream requests of the cluster.", envoy_labels, registry=registry
        )
        # Envoy names this counter without `_total`; see the ingress-nginx counter above.
        self.envoy_requests_by_class = prometheus_client.Gauge(
            "envoy_cluster_upstream_rq_xx",
            "Upstream requests by status class.",
            [*envoy_labels, "envoy_response_code_class"],
            registry=registry,
        )
        self.envoy_duration = prometheus_client.Histogram(
            "envoy_cluster_upstream_rq_time",
            "Upstream request time in milliseconds.",
            envoy_labels,
            buckets=MILLISECOND_BUCKETS,
            registry=registry,
        )

    def next_request(self) -> tuple[int, float]:
        """Return the status code and latency in seconds of the next request."""
        with self.lock:
            self.served += 1
            number = self.served
        options = self.options
        failed = _is_marked(number, options.error_ratio)
        slow = _is_marked(number, options.slow_ratio)
        return (500 if failed else 200), (options.slow_latency if slow else options.latency)

    def record(self, *, code: int, latency: float) -> None:
        options = self.options
        self.http_requests.labels(code=str(code)).inc()
        self.http_duration.observe(latency)

        workload = ("destination", options.workload, options.namespace)
        self.istio_requests.labels(*workload, str(code)).inc()
        self.istio_duration.labels(*workload).observe(latency * 1000)

        route = (options.namespace, options.ingress, options.service or options.workload)
        self.nginx_requests.labels(*route, str(code)).inc()
        self.nginx_duration.labels(*route).observe(latency)

        cluster = f"{options.namespace}/{options.service or options.workload}/80/da39a3ee5e"
        self.envoy_requests.labels(cluster).inc()
        self.envoy_requests_by_class.labels(cluster, str(code // 100)).inc()
        self.envoy_duration.labels(cluster).observe(latency * 1000)


def _is_marked(number: int, ratio: float) -> bool:
    return math.floor(number * ratio) > math.floor((number - 1) * ratio)


def _handler(service: Service) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path == "/metrics":
                self._send(
                    200,
                    prometheus_client.generate_latest(service.registry),
                    prometheus_client.CONTENT_TYPE_LATEST,
                )
                return
            code, latency = service.next_request()
            time.sleep(latency)
            service.record(code=code, latency=latency)
            self._send(code, b"failed\n" if code >= 500 else b"ok\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    return Handler


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--namespace", default="shop")
    parser.add_argument("--workload", default="web")
    parser.add_argument(
        "--service", default=None, help="Service name for the ingress shape (default: workload)"
    )
    parser.add_argument("--ingress", default="web")
    parser.add_argument("--error-ratio", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.002, help="seconds")
    parser.add_argument("--slow-ratio", type=float, default=0.0)
    parser.add_argument("--slow-latency", type=float, default=0.2, help="seconds")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="exit after this long")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    service = Service(options=options)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", options.port), _handler(service))
    server.daemon_threads = True

    # Bounded life: the process ends by itself even if the test that started it died.
    threading.Timer(options.max_seconds, server.shutdown).start()
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
