"""`canaryd demo --fast` end to end: real HAProxy, Prometheus, services and load on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from canaryd.demo import supervisor as supervision

pytestmark = [
    pytest.mark.demo,
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("prometheus") is None,
        reason="needs the haproxy and prometheus programs (apt-get install haproxy prometheus)",
    ),
]

DEMO_TIME_LIMIT = 150  # seconds: --fast promises about two minutes


def processes_using(directory: pathlib.Path) -> list[int]:
    """PIDs of processes whose working directory or command line is inside `directory`."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd.startswith(str(directory)) or str(directory) in cmdline):
            found.append(int(entry.name))
    return found


def run_demo(
    bad: str, outputs: pathlib.Path, temporary: pathlib.Path
) -> tuple[subprocess.CompletedProcess, float]:
    command = [
        sys.executable, "-m", "canaryd", "demo", "--fast", f"--bad={bad}",
        f"--json={outputs / 'summary.json'}", f"--report={outputs / 'report.html'}",
        f"--record={outputs / 'record.json'}",
    ]  # fmt: skip
    started = time.monotonic()
    completed = subprocess.run(
        command,
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIME_LIMIT + 60,
    )
    return completed, time.monotonic() - started


@pytest.fixture(scope="module", params=["none", "errors", "latency"])
def demo_run(request, tmp_path_factory):
    outputs = tmp_path_factory.mktemp(f"demo-{request.param}")
    # The demo's work directory goes under TMPDIR; a short one keeps the HAProxy socket path valid.
    temporary = pathlib.Path(tempfile.mkdtemp(prefix="cdt-"))
    completed, elapsed = run_demo(request.param, outputs, temporary)
    summary_path = outputs / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    yield {
        "bad": request.param,
        "completed": completed,
        "elapsed": elapsed,
        "summary": summary,
        "outputs": outputs,
        "temporary": temporary,
    }
    shutil.rmtree(temporary, ignore_errors=True)


EXPECTED = {"none": ("promoted", 0), "errors": ("rolled_back", 10), "latency": ("rolled_back", 10)}


def test_outcome_matches_version(demo_run):
    outcome, exit_code = EXPECTED[demo_run["bad"]]
    completed = demo_run["completed"]

    assert completed.returncode == exit_code, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert demo_run["summary"]["outcome"] == outcome
    assert demo_run["summary"]["exit_code"] == exit_code


def test_verdicts_match_version(demo_run):
    verdicts = [step["verdict"] for step in demo_run["summary"]["steps"]]

    if demo_run["bad"] == "none":
        assert verdicts == ["pass", "pass"]
    else:
        assert verdicts[-1] == "fail"
        assert all(verdict == "pass" for verdict in verdicts[:-1])


def test_failing_metric_matches_fault(demo_run):
    failing = {
        metric["metric"]
        for step in demo_run["summary"]["steps"]
        for metric in step["metrics"]
        if metric["verdict"] == "fail"
    }

    expected = {"none": set(), "errors": {"error_ratio"}, "latency": {"latency"}}[demo_run["bad"]]
    assert failing == expected


def test_rollback_states_cause_with_numbers(demo_run):
    cause = demo_run["summary"]["cause"]

    if demo_run["bad"] == "none":
        assert cause == ""
        return
    metric = {"errors": "error_ratio", "latency": "latency"}[demo_run["bad"]]
    assert re.match(rf"step \d at \d+% failed: {metric} ", cause), cause
    assert "on the canary vs" in cause
    assert "beyond the tolerance of" in cause
    assert f"cause: {cause}" in demo_run["completed"].stdout.splitlines()


def test_promotion_messages_agree(demo_run):
    if demo_run["bad"] != "none":
        pytest.skip("only a good v2 is promoted")
    output = demo_run["completed"].stdout

    assert "the primary is taking" not in output
    assert "the canary server v2 now receives 100% of the traffic" in demo_run["summary"]["reason"]


def test_haproxy_share_follows_weights(demo_run):
    for step in demo_run["summary"]["steps"]:
        assert step["canary_requests"] + step["primary_requests"] >= 200
        assert step["canary_share"] == pytest.approx(step["weight"] / 100, abs=0.03)


def test_fast_demo_finishes_in_time(demo_run):
    assert demo_run["elapsed"] < DEMO_TIME_LIMIT
    assert demo_run["summary"]["duration_seconds"] < DEMO_TIME_LIMIT


def test_report_and_record_are_written(demo_run):
    page = (demo_run["outputs"] / "report.html").read_text()

    assert "data:image/png;base64," in page
    assert demo_run["summary"]["outcome"].replace("_", " ") in page
    assert (
        json.loads((demo_run["outputs"] / "record.json").read_text())["outcome"]
        == demo_run["summary"]["outcome"]
    )


def test_no_process_is_left_running(demo_run):
    started = demo_run["summary"]["processes"]

    assert {process["name"] for process in started} == {
        "service-v1",
        "service-v2",
        "haproxy",
        "prometheus",
        "load",
    }
    for process in started:
        assert not supervision.is_process_group_alive(process["pid"]), process
    assert processes_using(demo_run["temporary"]) == []


def test_interrupted_demo_stops_every_process(tmp_path):
    temporary = pathlib.Path(tempfile.mkdtemp(prefix="cdt-"))
    record = tmp_path / "record.json"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canaryd",
            "demo",
            "--fast",
            f"--record={record}",
            f"--report={tmp_path / 'report.html'}",
            f"--json={tmp_path / 'summary.json'}",
        ],
        env={**os.environ, "TMPDIR": str(temporary)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The record appears once the rollout runs, which is after every process started.
        deadline = time.monotonic() + 60
        while not record.exists() and time.monotonic() < deadline and demo.poll() is None:
            time.sleep(0.5)
        assert record.exists()
        assert len(processes_using(temporary)) >= 5

        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
        shutil.rmtree(temporary, ignore_errors=True)

    assert demo.returncode == 130, output[-3000:]
    assert "demo interrupted by Ctrl-C (SIGINT); every process it started was stopped" in output
    assert processes_using(temporary) == []
    written = json.loads(record.read_text())
    assert written["outcome"] == "aborted"
    assert written["reason"] == "stopped before a verdict: interrupted by Ctrl-C (SIGINT)"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outcome"] == "interrupted"
    assert summary["exit_code"] == 130


@pytest.mark.parametrize(("signum", "exit_code", "message"), [
    (signal.SIGINT, 130, "demo interrupted by Ctrl-C (SIGINT)"),
    (signal.SIGTERM, 143, "demo stopped by SIGTERM"),
], ids=["sigint", "sigterm"])  # fmt: skip
def test_signal_while_demo_loads_exits_cleanly(tmp_path, signum, exit_code, message):
    demo = subprocess.Popen(
        [sys.executable, "-m", "canaryd", "demo", "--fast", f"--json={tmp_path / 'summary.json'}"]
        + [f"--record={tmp_path / 'record.json'}", f"--report={tmp_path / 'report.html'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Loading the demo's modules takes about two seconds; the signal arrives in that time.
    time.sleep(1.2)
    demo.send_signal(signum)
    output, _ = demo.communicate(timeout=30)

    assert demo.returncode == exit_code, output[-3000:]
    assert message in output
    assert "Aborted!" not in output
    assert json.loads((tmp_path / "summary.json").read_text())["exit_code"] == exit_code
