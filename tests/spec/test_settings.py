"""The settings models on their own, as the standalone mode's config file uses them."""

from __future__ import annotations

import datetime

import pydantic
import pytest
import yaml

from canaryd import spec


def test_yaml_config_reads_annotation_style_values():
    text = """
    steps: "3,7,33"
    analysis:
      window: 90s
      deadline: 15m
      inconclusive_policy: pause
      step_advance: no-failure
      tolerances: {error_ratio_absolute: "0.5%"}
      metrics: {preset: http}
    router: {kind: haproxy}
    """

    parsed = spec.RolloutSpec.model_validate(yaml.safe_load(text))

    assert parsed.steps == (3, 7, 33)
    assert parsed.analysis.window == datetime.timedelta(seconds=90)
    assert parsed.analysis.step_advance is spec.StepAdvance.NO_FAILURE
    assert parsed.analysis.tolerances.error_ratio_absolute == pytest.approx(0.005)
    assert parsed.router.kind is spec.RouterKind.HAPROXY


def test_yaml_config_reads_plain_values():
    parsed = spec.AnalysisSettings.model_validate({"window": 120, "deadline": 600, "baseline": True})

    assert parsed.window == datetime.timedelta(minutes=2)
    assert parsed.baseline is True


def test_settings_serialise_back_to_readable_values():
    parsed = spec.RolloutSpec.model_validate({"steps": [1, 5], "analysis": {"window": "2m"}})

    dumped = parsed.model_dump(mode="json")

    assert dumped["steps"] == [1, 5]
    assert dumped["analysis"]["window"] == "2m"
    assert spec.RolloutSpec.model_validate(dumped) == parsed


@pytest.mark.parametrize(
    "data, location, fragment",
    [
        pytest.param({"steps": "5,1"}, ("steps",), "strictly increasing", id="steps"),
        pytest.param({"analysis": {"window": "1x"}}, ("analysis", "window"), "a duration", id="window"),
        pytest.param(
            {"analysis": {"metrics": {"preset": "x"}}}, ("analysis", "metrics", "preset"), "http", id="preset"
        ),
        pytest.param(
            {"analysis": {"surprise": 1}}, ("analysis", "surprise"), "Extra inputs", id="unknown-field"
        ),
        pytest.param(
            {"analysis": {"deadline": "1m"}}, ("analysis",), "shorter than the analysis window", id="deadline"
        ),
        pytest.param({"router": {"kind": "gateway-api"}}, ("router",), "HTTPRoute", id="httproute"),
        pytest.param(
            {"analysis": {"baseline": True}, "router": {"kind": "replica-ratio"}},
            (),
            "the replica-ratio router cannot route to a baseline",
            id="baseline-with-replica-ratio",
        ),
    ],
)
def test_invalid_settings_name_the_field(data, location, fragment):
    with pytest.raises(pydantic.ValidationError) as caught:
        spec.RolloutSpec.model_validate(data)

    [error] = caught.value.errors()
    assert error["loc"] == location
    assert fragment in error["msg"]


def test_settings_are_frozen():
    parsed = spec.RolloutSpec()

    with pytest.raises(pydantic.ValidationError):
        parsed.steps = (1, 2)  # type: ignore[misc]
