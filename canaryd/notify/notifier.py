"""The controller's single entry point for notifications: fan out to every configured webhook.

Part of `canaryd.notify` (layer 2). The controller builds one `Notifier` at start from its own
configuration, registering the counters on its metrics registry (`ControllerMetrics.registry`), and
calls `notify` on rollout events. With no destinations configured, `notify` does nothing.
"""

from __future__ import annotations

import datetime
import pathlib
from collections.abc import Mapping
from typing import Any

import prometheus_client
import structlog
import yaml

from canaryd.core import status as core_status
from canaryd.notify import config, notification, transitions, webhook

_log = structlog.get_logger(__name__)

CONFIG_VARIABLE = "CANARYD_NOTIFY_CONFIG"


class Notifier:
    """Sends each notification to every webhook whose `kinds` include it, without blocking."""

    def __init__(
        self, *, destinations: list[config.WebhookDestination], registry: prometheus_client.CollectorRegistry
    ) -> None:
        metrics = webhook.NotificationMetrics(registry=registry)
        self._sinks = [
            webhook.WebhookSink(destination=destination, metrics=metrics) for destination in destinations
        ]

    @classmethod
    def from_config(
        cls,
        *,
        section: Mapping[str, Any] | None,
        environ: Mapping[str, str],
        registry: prometheus_client.CollectorRegistry,
    ) -> Notifier:
        """Build a notifier from the `notifications` config section and the controller's environment.

        Raises config.ConfigError when the section is invalid, so `canaryd run` stops at start-up
        rather than running without the notifications the platform team asked for.
        """
        destinations = config.load_destinations(section=section, environ=environ)
        _log.info("notifier_configured", destinations=[destination.name for destination in destinations])
        return cls(destinations=destinations, registry=registry)

    @classmethod
    def from_environment(
        cls, *, environ: Mapping[str, str], registry: prometheus_client.CollectorRegistry
    ) -> Notifier:
        """Build a notifier from the controller's environment, for `canaryd run`.

        `CANARYD_NOTIFY_CONFIG` names a YAML file (a mounted ConfigMap, say) whose `notifications`
        section lists the webhooks; `CANARYD_NOTIFY_WEBHOOK_URL` adds one more. Raises config.ConfigError
        when the file is missing or invalid.
        """
        path = environ.get(CONFIG_VARIABLE)
        section = _read_section(pathlib.Path(path)) if path else None
        return cls.from_config(section=section, environ=environ, registry=registry)

    @property
    def destination_names(self) -> list[str]:
        return [sink.destination.name for sink in self._sinks]

    def notify(self, message: notification.Notification) -> None:
        """Queue the notification on every matching destination; returns at once."""
        for sink in self._sinks:
            sink.send(message)

    def notify_transition(
        self,
        *,
        before: core_status.RolloutStatus,
        after: core_status.RolloutStatus,
        namespace: str,
        deployment: str,
        rollout: str,
        step_count: int | None,
        occurred_at: datetime.datetime,
    ) -> None:
        """Queue the notifications that the change from `before` to `after` calls for; returns at once."""
        for message in transitions.notifications_for(
            before=before, after=after, namespace=namespace, deployment=deployment, rollout=rollout,
            step_count=step_count, occurred_at=occurred_at,
        ):  # fmt: skip
            self.notify(message)

    def close(self, *, timeout_seconds: float = 5.0) -> None:
        """Flush queued notifications for at most `timeout_seconds` in total, then stop every sink."""
        per_sink = timeout_seconds / max(1, len(self._sinks))
        for sink in self._sinks:
            sink.close(timeout_seconds=per_sink)


def _read_section(path: pathlib.Path) -> Any:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise config.ConfigError(
            f"{CONFIG_VARIABLE}={path}: cannot read the file ({error.strerror})"
        ) from None
    except yaml.YAMLError as error:
        raise config.ConfigError(f"{CONFIG_VARIABLE}={path}: not valid YAML ({error})") from None
    if not isinstance(document, dict) or "notifications" not in document:
        raise config.ConfigError(
            f"{CONFIG_VARIABLE}={path}: expected a mapping with a 'notifications' section listing 'webhooks'"
        )
    return document["notifications"]
