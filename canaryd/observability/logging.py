"""structlog configuration: JSON lines for the daemon, readable console lines for the CLI.

Layer 2 (adapters). Every engine and tool calls `configure` once at start-up and binds a rollout's keys
with `bind_rollout` or `bind_status`. Each line about a rollout then carries the same keys (namespace,
rollout, revision, step, weight), whichever part of canaryd wrote it, so on-call can filter by them.

Event names are snake_case, subject then past-tense verb: `canary_weight_set`, `analysis_held`.
"""

from __future__ import annotations

import enum
import logging
import sys
from typing import Any, TextIO

import structlog

from canaryd import core

# The keys that identify a rollout in every log line, in the order they are shown.
ROLLOUT_KEYS: tuple[str, ...] = ("namespace", "rollout", "revision", "step", "weight")


class LogFormat(enum.StrEnum):
    JSON = "json"  # one JSON object per line, for the daemon and log collectors
    CONSOLE = "console"  # aligned, human-readable lines, for the CLI and the demo


def configure(
    *, log_format: LogFormat | str = LogFormat.JSON, level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog (and the standard library's root logger) for the whole process.

    `level` is a standard level name ("debug", "info", "warning", "error"). Lines go to `stream`,
    standard error by default, so that standard output stays free for command results.
    """
    log_format = _log_format(log_format)
    level_number = _level_number(level)
    output = stream if stream is not None else sys.stderr

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _order_rollout_keys,
    ]
    if log_format is LogFormat.JSON:
        renderer: Any = structlog.processors.JSONRenderer(sort_keys=False)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_is_terminal(output), sort_keys=False)

    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.PrintLoggerFactory(file=output),
        cache_logger_on_first_use=False,
    )

    # Libraries that log through the standard library (kubernetes, urllib3) get the same format and stream.
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level_number)


def get_logger(name: str | None = None, **keys: Any) -> structlog.typing.FilteringBoundLogger:
    """Return a structlog logger, optionally with `component` and other keys bound."""
    logger = structlog.get_logger()
    if name is not None:
        keys = {"component": name, **keys}
    return logger.bind(**keys) if keys else logger


def rollout_keys(
    *,
    namespace: str,
    rollout: str,
    revision: str | None = None,
    step: int | None = None,
    weight: int | None = None,
) -> dict[str, Any]:
    """Return the standard keys of one rollout.

    `step` is 1-based, as people read it, and `weight` is the canary's percent.
    """
    return {"namespace": namespace, "rollout": rollout, "revision": revision, "step": step, "weight": weight}


def bind_rollout(
    logger: structlog.typing.FilteringBoundLogger,
    *,
    namespace: str,
    rollout: str,
    revision: str | None = None,
    step: int | None = None,
    weight: int | None = None,
) -> structlog.typing.FilteringBoundLogger:
    """Return `logger` with the rollout's standard keys bound, all five present even when unknown (None)."""
    keys = rollout_keys(namespace=namespace, rollout=rollout, revision=revision, step=step, weight=weight)
    return logger.bind(**keys)


def bind_status(
    logger: structlog.typing.FilteringBoundLogger, *, namespace: str, rollout: str, status: core.RolloutStatus
) -> structlog.typing.FilteringBoundLogger:
    """Return `logger` with the rollout's keys bound from its decision-core status."""
    return bind_rollout(
        logger,
        namespace=namespace,
        rollout=rollout,
        revision=status.revision,
        step=status.step_index + 1,
        weight=status.desired_weight,
    )


def _order_rollout_keys(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # The rollout keys come right after the event name, so lines about one rollout line up when read.
    ordered: dict[str, Any] = {
        key: event_dict.pop(key) for key in ("timestamp", "level", "event") if key in event_dict
    }
    ordered.update({key: event_dict.pop(key) for key in ROLLOUT_KEYS if key in event_dict})
    ordered.update(event_dict)
    return ordered


def _log_format(log_format: LogFormat | str) -> LogFormat:
    try:
        return LogFormat(log_format)
    except ValueError:
        known = ", ".join(member.value for member in LogFormat)
        raise ValueError(f"unknown log format {log_format!r}; expected one of {known}") from None


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(
            f"unknown log level {level!r}; expected one of debug, info, warning, error, critical"
        )
    return number


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
