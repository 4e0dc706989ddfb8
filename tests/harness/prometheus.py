"""Test harness: a real Prometheus on 127.0.0.1 scraping real HTTP services, plus traffic to them.

Importable as `tests.harness.prometheus`; the pytest fixtures in `tests.harness.fixtures` wrap it.

- `ensure_prometheus()` returns Debian's /usr/bin/prometheus, installing the package if missing.
- `PrometheusServer` runs it with a temporary config and data folder, a 1 s scrape interval and a
  free port. It can be stopped and started again mid-test, on the same port and data.
- `TrafficApp` runs `tests.harness.app` (prometheus_client) as a process with a set error ratio
  and latency; `LoadDriver` sends it requests at a fixed rate from a thread.

Every wait is bounded, every process listens on 127.0.0.1 only and is killed by `stop()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import httpx
import yaml

PROMETHEUS_BINARY = pathlib.Path("/usr/bin/prometheus")
SCRAPE_INTERVAL_SECONDS = 1.0
REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[2]


class HarnessError(RuntimeError):
    """A harness process did not start, or a bounded wait ran out."""


def ensure_prometheus() -> pathlib.Path:
    """Return the Prometheus binary, installing Debian's `prometheus` package when it is missing."""
    found = shutil.which("prometheus")
    if found:
        return pathlib.Path(found)
    if PROMETHEUS_BINARY.exists():
        return PROMETHEUS_BINARY

    # The package's scripts may fail to start the system service where there is no init system.
    # That does not matter, because the tests run the binary themselves.
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
    if subprocess.run(install, env=environment, capture_output=True, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update"], env=environment, capture_output=True, timeout=600, check=True)
        subprocess.run(install, env=environment, capture_output=True, timeout=600, check=True)
    if not PROMETHEUS_BINARY.exists():
        raise HarnessError("apt-get installed prometheus, but /usr/bin/prometheus is missing")
    return PROMETHEUS_BINARY


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], object], *, timeout: float, interval: float = 0.2, message: str
) -> object:
    """Poll `predicate` until it returns a truthy value, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as error:
            last_error = error
            value = None
        if value:
            return value
        time.sleep(interval)
    suffix = f" (last error: {last_error})" if last_error else ""
    raise HarnessError(f"timed out after {timeout:g} s: {message}{suffix}")


@dataclasses.dataclass(frozen=True)
class ScrapeTarget:
    """One scraped address and the target labels Prometheus attaches, like Kubernetes discovery does."""

    address: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


class _Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(
        self, *, command: list[str], log_path: pathlib.Path, cwd: pathlib.Path | None = None
    ) -> None:
        self.command = command
        self.log_path = log_path
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()

    @property
    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the process and its children: the whole session's process group, by its id."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        self.popen = None

    def _signal_group(self, signal_number: int) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal_number)

    def log_tail(self, characters: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-characters:]
        return ""


class PrometheusServer:
    """Debian's Prometheus on 127.0.0.1 with its own config and data folder under `workdir`."""

    def __init__(
        self,
        *,
        workdir: pathlib.Path,
        targets: list[ScrapeTarget] | None = None,
        scrape_interval_seconds: float = SCRAPE_INTERVAL_SECONDS,
        port: int | None = None,
        web_config: Mapping[str, object] | None = None,
        client_options: Mapping[str, object] | None = None,
        max_seconds: float = 900.0,
    ) -> None:
        """`web_config` is Prometheus' --web.config.file content (TLS, basic auth users), and
        `client_options` are the httpx options the harness then needs to reach it (verify, auth).
        The server exits by itself after `max_seconds`, in case the test process dies first.
        """
        self.workdir = workdir
        self.targets = list(targets or [])
        self.scrape_interval_seconds = scrape_interval_seconds
        self.port = port or free_port()
        self.config_path = workdir / "prometheus.yml"
        self.data_path = workdir / "prometheus-data"
        self.web_config = dict(web_config) if web_config is not None else None
        self.client_options = dict(client_options or {})
        # `timeout` bounds the server's life even if the test process dies without stopping it.
        command = [
            "timeout",
            f"{max_seconds:g}",
            str(ensure_prometheus()),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_path}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        if self.web_config is not None:
            web_config_path = workdir / "web.yml"
            web_config_path.write_text(yaml.safe_dump(self.web_config))
            command.append(f"--web.config.file={web_config_path}")
        self._process = _Process(command=command, log_path=workdir / "prometheus.log")

    @property
    def url(self) -> str:
        scheme = "https" if self.web_config and "tls_server_config" in self.web_config else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._process.is_running

    def start(self, *, timeout: float = 30.0) -> None:
        """Start Prometheus (again, after `stop`, on the same port and data) and wait until ready."""
        self.data_path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text())
        self._process.start()
        try:
            wait_until(self._is_ready, timeout=timeout, message=f"Prometheus ready at {self.url}")
        except HarnessError as error:
            tail = self._process.log_tail()
            self.stop()
            raise HarnessError(f"{error}; Prometheus log:\n{tail}") from error

    def stop(self) -> None:
        self._process.stop()

    def set_targets(self, targets: list[ScrapeTarget]) -> None:
        """Replace the scrape targets and reload the running server's config."""
        self.targets = list(targets)
        self.config_path.write_text(self._config_text())
        if self.is_running:
            httpx.post(f"{self.url}/-/reload", timeout=10.0, **self.client_options).raise_for_status()

    def query(self, query: str, *, at: float | None = None) -> list[dict]:
        """Run an instant query and return its result list (raises on an error response)."""
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10.0, **self.client_options)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for_samples(self, query: str, *, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """Wait until `query` returns at least `count` series."""
        return wait_until(
            lambda: (result := self.query(query)) and len(result) >= count and result,
            timeout=timeout,
            message=f"{count} series for {query!r} at {self.url}",
        )

    def wait_for_targets_up(self, *, timeout: float = 30.0) -> None:
        expected = len(self.targets)
        self.wait_for_samples("up == 1", count=expected, timeout=timeout)

    def _is_ready(self) -> bool:
        if not self._process.is_running:
            raise HarnessError(f"Prometheus exited; log:\n{self._process.log_tail()}")
        return httpx.get(f"{self.url}/-/ready", timeout=2.0, **self.client_options).status_code == 200

    def _config_text(self) -> str:
        interval = f"{round(self.scrape_interval_seconds * 1000)}ms"
        config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "scrape_configs": [
                {
                    "job_name": "apps",
                    "static_configs": [
                        {"targets": [target.address], "labels": dict(target.labels)}
                        for target in self.targets
                    ],
                }
            ],
        }
        return yaml.safe_dump(config, sort_keys=False)


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """What one `tests.harness.app` process serves; see that module for the metric shapes."""

    namespace: str = "shop"
    workload: str = "web"
    pod: str | None = None  # the `pod` target label; defaults to a Deployment-style pod name
    service: str | None = None
    error_ratio: float = 0.0
    latency: float = 0.002
    slow_ratio: float = 0.0
    slow_latency: float = 0.2
    extra_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def pod_name(self) -> str:
        return self.pod or f"{self.workload}-5d8f7c9b4-x2k9p"


class TrafficApp:
    """One `tests.harness.app` process on 127.0.0.1 and the scrape target that describes it."""

    def __init__(self, *, settings: AppSettings, workdir: pathlib.Path, max_seconds: float = 300.0) -> None:
        self.settings = settings
        self.port = free_port()
        command = [
            sys.executable, "-m", "tests.harness.app",
            "--port", str(self.port),
            "--namespace", settings.namespace,
            "--workload", settings.workload,
            "--error-ratio", str(settings.error_ratio),
            "--latency", str(settings.latency),
            "--slow-ratio", str(settings.slow_ratio),
            "--slow-latency", str(settings.slow_latency),
            "--max-seconds", str(max_seconds),
        ]  # fmt: skip
        if settings.service:
            command += ["--service", settings.service]
        self._process = _Process(
            command=command,
            log_path=workdir / f"app-{settings.pod_name}-{self.port}.log",
            cwd=REPOSITORY_ROOT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> ScrapeTarget:
        labels = {
            "namespace": self.settings.namespace,
            "pod": self.settings.pod_name,
            "app": self.settings.workload,
        }
        labels.update(self.settings.extra_labels)
        return ScrapeTarget(address=f"127.0.0.1:{self.port}", labels=labels)

    def start(self, *, timeout: float = 15.0) -> None:
        self._process.start()
        try:
            wait_until(self._is_serving, timeout=timeout, message=f"test app serving at {self.url}")
        except HarnessError as error:
            tail = self._process.log_tail()
            self.stop()
            raise HarnessError(f"{error}; app log:\n{tail}") from error

    def stop(self) -> None:
        self._process.stop()

    def _is_serving(self) -> bool:
        if not self._process.is_running:
            raise HarnessError(f"test app exited; log:\n{self._process.log_tail()}")
        return httpx.get(f"{self.url}/metrics", timeout=2.0).status_code == 200


@dataclasses.dataclass
class LoadCounts:
    requests: int = 0
    errors: int = 0
    failures: int = 0  # requests that got no HTTP response


class LoadDriver:
    """Sends GET requests to each app at `rate_per_second`, from one thread per app, until stopped."""

    def __init__(self, *, apps: list[TrafficApp], rate_per_second: float, max_seconds: float = 120.0) -> None:
        self.apps = apps
        self.rate_per_second = rate_per_second
        self.max_seconds = max_seconds
        self.counts = {app.url: LoadCounts() for app in apps}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for app in self.apps:
            thread = threading.Thread(target=self._drive, args=(app,), daemon=True, name=f"load-{app.port}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10.0)
        self._threads.clear()

    def _drive(self, app: TrafficApp) -> None:
        counts = self.counts[app.url]
        period = 1.0 / self.rate_per_second
        started = time.monotonic()
        next_send = started
        with httpx.Client(timeout=5.0) as client:
            while not self._stopping.is_set() and time.monotonic() - started < self.max_seconds:
                try:
                    response = client.get(f"{app.url}/")
                    counts.requests += 1
                    counts.errors += response.status_code >= 500
                except httpx.HTTPError:
                    counts.failures += 1
                next_send += period
                self._stopping.wait(max(0.0, next_send - time.monotonic()))


class Harness:
    """Starts apps, Prometheus and load for one test, and stops all of them in `close()`."""

    def __init__(self, *, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.apps: list[TrafficApp] = []
        self.prometheus: PrometheusServer | None = None
        self._drivers: list[LoadDriver] = []

    def start_app(self, settings: AppSettings | None = None, **fields: object) -> TrafficApp:
        app = TrafficApp(settings=settings or AppSettings(**fields), workdir=self.workdir)
        self.apps.append(app)
        app.start()
        return app

    def start_prometheus(
        self,
        *,
        targets: list[ScrapeTarget] | None = None,
        web_config: Mapping[str, object] | None = None,
        client_options: Mapping[str, object] | None = None,
        max_seconds: float = 900.0,
    ) -> PrometheusServer:
        """Start Prometheus scraping `targets` (default: every app started so far) and wait for them.

        The server exits by itself after `max_seconds`; a test that runs longer must raise it.
        """
        chosen = targets if targets is not None else [app.target for app in self.apps]
        self.prometheus = PrometheusServer(
            workdir=self.workdir, targets=chosen, web_config=web_config, client_options=client_options,
            max_seconds=max_seconds,
        )
        self.prometheus.start()
        if chosen:
            self.prometheus.wait_for_targets_up()
        return self.prometheus

    def start_load(
        self, apps: list[TrafficApp] | None = None, *, rate_per_second: float = 40.0
    ) -> LoadDriver:
        driver = LoadDriver(apps=apps if apps is not None else self.apps, rate_per_second=rate_per_second)
        self._drivers.append(driver)
        driver.start()
        return driver

    def close(self) -> None:
        for driver in self._drivers:
            driver.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        for app in self.apps:
            app.stop()


@contextlib.contextmanager
def harness(workdir: pathlib.Path) -> Iterator[Harness]:
    """A `Harness` whose processes are stopped on exit, whatever happened inside."""
    instance = Harness(workdir=workdir)
    try:
        yield instance
    finally:
        instance.close()
