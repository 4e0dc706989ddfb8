"""Prometheus outages during a step's analysis: real Prometheus, real source, real judge, real core.

The controller's own analysis (`canaryd.controller.analysis.analyse_step`) reads a real Prometheus that
scrapes two real services, a primary and an equally good canary, and the decision core decides each
pass, at the wall-clock time, in a simulated cluster whose router and workloads follow its actions.
Prometheus is stopped while the step is analysed: nothing may advance or be promoted while it is down,
the rollout must go on once it is back, and an outage that outlasts the step deadline must end in what
the inconclusive policy says.
"""

from __future__ import annotations

import collections
import datetime
import pathlib
import time
from collections.abc import Iterator

import pytest

from canaryd import core, judge, verdicts
from canaryd.controller import analysis as controller_analysis
from canaryd.metrics import prometheus
from tests.chaos import fleet, scale
from tests.core import world as core_world
from tests.harness import prometheus as harness
from tests.harness.fixtures import prometheus_binary  # noqa: F401 - fixture

pytestmark = [pytest.mark.chaos, pytest.mark.prometheus]

Phase = core.Phase
PASS_SECONDS = 1.0
# Short intervals so that a step can pass within seconds of real traffic; each spans 4 scrapes.
ANALYSIS = controller_analysis.AnalysisSettings(
    interval_seconds=4.0,
    scrape_interval_seconds=harness.SCRAPE_INTERVAL_SECONDS,
    judge=judge.JudgeSettings(warmup_seconds=0, latency=judge.Tolerance(relative=0.5, absolute=0.02)),
)
TOLERANCES = {
    "error_ratio_tolerance": "2%",
    "error_ratio_relative_tolerance": "50%",
    "latency_tolerance": "50%",
}


@pytest.fixture(scope="module")
def traffic(
    tmp_path_factory: pytest.TempPathFactory,
    prometheus_binary: pathlib.Path,  # noqa: F811 - fixture
) -> Iterator[harness.Harness]:
    with harness.harness(tmp_path_factory.mktemp("outage")) as running:
        primary = fleet.start_long_app(running, max_seconds=1800, workload="web-primary")
        canary = fleet.start_long_app(running, max_seconds=1800, workload="web")
        running.start_prometheus()
        # The harness's load stops after 2 minutes; this one lasts the module, and the harness stops it.
        load = harness.LoadDriver(apps=[primary, canary], rate_per_second=25.0, max_seconds=1800)
        running._drivers.append(load)
        load.start()
        yield running


@pytest.fixture(scope="module")
def source(traffic: harness.Harness) -> Iterator[prometheus.PrometheusSource]:
    assert traffic.prometheus is not None
    settings = prometheus.PrometheusSettings(
        url=traffic.prometheus.url,
        timeout_seconds=2,
        retries=1,
        backoff_seconds=0.1,
        scrape_interval_seconds=1,
    )
    client = prometheus.PrometheusSource(settings=settings)
    yield client
    client.close()


class Rollout:
    """The decision core driven at wall-clock time, with each step analysed on real Prometheus."""

    def __init__(self, *, source: prometheus.PrometheusSource, **annotations: str) -> None:
        self.source = source
        self.world = core_world.World(
            spec=core_world.make_spec(**{**TOLERANCES, **annotations}),
            now=datetime.datetime.now(tz=datetime.UTC),
        )
        self.judgements: list[verdicts.Verdict] = []
        self.last_verdict: verdicts.Verdict | None = None

    def run_pass(self) -> core.Decision:
        now = datetime.datetime.now(tz=datetime.UTC)
        self.world.now = now
        analysis = controller_analysis.analyse_step(
            source=self.source,
            spec=self.world.spec,
            status=self.world.status,
            namespace="shop",
            deployment="web",
            now=now,
            settings=ANALYSIS,
        )
        self.last_verdict = analysis.verdict if analysis is not None else None
        if analysis is not None:
            self.judgements.append(analysis.verdict)
        return self.world.run(analysis=analysis, advance=datetime.timedelta(0))

    def start_analysis(self) -> None:
        """Bootstrap, start a rollout and run passes until the first step's analysis has begun."""
        # The simulated workloads act at once, so these passes take no time on the wall clock.
        for _ in range(10):
            if self.world.status.phase is Phase.IDLE and self.world.primary is not None:
                break
            self.world.run(advance=datetime.timedelta(0))
        self.world.push_revision(core_world.NEW)
        self.world.run(advance=datetime.timedelta(0))
        self.world.make_canary_ready()
        for _ in range(10):
            if self.world.status.analysis_started_at is not None:
                return
            self.run_pass()
        raise AssertionError(f"analysis did not start: {self.world.status.phase} {self.world.status.reason}")

    @property
    def phase(self) -> core.Phase:
        return self.world.status.phase


def _assert_held(decision: core.Decision, *, step_index: int, weight: int) -> None:
    status = decision.status
    assert status.phase in (Phase.PROGRESSING, Phase.HOLDING), status
    assert status.step_index == step_index, status
    assert status.desired_weight == weight, status
    assert not [action for action in decision.actions if isinstance(action, core.CopyTemplateToPrimary)]


def test_outage_holds_step_then_rollout_resumes(
    traffic: harness.Harness, source: prometheus.PrometheusSource
):
    server = traffic.prometheus
    assert server is not None
    cycles = scale.current().outage_cycles
    rollout = Rollout(source=source, steps="50", analysis_window="12s", step_deadline="5m")
    rollout.start_analysis()
    tally: collections.Counter[str] = collections.Counter()

    # Each cycle: Prometheus down for longer than the analysis window, then up for less than a pass needs.
    for _ in range(cycles):
        server.stop()
        tally["outages"] += 1
        down_until = time.monotonic() + 16.0
        while time.monotonic() < down_until:
            decision = rollout.run_pass()
            _assert_held(decision, step_index=0, weight=50)
            # Down, the analysis can only report no data; the source's outage is never read as a pass.
            assert rollout.last_verdict in (None, verdicts.Verdict.NO_DATA)
            tally["passes while down"] += 1
            time.sleep(PASS_SECONDS)
        server.start()
        up_until = time.monotonic() + 3.0
        while time.monotonic() < up_until:
            _assert_held(rollout.run_pass(), step_index=0, weight=50)
            time.sleep(PASS_SECONDS)

    assert rollout.judgements.count(verdicts.Verdict.NO_DATA) >= cycles

    # Back up, the step passes on fresh data and the canary is promoted.
    deadline = time.monotonic() + 90.0
    while rollout.phase not in (Phase.SUCCEEDED, Phase.FAILED) and time.monotonic() < deadline:
        rollout.run_pass()
        time.sleep(PASS_SECONDS)
    assert rollout.phase is Phase.SUCCEEDED, rollout.world.status
    print(f"prometheus outage tally: {dict(tally)}")


@pytest.mark.parametrize(
    ("policy", "final_phase", "reason"),
    [
        pytest.param("rollback", Phase.FAILED, "DeadlineExceeded", id="rollback"),
        pytest.param("pause", Phase.PAUSED, "DeadlinePaused", id="pause"),
    ],
)
def test_outage_past_deadline_follows_policy(
    traffic: harness.Harness,
    source: prometheus.PrometheusSource,
    policy: str,
    final_phase: core.Phase,
    reason: str,
):
    server = traffic.prometheus
    assert server is not None
    rollout = Rollout(
        source=source, steps="20,50", analysis_window="8s", step_deadline="14s", inconclusive_policy=policy
    )
    rollout.start_analysis()
    step_started = rollout.world.status.step_started_at
    assert step_started is not None
    reasons = []

    server.stop()
    try:
        limit = time.monotonic() + 45.0
        while rollout.phase in (Phase.PROGRESSING, Phase.HOLDING) and time.monotonic() < limit:
            decision = rollout.run_pass()
            reasons.extend(event.reason for event in decision.events)
            assert decision.status.phase not in (Phase.PROMOTING, Phase.SUCCEEDED), decision.status
            time.sleep(PASS_SECONDS)
        for _ in range(5):
            if rollout.phase is final_phase:
                break
            rollout.run_pass()
    finally:
        server.start()

    status = rollout.world.status
    assert status.phase is final_phase, status
    assert reason in reasons
    assert rollout.world.now - step_started >= datetime.timedelta(seconds=14)
    record = status.step_record(0)
    assert record is not None
    assert record.verdict is verdicts.Verdict.NO_DATA
    assert verdicts.Verdict.PASS not in rollout.judgements
