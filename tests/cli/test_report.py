"""`canaryd report` writes one HTML page from a record file."""

from __future__ import annotations

from click import testing

from canaryd.cli import main
from canaryd.standalone import record as rollout_record
from tests.report import records
from tests.standalone import unwritable


def test_report_command_writes_html_beside_record(tmp_path):
    source = tmp_path / "demo-record.json"
    rollout_record.write_record(records.rolled_back(), source)

    result = testing.CliRunner().invoke(main.cli, ["report", str(source)])

    assert result.exit_code == 0, result.output
    assert f"report written to {tmp_path / 'demo-record.html'}" in result.output
    assert "rolled back" in (tmp_path / "demo-record.html").read_text()


def test_report_command_honours_output_path(tmp_path):
    source = tmp_path / "demo-record.json"
    rollout_record.write_record(records.rolled_back(), source)
    destination = tmp_path / "reports" / "rollout.html"

    result = testing.CliRunner().invoke(main.cli, ["report", str(source), "--output", str(destination)])

    assert result.exit_code == 0, result.output
    assert destination.read_text().startswith("<!DOCTYPE html>")


def test_report_command_rejects_other_files(tmp_path):
    source = tmp_path / "notes.yaml"
    source.write_text("kind: ConfigMap\n")

    result = testing.CliRunner().invoke(main.cli, ["report", str(source)])

    assert result.exit_code == 2
    assert "neither a canaryd record" in result.output
    assert "(kind: 'ConfigMap')" in result.output


def test_report_command_names_missing_kind(tmp_path):
    source = tmp_path / "other.json"
    source.write_text('{"a": 1}\n')

    result = testing.CliRunner().invoke(main.cli, ["report", str(source)])

    assert result.exit_code == 2
    assert "(kind: missing)" in result.output


def test_report_command_names_unwritable_output(tmp_path):
    source = tmp_path / "demo-record.json"
    rollout_record.write_record(records.rolled_back(), source)

    with unwritable.immutable_directory(tmp_path / "locked") as locked:
        result = testing.CliRunner().invoke(
            main.cli, ["report", str(source), "--output", str(locked / "x.html")]
        )

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"cannot write --output file {locked / 'x.html'}: Operation not permitted" in result.output
    assert "Traceback" not in result.output
