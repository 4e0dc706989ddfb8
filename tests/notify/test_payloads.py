from __future__ import annotations

import dataclasses
import json

from canaryd.notify import notification, payloads


def test_generic_payload_names_every_field(rolled_back: notification.Notification) -> None:
    body = payloads.generic(rolled_back)

    assert body["schema"] == "canaryd.io/notification/v1"
    assert body["kind"] == "rolled_back"
    assert body["occurred_at"] == "2026-12-04T03:00:00+00:00"
    assert (body["namespace"], body["deployment"], body["rollout"], body["revision"]) == (
        "shop",
        "web",
        "web-7f9c-2",
        "7f9c",
    )
    assert (body["step"], body["step_count"], body["weight"]) == (2, 3, 5)
    assert body["verdict"] == "fail"
    assert body["summary"] == "shop/web rolled back at step 2/3 (5%): error_ratio failed: <4.1% vs 0.2%>"


def test_generic_payload_carries_metric_numbers(rolled_back: notification.Notification) -> None:
    metrics = payloads.generic(rolled_back)["metrics"]

    assert [metric["metric"] for metric in metrics] == ["error_ratio", "latency"]
    assert metrics[0]["verdict"] == "fail"
    assert metrics[0]["effect"] == 0.039
    assert metrics[0]["tolerance"] == 0.005
    assert (metrics[0]["canary_samples"], metrics[0]["control_samples"]) == (812, 15_230)


def test_generic_payload_is_json_serializable(rolled_back: notification.Notification) -> None:
    assert json.loads(json.dumps(payloads.generic(rolled_back)))["kind"] == "rolled_back"


def test_generic_payload_without_judgement(rolled_back: notification.Notification) -> None:
    started = notification.Notification(
        kind=notification.NotificationKind.STARTED,
        namespace="shop",
        deployment="web",
        rollout="web-7f9c-2",
        revision="7f9c",
        occurred_at=rolled_back.occurred_at,
    )
    body = payloads.generic(started)

    assert body["verdict"] is None
    assert body["metrics"] == []
    assert body["summary"] == "shop/web started a canary rollout"


def test_slack_payload_has_fallback_text_and_blocks(rolled_back: notification.Notification) -> None:
    body = payloads.slack(rolled_back)

    assert body["text"].startswith("shop/web rolled back at step 2/3 (5%)")
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Canary rolled back: shop/web"},
    }
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "section", "context"]


def test_slack_payload_lists_each_metric_with_numbers(rolled_back: notification.Notification) -> None:
    metric_lines = payloads.slack(rolled_back)["blocks"][2]["text"]["text"].splitlines()

    assert (
        metric_lines[0]
        == "*error_ratio*: fail, canary 0.041 vs control 0.002 (effect +0.039, tolerance 0.005), n=812/15230"
    )
    assert metric_lines[1].startswith("*latency*: pass")


def test_slack_payload_escapes_control_characters(rolled_back: notification.Notification) -> None:
    body = payloads.slack(rolled_back)

    assert "<" not in body["text"]
    assert "&lt;4.1% vs 0.2%&gt;" in body["blocks"][1]["text"]["text"]


def test_render_picks_the_destination_format(rolled_back: notification.Notification) -> None:
    slack = payloads.render(payload_format=payloads.PayloadFormat.SLACK, notification=rolled_back)
    generic = payloads.render(payload_format=payloads.PayloadFormat.GENERIC, notification=rolled_back)

    assert "blocks" in slack
    assert generic["schema"] == payloads.GENERIC_SCHEMA


def test_slack_section_is_cut_to_slacks_limit(rolled_back: notification.Notification) -> None:
    long_reason = dataclasses.replace(rolled_back, reason="x" * 5000)

    section = payloads.slack(long_reason)["blocks"][1]["text"]["text"]

    assert len(section) == 3000
    assert section.endswith("…")
