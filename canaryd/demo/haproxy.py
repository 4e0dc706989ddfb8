"""Run a real HAProxy for the demo: one frontend, one backend with a primary and a canary server.

Layer 4 tool. The configuration enables the runtime API on a UNIX socket in the work directory
(`level admin`, so `set weight` is allowed) and starts with all traffic on the primary.
"""

from __future__ import annotations

import dataclasses
import pathlib

from canaryd.demo import supervisor as supervision
from canaryd.routers import haproxy as haproxy_router

BACKEND = "app"
# Server names double as revisions in the standalone mode's messages ("revision v2 rolled back").
PRIMARY_SERVER = "v1"
CANARY_SERVER = "v2"


@dataclasses.dataclass(frozen=True)
class HAProxyInstance:
    """A started HAProxy: where clients connect and where its runtime API listens."""

    frontend_port: int
    socket_path: pathlib.Path
    process: supervision.SupervisedProcess

    @property
    def url(self) -> str:
        return f"http://{supervision.LOOPBACK}:{self.frontend_port}/"

    def router(self) -> haproxy_router.HAProxyRouter:
        return haproxy_router.HAProxyRouter(
            socket_path=str(self.socket_path),
            backend=BACKEND,
            primary_server=PRIMARY_SERVER,
            canary_server=CANARY_SERVER,
        )


def render_config(
    *, frontend_port: int, socket_path: pathlib.Path, primary_port: int, canary_port: int
) -> str:
    """Return haproxy.cfg text for the demo's single backend."""
    # `http-reuse never` and `option http-server-close` keep one request per server connection,
    # so every request passes through the load balancer and `lbtot` counts requests.
    return f"""\
global
    stats socket {socket_path} mode 600 level admin
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-server-close
    http-reuse never

frontend demo
    bind {supervision.LOOPBACK}:{frontend_port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    server {PRIMARY_SERVER} {supervision.LOOPBACK}:{primary_port} weight {haproxy_router.FULL_WEIGHT}
    server {CANARY_SERVER} {supervision.LOOPBACK}:{canary_port} weight 0
"""


def start(
    processes: supervision.Supervisor, *, primary_port: int, canary_port: int, timeout: float = 15.0
) -> HAProxyInstance:
    """Write the configuration, start HAProxy in the foreground and wait for its runtime API."""
    binary = supervision.require_tool("haproxy")
    frontend_port = supervision.free_port()
    socket_path = processes.workdir / "haproxy.sock"
    config_path = processes.workdir / "haproxy.cfg"
    config_path.write_text(
        render_config(
            frontend_port=frontend_port,
            socket_path=socket_path,
            primary_port=primary_port,
            canary_port=canary_port,
        )
    )

    # `-db` keeps HAProxy in the foreground, so the supervisor knows its real PID.
    process = processes.start("haproxy", [binary, "-db", "-f", str(config_path)])
    api = haproxy_router.RuntimeAPI(socket_path=str(socket_path), timeout=1.0)
    processes.wait_until_ready(process, lambda: _answers(api), timeout=timeout)
    return HAProxyInstance(frontend_port=frontend_port, socket_path=socket_path, process=process)


def _answers(api: haproxy_router.RuntimeAPI) -> bool:
    try:
        api.execute("show info")
    except haproxy_router.RuntimeSocketError:
        return False
    return True
