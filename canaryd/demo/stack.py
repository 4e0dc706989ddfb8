"""The demo's running parts as child processes: service versions, HAProxy, Prometheus, load.

Layer 4 tool. Each function starts one part under a `Supervisor`, waits until it is ready and
returns where it listens; the supervisor stops them all.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from canaryd.demo import supervisor as supervision


@dataclasses.dataclass(frozen=True)
class ServiceBehaviour:
    """The behaviour of one demo service version: mean delay, added delay, and share of errors."""

    version: str
    latency_seconds: float = 0.01
    extra_latency_seconds: float = 0.0
    error_ratio: float = 0.0


@dataclasses.dataclass(frozen=True)
class ServiceInstance:
    """A started demo service."""

    behaviour: ServiceBehaviour
    port: int
    process: supervision.SupervisedProcess

    @property
    def url(self) -> str:
        return f"http://{supervision.LOOPBACK}:{self.port}/"


@dataclasses.dataclass(frozen=True)
class LoadInstance:
    """A started load generator and the file its summary goes to when it stops."""

    process: supervision.SupervisedProcess
    summary_path: pathlib.Path


def start_service(
    processes: supervision.Supervisor, behaviour: ServiceBehaviour, *, seed: int | None = None
) -> ServiceInstance:
    """Start one version of the demo service on a free port and wait for /healthz."""
    port = supervision.free_port()
    argv = [
        sys.executable,
        "-m",
        "canaryd.demo.service",
        f"--port={port}",
        f"--version={behaviour.version}",
        f"--latency={behaviour.latency_seconds}",
        f"--extra-latency={behaviour.extra_latency_seconds}",
        f"--error-ratio={behaviour.error_ratio}",
    ]
    if seed is not None:
        argv.append(f"--seed={seed}")
    process = processes.start(f"service-{behaviour.version}", argv)
    instance = ServiceInstance(behaviour=behaviour, port=port, process=process)
    processes.wait_until_ready(process, supervision.is_http_ready(f"{instance.url}healthz"))
    return instance


def start_load(
    processes: supervision.Supervisor,
    *,
    url: str,
    rate: float,
    duration: float,
    max_requests: int,
    workers: int = 8,
) -> LoadInstance:
    """Start the bounded load generator against `url`; it stops by itself at either limit."""
    summary_path = processes.workdir / "load-summary.json"
    process = processes.start(
        "load",
        [
            sys.executable,
            "-m",
            "canaryd.demo.load",
            f"--url={url}",
            f"--rate={rate}",
            f"--duration={duration}",
            f"--max-requests={max_requests}",
            f"--workers={workers}",
            f"--summary={summary_path}",
        ],
    )
    return LoadInstance(process=process, summary_path=summary_path)
