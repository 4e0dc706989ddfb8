from __future__ import annotations

import pathlib

import prometheus_client
import pytest

from canaryd.notify import config, notification, notifier, payloads

SECRET_URL = "https://hooks.example.test/services/T000/B000/s3cr3t-token"


def test_destination_defaults() -> None:
    [destination] = config.load_destinations(
        section={"webhooks": [{"name": "ops", "url": SECRET_URL}]}, environ={}
    )

    assert destination.name == "ops"
    assert destination.payload_format is payloads.PayloadFormat.GENERIC
    assert destination.kinds == frozenset(notification.NotificationKind)
    assert destination.timeout_seconds == 5.0
    assert destination.max_attempts == 3


def test_destination_with_every_key() -> None:
    entry = {
        "name": "team-slack",
        "url": SECRET_URL,
        "format": "slack",
        "kinds": ["rolled_back", "blocked"],
        "timeout_seconds": 2,
        "max_attempts": 5,
        "backoff_seconds": 0.5,
        "queue_size": 10,
    }
    [destination] = config.load_destinations(section={"webhooks": [entry]}, environ={})

    assert destination.payload_format is payloads.PayloadFormat.SLACK
    assert destination.kinds == {
        notification.NotificationKind.ROLLED_BACK,
        notification.NotificationKind.BLOCKED,
    }
    assert (destination.timeout_seconds, destination.max_attempts, destination.queue_size) == (2, 5, 10)


def test_url_env_reads_the_url_from_the_environment() -> None:
    section = {"webhooks": [{"name": "team-slack", "url_env": "SLACK_URL", "format": "slack"}]}
    [destination] = config.load_destinations(section=section, environ={"SLACK_URL": SECRET_URL})

    assert destination.url == SECRET_URL


def test_environment_shortcut_adds_one_destination() -> None:
    environ = {config.URL_VARIABLE: SECRET_URL, config.FORMAT_VARIABLE: "slack"}
    [destination] = config.load_destinations(section=None, environ=environ)

    assert destination.name == "env"
    assert destination.payload_format is payloads.PayloadFormat.SLACK


def test_no_section_and_no_environment_means_no_destinations() -> None:
    assert config.load_destinations(section=None, environ={}) == []


def test_destination_repr_hides_the_url() -> None:
    [destination] = config.load_destinations(
        section={"webhooks": [{"name": "ops", "url": SECRET_URL}]}, environ={}
    )

    assert "s3cr3t" not in repr(destination)


@pytest.mark.parametrize(
    ("section", "environ", "message"),
    [
        (
            {"webhooks": [{"name": "ops", "url": "file:///etc/passwd"}]},
            {},
            "scheme 'file' with host '(none)' is not a webhook address",
        ),
        (
            {"webhooks": [{"name": "ops", "url": "https:///no-host"}]},
            {},
            "use an http:// or https:// URL with a host",
        ),
        ({"webhooks": [{"name": "ops", "url": SECRET_URL, "format": "teams"}]}, {}, "'generic' or 'slack'"),
        ({"webhooks": [{"name": "ops", "url": SECRET_URL, "kinds": ["exploded"]}]}, {}, "kinds"),
        ({"webhooks": [{"name": "ops", "url": SECRET_URL, "timeout_seconds": 0}]}, {}, "timeout_seconds"),
        ({"webhooks": [{"name": "ops", "url": SECRET_URL, "max_attempts": 0}]}, {}, "max_attempts"),
        (
            {"webhooks": [{"name": "ops", "url": SECRET_URL, "headers": {}}]},
            {},
            "headers: Extra inputs are not permitted",
        ),
        (
            {"webhooks": [{"name": "ops", "url_env": "MISSING"}]},
            {},
            "environment variable 'MISSING' is not set",
        ),
        (
            {"webhooks": [{"name": "ops", "url_env": "SLACK_URL", "url": SECRET_URL}]},
            {"SLACK_URL": SECRET_URL},
            "either 'url' or 'url_env'",
        ),
        (
            {"webhooks": [{"name": "ops", "url": SECRET_URL}, {"name": "ops", "url": SECRET_URL}]},
            {},
            "names must be unique, found ['ops']",
        ),
        ({"webhooks": "https://example.test"}, {}, "notifications.webhooks: expected a list"),
        ({"webhooks": ["https://example.test"]}, {}, "notifications.webhooks[0]: expected a mapping"),
        ({"slack": []}, {}, "unknown keys ['slack']"),
        ({"webhooks": [{"url": SECRET_URL}]}, {}, "name: Field required"),
    ],
    ids=[
        "file-scheme",
        "no-host",
        "unknown-format",
        "unknown-kind",
        "zero-timeout",
        "zero-attempts",
        "unknown-key",
        "url-env-unset",
        "url-and-url-env",
        "duplicate-name",
        "webhooks-not-list",
        "entry-not-mapping",
        "unknown-section-key",
        "missing-name",
    ],
)
def test_invalid_config_is_rejected_with_the_key(section: dict, environ: dict, message: str) -> None:
    with pytest.raises(config.ConfigError) as raised:
        config.load_destinations(section=section, environ=environ)

    assert message in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_notifier_reads_the_config_file_named_in_the_environment(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "canaryd.yaml"
    path.write_text(
        "notifications:\n  webhooks:\n    - name: ops\n      url_env: OPS_URL\n      format: slack\n"
    )
    environ = {notifier.CONFIG_VARIABLE: str(path), "OPS_URL": SECRET_URL, config.URL_VARIABLE: SECRET_URL}

    built = notifier.Notifier.from_environment(
        environ=environ, registry=prometheus_client.CollectorRegistry()
    )
    built.close(timeout_seconds=1)

    assert built.destination_names == ["ops", "env"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("webhooks: []\n", "expected a mapping with a 'notifications' section"),
        ("notifications: [\n", "not valid YAML"),
    ],
    ids=["no-section", "bad-yaml"],
)
def test_notifier_rejects_an_invalid_config_file(tmp_path: pathlib.Path, text: str, message: str) -> None:
    path = tmp_path / "canaryd.yaml"
    path.write_text(text)

    with pytest.raises(config.ConfigError, match=message):
        notifier.Notifier.from_environment(
            environ={notifier.CONFIG_VARIABLE: str(path)}, registry=prometheus_client.CollectorRegistry()
        )
