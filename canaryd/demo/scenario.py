"""The demo's rollout: v1 in service, v2 as the canary, real traffic, one standalone run.

Layer 4 tool. `run_demo` starts every part on 127.0.0.1 under one `Supervisor`, writes a rollout
file like a user would, runs it with `canaryd.standalone.runner`, and returns a summary. Every
process it started is stopped before it returns or raises.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import pathlib
import shutil
import tempfile
import time
from collections.abc import Callable

import yaml

from canaryd.demo import haproxy as demo_haproxy
from canaryd.demo import prometheus as demo_prometheus
from canaryd.demo import stack
from canaryd.demo import supervisor as supervision
from canaryd.standalone import record as rollout_record
from canaryd.standalone import runner

NAMESPACE = "demo"
CONTROL_WORKLOAD = "demo-primary"
CANARY_WORKLOAD = "demo-canary"


class BadVersion(enum.StrEnum):
    """The fault of the canary v2, if any."""

    NONE = "none"  # v2 behaves like v1: the rollout should promote
    ERRORS = "errors"  # v2 returns 500 for a share of requests
    LATENCY = "latency"  # v2 adds a fixed delay to every request


@dataclasses.dataclass(frozen=True)
class DemoPlan:
    """Timing and traffic of one demo run; every duration in seconds."""

    steps: tuple[int, ...]
    scrape_interval: float
    analysis_interval: float  # the range query step; at least four scrapes
    window: float  # minimum analysis per step
    deadline: float  # maximum time per step
    pass_interval: float
    request_rate: float  # requests per second through HAProxy

    @property
    def load_duration(self) -> float:
        """Long enough for every step to reach its deadline, plus start-up."""
        return (len(self.steps) + 1) * self.deadline + 60


FAST_PLAN = DemoPlan(
    steps=(20, 50),
    scrape_interval=1.0,
    analysis_interval=4.0,
    window=16.0,
    deadline=60.0,
    pass_interval=2.0,
    request_rate=80.0,
)
FULL_PLAN = DemoPlan(
    steps=(10, 25, 50),
    scrape_interval=1.0,
    analysis_interval=5.0,
    window=30.0,
    deadline=120.0,
    pass_interval=2.0,
    request_rate=80.0,
)

# v1's behaviour: a delay of 10 ms plus an exponential tail, no errors.
GOOD_LATENCY = 0.01
# v2 answers 500 at this probability per request. Its seeded draws (seed 2) give 17.6% over the first
# 1500 requests, and increase() does not count the errors before the first scrape of the 500 series,
# so one step of the demo measures about 15-18%.
BAD_ERROR_RATIO = 0.2
BAD_EXTRA_LATENCY = 0.15

# Tolerances of the demo's analysis: wide enough that a good v2 passes within a short window, narrow
# enough that the bad versions above fail at once.
DEMO_TOLERANCES = {"error_ratio_absolute": 0.03, "error_ratio_relative": 0.5, "latency_relative": 1.0}

# The latency SLI is the share of requests slower than the histogram bound nearest this quantile of
# the control's latency. About 8% of v1's requests are slower than its p90, so a good v2 shows that
# it is no worse within a few hundred requests. At the p99 that would take thousands.
DEMO_LATENCY_QUANTILE = 0.9


@dataclasses.dataclass(frozen=True)
class StepSummary:
    """One step as the summary shows it: the verdict and HAProxy's realized canary share."""

    step: int
    weight: int
    verdict: str | None
    decision: str
    canary_requests: int
    primary_requests: int
    canary_share: float | None
    metrics: list[dict[str, object]]


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """The demo's outcome and numbers, in the shape of its JSON summary."""

    outcome: rollout_record.Outcome
    reason: str
    bad: BadVersion
    fast: bool
    duration_seconds: float
    steps: list[StepSummary]
    record: rollout_record.RolloutRecord
    record_path: pathlib.Path
    record_error: str | None  # why the record file could not be written, if its last write failed
    load: dict[str, object]
    processes: list[dict[str, object]]  # every process started: name, PID (= process group ID)

    def as_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "cause": self.record.cause,
            "bad": self.bad.value,
            "fast": self.fast,
            "duration_seconds": round(self.duration_seconds, 1),
            "steps": [dataclasses.asdict(step) for step in self.steps],
            "record": str(self.record_path),
            "load": self.load,
            "processes": self.processes,
        }


def behaviours(bad: BadVersion) -> tuple[stack.ServiceBehaviour, stack.ServiceBehaviour]:
    """Return the behaviours of v1 (primary) and v2 (canary)."""
    primary = stack.ServiceBehaviour(version="v1", latency_seconds=GOOD_LATENCY)
    canary = stack.ServiceBehaviour(
        version="v2",
        latency_seconds=GOOD_LATENCY,
        error_ratio=BAD_ERROR_RATIO if bad is BadVersion.ERRORS else 0.0,
        extra_latency_seconds=BAD_EXTRA_LATENCY if bad is BadVersion.LATENCY else 0.0,
    )
    return primary, canary


def rollout_document(*, plan: DemoPlan, socket_path: pathlib.Path, prometheus_url: str) -> dict[str, object]:
    """Return the rollout file the demo runs, as a user would write it."""
    return {
        "rollout": "demo",
        "router": {
            "socket": str(socket_path),
            "backend": demo_haproxy.BACKEND,
            "primary_server": demo_haproxy.PRIMARY_SERVER,
            "canary_server": demo_haproxy.CANARY_SERVER,
        },
        "prometheus": {
            "url": prometheus_url,
            "scrape_interval_seconds": plan.scrape_interval,
            "timeout_seconds": 5,
        },
        "metrics": {
            "preset": "http",
            "preset_settings": {"arm_selection": "label", "workload_label": "app"},
            "namespace": NAMESPACE,
            "control": CONTROL_WORKLOAD,
            "canary": CANARY_WORKLOAD,
            "interval": f"{plan.analysis_interval:g}s",
        },
        "steps": list(plan.steps),
        "analysis": {
            "window": f"{plan.window:g}s",
            "deadline": f"{plan.deadline:g}s",
            "inconclusive_policy": "rollback",
            "tolerances": DEMO_TOLERANCES,
        },
        # The demo service has no warm-up, so one interval of it is enough to show the setting.
        "judge": {"warmup_seconds": plan.analysis_interval, "latency_quantile": DEMO_LATENCY_QUANTILE},
        "pass_interval": f"{plan.pass_interval:g}s",
    }


def run_demo(
    *,
    bad: BadVersion,
    fast: bool,
    record_path: pathlib.Path,
    on_pass: Callable[[runner.PassReport], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole demo and return its summary; every process is stopped before this returns."""
    plan = FAST_PLAN if fast else FULL_PLAN
    announce = on_stage or (lambda message: None)
    for tool in ("haproxy", "prometheus"):
        supervision.require_tool(tool)

    started = time.monotonic()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="canaryd-demo-"))
    succeeded = False
    try:
        with supervision.Supervisor(workdir=workdir) as processes:
            result = _run_in(
                processes, plan=plan, bad=bad, record_path=record_path, announce=announce, on_pass=on_pass
            )
        succeeded = True
    finally:
        # Logs stay for a failed run, so its error can be read; a finished run leaves nothing behind.
        if succeeded:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            announce(f"logs of the demo's processes are kept in {workdir}")
    return dataclasses.replace(result, fast=fast, duration_seconds=time.monotonic() - started)


def _run_in(
    processes: supervision.Supervisor,
    *,
    plan: DemoPlan,
    bad: BadVersion,
    record_path: pathlib.Path,
    announce: Callable[[str], None],
    on_pass: Callable[[runner.PassReport], None] | None,
) -> DemoResult:
    started_processes: list[dict[str, object]] = []

    def track(name: str, process: supervision.SupervisedProcess) -> None:
        started_processes.append({"name": name, "pid": process.pid})

    primary_behaviour, canary_behaviour = behaviours(bad)
    announce("starting demo service v1 (primary) and v2 (canary)")
    primary = stack.start_service(processes, primary_behaviour, seed=1)
    track("service-v1", primary.process)
    canary = stack.start_service(processes, canary_behaviour, seed=2)
    track("service-v2", canary.process)

    announce("starting HAProxy with all traffic on v1")
    balancer = demo_haproxy.start(processes, primary_port=primary.port, canary_port=canary.port)
    track("haproxy", balancer.process)

    announce("starting Prometheus")
    metrics_server = demo_prometheus.start(
        processes,
        targets=[
            demo_prometheus.ScrapeTarget(
                port=primary.port, labels={"namespace": NAMESPACE, "app": CONTROL_WORKLOAD}
            ),
            demo_prometheus.ScrapeTarget(
                port=canary.port, labels={"namespace": NAMESPACE, "app": CANARY_WORKLOAD}
            ),
        ],
        scrape_interval=plan.scrape_interval,
    )
    track("prometheus", metrics_server.process)

    announce(f"sending {plan.request_rate:g} requests per second through HAProxy")
    load = stack.start_load(
        processes,
        url=balancer.url,
        rate=plan.request_rate,
        duration=plan.load_duration,
        max_requests=int(plan.request_rate * plan.load_duration),
    )
    track("load", load.process)

    rollout_path = processes.workdir / "rollout.yaml"
    document = rollout_document(
        plan=plan, socket_path=balancer.socket_path, prometheus_url=metrics_server.url
    )
    rollout_path.write_text(yaml.safe_dump(document, sort_keys=False))
    steps_text = ", ".join(f"{weight}%" for weight in plan.steps)
    quality = "good" if bad is BadVersion.NONE else f"bad: {bad.value}"
    announce(f"rolling out v2 ({quality}) in steps {steps_text}")
    result = runner.run_file(rollout_path, record_path=record_path, on_pass=on_pass)

    processes.stop(load.process)
    return DemoResult(
        outcome=result.outcome,
        reason=result.record.reason,
        bad=bad,
        fast=False,
        duration_seconds=0.0,
        steps=summarize_steps(result.record),
        record=result.record,
        record_path=result.record_path,
        record_error=result.record_error,
        load=_read_load_summary(load.summary_path),
        processes=started_processes,
    )


def summarize_steps(record: rollout_record.RolloutRecord) -> list[StepSummary]:
    """Summarize each step reached from the analysis that decided it."""
    summaries = []
    for index, weight in enumerate(record.steps):
        final = record.final_analysis(index)
        if final is None:
            continue
        summaries.append(
            StepSummary(
                step=index + 1,
                weight=weight,
                verdict=final.judgement.verdict.value,
                decision=final.decision,
                canary_requests=final.canary_requests,
                primary_requests=final.primary_requests,
                canary_share=final.canary_share,
                metrics=[
                    {
                        "metric": metric.metric,
                        "verdict": metric.verdict.value,
                        "canary": metric.canary_value,
                        "control": metric.control_value,
                        "canary_samples": metric.canary_samples,
                        "control_samples": metric.control_samples,
                    }
                    for metric in final.judgement.metrics
                ],
            )
        )
    return summaries


def _read_load_summary(path: pathlib.Path) -> dict[str, object]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
