"""A fault-injecting proxy in front of the test cluster's API server, on 127.0.0.1.

The controller reaches the API server through it with a ServiceAccount token over plain HTTP, and the
proxy forwards each request over TLS. It records every request (method, path, query, status, time) and
injects the faults a test switches on: 429 Too Many Requests with Retry-After, watch streams that end at
once with a 410 Expired error event (as the API server sends when a watch's resource version is too
old), refused requests for chosen paths, and a full outage in which every connection is dropped. Faults
the real API server can cause (409 conflicts) are caused for real by the tests instead.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.server
import json
import pathlib
import random
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable

import yaml

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "proxy-connection", "upgrade"}


@dataclasses.dataclass(frozen=True)
class Record:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    query: dict[str, str]
    status: int  # 0: dropped by an outage

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclasses.dataclass
class Faults:
    """What the proxy does to the requests it forwards; a test changes these while it runs."""

    throttle_ratio: float = 0.0  # share of requests that get 429
    expire_watch_ratio: float = 0.0  # share of watch requests that get a 410 Expired event
    is_down: bool = False  # drop every connection, as a stopped API server would
    reject: Callable[[str, str], bool] | None = None  # (method, path) -> respond 503 instead of forwarding
    watch_lifetime_seconds: float | None = (
        None  # end watch streams after this long, as a server timeout would
    )


class FaultProxy:
    """Forwards HTTP on 127.0.0.1 to the API server of `kubeconfig`, injecting `faults`."""

    def __init__(self, *, kubeconfig: pathlib.Path, seed: int) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        upstream = urllib.parse.urlsplit(cluster["server"])
        self.upstream_host, self.upstream_port = upstream.hostname, upstream.port or 443
        self.context = _tls_context(cluster)
        self.faults = Faults()
        self.records: list[Record] = []
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.server = _server(self)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name=f"proxy-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def chance(self, ratio: float) -> bool:
        with self.lock:
            return ratio > 0 and self.rng.random() < ratio

    def since(self, start: float) -> list[Record]:
        with self.lock:
            return [record for record in self.records if record.at >= start]


def kubeconfig_for_token(
    *, proxy: FaultProxy, token: str, namespace: str, path: pathlib.Path
) -> pathlib.Path:
    """Write a kubeconfig that reaches the API server through `proxy` with a bearer token."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "proxy", "cluster": {"server": proxy.url}}],
        "users": [{"name": "canaryd", "user": {"token": token}}],
        "contexts": [
            {"name": "proxy", "context": {"cluster": "proxy", "user": "canaryd", "namespace": namespace}}
        ],
        "current-context": "proxy",
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _tls_context(cluster: dict) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if "certificate-authority-data" in cluster:
        with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as handle:
            handle.write(base64.b64decode(cluster["certificate-authority-data"]))
        context.load_verify_locations(handle.name)
    else:
        context.load_verify_locations(cluster["certificate-authority"])
    return context


def _read_head(upstream: ssl.SSLSocket) -> tuple[bytes, bytes]:
    """Read the response's status line and headers; return them (with the blank line) and any bytes after."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = upstream.recv(65536)
        if not data:
            raise OSError("the API server closed the connection before its response headers")
        buffer += data
    head, rest = buffer.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest


def _status_code(head: bytes) -> int:
    return int(head.split(b"\r\n", 1)[0].split(b" ")[1])


def _server(proxy: FaultProxy) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: each response ends when the connection closes, which suits streamed watches.
        protocol_version = "HTTP/1.0"

        def _handle(self) -> None:
            arrived = time.monotonic()
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            faults = proxy.faults
            record = Record(at=arrived, method=self.command, path=parsed.path, query=query, status=0)

            if faults.is_down:
                proxy.record(record)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            if faults.reject is not None and faults.reject(self.command, parsed.path):
                proxy.record(dataclasses.replace(record, status=503))
                return self._status(503, "ServiceUnavailable", "rejected by the fault proxy")
            if proxy.chance(faults.throttle_ratio):
                proxy.record(dataclasses.replace(record, status=429))
                return self._status(429, "TooManyRequests", "throttled by the fault proxy", retry_after=1)
            if record.is_watch and proxy.chance(faults.expire_watch_ratio):
                # Recorded as 410, the code of the error event inside the stream.
                proxy.record(dataclasses.replace(record, status=410))
                return self._expired_watch()
            self._forward(record, body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's names

        def _forward(self, record: Record, body: bytes) -> None:
            # Bytes are relayed as they come, chunked encoding included, so watch events pass at once.
            try:
                upstream = proxy.context.wrap_socket(
                    socket.create_connection((proxy.upstream_host, proxy.upstream_port), timeout=600),
                    server_hostname=proxy.upstream_host,
                )
                upstream.sendall(self._request_bytes(body))
                head, rest = _read_head(upstream)
            except OSError:
                proxy.record(record)
                return self._status(502, "BadGateway", "the API server did not answer the fault proxy")
            proxy.record(dataclasses.replace(record, status=_status_code(head)))
            self.close_connection = True
            with contextlib.suppress(OSError), upstream:
                self.connection.sendall(head + rest)
                upstream.settimeout(0.5)
                while not proxy.faults.is_down and not self._is_watch_over(record):
                    try:
                        data = upstream.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    self.connection.sendall(data)

        def _is_watch_over(self, record: Record) -> bool:
            lifetime = proxy.faults.watch_lifetime_seconds
            return record.is_watch and lifetime is not None and time.monotonic() - record.at > lifetime

        def _request_bytes(self, body: bytes) -> bytes:
            lines = [
                f"{self.command} {self.path} HTTP/1.1",
                f"Host: {proxy.upstream_host}:{proxy.upstream_port}",
            ]
            lines += [
                f"{key}: {value}" for key, value in self.headers.items() if key.lower() not in _HOP_HEADERS
            ]
            lines += ["Connection: close", ""]
            if body and "content-length" not in {key.lower() for key in self.headers}:
                lines.insert(-1, f"Content-Length: {len(body)}")
            return ("\r\n".join(lines) + "\r\n").encode("latin-1") + body

        def _status(self, code: int, reason: str, message: str, *, retry_after: int | None = None) -> None:
            payload = json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                 "reason": reason, "code": code}
            ).encode()  # fmt: skip
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(payload)

        def _expired_watch(self) -> None:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "Expired",
                "code": 410,
            }
            event = {
                "type": "ERROR",
                "object": {**status, "message": "too old resource version (fault proxy)"},
            }
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(event).encode() + b"\n")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    return Server(("127.0.0.1", 0), Handler)
