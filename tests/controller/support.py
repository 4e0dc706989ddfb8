"""Real parts for the controller's cluster tests: the controller process, pod traffic, route watching.

- `ControllerProcess` runs `canaryd run` as a subprocess against the test control plane, so a test can
  kill it with SIGKILL and start it again, exactly as a node failure would.
- `PodTraffic` is the traffic generator: it reads the HTTPRoute's weights and the Services' selectors
  from the API, splits a fixed request rate over the Ready kwok pods behind each Service the way a
  Gateway would, and serves per-pod `http_requests_total` and latency histograms on 127.0.0.1 for a
  real Prometheus to scrape. A pod whose image names a "bad" release fails a set share of requests.
- `RouteWatcher` watches the HTTPRoute and records every version the API server stored.
"""

from __future__ import annotations

import copy
import http.server
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import kubernetes

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
GATEWAY = ("gateway.networking.k8s.io", "v1", "httproutes")
ROLLOUTS = ("canaryd.io", "v1alpha1", "canaryrollouts")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], *, timeout: float, message: str, interval: float = 0.5) -> Any:
    """Poll `condition` until it returns something truthy; fail with `message` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}; last value: {last!r}")


# The controller.

# Analysis timings short enough for a rollout to finish in seconds against the harness' 1 s scrapes; the
# e2e suite passes the same flags to its controller.
SHORT_ANALYSIS_FLAGS = (
    "--scrape-interval", "1",
    "--analysis-interval", "4",
    "--judge-warmup", "0",
    "--judge-min-intervals", "3",
    "--requeue", "1",
)  # fmt: skip


class ControllerProcess:
    """`canaryd run` on the test cluster, watching one namespace, with short timings for tests."""

    def __init__(
        self,
        *,
        kubeconfig: pathlib.Path,
        namespace: str,
        prometheus_url: str,
        workdir: pathlib.Path,
        identity: str = "canaryd-test-0",
    ) -> None:
        self.port = free_port()
        self.identity = identity
        self.log_path = workdir / f"controller-{identity}.log"
        self.command = [
            sys.executable, "-m", "canaryd", "run",
            "--kubeconfig", str(kubeconfig),
            "--namespace", namespace,
            "--lease-namespace", namespace,
            "--identity", identity,
            "--health-address", f"127.0.0.1:{self.port}",
            "--prometheus-url", prometheus_url,
            *SHORT_ANALYSIS_FLAGS,
            "--lease-duration", "4",
            "--renew-deadline", "3",
            "--retry-period", "1",
            "--keep-rollouts", "3",
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()
        self._process = subprocess.Popen(
            self.command, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPOSITORY, start_new_session=True
        )
        wait_for(self._is_ready, timeout=30, message=f"controller {self.identity} ready; log {self.log_path}")

    def _is_ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"controller exited with {self._process.returncode}:\n{self.log_tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5.0).text

    def kill(self) -> None:
        """Stop the process at once, with no chance to release its Lease."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, characters: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""


# Pod traffic.


def _is_ready(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


class PodTraffic:
    """Per-pod request counters driven by the HTTPRoute's weights, served for Prometheus."""

    def __init__(
        self,
        *,
        api_client: kubernetes.client.ApiClient,
        namespace: str,
        route: str | None,
        backends: tuple[str, ...],
        requests_per_second: float,
        error_ratio_by_image: dict[str, float],
        latency_seconds: float = 0.01,
        max_seconds: float = 600.0,
    ) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.route = route
        self.backends = backends
        self.rate = requests_per_second
        self.error_ratio_by_image = error_ratio_by_image
        self.latency = latency_seconds
        self.max_seconds = max_seconds
        self.requests: dict[str, float] = {}  # pod -> requests served
        self.errors: dict[str, float] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self._stop = threading.Event()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        for target in (self._server.serve_forever, self._drive):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def add_backend(self, service: str) -> None:
        """Also send traffic to `service` whenever the route gives it a weight, such as a baseline's."""
        self.backends = (*self.backends, service)

    def _weights(self) -> dict[str, int]:
        if self.route is None:
            return {self.backends[0]: 100}
        route = self.custom.get_namespaced_custom_object(*GATEWAY[:2], self.namespace, GATEWAY[2], self.route)
        weights = {}
        for rule in route["spec"]["rules"]:
            for ref in rule.get("backendRefs") or []:
                if ref["name"] in self.backends:
                    weights[ref["name"]] = int(ref.get("weight", 1))
        return weights

    def _endpoints(self) -> dict[str, list[tuple[str, str]]]:
        """Return each backend Service's Ready pods as (pod name, image)."""
        pods = self.core.list_namespaced_pod(self.namespace, _preload_content=False)
        items = __import__("json").loads(pods.data)["items"]
        endpoints = {}
        for service_name in self.backends:
            try:
                service = self.core.read_namespaced_service(service_name, self.namespace)
            except kubernetes.client.ApiException:
                endpoints[service_name] = []
                continue
            selector = service.spec.selector or {}
            endpoints[service_name] = [
                (pod["metadata"]["name"], pod["spec"]["containers"][0]["image"])
                for pod in items
                if _is_ready(pod) and _selects(selector, pod["metadata"].get("labels") or {})
            ]
        return endpoints

    def _drive(self) -> None:
        started = last = time.monotonic()
        while not self._stop.wait(0.5) and time.monotonic() - started < self.max_seconds:
            try:
                weights, endpoints = self._weights(), self._endpoints()
            except (kubernetes.client.ApiException, OSError):
                continue
            now = time.monotonic()
            elapsed, last = now - last, now
            total_weight = sum(weights.values())
            if total_weight == 0:
                continue
            with self.lock:
                for backend, weight in weights.items():
                    pods = endpoints.get(backend) or []
                    for pod, image in pods:
                        served = self.rate * elapsed * weight / total_weight / len(pods)
                        ratio = next(
                            (r for marker, r in self.error_ratio_by_image.items() if marker in image), 0.0
                        )
                        self.requests[pod] = self.requests.get(pod, 0.0) + served
                        self.errors[pod] = self.errors.get(pod, 0.0) + served * ratio

    def exposition(self) -> str:
        lines = [
            "# TYPE http_requests_total counter",
            "# TYPE http_request_duration_seconds histogram",
        ]
        with self.lock:
            for pod, requests in sorted(self.requests.items()):
                errors = self.errors.get(pod, 0.0)
                labels = f'namespace="{self.namespace}",pod="{pod}"'
                lines.append(f'http_requests_total{{{labels},code="200"}} {requests - errors:.3f}')
                lines.append(f'http_requests_total{{{labels},code="500"}} {errors:.3f}')
                for bound in LATENCY_BUCKETS:
                    count = requests if self.latency <= bound else 0.0
                    lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count:.3f}')
                lines.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {requests:.3f}')
                lines.append(f"http_request_duration_seconds_count{{{labels}}} {requests:.3f}")
                lines.append(f"http_request_duration_seconds_sum{{{labels}}} {requests * self.latency:.3f}")
        return "\n".join(lines) + "\n"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        traffic = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- the name http.server dispatches to
                body = traffic.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        return Handler


# Route watching.


class RouteWatcher:
    """Records every stored version of one HTTPRoute, from a watch, until stopped."""

    def __init__(self, *, api_client: kubernetes.client.ApiClient, namespace: str, route: str) -> None:
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.route = route
        self.versions: list[dict[str, Any]] = []
        self._watch = kubernetes.watch.Watch()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._watch.stop()

    def _run(self) -> None:
        stream = self._watch.stream(
            self.custom.list_namespaced_custom_object,
            *GATEWAY[:2],
            self.namespace,
            GATEWAY[2],
            field_selector=f"metadata.name={self.route}",
            timeout_seconds=600,
        )
        try:
            for event in stream:
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.versions.append(copy.deepcopy(event["object"]))
        except Exception:  # noqa: BLE001 -- the API server closes the watch when the test tears down
            return
