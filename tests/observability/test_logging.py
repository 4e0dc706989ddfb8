"""Log configuration: JSON and console lines carry the same rollout keys."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from canaryd import core
from canaryd.observability import logging as canaryd_logging


@pytest.fixture(autouse=True)
def reset_logging():
    # configure() changes process-wide state; later tests get it back as it was.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers = handlers
    root.setLevel(level)


def _log_one_line(log_format: str) -> str:
    stream = io.StringIO()
    canaryd_logging.configure(log_format=log_format, stream=stream)
    logger = canaryd_logging.bind_rollout(
        canaryd_logging.get_logger("controller"),
        namespace="shop",
        rollout="web",
        revision="7f9c",
        step=2,
        weight=5,
    )
    logger.info("canary_weight_set", primary_weight=95)
    return stream.getvalue()


def test_json_line_has_rollout_keys_in_order():
    line = _log_one_line("json")

    record = json.loads(line)
    assert record["event"] == "canary_weight_set"
    assert record["level"] == "info"
    assert {key: record[key] for key in canaryd_logging.ROLLOUT_KEYS} == {
        "namespace": "shop",
        "rollout": "web",
        "revision": "7f9c",
        "step": 2,
        "weight": 5,
    }
    assert list(record)[3:8] == list(canaryd_logging.ROLLOUT_KEYS)
    assert record["primary_weight"] == 95
    assert record["timestamp"].endswith("Z")


def test_console_line_is_readable_with_same_keys():
    line = _log_one_line("console")

    assert "canary_weight_set" in line
    assert "namespace=shop rollout=web revision=7f9c step=2 weight=5" in line
    assert not line.lstrip().startswith("{")


def test_unknown_rollout_keys_are_still_present():
    stream = io.StringIO()
    canaryd_logging.configure(log_format="json", stream=stream)

    canaryd_logging.bind_rollout(structlog.get_logger(), namespace="shop", rollout="web").info("rollout_seen")

    record = json.loads(stream.getvalue())
    assert record["revision"] is None
    assert record["step"] is None
    assert record["weight"] is None


def test_status_keys_come_from_decision_status():
    stream = io.StringIO()
    canaryd_logging.configure(log_format="json", stream=stream)
    status = core.RolloutStatus(revision="7f9c", step_index=1, desired_weight=25)

    canaryd_logging.bind_status(structlog.get_logger(), namespace="shop", rollout="web", status=status).info(
        "x_done"
    )

    record = json.loads(stream.getvalue())
    assert (record["revision"], record["step"], record["weight"]) == ("7f9c", 2, 25)


def test_level_filters_lower_events():
    stream = io.StringIO()
    canaryd_logging.configure(log_format="json", level="warning", stream=stream)

    structlog.get_logger().info("analysis_held")
    structlog.get_logger().warning("rollback_started")

    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["rollback_started"]


def test_standard_library_logs_use_same_format():
    stream = io.StringIO()
    canaryd_logging.configure(log_format="json", stream=stream)

    logging.getLogger("kubernetes.client.rest").warning("response status %s", 429)

    record = json.loads(stream.getvalue())
    assert record["event"] == "response status 429"
    assert record["level"] == "warning"
    assert record["logger"] == "kubernetes.client.rest"


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        canaryd_logging.configure(level="loud")


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="unknown log format 'xml'; expected one of json, console"):
        canaryd_logging.configure(log_format="xml")
