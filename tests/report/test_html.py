"""The HTML report explains a rollback on one page."""

from __future__ import annotations

import base64
import re

import markupsafe

from canaryd.report import html
from canaryd.standalone import record as rollout_record
from tests.report import records

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_report_states_outcome_and_reason():
    page = html.render(records.rolled_back())

    assert "rolled back: all traffic is on the primary again" in page
    assert "step 2 failed: the canary&#39;s error ratio is above the control&#39;s" in page


def test_report_states_rollback_cause():
    record = records.rolled_back().model_copy(update={"cause": "step 2 at 50% failed: error_ratio 20%"})

    page = html.render(record)

    assert "<strong>Cause:</strong> step 2 at 50% failed: error_ratio 20%" in page


def test_report_lists_each_step_verdict():
    page = html.render(records.rolled_back())

    assert 'Step 1 at 10%: <span class="pass">pass</span>' in page
    assert 'Step 2 at 50%: <span class="fail">fail</span>' in page
    assert "fail over 4 intervals, decided by error_ratio" in page
    assert "400 / 400" in page
    assert "50.0%" in page


def test_report_shows_evidence_and_queries():
    page = html.render(records.rolled_back())

    assert "250 / 100" in page
    assert str(markupsafe.escape(records.ERROR_QUERY)) in page


def test_report_embeds_valid_pngs():
    page = html.render(records.rolled_back())

    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # weight over time, then one per step
    for image in images:
        assert base64.b64decode(image).startswith(PNG_SIGNATURE)


def test_report_escapes_user_text():
    record = records.rolled_back().model_copy(update={"reason": "<script>alert(1)</script>"})

    page = html.render(record)

    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_unfinished_record_is_reported_as_such():
    record = rollout_record.RolloutRecord(rollout="demo", started_at=records.STARTED_AT, steps=[10, 50])

    page = html.render(record)

    assert "unfinished: the record ends before an outcome" in page
    assert page.count(">not reached<") == 2


def test_settings_mappings_render_as_rows():
    record = records.rolled_back().model_copy(
        update={"settings": {"tolerances": {"error_ratio_absolute": 0.03}, "judge": {"alpha": 0.01}}}
    )

    page = html.render(record)

    assert "<th>tolerances: error_ratio_absolute</th><td>0.03</td>" in page
    assert "<th>judge: alpha</th><td>0.01</td>" in page
    assert "{&#39;" not in page


def test_sli_values_render_as_percent_and_points():
    page = html.render(records.rolled_back())

    assert '<td class="number">20%</td><td class="number">0%</td>' in page
    assert "0.2</td>" not in page


def test_haproxy_counts_hidden_for_kubernetes_source():
    standalone = html.render(records.rolled_back())
    kubernetes = html.render(records.rolled_back().model_copy(update={"source": "kubernetes"}))

    assert "requests canary / primary (HAProxy)" in standalone
    assert "requests canary / primary (HAProxy)" not in kubernetes
    assert "canary share" not in kubernetes


def test_long_queries_wrap():
    page = html.render(records.rolled_back())

    assert "pre { " in page
    assert "overflow-wrap: anywhere" in page.split("pre { ", 1)[1].split("}", 1)[0]


def test_interrupted_step_shows_counted_traffic():
    record = rollout_record.RolloutRecord(
        rollout="demo",
        started_at=records.STARTED_AT,
        finished_at=records.STARTED_AT + 5,
        steps=[20, 50],
        outcome=rollout_record.Outcome.ABORTED,
        weights=[
            rollout_record.WeightChange(at=records.STARTED_AT, weight=20, step=0, reason="step 1"),
            rollout_record.WeightChange(at=records.STARTED_AT + 4.5, weight=0, step=None, reason="stopped"),
        ],
        traffic={0: rollout_record.StepTraffic(canary_requests=72, primary_requests=288)},
    )

    page = html.render(record)

    assert page.count(">interrupted<") == 1
    assert page.count(">not reached<") == 1
    assert "72 / 288" in page
    assert "20.0%" in page
