"""Webhook destinations, read from the controller's own configuration.

Part of `canaryd.notify` (layer 2). Destinations come from the platform team: the `notifications`
section of the file given to `canaryd run --config`, or `CANARYD_NOTIFY_WEBHOOK_URL` in the
controller's environment. Annotations on a user's Deployment cannot add one, so a user cannot make
the controller send requests to an address of their choice.

    notifications:
      webhooks:
        - name: team-slack
          url_env: SLACK_WEBHOOK_URL     # read the URL from this variable, e.g. mounted from a Secret
          format: slack                  # or generic
          kinds: [rolled_back, blocked]  # default: every kind
          timeout_seconds: 5
          max_attempts: 3
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import pydantic

from canaryd.notify import notification, payloads

URL_VARIABLE = "CANARYD_NOTIFY_WEBHOOK_URL"
FORMAT_VARIABLE = "CANARYD_NOTIFY_WEBHOOK_FORMAT"


class ConfigError(ValueError):
    """The notifications configuration is invalid; the message names the key and how to fix it."""


class WebhookDestination(pydantic.BaseModel):
    """One receiver of notifications and how hard to try reaching it."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    name: str = pydantic.Field(min_length=1, max_length=63)  # shown in logs and metric labels, never the URL
    url: str = pydantic.Field(repr=False)  # may embed a token (Slack does), so it is never logged or printed
    payload_format: payloads.PayloadFormat = pydantic.Field(
        default=payloads.PayloadFormat.GENERIC, alias="format"
    )
    kinds: frozenset[notification.NotificationKind] = frozenset(notification.NotificationKind)
    timeout_seconds: float = pydantic.Field(default=5.0, gt=0, le=60)  # per HTTP call: connect, write, read
    max_attempts: int = pydantic.Field(default=3, ge=1, le=10)  # the first call included
    backoff_seconds: float = pydantic.Field(
        default=1.0, ge=0, le=60
    )  # before retry k, wait backoff * 2**(k-1)
    queue_size: int = pydantic.Field(default=100, ge=1, le=10_000)  # notifications waiting; more are dropped

    @pydantic.field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"scheme {parsed.scheme or '(none)'!r} with host {parsed.hostname or '(none)'!r} is not a "
                "webhook address; use an http:// or https:// URL with a host"
            )
        return url


def load_destinations(
    *, section: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> list[WebhookDestination]:
    """Read the `notifications` config section and the environment into destinations.

    Raises ConfigError naming the webhook, the key, the bad value and what is allowed.
    """
    destinations = [
        _parse_entry(index=index, entry=entry, environ=environ) for index, entry in _webhook_entries(section)
    ]

    # The environment shortcut adds one destination, for installs that have no config file.
    if environ.get(URL_VARIABLE):
        entry = {
            "name": "env",
            "url": environ[URL_VARIABLE],
            "format": environ.get(FORMAT_VARIABLE, "generic"),
        }
        destinations.append(_parse_entry(index=len(destinations), entry=entry, environ=environ))

    names = [destination.name for destination in destinations]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"notifications.webhooks: names must be unique, found {duplicates} more than once")
    return destinations


def _webhook_entries(section: Mapping[str, Any] | None) -> list[tuple[int, Any]]:
    if section is None:
        return []
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"notifications: expected a mapping with a 'webhooks' list, got {type(section).__name__}"
        )
    unknown = sorted(set(section) - {"webhooks"})
    if unknown:
        raise ConfigError(f"notifications: unknown keys {unknown}; the only key allowed is 'webhooks'")
    webhooks = section.get("webhooks") or []
    if not isinstance(webhooks, list):
        raise ConfigError(f"notifications.webhooks: expected a list, got {type(webhooks).__name__}")
    return list(enumerate(webhooks))


def _parse_entry(*, index: int, entry: Any, environ: Mapping[str, str]) -> WebhookDestination:
    where = f"notifications.webhooks[{index}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping with name and url, got {type(entry).__name__}")
    fields = dict(entry)

    # `url_env` keeps a secret URL out of the config file: the controller reads it from its environment.
    if "url_env" in fields:
        variable = fields.pop("url_env")
        if "url" in fields:
            raise ConfigError(f"{where}: set either 'url' or 'url_env', not both")
        if not environ.get(variable):
            raise ConfigError(f"{where}.url_env: environment variable {variable!r} is not set or empty")
        fields["url"] = environ[variable]

    try:
        return WebhookDestination.model_validate(fields)
    except pydantic.ValidationError as error:
        raise ConfigError(f"{where}: {_describe(error)}") from None


def _describe(error: pydantic.ValidationError) -> str:
    # Name each bad key with pydantic's reason; never echo the input, which may be a secret URL.
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in problem["loc"]) or "(entry)"
        problems.append(f"{key}: {problem['msg']}")
    return "; ".join(problems)
