"""`canaryd demo`'s checks and outputs that need no running demo; tests/demo runs the whole demo."""

from __future__ import annotations

import json
import pathlib

import pytest
import rich.console
from click import testing

from canaryd.cli import demo as demo_command
from canaryd.cli import main
from canaryd.demo import console as demo_console
from canaryd.demo import scenario
from canaryd.standalone import record as rollout_record
from tests.report import records
from tests.standalone import unwritable


def test_bad_version_choices_match_scenario():
    assert demo_command.BAD_VERSIONS == tuple(bad.value for bad in scenario.BadVersion)


def test_help_states_fault_sizes():
    result = testing.CliRunner().invoke(main.cli, ["demo", "--help"])
    text = " ".join(result.output.split())

    assert f"at probability {scenario.BAD_ERROR_RATIO:.0%}" in text
    assert f"({scenario.BAD_EXTRA_LATENCY * 1000:g} ms added to each request)" in text


@pytest.mark.parametrize("option", ["--json", "--report", "--record"])
def test_unwritable_output_stops_demo_before_start(tmp_path, option):
    with unwritable.immutable_directory(tmp_path / "locked") as locked:
        paths = {
            "--json": tmp_path / "summary.json",
            "--report": tmp_path / "report.html",
            "--record": tmp_path / "record.json",
        }
        paths[option] = locked / "output"
        arguments = ["demo", "--fast"] + [f"{name}={path}" for name, path in paths.items()]

        result = testing.CliRunner().invoke(main.cli, arguments)

    assert result.exit_code == 1
    assert f"cannot write {option} file {locked / 'output'}: Operation not permitted" in result.output
    assert "starting demo service" not in result.output
    assert "Traceback" not in result.output


def test_json_summary_says_why_demo_did_not_start(tmp_path):
    summary = tmp_path / "summary.json"
    with unwritable.immutable_directory(tmp_path / "locked") as locked:
        testing.CliRunner().invoke(
            main.cli, ["demo", "--fast", f"--json={summary}", f"--report={locked / 'report.html'}"]
        )

    written = json.loads(summary.read_text())
    assert written["outcome"] == "error"
    assert written["exit_code"] == 1
    assert "--report" in written["reason"]


def demo_result(record_path: pathlib.Path, *, record_error: str | None = None) -> scenario.DemoResult:
    record = records.rolled_back()
    return scenario.DemoResult(
        outcome=rollout_record.Outcome.ROLLED_BACK,
        reason=record.reason,
        bad=scenario.BadVersion.ERRORS,
        fast=True,
        duration_seconds=60.0,
        steps=scenario.summarize_steps(record),
        record=record,
        record_path=record_path,
        record_error=record_error,
        load={},
        processes=[],
    )


def test_failed_report_write_keeps_other_outputs(tmp_path):
    console = rich.console.Console(record=True, width=200)
    summary = tmp_path / "summary.json"
    result = demo_result(tmp_path / "record.json")

    with unwritable.immutable_directory(tmp_path / "locked") as locked:
        failures = demo_console.write_outputs(
            console, result, json_path=summary, report_path=locked / "report.html"
        )

    assert failures == [
        f"cannot write --report file {locked / 'report.html'}: Operation not permitted; "
        "choose another path or make its directory writable"
    ]
    written = json.loads(summary.read_text())
    assert written["outcome"] == "rolled_back"
    assert written["exit_code"] == 10
    assert written["report"] is None
    assert "report: not written" in console.export_text()


def test_failed_record_write_is_reported(tmp_path):
    console = rich.console.Console(record=True, width=200)
    result = demo_result(tmp_path / "record.json", record_error="cannot write --record file x: No space")

    failures = demo_console.write_outputs(
        console, result, json_path=tmp_path / "summary.json", report_path=tmp_path / "report.html"
    )

    assert failures == ["cannot write --record file x: No space"]
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "summary.json").read_text())["record"] is None
