"""`canaryd run`: the controller daemon, in a cluster or (with --standalone) in front of HAProxy.

Layer 4 (CLI). Parses options into `canaryd.controller.daemon.ControllerSettings`, connects to the API
server (in-cluster service account, or a kubeconfig), and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import datetime
import importlib
import os
import signal
import socket
import threading

import click


def _split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(
            f"{text!r} is not HOST:PORT, for example 0.0.0.0:8080", param_hint="--health-address"
        )
    return host, int(port)


def _api_client(kubeconfig: str | None, context: str | None):  # noqa: ANN202 -- kubernetes has no stubs
    import kubernetes.client
    import kubernetes.config

    # In a pod the service account is the identity; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config).
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kubernetes.config.load_incluster_config()
        return kubernetes.client.ApiClient()
    return kubernetes.config.new_client_from_config(config_file=kubeconfig, context=context)


@click.command("run")
@click.option(
    "--standalone",
    "standalone_config",
    type=click.Path(exists=True, dir_okay=False),
    help="Run the standalone mode (HAProxy and Prometheus, no Kubernetes) with this config file.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="Kubeconfig file; default: in-cluster, then KUBECONFIG.",
)
@click.option("--context", help="Kubeconfig context to use.")
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Watch only this namespace (repeatable); default: every namespace, which needs the ClusterRole.",
)
@click.option(
    "--lease-namespace",
    default=lambda: os.environ.get("POD_NAMESPACE", "canaryd-system"),
    show_default="$POD_NAMESPACE or canaryd-system",
    help="Namespace of the leader-election Lease.",
)
@click.option(
    "--lease-name", default="canaryd-leader", show_default=True, help="Name of the leader-election Lease."
)
@click.option(
    "--identity",
    default=lambda: os.environ.get("POD_NAME") or socket.gethostname(),
    show_default="$POD_NAME or the host name",
    help="This replica's name in the Lease.",
)
@click.option(
    "--lease-duration", default=15.0, show_default=True, help="Seconds a Lease lasts without renewal."
)
@click.option(
    "--renew-deadline",
    default=10.0,
    show_default=True,
    help="Seconds after its last renewal that a leader stops writing; less than --lease-duration.",
)
@click.option(
    "--retry-period", default=2.0, show_default=True, help="Seconds between Lease renewals or attempts."
)
@click.option("--qps", default=20.0, show_default=True, help="Kubernetes API requests per second, sustained.")
@click.option(
    "--burst", default=40, show_default=True, help="Kubernetes API requests allowed at once above --qps."
)
@click.option("--workers", default=4, show_default=True, help="Deployments reconciled in parallel.")
@click.option(
    "--resync",
    "resync_seconds",
    default=300.0,
    show_default=True,
    help="Seconds between passes over every annotated Deployment from the cache (no relist).",
)
@click.option(
    "--requeue",
    "requeue_seconds",
    default=5.0,
    show_default=True,
    help="Seconds between passes over a Deployment whose rollout is in progress.",
)
@click.option(
    "--keep-rollouts", default=10, show_default=True, help="CanaryRollout records kept per Deployment."
)
@click.option(
    "--health-address",
    default="0.0.0.0:8080",
    show_default=True,
    help="HOST:PORT of /healthz, /readyz and /metrics.",
)
@click.option(
    "--prometheus-url",
    default="http://prometheus.monitoring:9090",
    show_default=True,
    help="Prometheus that scrapes the applications' metrics.",
)
@click.option(
    "--scrape-interval",
    default=15.0,
    show_default=True,
    help="Seconds between Prometheus scrapes of the apps.",
)
@click.option(
    "--analysis-interval",
    default=60.0,
    show_default=True,
    help="Seconds per analysis interval (the range of each increase()); at least 4 scrape intervals.",
)
@click.option(
    "--judge-warmup",
    default=120.0,
    show_default=True,
    help="Seconds after a canary starts serving before its intervals count.",
)
@click.option(
    "--judge-min-intervals", default=4, show_default=True, help="Intervals needed before any verdict."
)
@click.option(
    "--template-namespace-label",
    "template_namespace_labels",
    multiple=True,
    default=("namespace",),
    show_default=True,
    help="A label that a MetricTemplate may name as spec.namespaceLabel (repeatable). List only labels "
    "Prometheus sets from the scraped target's namespace, never labels an application sets itself.",
)
@click.option("--log-format", type=click.Choice(["json", "console"]), default="json", show_default=True)
@click.option("--log-level", default="info", show_default=True, help="debug, info, warning or error.")
def run(standalone_config: str | None, **options: object) -> None:
    """Run the controller daemon (Kubernetes, or --standalone with a config file)."""
    if standalone_config is not None:
        # The standalone mode has its own engine; loaded only when asked for.
        standalone = importlib.import_module("canaryd.standalone")
        standalone.run(config_path=standalone_config)
        return
    _run_controller(**options)


def _run_controller(**options: object) -> None:
    from canaryd import judge
    from canaryd.controller import analysis, daemon
    from canaryd.kube import leader
    from canaryd.metrics import prometheus, templates
    from canaryd.observability import logging as canaryd_logging

    canaryd_logging.configure(log_format=str(options["log_format"]), level=str(options["log_level"]))
    host, port = _split_address(str(options["health_address"]))
    try:
        lease = leader.LeaseSettings(
            lease_duration=float(options["lease_duration"]),  # type: ignore[arg-type]
            renew_deadline=float(options["renew_deadline"]),  # type: ignore[arg-type]
            retry_period=float(options["retry_period"]),  # type: ignore[arg-type]
        )
        scrape = float(options["scrape_interval"])  # type: ignore[arg-type]
        source = prometheus.PrometheusSource(
            settings=prometheus.PrometheusSettings(
                url=str(options["prometheus_url"]), scrape_interval_seconds=scrape
            )
        )
        base_judge = judge.JudgeSettings(
            warmup_seconds=float(options["judge_warmup"]),  # type: ignore[arg-type]
            min_intervals=int(options["judge_min_intervals"]),  # type: ignore[arg-type]
        )
        template_policy = templates.TemplatePolicy(
            allowed_namespace_labels=tuple(options["template_namespace_labels"])  # type: ignore[arg-type]
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    settings = daemon.ControllerSettings(
        namespaces=tuple(options["namespaces"]),  # type: ignore[arg-type]
        lease_namespace=str(options["lease_namespace"]),
        lease_name=str(options["lease_name"]),
        identity=str(options["identity"]),
        lease=lease,
        qps=float(options["qps"]),  # type: ignore[arg-type]
        burst=int(options["burst"]),  # type: ignore[arg-type]
        workers=int(options["workers"]),  # type: ignore[arg-type]
        resync_seconds=float(options["resync_seconds"]),  # type: ignore[arg-type]
        active_requeue_seconds=float(options["requeue_seconds"]),  # type: ignore[arg-type]
        keep_rollouts=int(options["keep_rollouts"]),  # type: ignore[arg-type]
        health_host=host,
        health_port=port,
        analysis=analysis.AnalysisSettings(
            interval_seconds=float(options["analysis_interval"]),  # type: ignore[arg-type]
            scrape_interval_seconds=scrape,
            judge=base_judge,
            template_policy=template_policy,
        ),
    )
    controller = daemon.Controller(
        api_client=_api_client(options["kubeconfig"], options["context"]),  # type: ignore[arg-type]
        settings=settings,
        source=source,
    )

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    started = datetime.datetime.now(datetime.UTC)
    controller.run(stop)
    click.echo(
        f"canaryd stopped after {(datetime.datetime.now(datetime.UTC) - started).total_seconds():.0f} s",
        err=True,
    )
