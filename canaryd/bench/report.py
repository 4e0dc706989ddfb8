"""Assemble the bench: run the scenarios, calibrate, compare with the oracle, check the targets.

Layer 4 (bench tool). `run_bench` returns the JSON-ready result; `render_table` prints it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from rich import table as rich_table

from canaryd import judge, observations
from canaryd.bench import judges, runner, scenarios, simulator, summary


@dataclasses.dataclass(frozen=True)
class Size:
    """How many runs each kind of cell gets."""

    aa_runs: int
    regression_runs: int
    quick: bool


FULL = Size(aa_runs=10_000, regression_runs=2_000, quick=False)
QUICK = Size(aa_runs=1_000, regression_runs=300, quick=True)


def selected_scenarios(size: Size) -> list[scenarios.Scenario]:
    regressions = scenarios.regression_scenarios()
    if size.quick:
        regressions = [s for s in regressions if s.name in scenarios.quick_regression_names()]
    return scenarios.aa_scenarios() + regressions


def run_bench(*, size: Size, seed: int, progress: Callable[[str], None] | None = None) -> dict[str, object]:
    """Run every scenario and return figures per judge (defaults and calibrated), oracle and targets."""
    started = time.perf_counter()
    chosen = selected_scenarios(size)
    records = {}
    for index, scenario in enumerate(chosen):
        runs = (
            size.regression_runs
            if scenario.is_regression or scenario.name.startswith("better")
            else size.aa_runs
        )
        records[scenario.name] = runner.run_scenario(
            scenario, runs=runs, seed=seed, index=index, progress=progress
        )

    calibration = _calibration(records)
    results = _results(chosen, records, calibration)
    oracle = {
        s.name: summary.figures(s, records[s.name][("oracle", None)]) for s in chosen if s.oracle_metric
    }
    _add_oracle_ratios(results, oracle)
    output = {
        "seed": seed,
        "quick": size.quick,
        "runs": {
            s.name: records[s.name][(runner.CANARYD_DEFAULT, 1.0)].array("outcome").size for s in chosen
        },
        "model": _model(),
        "calibration": calibration,
        "results": results,
        "oracle": oracle,
        "judge_call_ms": judge_call_milliseconds(),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    output["targets"] = check_targets(output, chosen)
    return output


def _calibration(records) -> dict[str, dict[str, object]]:
    """Calibrate every judge on the A/A cells with a primary control at 100 and at 1 request/s."""
    calibration = {}
    for name, knob in runner.KNOBS.items():
        if knob is None:
            continue
        entry: dict[str, object] = {"knob": knob.name, "default": knob.default}
        for rate in (100, 1):
            value, reached = summary.calibrate(records[f"aa_{rate}rps_primary"], name)
            entry[f"{rate}rps"] = {"value": value, "reached_1pct": reached}
        calibration[name] = entry
    return calibration


def _results(chosen, records, calibration) -> dict[str, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, dict[str, object]]] = {}
    for name, knob in runner.KNOBS.items():
        if knob is None:
            continue
        results[name] = {"default": {}, "calibrated": {}}
        for scenario in chosen:
            calibrated = calibration[name]["1rps" if scenario.rate <= 1 else "100rps"]["value"]
            cell = records[scenario.name]
            results[name]["default"][scenario.name] = summary.figures(scenario, cell[(name, knob.default)])
            results[name]["calibrated"][scenario.name] = summary.figures(scenario, cell[(name, calibrated)])
    return results


def _add_oracle_ratios(results, oracle) -> None:
    for by_setting in results.values():
        for figures_by_scenario in by_setting.values():
            for name, figures in figures_by_scenario.items():
                if name not in oracle:
                    continue
                for key in ("median_excess_bad_requests", "median_requests_to_detect"):
                    figures[key]["ratio_to_oracle"] = summary.ratio(
                        figures[key]["value"], oracle[name][key]["value"]
                    )


def check_targets(output: dict[str, object], chosen: list[scenarios.Scenario]) -> list[dict[str, object]]:
    """Check canaryd's default step advance against the four targets, one entry per comparison."""
    results, oracle = output["results"], output["oracle"]
    default = results[runner.CANARYD_DEFAULT]["default"]
    calibrated = results[runner.CANARYD_DEFAULT]["calibrated"]
    targets = []
    for scenario in chosen:
        if scenario.name.startswith("aa_"):
            value = default[scenario.name]["false_positive_rate"]["value"]
            limit = summary.TARGET_FALSE_POSITIVE_RATE
            targets.append(_target(f"A/A false-positive rate, {scenario.name}", value, limit, value <= limit))
    for scenario in (s for s in chosen if s.headline):
        value = default[scenario.name]["detection_rate"]["value"]
        limit = summary.TARGET_DETECTION_RATE
        targets.append(_target(f"detection rate, {scenario.name}", value, limit, value >= limit))

        ours = calibrated[scenario.name]["median_excess_bad_requests"]["value"]
        best = _best_calibrated_baseline(output, scenario.name)
        limit = None if best is None else summary.TARGET_BASELINE_FRACTION * best
        met = limit is not None and ours is not None and ours <= limit
        targets.append(
            _target(f"median excess vs best calibrated baseline, {scenario.name}", ours, limit, met)
        )

        ours = default[scenario.name]["median_excess_bad_requests"]["value"]
        bound = oracle[scenario.name]["median_excess_bad_requests"]["value"]
        limit = None if bound is None else summary.TARGET_ORACLE_MULTIPLE * bound
        met = limit is not None and ours is not None and ours <= limit
        targets.append(_target(f"median excess vs oracle, {scenario.name}", ours, limit, met))
    return targets


def _best_calibrated_baseline(output, scenario_name: str) -> float | None:
    # Only baselines that reached a 1% false-positive rate on A/A take part in the comparison.
    values = []
    for name in runner.BASELINES:
        if not output["calibration"][name]["100rps"]["reached_1pct"]:
            continue
        value = output["results"][name]["calibrated"][scenario_name]["median_excess_bad_requests"]["value"]
        if value is not None:
            values.append(value)
    return min(values) if values else None


def _target(name: str, value, limit, met: bool) -> dict[str, object]:
    return {"target": name, "value": value, "limit": limit, "met": bool(met)}


def _model() -> dict[str, object]:
    return {
        "steps": list(simulator.STEP_WEIGHTS),
        "step_seconds": simulator.STEP_SECONDS,
        "hold_seconds": simulator.HOLD_SECONDS,
        "canaryd_analysis_window_seconds": judges.ANALYSIS_WINDOW_SECONDS,
        "canaryd_step_deadline_seconds": judges.STEP_DEADLINE_SECONDS,
        "rollback_delay_seconds": simulator.ROLLBACK_DELAY_SECONDS,
        "scrape_seconds": simulator.SCRAPE_SECONDS,
        "base_error_ratio": simulator.BASE_ERROR_RATIO,
        "pod_error_sigma": simulator.POD_ERROR_SIGMA,
        "pod_latency_sigma": simulator.POD_LATENCY_SIGMA,
        "post_promotion_seconds": runner.POST_PROMOTION_SECONDS,
    }


def judge_call_milliseconds(*, calls: int = 300) -> dict[str, float]:
    """Time `judge.judge` on 2 arms x 40 intervals with error counts and 12-bucket histograms."""
    rng = np.random.default_rng(0)
    intervals = 40

    def arm(requests: float) -> observations.ArmSeries:
        counts = rng.poisson(requests, intervals).astype(float)
        shares = np.linspace(0.0, 1.0, len(simulator.BUCKET_BOUNDS))
        return observations.ArmSeries(
            interval_ends=np.arange(intervals) * simulator.SCRAPE_SECONDS,
            requests=counts,
            errors=np.round(counts * 0.005),
            bucket_bounds=simulator.BUCKET_BOUNDS,
            bucket_counts=np.outer(counts, shares),
        )

    comparison = observations.Comparison(
        canary=arm(150.0),
        control=arm(1350.0),
        canary_share=np.full(intervals, 0.1),
        canary_ready=np.ones(intervals, bool),
    )
    settings = judge.JudgeSettings()
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        judge.judge(comparison, settings=settings)
        durations.append(time.perf_counter() - started)
    durations_ms = np.array(durations) * 1000
    return {"median": float(np.median(durations_ms)), "p99": float(np.quantile(durations_ms, 0.99))}


def render_table(output: dict[str, object]) -> rich_table.Table:
    """Build one table: a row per scenario and judge, defaults then calibrated, and the targets below."""
    table = rich_table.Table(title=_title(output), caption=_caption(output), show_lines=False)
    for column in (
        "scenario",
        "judge",
        "FPR / detection",
        "inconclusive",
        "req. to detect",
        "excess bad req.",
        "s to promote",
        "x oracle",
    ):
        table.add_column(column, justify="left" if column in ("scenario", "judge") else "right")
    oracle = output["oracle"]
    for scenario_name in output["runs"]:
        first = True
        for judge_name, by_setting in output["results"].items():
            table.add_row(*_row(scenario_name if first else "", judge_name, by_setting, scenario_name))
            first = False
        if scenario_name in oracle:
            table.add_row(*_oracle_row(oracle[scenario_name]))
        table.add_section()
    return table


def _title(output) -> str:
    kind = "quick" if output["quick"] else "full"
    return f"canaryd bench ({kind}, seed {output['seed']}): default / calibrated to 1% A/A FPR"


def _caption(output) -> str:
    met = sum(target["met"] for target in output["targets"])
    lines = [f"targets met: {met} of {len(output['targets'])}"]
    for target in output["targets"]:
        status = "met" if target["met"] else "MISSED"
        value, limit = _number(target["value"]), _number(target["limit"])
        lines.append(f"{status} {target['target']}: {value} (limit {limit})")
    call = output["judge_call_ms"]
    lines.append(
        f"judge call, 2 arms x 40 intervals: median {call['median']:.2f} ms, p99 {call['p99']:.2f} ms"
    )
    return "\n".join(lines)


def _row(scenario_name, judge_name, by_setting, cell) -> list[str]:
    default, calibrated = by_setting["default"][cell], by_setting["calibrated"][cell]
    rate_key = "detection_rate" if "detection_rate" in default else "false_positive_rate"

    def pair(getter) -> str:
        return f"{getter(default)} / {getter(calibrated)}"

    return [
        scenario_name,
        judge_name,
        pair(lambda f: _percent(f[rate_key]["value"])),
        pair(lambda f: _percent(f["inconclusive_rate"]["value"])),
        pair(lambda f: _number(f["median_requests_to_detect"]["value"])),
        pair(lambda f: _number(f.get("median_excess_bad_requests", {}).get("value"))),
        pair(lambda f: _number(f["median_seconds_to_promote"]["value"])),
        pair(lambda f: _number(f.get("median_excess_bad_requests", {}).get("ratio_to_oracle"))),
    ]


def _oracle_row(figures) -> list[str]:
    return [
        "",
        "oracle (SPRT)",
        _percent(figures["detection_rate"]["value"]),
        "",
        _number(figures["median_requests_to_detect"]["value"]),
        _number(figures["median_excess_bad_requests"]["value"]),
        "",
        "1",
    ]


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
