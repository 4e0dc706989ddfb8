"""The Prometheus metrics source, on prometheus-api-client's `PrometheusConnect`.

It turns every transport and HTTP failure into a typed outcome: connection errors, timeouts and
5xx responses become `SourceUnreachable`, 4xx responses become `QueryRejected` carrying Prometheus' own
error text, and 401/403 become `SourceUnreachable` naming the credentials. Results are parsed
into `protocol.Series`; an empty result is an empty tuple, which callers report as no series.
"""

from __future__ import annotations

import ast
import datetime
import json
import pathlib
import re
from collections.abc import Callable

import numpy as np
import prometheus_api_client
import pydantic
import requests
import structlog
from prometheus_api_client import exceptions as api_exceptions
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util import retry as urllib3_retry

from canaryd.metrics import outcomes, promql, protocol, windows

log = structlog.get_logger(__name__)

# Statuses worth retrying: overload and proxy errors. A 4xx is the query's fault and is not retried.
_RETRY_STATUSES = (429, 502, 503, 504)
_CLIENT_ERROR = re.compile(r"^HTTP Status Code (\d+) \((.*)\)$", re.DOTALL)


class PrometheusSettings(pydantic.BaseModel):
    """How to reach Prometheus. Secrets are read from files at each request, never stored here."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    url: pydantic.AnyHttpUrl = pydantic.AnyHttpUrl("http://127.0.0.1:9090")
    timeout_seconds: float = pydantic.Field(default=10.0, gt=0)  # per HTTP request
    retries: int = pydantic.Field(default=2, ge=0)  # extra attempts after a connection error or 5xx
    backoff_seconds: float = pydantic.Field(default=0.5, ge=0)  # urllib3 backoff factor
    bearer_token_file: pathlib.Path | None = None
    basic_auth_username: str | None = None
    basic_auth_password_file: pathlib.Path | None = None
    ca_file: pathlib.Path | None = None  # PEM bundle that signs Prometheus' certificate
    # LIMITATION: set by hand, not read from Prometheus' per-job configuration (goes away when the
    # source reads /api/v1/status/config or the targets' scrape intervals).
    scrape_interval_seconds: float = pydantic.Field(default=30.0, gt=0)  # of the scraped targets
    min_scrapes_per_interval: int = pydantic.Field(default=windows.DEFAULT_MIN_SCRAPES_PER_INTERVAL, ge=2)

    @pydantic.model_validator(mode="after")
    def _check_auth(self) -> PrometheusSettings:
        has_basic = self.basic_auth_username is not None or self.basic_auth_password_file is not None
        if has_basic and self.bearer_token_file is not None:
            raise ValueError("Prometheus settings set both bearer_token_file and basic auth; keep only one")
        if has_basic and (self.basic_auth_username is None or self.basic_auth_password_file is None):
            raise ValueError(
                "Prometheus basic auth needs both basic_auth_username and basic_auth_password_file"
            )
        return self


class _BearerTokenFileAuth(requests.auth.AuthBase):
    """Sends the token read from a file at each request, so a rotated token is picked up."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.path.read_text().strip()}"
        return request


class _BasicAuthFileAuth(requests.auth.AuthBase):
    def __init__(self, username: str, password_path: pathlib.Path) -> None:
        self.username = username
        self.password_path = password_path

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        password = self.password_path.read_text().rstrip("\n")
        return requests.auth.HTTPBasicAuth(self.username, password)(request)


class PrometheusSource:
    """A `protocol.MetricsSource` backed by one Prometheus (or a compatible query API)."""

    def __init__(self, *, settings: PrometheusSettings) -> None:
        self.settings = settings
        self._client = prometheus_api_client.PrometheusConnect(
            url=str(settings.url).rstrip("/"),
            retry=_retry_policy(settings),
            auth=_auth(settings),
            session=_session(settings),
            timeout=settings.timeout_seconds,
        )

    def close(self) -> None:
        self._client.close()

    def check_window(self, *, step_seconds: float) -> None:
        """Raise `WindowTooShort` unless `step_seconds` spans enough scrapes of these targets."""
        windows.check_window(
            step_seconds=step_seconds,
            scrape_interval_seconds=self.settings.scrape_interval_seconds,
            min_scrapes_per_interval=self.settings.min_scrapes_per_interval,
        )

    def check_health(self) -> None:
        # A trivial query tests what analysis needs (the query API and the credentials), which a
        # GET of the web root behind a query frontend or auth proxy would not.
        query = "vector(1)"
        result = self._call(query, lambda: self._client.custom_query(query))
        if not result:
            raise outcomes.SourceUnreachable("Prometheus returned no sample for vector(1)", query=query)

    def instant_query(self, *, query: str, at: float | None = None) -> tuple[protocol.Series, ...]:
        params = {} if at is None else {"time": f"{at:.3f}"}
        result = self._call(query, lambda: self._client.custom_query(query, params=params))
        return tuple(_instant_series(item) for item in result)

    def range_query(self, *, query: str, window: windows.Window) -> tuple[protocol.Series, ...]:
        # NOTE: prometheus-api-client 0.7 rounds start and end to whole seconds, so a window with
        # fractional bounds is evaluated up to half a second off; the returned timestamps are exact.
        start = datetime.datetime.fromtimestamp(window.first_interval_end, tz=datetime.UTC)
        end = datetime.datetime.fromtimestamp(window.end, tz=datetime.UTC)
        step = promql.format_duration(window.step_seconds)
        result = self._call(
            query,
            lambda: self._client.custom_query_range(query, start_time=start, end_time=end, step=step),
        )
        return tuple(_range_series(item) for item in result)

    def _call(self, query: str, send: Callable[[], list]) -> list:
        try:
            return send()
        except requests.exceptions.RequestException as error:
            if _is_timeout(error):
                raise outcomes.SourceUnreachable(
                    f"Prometheus at {self.settings.url} did not respond within "
                    f"{self.settings.timeout_seconds:g} s, {self.settings.retries} retries included: {error}",
                    query=query,
                ) from error
            raise outcomes.SourceUnreachable(
                f"Prometheus at {self.settings.url} is unreachable after {self.settings.retries} "
                f"retries: {error}",
                query=query,
            ) from error
        except api_exceptions.PrometheusApiClientException as error:
            raise _classify_http_error(error, query=query, url=str(self.settings.url)) from error
        except OSError as error:
            # Reading the token, password or CA file failed.
            raise outcomes.SourceUnreachable(
                f"cannot read Prometheus credentials: {error}", query=query
            ) from error


def _is_timeout(error: requests.exceptions.RequestException) -> bool:
    # After the last retry, requests wraps a read timeout in a ConnectionError around MaxRetryError.
    if isinstance(error, requests.exceptions.Timeout):
        return True
    cause = error.args[0] if error.args else None
    if not isinstance(cause, urllib3_exceptions.MaxRetryError):
        return False
    # urllib3 2 derives NewConnectionError (connection refused) from ConnectTimeoutError.
    reason = cause.reason
    return isinstance(reason, urllib3_exceptions.TimeoutError) and not isinstance(
        reason, urllib3_exceptions.NewConnectionError
    )


def _retry_policy(settings: PrometheusSettings) -> urllib3_retry.Retry:
    # raise_on_status=False returns the last 5xx response instead of a RetryError, so its body
    # (Prometheus' error text) reaches the outcome.
    return urllib3_retry.Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff_seconds,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
    )


def _auth(settings: PrometheusSettings) -> requests.auth.AuthBase | None:
    if settings.bearer_token_file is not None:
        return _BearerTokenFileAuth(settings.bearer_token_file)
    if settings.basic_auth_username is not None and settings.basic_auth_password_file is not None:
        return _BasicAuthFileAuth(settings.basic_auth_username, settings.basic_auth_password_file)
    return None


def _session(settings: PrometheusSettings) -> requests.Session:
    session = requests.Session()
    session.verify = str(settings.ca_file) if settings.ca_file is not None else True
    return session


def _classify_http_error(
    error: api_exceptions.PrometheusApiClientException, *, query: str, url: str
) -> outcomes.MetricsOutcome:
    status_code, prometheus_error = _parse_client_error(str(error))
    if status_code in (401, 403):
        return outcomes.SourceUnreachable(
            f"Prometheus at {url} refused the credentials (HTTP {status_code}): {prometheus_error}; "
            "check bearer_token_file or basic auth",
            query=query,
        )
    if 400 <= status_code < 500:
        return outcomes.QueryRejected(query=query, status_code=status_code, prometheus_error=prometheus_error)
    return outcomes.SourceUnreachable(
        f"Prometheus at {url} failed with HTTP {status_code}: {prometheus_error}", query=query
    )


def _parse_client_error(text: str) -> tuple[int, str]:
    """Return the HTTP status and Prometheus' `error` field from a PrometheusApiClientException.

    prometheus-api-client 0.5-0.7 formats the exception as `HTTP Status Code N (b'body')`; the
    body is Prometheus' JSON error. Anything else is returned as it came.
    """
    match = _CLIENT_ERROR.match(text)
    if match is None:
        return 0, text
    status_code = int(match.group(1))
    try:
        body = ast.literal_eval(match.group(2))
        payload = json.loads(body)
        return status_code, str(payload.get("error", body))
    except (ValueError, SyntaxError, TypeError, AttributeError):
        return status_code, match.group(2)


def _range_series(item: dict) -> protocol.Series:
    points = item.get("values") or []
    return protocol.Series(
        labels=dict(item.get("metric") or {}),
        timestamps=np.array([float(timestamp) for timestamp, _ in points]),
        values=np.array([float(value) for _, value in points]),
    )


def _instant_series(item: dict) -> protocol.Series:
    timestamp, value = item["value"]
    return protocol.Series(
        labels=dict(item.get("metric") or {}),
        timestamps=np.array([float(timestamp)]),
        values=np.array([float(value)]),
    )
