"""`canaryd analyze` on a real Prometheus scraping real services, and its argument checks.

The Prometheus set-up, shared by the module's `prometheus` tests:

| workload       | namespace | error ratio | role                 |
|----------------|-----------|-------------|----------------------|
| web-primary    | shop      | 0           | control              |
| web            | shop      | 0.3         | bad canary           |
| web-fixed      | shop      | 0           | good canary          |
"""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import json
import pathlib
import socket
import threading
import time
from collections.abc import Iterator

import click
import pytest
from click import testing

from canaryd import observations, spec, verdicts
from canaryd.cli import analyze, main, output
from canaryd.metrics import presets, protocol, windows
from canaryd.standalone import config as standalone_config
from tests.harness import prometheus as harness

NOW = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.UTC)
RATE_PER_SECOND = 40.0
INTERVAL = "4s"

# Wide tolerances, so that a few hundred clean requests can settle a pass within the test's window.
WIDE_TOLERANCES = {
    "canaryd.io/enabled": "true",
    "canaryd.io/error-ratio-tolerance": "2%",
    "canaryd.io/latency-tolerance": "100%",
}


def run(*arguments: str) -> testing.Result:
    return testing.CliRunner().invoke(main.cli, ["analyze", *arguments], catch_exceptions=False)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-2h", NOW - datetime.timedelta(hours=2)),
        ("now-1d12h", NOW - datetime.timedelta(days=1, hours=12)),
        ("now-2w", NOW - datetime.timedelta(weeks=2)),
        ("2026-12-03T14:00:00Z", datetime.datetime(2026, 12, 3, 14, 0, tzinfo=datetime.UTC)),
        ("2026-12-03T14:00:00", datetime.datetime(2026, 12, 3, 14, 0, tzinfo=datetime.UTC)),
        ("2026-12-03T15:00:00+01:00", datetime.datetime(2026, 12, 3, 14, 0, tzinfo=datetime.UTC)),
        ("1764770400", datetime.datetime(2025, 12, 3, 14, 0, tzinfo=datetime.UTC)),
    ],
    ids=["now", "hours-ago", "days-and-hours-ago", "weeks-ago", "iso-utc", "iso-naive", "iso-offset", "unix"],
)
def test_parse_time_accepts(text: str, expected: datetime.datetime) -> None:
    assert analyze.parse_time(text, now=NOW, option="--from") == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "now-", "now-2x", "now+1h"], ids=["word", "empty-ago", "bad-unit", "plus"]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a time"):
        analyze.parse_time(text, now=NOW, option="--from")


def test_judge_settings_match_the_standalone_engine() -> None:
    rollout_spec = spec.parse_annotations(WIDE_TOLERANCES, source="Deployment shop/web")
    standalone = standalone_config.StandaloneConfig.model_construct(analysis=rollout_spec.analysis, judge={})

    assert analyze.judge_settings(rollout_spec) == standalone.judge_settings()


def test_unreachable_prometheus_exits_4(caplog: pytest.LogCaptureFixture) -> None:
    url = closed_port_url()

    result = run("web", "-n", "shop", "--from", "now-10m", "--prometheus-url", url)

    assert result.exit_code == output.ExitCode.UNREACHABLE == 4
    assert f"Prometheus at {url} is unreachable: Connection refused (tried 3 times)" in result.output
    assert result.output.count("unreachable") == 1
    assert "Retry(" not in result.output
    assert not [record for record in caplog.records if record.name == "urllib3.connectionpool"]


@pytest.fixture
def not_found_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers every request with 404, as Prometheus does for bad paths."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
            self.send_error(404, "page not found")

        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_prometheus_url_with_api_path_names_the_fix(not_found_server: str) -> None:
    result = run("web", "--from", "now-10m", "--prometheus-url", f"{not_found_server}/api/v1")

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output
    assert "returned HTTP 404 (not found)" in result.output
    assert "base URL such as http://127.0.0.1:9090, without /api/v1" in result.output
    assert "b'" not in result.output


def test_invalid_annotations_file_exits_6(tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n"
        '    canaryd.io/enabled: "true"\n    canaryd.io/step: "1,5"\n'
    )

    result = run("web", "--from", "now-10m", "-f", str(manifest), "--prometheus-url", closed_port_url())

    assert result.exit_code == output.ExitCode.INVALID_CONFIG == 6
    assert "canaryd.io/step" in result.output
    assert "did you mean canaryd.io/steps?" in result.output
    assert "fix them and run analyze again" in result.output
    assert "canaryd retries" not in result.output


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            "2026-12-04T12:00:00Z",
            "2026-12-04T11:00:00Z",
            "--from 2026-12-04T12:00:00Z is not before --to 2026-12-04T11:00:00Z",
        ),
        (
            "2026-12-04T12:00:00Z",
            "2026-12-04T12:01:00Z",
            "from 2026-12-04T12:00:00Z to 2026-12-04T12:01:00Z spans 1m, shorter than one interval of 2m",
        ),
    ],
    ids=["from-after-to", "shorter-than-interval"],
)
def test_window_is_checked_up_front(start: str, end: str, expected: str) -> None:
    result = run("web", "--from", start, "--to", end, "--prometheus-url", closed_port_url())

    assert result.exit_code == output.ExitCode.USAGE, result.output
    assert expected in result.output
    assert "1796" not in result.output  # no Unix seconds


def test_window_beyond_prometheus_resolution_is_rejected() -> None:
    result = run(
        "web", "--from", "2025-10-30T12:00:00Z", "--to", "2026-12-04T12:00:00Z",
        "--prometheus-url", closed_port_url(),
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.USAGE, result.output
    assert "spans 400d, which is 288,000 intervals of 2m" in result.output
    assert "at most 11,000 points per series" in result.output
    assert "can span at most 15d6h40m" in result.output
    assert "set --interval to at least 52m22s" in result.output


def test_window_at_prometheus_resolution_is_accepted() -> None:
    # 11,000 intervals of 2m exactly: the check passes and the closed port is the next error.
    result = run(
        "web", "--from", "2026-11-19T05:20:00Z", "--to", "2026-12-04T12:00:00Z",
        "--prometheus-url", closed_port_url(),
    )  # fmt: skip

    assert result.exit_code == output.ExitCode.UNREACHABLE, result.output


def test_empty_window_is_usage_error() -> None:
    result = run("web", "--from", "now-1m", "--to", "now-1m", "--prometheus-url", closed_port_url())

    assert result.exit_code == output.ExitCode.USAGE == 2
    assert "the window must start before it ends" in result.output


def test_text_output_keeps_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    query = 'sum(increase(http_requests_total{pod=~"web-[a-z0-9]+-[a-z0-9]+"}[2m]))'
    view = {
        "namespace": "shop",
        "canary": "web-[bold]",
        "control": "web-primary",
        "preset": "prometheus-http",
        "window": {"start": NOW.isoformat(), "end": NOW.isoformat(), "interval_seconds": 120.0},
        "verdict": "no_data",
        "reason": f"no series for {query}",
        "intervals_used": 0,
        "decided_at": None,
        "metrics": [{"metric": "error_ratio", "verdict": "no_data", "reason": f"no series for {query}"}],
    }

    analyze.render(view)

    printed = capsys.readouterr().out
    assert "shop/web-[bold]" in printed
    assert "[a-z0-9]" in printed
    assert "".join(query.split()) in "".join(printed.split())


def test_text_output_in_a_pipe_keeps_rows_whole(capsys: pytest.CaptureFixture[str]) -> None:
    reason = "the canary's error ratio is higher than the control's by more than the tolerance allows"
    view = {
        "namespace": "shop",
        "canary": "web",
        "control": "web-primary",
        "preset": "prometheus-http",
        "window": {"start": NOW.isoformat(), "end": NOW.isoformat(), "interval_seconds": 120.0},
        "verdict": "fail",
        "reason": "fail over 30 intervals, decided by error_ratio",
        "intervals_used": 30,
        "decided_at": None,
        "metrics": [
            {
                "metric": "error_ratio",
                "verdict": "fail",
                "canary_value": 0.3,
                "control_value": 0.0,
                "effect": 0.3,
                "tolerance": 0.0035,
                "canary_samples": 12_000,
                "control_samples": 24_000,
                "reason": reason,
            }
        ],
    }

    analyze.render(view)  # capsys' stdout is not a terminal, as in `canaryd analyze ... | less`

    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error_ratio")]
    assert row.rstrip().endswith(reason)
    assert "12,000" in row


@dataclasses.dataclass(frozen=True)
class Traffic:
    prometheus_url: str
    started: float  # Unix seconds at which the load began


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    harness.ensure_prometheus()
    with harness.harness(tmp_path_factory.mktemp("analyze")) as running:
        running.start_app(workload="web-primary")
        running.start_app(workload="web", error_ratio=0.3)
        running.start_app(workload="web-fixed")
        server = running.start_prometheus()
        running.start_load(rate_per_second=RATE_PER_SECOND)
        started = time.time()
        # Enough intervals of traffic for the judge's minimum sample before any test reads the window.
        time.sleep(30)
        yield Traffic(prometheus_url=server.url, started=started)


def window_arguments(traffic: Traffic) -> list[str]:
    """Return the options that analyze the traffic so far: 4 s intervals of 1 s scrapes, no warm-up."""
    return [
        "-n", "shop", "--from", str(traffic.started), "--to", str(time.time() - 2), "--interval", INTERVAL,
        "--scrape-interval", "1s", "--warmup", "0s", "--prometheus-url", traffic.prometheus_url,
    ]  # fmt: skip


def analyze_json(traffic: Traffic, *arguments: str) -> tuple[int, dict]:
    result = run(*arguments, *window_arguments(traffic), "-o", "json")
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.prometheus
def test_bad_canary_fails_with_numbers(traffic: Traffic) -> None:
    exit_code, view = analyze_json(traffic, "web")

    assert exit_code == output.ExitCode.FAILED == 10
    assert view["verdict"] == "fail"
    assert view["decided_at"] is not None
    error_ratio = next(metric for metric in view["metrics"] if metric["metric"] == "error_ratio")
    assert error_ratio["verdict"] == "fail"
    assert 0.2 < error_ratio["canary_value"] < 0.4
    assert error_ratio["control_value"] < 0.01
    assert error_ratio["canary_samples"] >= 100
    assert any('pod=~"web-primary-' in query for query in error_ratio["queries"])


@pytest.mark.prometheus
def test_decision_time_lies_inside_the_window(traffic: Traffic) -> None:
    _, view = analyze_json(traffic, "web")

    decided = datetime.datetime.fromisoformat(view["decided_at"])
    assert datetime.datetime.fromisoformat(view["window"]["start"]) < decided
    assert decided <= datetime.datetime.fromisoformat(view["window"]["end"])


@pytest.mark.prometheus
def test_good_canary_does_not_fail(traffic: Traffic, tmp_path: pathlib.Path) -> None:
    annotations = tmp_path / "annotations.yaml"
    annotations.write_text("\n".join(f'{key}: "{value}"' for key, value in WIDE_TOLERANCES.items()))

    exit_code, view = analyze_json(traffic, "web-fixed", "--control", "web-primary", "-f", str(annotations))

    assert view["verdict"] in ("pass", "inconclusive"), view["reason"]
    assert exit_code == {"pass": 0, "inconclusive": 11}[view["verdict"]]
    assert (view["canary"], view["control"]) == ("web-fixed", "web-primary")


@pytest.mark.prometheus
def test_workload_without_series_is_no_data(traffic: Traffic) -> None:
    exit_code, view = analyze_json(traffic, "ghost")

    assert exit_code == output.ExitCode.NO_DATA == 12
    assert view["verdict"] == "no_data"
    assert "NoSeries" in view["reason"]


@pytest.mark.prometheus
def test_text_output_names_verdict_and_samples(traffic: Traffic) -> None:
    result = run("web", *window_arguments(traffic))

    assert result.exit_code == 10
    assert "Verdict  fail" in result.output
    assert "error_ratio" in result.output
    assert "web-primary" in result.output


def test_failed_second_read_keeps_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    # Prometheus went away after the judgement: only the time of the first deciding look is lost.
    source = analyze._connect(closed_port_url(), scrape_interval=15.0)
    rollout_spec = spec.parse_annotations(WIDE_TOLERANCES, source="Deployment shop/web")
    arms = [
        protocol.ArmTarget(arm=arm, namespace="shop", workload=workload)
        for arm, workload in ((observations.Arm.CANARY, "web"), (observations.Arm.CONTROL, "web-primary"))
    ]

    decided_at = analyze._first_decision(
        source,
        preset=presets.build_preset("http"),
        canary=arms[0],
        control=arms[1],
        window=windows.Window(start=0.0, end=120.0, step_seconds=30.0),
        settings=analyze.judge_settings(rollout_spec),
        verdict=verdicts.Verdict.FAIL,
    )

    assert decided_at is None
    assert "the time of the first fail look is unknown" in capsys.readouterr().err
