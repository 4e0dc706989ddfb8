"""The Prometheus source's transport: health, credentials, TLS, timeouts, retries and outages."""

from __future__ import annotations

import http.server
import pathlib
import socket
import ssl
import threading
import time

import httpx
import pytest

from canaryd import judge, observations, verdicts
from canaryd.metrics import analysis, outcomes, presets, prometheus, protocol, windows
from tests.harness import prometheus as harness
from tests.harness import tls

# bcrypt of "test-password" at cost 4, for Prometheus' web config (cost 4 keeps each check cheap).
TEST_PASSWORD = "test-password"
TEST_PASSWORD_BCRYPT = "$2b$04$9rQRZylkqCNEzSodjv0HiO3yAIB73ENt/sNcgx9Iz9mXo2SgmzfG."


def source_for(url: str, **settings: object) -> prometheus.PrometheusSource:
    defaults: dict[str, object] = {"timeout_seconds": 5, "retries": 0, "backoff_seconds": 0.05}
    return prometheus.PrometheusSource(
        settings=prometheus.PrometheusSettings(url=url, **{**defaults, **settings})
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'HTTP Status Code 400 (b\'{"status":"error","errorType":"bad_data","error":"parse error"}\')',
            (400, "parse error"),
            id="prometheus_json_error",
        ),
        pytest.param("HTTP Status Code 502 (b'Bad Gateway')", (502, "b'Bad Gateway'"), id="proxy_text_body"),
        pytest.param("something else", (0, "something else"), id="unknown_format"),
    ],
)
def test_client_error_text_is_parsed(text: str, expected: tuple[int, str]) -> None:
    assert prometheus._parse_client_error(text) == expected


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(
            {"bearer_token_file": "/t", "basic_auth_username": "u", "basic_auth_password_file": "/p"},
            id="bearer_and_basic",
        ),
        pytest.param({"basic_auth_username": "u"}, id="basic_without_password_file"),
        pytest.param({"timeout_seconds": 0}, id="zero_timeout"),
        pytest.param({"min_scrapes_per_interval": 1}, id="one_scrape_per_interval"),
        pytest.param({"password": "inline"}, id="unknown_key"),
    ],
)
def test_settings_reject_invalid_values(settings: dict) -> None:
    with pytest.raises(ValueError):
        prometheus.PrometheusSettings(**settings)


def test_unreachable_address_is_source_unreachable() -> None:
    port = harness.free_port()  # nothing listens there

    with pytest.raises(outcomes.SourceUnreachable, match="unreachable"):
        source_for(f"http://127.0.0.1:{port}").check_health()


def test_silent_server_times_out() -> None:
    # A socket that accepts connections but never responds.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()

        with pytest.raises(
            outcomes.SourceUnreachable, match="did not respond within 0.5 s, 1 retries included"
        ):
            source_for(url, timeout_seconds=0.5, retries=1).check_health()

        elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 5


class _FailingHandler(http.server.BaseHTTPRequestHandler):
    """Responds to every request with Prometheus' 503 error body and counts the attempts."""

    attempts = 0

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        type(self).attempts += 1
        body = b'{"status":"error","errorType":"unavailable","error":"too many queries"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return


def test_server_errors_are_retried_then_unreachable() -> None:
    handler = type("Handler", (_FailingHandler,), {"attempts": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(outcomes.SourceUnreachable, match="HTTP 503: too many queries") as raised:
            source_for(f"http://127.0.0.1:{server.server_port}", retries=2).check_health()
    finally:
        server.shutdown()
        server.server_close()

    assert handler.attempts == 3
    assert raised.value.query == "vector(1)"


@pytest.mark.prometheus
def test_health_and_instant_query_on_server(prometheus_harness: harness.Harness) -> None:
    server = prometheus_harness.start_prometheus(targets=[])
    source = source_for(server.url)

    source.check_health()
    [series] = source.instant_query(query='label_replace(vector(3), "arm", "canary", "", "")')
    assert dict(series.labels) == {"arm": "canary"}
    assert series.values.tolist() == [3.0]


@pytest.mark.prometheus
def test_tls_and_basic_auth_from_settings(
    prometheus_harness: harness.Harness, tmp_path: pathlib.Path
) -> None:
    certificate = tls.issue_loopback_certificate(tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text(TEST_PASSWORD + "\n")
    server = prometheus_harness.start_prometheus(
        targets=[],
        web_config={
            "tls_server_config": {
                "cert_file": str(certificate.cert_file),
                "key_file": str(certificate.key_file),
            },
            "basic_auth_users": {"canaryd": TEST_PASSWORD_BCRYPT},
        },
        client_options={
            "verify": ssl.create_default_context(cafile=str(certificate.ca_file)),
            "auth": ("canaryd", TEST_PASSWORD),
        },
    )
    credentials = {"basic_auth_username": "canaryd", "basic_auth_password_file": password_file}

    source_for(server.url, ca_file=certificate.ca_file, **credentials).check_health()

    with pytest.raises(outcomes.SourceUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        source_for(server.url, **credentials).check_health()
    password_file.write_text("wrong")
    with pytest.raises(outcomes.SourceUnreachable, match="refused the credentials \\(HTTP 401\\)"):
        source_for(server.url, ca_file=certificate.ca_file, **credentials).check_health()


class _BearerProxy:
    """An auth proxy in front of Prometheus, as kube-rbac-proxy would be: it needs one bearer token."""

    def __init__(self, *, upstream: str, token: str) -> None:
        self.token = token
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    self._reply(401, b"Unauthorized")
                    return
                response = httpx.get(upstream + self.path, timeout=10.0)
                self._reply(response.status_code, response.content)

            def _reply(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> _BearerProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.prometheus
def test_bearer_token_file_reread_per_request(
    prometheus_harness: harness.Harness, tmp_path: pathlib.Path
) -> None:
    server = prometheus_harness.start_prometheus(targets=[])
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")

    with _BearerProxy(upstream=server.url, token="first-token") as proxy:
        source = source_for(proxy.url, bearer_token_file=token_file)
        source.check_health()

        proxy.token = "rotated-token"
        with pytest.raises(outcomes.SourceUnreachable, match="refused the credentials"):
            source.check_health()
        token_file.write_text("rotated-token\n")
        source.check_health()


@pytest.mark.prometheus
def test_prometheus_stopped_mid_analysis_gives_no_data(prometheus_harness: harness.Harness) -> None:
    prometheus_harness.start_app(workload="web-primary")
    prometheus_harness.start_app(workload="web")
    server = prometheus_harness.start_prometheus()
    prometheus_harness.start_load(rate_per_second=25)
    source = source_for(server.url, timeout_seconds=2, retries=1, scrape_interval_seconds=1)
    canary = protocol.ArmTarget(arm=observations.Arm.CANARY, namespace="shop", workload="web")
    control = protocol.ArmTarget(arm=observations.Arm.CONTROL, namespace="shop", workload="web-primary")
    settings = judge.JudgeSettings(
        error_ratio=judge.Tolerance(absolute=0.02), latency=judge.Tolerance(absolute=0.02), warmup_seconds=0
    )

    def analyze() -> verdicts.Judgement:
        end = float(int(time.time()) - 1)
        window = windows.Window(start=end - 12, end=end, step_seconds=4)
        return analysis.analyze(
            source=source, preset=presets.build_preset("http"), canary=canary, control=control, window=window,
            settings=settings,
        )  # fmt: skip

    time.sleep(14)
    before = analyze()
    server.stop()
    during = analyze()
    server.start()
    after = analyze()

    assert before.verdict is not verdicts.Verdict.NO_DATA, before.reason
    assert during.verdict is verdicts.Verdict.NO_DATA
    assert during.reason.startswith("SourceUnreachable:")
    assert all(result.verdict is verdicts.Verdict.NO_DATA for result in during.metrics)
    assert all(result.queries for result in during.metrics)
    assert after.verdict is not verdicts.Verdict.NO_DATA, after.reason
