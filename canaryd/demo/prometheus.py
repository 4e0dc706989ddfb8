"""Run a real Prometheus for the demo, scraping the demo services on 127.0.0.1.

Layer 4 tool. The server keeps its data in the work directory and listens on loopback only. Each
scrape target carries the labels the rollout's queries select canary and control by.
"""

from __future__ import annotations

import dataclasses

import yaml

from canaryd.demo import supervisor as supervision


@dataclasses.dataclass(frozen=True)
class ScrapeTarget:
    """One HTTP endpoint serving /metrics, with labels added to all its series."""

    port: int
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class PrometheusInstance:
    """A started Prometheus and its HTTP API address."""

    port: int
    process: supervision.SupervisedProcess

    @property
    def url(self) -> str:
        return f"http://{supervision.LOOPBACK}:{self.port}"


def render_config(*, targets: list[ScrapeTarget], scrape_interval: float, job: str = "demo") -> str:
    """Return prometheus.yml text with one static target per demo service."""
    interval = f"{int(scrape_interval * 1000)}ms"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [f"{supervision.LOOPBACK}:{target.port}"], "labels": dict(target.labels)}
                    for target in targets
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def start(
    processes: supervision.Supervisor,
    *,
    targets: list[ScrapeTarget],
    scrape_interval: float,
    timeout: float = 30.0,
) -> PrometheusInstance:
    """Write the configuration, start Prometheus and wait until it reports ready."""
    binary = supervision.require_tool("prometheus")
    port = supervision.free_port()
    config_path = processes.workdir / "prometheus.yml"
    config_path.write_text(render_config(targets=targets, scrape_interval=scrape_interval))
    data_path = processes.workdir / "prometheus-data"
    data_path.mkdir(exist_ok=True)

    process = processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_path}",
            f"--web.listen-address={supervision.LOOPBACK}:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
    )
    instance = PrometheusInstance(port=port, process=process)
    processes.wait_until_ready(process, supervision.is_http_ready(f"{instance.url}/-/ready"), timeout=timeout)
    return instance
