"""`canaryd run --standalone` against real HAProxy, Prometheus and demo services on 127.0.0.1."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from canaryd.demo import haproxy as demo_haproxy
from canaryd.demo import prometheus as demo_prometheus
from canaryd.demo import scenario, stack
from canaryd.demo import supervisor as supervision
from canaryd.standalone import config as standalone_config
from canaryd.standalone import record as rollout_record
from canaryd.standalone import runner
from tests.standalone import unwritable

pytestmark = pytest.mark.demo


@pytest.fixture(scope="module")
def environment():
    """v1 and a good v2 behind HAProxy, scraped every second, with steady load."""
    with tempfile.TemporaryDirectory(prefix="cdr-") as workdir:
        with supervision.Supervisor(workdir=pathlib.Path(workdir)) as processes:
            primary, canary = scenario.behaviours(scenario.BadVersion.NONE)
            primary_service = stack.start_service(processes, primary, seed=1)
            canary_service = stack.start_service(processes, canary, seed=2)
            balancer = demo_haproxy.start(
                processes, primary_port=primary_service.port, canary_port=canary_service.port
            )
            labels = {"namespace": scenario.NAMESPACE}
            metrics_server = demo_prometheus.start(
                processes,
                targets=[
                    demo_prometheus.ScrapeTarget(
                        port=primary_service.port, labels={**labels, "app": "web-v1"}
                    ),
                    demo_prometheus.ScrapeTarget(
                        port=canary_service.port, labels={**labels, "app": "web-v2"}
                    ),
                ],
                scrape_interval=1.0,
            )
            stack.start_load(processes, url=balancer.url, rate=80, duration=400, max_requests=40_000)
            yield {
                "balancer": balancer,
                "prometheus_url": metrics_server.url,
                "ports": (primary_service.port, canary_service.port),
            }


def rollout_file(directory: pathlib.Path, environment: dict, **changes: object) -> pathlib.Path:
    balancer = environment["balancer"]
    document = {
        "rollout": "web",
        "router": {
            "socket": str(balancer.socket_path),
            "backend": demo_haproxy.BACKEND,
            "primary_server": demo_haproxy.PRIMARY_SERVER,
            "canary_server": demo_haproxy.CANARY_SERVER,
        },
        "prometheus": {"url": environment["prometheus_url"], "scrape_interval_seconds": 1},
        "metrics": {
            "preset": "http",
            "preset_settings": {"arm_selection": "label"},
            "namespace": scenario.NAMESPACE,
            "control": "web-v1",
            "canary": "web-v2",
            "interval": "4s",
        },
        "steps": [50],
        "analysis": {"window": "8s", "deadline": "40s", "tolerances": scenario.DEMO_TOLERANCES},
        "judge": {"warmup_seconds": 0, "latency_quantile": scenario.DEMO_LATENCY_QUANTILE},
        "pass_interval": "1s",
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            document[section] = {**document[section], name: value}
        else:
            document[section] = value
    path = directory / "rollout.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run_standalone(path: pathlib.Path, *, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "canaryd", "run", "--standalone", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def record_of(path: pathlib.Path) -> dict:
    return json.loads(path.with_name("web-record.json").read_text())


def test_good_canary_is_promoted(environment, tmp_path):
    path = rollout_file(tmp_path, environment)

    completed = run_standalone(path)

    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert completed.stdout.startswith(
        "promoted: every step passed, so the canary server v2 now receives 100% of the traffic; "
        "server v1 still runs the previous version and receives none"
    )
    assert "the primary is taking" not in completed.stdout + completed.stderr
    record = record_of(path)
    assert record["outcome"] == "promoted"
    assert "the primary is taking" not in json.dumps(record)
    assert record["traffic"]["0"]["canary_requests"] > 0
    assert [change["weight"] for change in record["weights"]] == [0, 50, 100]
    assert environment["balancer"].router().current_weight() == 100


def test_canary_without_series_rolls_back_at_deadline(environment, tmp_path):
    path = rollout_file(
        tmp_path, environment, metrics__canary="web-v3", analysis={"window": "4s", "deadline": "10s"}
    )

    completed = run_standalone(path)

    assert completed.returncode == 10, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert (
        "cause: step 1 at 50% did not pass before its deadline (latest verdict: no_data)" in completed.stdout
    )
    record = record_of(path)
    assert record["outcome"] == "rolled_back"
    assert record["cause"].startswith("step 1 at 50% did not pass before its deadline")
    assert record["analyses"][-1]["judgement"]["verdict"] == "no_data"
    assert "no data to judge" in record["analyses"][-1]["judgement"]["reason"]
    assert environment["balancer"].router().current_weight() == 0


def test_pause_policy_returns_traffic_and_exits_11(environment, tmp_path):
    analysis = {"window": "4s", "deadline": "10s", "inconclusive_policy": "pause"}
    path = rollout_file(tmp_path, environment, metrics__canary="web-v3", analysis=analysis)

    completed = run_standalone(path)

    assert completed.returncode == 11, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert record_of(path)["outcome"] == "paused"
    assert environment["balancer"].router().current_weight() == 0


def test_unreachable_prometheus_leaves_weights_untouched(environment, tmp_path):
    router = environment["balancer"].router()
    router.set_weight(weight=30)
    path = rollout_file(
        tmp_path,
        environment,
        prometheus={"url": f"http://127.0.0.1:{supervision.free_port()}", "scrape_interval_seconds": 1},
    )

    completed = run_standalone(path)

    assert completed.returncode == 1
    assert "is unreachable" in completed.stderr
    assert router.current_weight() == 30
    router.set_weight(weight=0)


def test_sigterm_returns_traffic_to_primary(environment, tmp_path):
    path = rollout_file(tmp_path, environment, analysis={"window": "30s", "deadline": "60s"})
    process = subprocess.Popen(
        [sys.executable, "-m", "canaryd", "run", "--standalone", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    router = environment["balancer"].router()
    deadline = time.monotonic() + 30
    while router.current_weight() != 50 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert router.current_weight() == 50

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 143, stderr[-2000:]
    assert "rollout stopped by SIGTERM; all traffic was returned to the primary" in stderr
    assert router.current_weight() == 0
    assert record_of(path)["outcome"] == "aborted"
    assert record_of(path)["reason"] == "stopped before a verdict: stopped by SIGTERM"


def test_invalid_file_names_field_and_exits_6(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump({"rollout": "web", "router": {"backend": "app"}, "steps": [5]}))

    completed = run_standalone(path, timeout=30)

    assert completed.returncode == 6
    assert "router.socket: missing" in completed.stderr
    assert "metrics: missing" in completed.stderr


def test_prometheus_outage_is_never_a_pass(environment, tmp_path):
    primary_port, canary_port = environment["ports"]
    with supervision.Supervisor(workdir=tmp_path) as processes:
        outage_prone = demo_prometheus.start(
            processes,
            targets=[
                demo_prometheus.ScrapeTarget(
                    port=primary_port, labels={"namespace": "demo", "app": "web-v1"}
                ),
                demo_prometheus.ScrapeTarget(port=canary_port, labels={"namespace": "demo", "app": "web-v2"}),
            ],
            scrape_interval=1.0,
        )
        path = rollout_file(
            tmp_path,
            environment,
            prometheus__url=outage_prone.url,
            analysis={"window": "15s", "deadline": "15s"},
        )
        rollout = subprocess.Popen(
            [sys.executable, "-m", "canaryd", "run", "--standalone", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        router = environment["balancer"].router()
        deadline = time.monotonic() + 30
        while router.current_weight() != 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        processes.stop(outage_prone.process)

        _, stderr = rollout.communicate(timeout=60)

    assert rollout.returncode == 10, stderr[-2000:]
    last = record_of(path)["analyses"][-1]["judgement"]
    assert last["verdict"] == "no_data"
    assert "Prometheus is unreachable" in last["reason"]
    assert router.current_weight() == 0


def test_unwritable_record_stops_before_start(tmp_path):
    directory = tmp_path / "rollout"
    directory.mkdir()
    path = directory / "rollout.yaml"
    document = {
        "rollout": "web",
        "router": {
            "socket": str(tmp_path / "missing.sock"),
            "backend": "app",
            "primary_server": "v1",
            "canary_server": "v2",
        },
        "prometheus": {"scrape_interval_seconds": 5},
        "metrics": {"namespace": "demo", "control": "web-v1", "canary": "web-v2"},
    }
    path.write_text(yaml.safe_dump(document))

    with unwritable.immutable_directory(directory):
        completed = run_standalone(path, timeout=30)

    assert completed.returncode == 1
    record = directory / "web-record.json"
    assert completed.stderr.strip() == (
        f"Error: cannot write the record file {record}: Operation not permitted; "
        "choose another path or make its directory writable"
    )


def test_record_write_failure_does_not_stop_rollout(environment, tmp_path):
    path = rollout_file(tmp_path, environment)
    config = standalone_config.load_config(path)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    locked = []

    def lock_outputs_once(report: runner.PassReport) -> None:
        if not locked:
            unwritable.make_immutable(outputs)
            locked.append(outputs)

    rollout = runner.StandaloneRunner(
        config=config, record_path=outputs / "record.json", on_pass=lock_outputs_once
    )
    try:
        result = rollout.run()
    finally:
        for directory in locked:
            unwritable.make_writable(directory)

    assert result.outcome is rollout_record.Outcome.PROMOTED
    assert result.record_error is not None
    assert result.record_error.startswith(f"cannot write the record file {outputs / 'record.json'}")
    assert environment["balancer"].router().current_weight() == 100
