"""The standalone rollout file: valid files load, invalid ones name each bad field."""

from __future__ import annotations

import datetime
import pathlib

import pytest
import yaml

from canaryd.standalone import config

VALID = {
    "rollout": "checkout",
    "router": {
        "socket": "/run/haproxy/admin.sock",
        "backend": "app",
        "primary_server": "v1",
        "canary_server": "v2",
    },
    "prometheus": {"url": "http://127.0.0.1:9090", "scrape_interval_seconds": 5},
    "metrics": {
        "preset": "http",
        "preset_settings": {"arm_selection": "label"},
        "namespace": "shop",
        "control": "checkout-v1",
        "canary": "checkout-v2",
        "interval": "20s",
    },
    "steps": [5, 25],
    "analysis": {"window": "1m", "deadline": "3m"},
}


def write(tmp_path: pathlib.Path, document: object) -> pathlib.Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def with_change(section: str | None, key: str, value: object) -> dict:
    document = {name: dict(part) if isinstance(part, dict) else part for name, part in VALID.items()}
    target = document if section is None else document[section]
    if value is None:
        del target[key]
    else:
        target[key] = value
    return document


def test_valid_file_loads(tmp_path):
    loaded = config.load_config(write(tmp_path, VALID))

    assert loaded.router.backend == "app"
    assert loaded.steps == (5, 25)
    assert loaded.metrics.interval == datetime.timedelta(seconds=20)
    assert loaded.analysis.window == datetime.timedelta(minutes=1)
    assert str(loaded.prometheus.url) == "http://127.0.0.1:9090/"


def test_rollout_spec_uses_haproxy_router(tmp_path):
    spec = config.load_config(write(tmp_path, VALID)).rollout_spec()

    assert spec.router.kind == "haproxy"
    assert spec.steps == (5, 25)
    assert spec.enabled


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("router", "socket", None, "router.socket: missing"),
        ("router", "backend", "my backend", "router.backend: expected an HAProxy backend or server name"),
        ("router", "canary_server", "v1", "primary_server and canary_server are both 'v1'"),
        ("router", "weight", 5, "router.weight: unknown setting"),
        (
            "metrics",
            "preset",
            "nginx",
            "metrics.preset: unknown metrics preset; known presets: http, istio, envoy, ingress-nginx "
            "(found 'nginx')",
        ),
        (
            "metrics",
            "preset_settings",
            {"status_lable": "code"},
            "metrics.preset_settings.status_lable: unknown setting of the http preset; known settings: "
            "requests_metric,",
        ),
        (
            "metrics",
            "preset_settings",
            {"arm_selection": "banana"},
            "metrics.preset_settings.arm_selection: Input should be 'pod' or 'label' (found 'banana')",
        ),
        ("router", "socket", "", "router.socket: expected the path of the HAProxy stats socket"),
        (
            "metrics",
            "interval",
            "10s",
            "metrics.interval: analysis interval of 10 s covers fewer than 4 scrapes at a scrape interval "
            "of 5 s",
        ),
        (None, "analysis", {"window": "0s"}, "analysis.window: the duration must be above zero"),
        (None, "steps", [5, 2.5], "a YAML list of whole numbers such as [5, 25, 50] is read the same"),
        ("metrics", "canary", "checkout-v1", "control and canary are both 'checkout-v1'"),
        ("metrics", "interval", "soon", "metrics.interval: expected"),
        ("prometheus", "url", "not a url", "prometheus.url:"),
        (None, "steps", [25, 5], "steps: weights must be strictly increasing"),
        (None, "steps", [5, 100], "each between 0 and 100 exclusive"),
        (None, "rollout", "Checkout!", "rollout: expected"),
        (None, "analysis", {"window": "5m", "deadline": "1m"}, "is shorter than the analysis window"),
        (None, "analysis", {"baseline": True}, "analysis.baseline is not available in standalone mode"),
    ],
    ids=[
        "missing-socket",
        "bad-backend-name",
        "same-servers",
        "unknown-router-key",
        "unknown-preset",
        "misspelt-preset-setting",
        "invalid-preset-setting-value",
        "empty-socket",
        "interval-under-four-scrapes",
        "zero-window",
        "fractional-step-in-list",
        "same-arms",
        "bad-interval",
        "bad-prometheus-url",
        "decreasing-steps",
        "step-of-100",
        "bad-rollout-name",
        "deadline-before-window",
        "baseline",
    ],
)
def test_invalid_setting_is_named(tmp_path, section, key, value, expected):
    path = write(tmp_path, with_change(section, key, value))

    with pytest.raises(config.ConfigError) as raised:
        config.load_config(path)

    assert str(path) in str(raised.value)
    assert expected in str(raised.value)


def test_every_invalid_setting_is_listed(tmp_path):
    document = with_change("router", "backend", "a b")
    document["steps"] = "x"

    with pytest.raises(config.ConfigError) as raised:
        config.load_config(write(tmp_path, document))

    assert "2 invalid setting(s)" in str(raised.value)
    assert "router.backend:" in str(raised.value)
    assert "steps:" in str(raised.value)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read rollout file .*absent.yaml"):
        config.load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("router: [unclosed", "is not valid YAML"), ("- a list\n", "must be a YAML mapping")],
    ids=["broken-yaml", "not-a-mapping"],
)
def test_unreadable_document_is_reported(tmp_path, text, expected):
    path = tmp_path / "rollout.yaml"
    path.write_text(text)

    with pytest.raises(config.ConfigError, match=expected):
        config.load_config(path)


def test_module_example_is_valid(tmp_path):
    example = config.__doc__.split("\n\n    rollout:", 1)[1]
    text = "rollout:" + example.replace("\n    ", "\n")

    loaded = config.load_config(write_text(tmp_path, text))

    assert loaded.rollout == "checkout"
    assert loaded.steps == (5, 25, 50)


def write_text(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    return path


def test_preset_setting_error_is_one_line(tmp_path):
    document = with_change("metrics", "preset_settings", {"arm_selection": "banana"})

    with pytest.raises(config.ConfigError) as raised:
        config.load_config(write(tmp_path, document))

    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert "errors.pydantic.dev" not in str(raised.value)
    assert "MetricTemplate" not in str(raised.value)
    assert "namespace" not in lines[1]
