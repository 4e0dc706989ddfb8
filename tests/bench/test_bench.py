"""The quick bench keeps canaryd inside its targets (seeded; a few minutes on two cores)."""

from __future__ import annotations

import pytest

from canaryd.bench import report

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def quick_output():
    return report.run_bench(size=report.QUICK, seed=1)


def target_names() -> list[str]:
    names = [
        f"A/A false-positive rate, {s.name}"
        for s in report.selected_scenarios(report.QUICK)
        if s.name.startswith("aa_")
    ]
    for cell in ("errors_plus_1pp_100rps", "latency_plus_20pct_100rps"):
        names += [
            f"detection rate, {cell}",
            f"median excess vs best calibrated baseline, {cell}",
            f"median excess vs oracle, {cell}",
        ]
    return names


# Targets are checked on canaryd's default step advance (evidence). There a step needs a pass by
# its deadline, and at 1% of 100 requests/s a bad canary rarely gathers the evidence to fail the
# first step within it either, so most bad canaries end inconclusive and are rolled back without
# counting as detected. docs/bench.md has the numbers, and those of the no-failure mode.
KNOWN_MISSES = {
    "detection rate, errors_plus_1pp_100rps": "the first step decides on its deadline, not on a failure",
    "detection rate, latency_plus_20pct_100rps": (
        "the first step decides on its deadline; and under the simulated pod spread, +20% latency "
        "overlaps identical versions, so the latency tolerance admits it"
    ),
}


def target_params() -> list:
    params = []
    for name in target_names():
        reason = KNOWN_MISSES.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("name", target_params())
def test_quick_bench_meets_target(quick_output, name):
    target = next(target for target in quick_output["targets"] if target["target"] == name)

    assert target["met"], target


def test_quick_bench_reports_every_judge(quick_output):
    assert set(quick_output["results"]) == {
        "canaryd (evidence)",
        "canaryd (no-failure)",
        "flagger",
        "argo",
        "kayenta_60m",
        "kayenta_10m",
    }
    assert quick_output["oracle"]


def test_judge_call_time_is_recorded(quick_output):
    call = quick_output["judge_call_ms"]

    assert 0 < call["median"] <= call["p99"]
