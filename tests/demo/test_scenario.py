"""The demo's rollout file and service versions."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from canaryd.demo import scenario
from canaryd.standalone import config


@pytest.mark.parametrize("plan", [scenario.FAST_PLAN, scenario.FULL_PLAN], ids=["fast", "full"])
def test_demo_rollout_file_is_valid(tmp_path, plan):
    path = tmp_path / "rollout.yaml"
    document = scenario.rollout_document(
        plan=plan, socket_path=pathlib.Path("/tmp/haproxy.sock"), prometheus_url="http://127.0.0.1:9090"
    )
    path.write_text(yaml.safe_dump(document))

    loaded = config.load_config(path)

    assert loaded.steps == plan.steps
    assert loaded.analysis.deadline.total_seconds() == plan.deadline
    assert loaded.judge_settings().latency_quantile == scenario.DEMO_LATENCY_QUANTILE


@pytest.mark.parametrize("plan", [scenario.FAST_PLAN, scenario.FULL_PLAN], ids=["fast", "full"])
def test_analysis_interval_spans_four_scrapes(plan):
    assert plan.analysis_interval >= 4 * plan.scrape_interval


def test_load_outlasts_every_step_deadline():
    plan = scenario.FAST_PLAN

    assert plan.load_duration > (len(plan.steps) + 1) * plan.deadline


@pytest.mark.parametrize(
    ("bad", "error_ratio", "extra_latency"),
    [
        (scenario.BadVersion.NONE, 0.0, 0.0),
        (scenario.BadVersion.ERRORS, scenario.BAD_ERROR_RATIO, 0.0),
        (scenario.BadVersion.LATENCY, 0.0, scenario.BAD_EXTRA_LATENCY),
    ],
    ids=["none", "errors", "latency"],
)
def test_only_canary_misbehaves(bad, error_ratio, extra_latency):
    primary, canary = scenario.behaviours(bad)

    assert (primary.error_ratio, primary.extra_latency_seconds) == (0.0, 0.0)
    assert canary.error_ratio == error_ratio
    assert canary.extra_latency_seconds == extra_latency
    assert canary.latency_seconds == primary.latency_seconds
