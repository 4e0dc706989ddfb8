"""Render a notification as the JSON body a receiver expects.

Part of `canaryd.notify` (layer 2). `generic` is canaryd's own documented schema, for receivers
that parse fields; `slack` is a Slack incoming-webhook message (also accepted by Mattermost and
other Slack-compatible endpoints). Both are pure functions, so the sink stays format-agnostic.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from canaryd import verdicts
from canaryd.notify import notification as notification_module

GENERIC_SCHEMA = "canaryd.io/notification/v1"
# Characters of a section block's text (api.slack.com/reference/block-kit/blocks#section).
_SLACK_SECTION_LIMIT = 3000


class PayloadFormat(enum.StrEnum):
    """The body formats a webhook destination can ask for."""

    GENERIC = "generic"
    SLACK = "slack"


def render(
    *, payload_format: PayloadFormat, notification: notification_module.Notification
) -> dict[str, Any]:
    """Build the JSON body for one destination's format."""
    return _RENDERERS[payload_format](notification)


def generic(notification: notification_module.Notification) -> dict[str, Any]:
    """Build canaryd's own payload: every field by name, numbers as numbers, times in ISO 8601."""
    judgement = notification.judgement
    return {
        "schema": GENERIC_SCHEMA,
        "kind": notification.kind.value,
        "occurred_at": notification.occurred_at.isoformat(),
        "namespace": notification.namespace,
        "deployment": notification.deployment,
        "rollout": notification.rollout,
        "revision": notification.revision,
        "step": notification.step,
        "step_count": notification.step_count,
        "weight": notification.weight,
        "reason": notification.reason,
        "summary": notification.summary,
        "verdict": judgement.verdict.value if judgement else None,
        "metrics": [_metric_fields(result) for result in judgement.metrics] if judgement else [],
    }


def slack(notification: notification_module.Notification) -> dict[str, Any]:
    """Build a Slack message: a plain `text` fallback plus blocks with each metric's numbers."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _slack_title(notification)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _fit(_escape(notification.summary))}},
    ]

    # One line per SLI so that the reader sees why the verdict was reached without opening anything.
    if notification.judgement and notification.judgement.metrics:
        lines = [_slack_metric_line(result) for result in notification.judgement.metrics]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _fit("\n".join(lines))}})

    context = f"rollout `{_escape(notification.rollout)}` · revision `{_escape(notification.revision)}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _escape(notification.summary), "blocks": blocks}


def _metric_fields(result: verdicts.MetricResult) -> dict[str, Any]:
    return {
        "metric": result.metric,
        "verdict": result.verdict.value,
        "critical": result.critical,
        "canary_value": result.canary_value,
        "control_value": result.control_value,
        "effect": result.effect,
        "tolerance": result.tolerance,
        "canary_samples": result.canary_samples,
        "control_samples": result.control_samples,
        "reason": result.reason,
    }


_SLACK_MARKS: dict[notification_module.NotificationKind, str] = {
    notification_module.NotificationKind.STARTED: "Canary started",
    notification_module.NotificationKind.STEP_PASSED: "Canary step passed",
    notification_module.NotificationKind.PROMOTED: "Canary promoted",
    notification_module.NotificationKind.ROLLED_BACK: "Canary rolled back",
    notification_module.NotificationKind.BLOCKED: "Canary blocked",
}


def _slack_title(notification: notification_module.Notification) -> str:
    # Slack limits header text to 150 characters.
    title = f"{_SLACK_MARKS[notification.kind]}: {notification.namespace}/{notification.deployment}"
    return title[:150]


def _slack_metric_line(result: verdicts.MetricResult) -> str:
    line = f"*{_escape(result.metric)}*: {result.verdict.value}"
    if result.canary_value is not None and result.control_value is not None:
        line += f", canary {result.canary_value:.4g} vs control {result.control_value:.4g}"
    if result.effect is not None:
        line += f" (effect {result.effect:+.4g}"
        line += f", tolerance {result.tolerance:.4g})" if result.tolerance is not None else ")"
    line += f", n={result.canary_samples}/{result.control_samples}"
    return line


def _fit(text: str) -> str:
    # Slack rejects a message with a section text over the limit, and a rejected message is not retried,
    # so a long reason (every problem of an invalid spec) is cut instead.
    limit = _SLACK_SECTION_LIMIT
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as control characters; a reason quoting `le="<0.5"` must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_RENDERERS: dict[PayloadFormat, Callable[[notification_module.Notification], dict[str, Any]]] = {
    PayloadFormat.GENERIC: generic,
    PayloadFormat.SLACK: slack,
}
