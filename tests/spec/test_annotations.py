"""Reading `canaryd.io/*` annotations: defaults, every setting, and all problems reported at once."""

from __future__ import annotations

import datetime

import hypothesis
import pytest
from hypothesis import strategies

from canaryd import spec

SOURCE = "Deployment shop/web"


def parse(**annotations: str) -> spec.RolloutSpec:
    return spec.parse_annotations(
        {spec.PREFIX + key: value for key, value in annotations.items()}, source=SOURCE
    )


def problems_of(annotations: dict[str, str]) -> list[spec.SpecProblem]:
    with pytest.raises(spec.SpecError) as caught:
        spec.parse_annotations(annotations, source=SOURCE)
    return list(caught.value.problems)


def test_defaults_without_annotations():
    parsed = spec.parse_annotations({}, source=SOURCE)

    assert parsed.enabled is False
    assert parsed.steps == (1, 5)
    assert parsed.analysis.window == datetime.timedelta(minutes=2)
    assert parsed.analysis.deadline == datetime.timedelta(minutes=10)
    assert parsed.analysis.inconclusive_policy is spec.InconclusivePolicy.ROLLBACK
    assert parsed.analysis.step_advance is spec.StepAdvance.EVIDENCE
    assert parsed.analysis.metrics.preset_name == "http"
    assert parsed.analysis.baseline is False
    assert parsed.router.kind is spec.RouterKind.REPLICA_RATIO
    assert parsed.canary_replicas is None


def test_defaults_match_documented_defaults():
    parsed = spec.parse_annotations({}, source=SOURCE)
    for annotation in spec.ANNOTATIONS:
        if not annotation.default or annotation.default.startswith("<"):
            continue
        value = parsed
        for part in annotation.field:
            value = getattr(value, part)
        if annotation.key == spec.PREFIX + "metric-preset":
            value = parsed.analysis.metrics.preset_name
        assert value == annotation.parse(annotation.default), annotation.key


def test_every_annotation_sets_its_field():
    parsed = parse(
        **{
            "enabled": "true",
            "steps": "2,10,40",
            "analysis-window": "5m",
            "step-deadline": "30m",
            "inconclusive-policy": "pause",
            "step-advance": "no-failure",
            "baseline": "true",
            "cluster-metric-template": "http-slis",
            "error-ratio-tolerance": "0.5%",
            "error-ratio-relative-tolerance": "50%",
            "latency-tolerance": "0.25",
            "router": "gateway-api",
            "httproute": "web",
            "primary-backend": "web-stable",
            "canary-backend": "web-next",
            "canary-replicas": "3",
        }
    )

    assert parsed.enabled is True
    assert parsed.steps == (2, 10, 40)
    assert parsed.analysis.window == datetime.timedelta(minutes=5)
    assert parsed.analysis.deadline == datetime.timedelta(minutes=30)
    assert parsed.analysis.inconclusive_policy is spec.InconclusivePolicy.PAUSE
    assert parsed.analysis.step_advance is spec.StepAdvance.NO_FAILURE
    assert parsed.analysis.baseline is True
    assert parsed.analysis.metrics.cluster_template == "http-slis"
    assert parsed.analysis.metrics.preset_name is None
    assert parsed.analysis.tolerances.error_ratio_absolute == pytest.approx(0.005)
    assert parsed.analysis.tolerances.error_ratio_relative == pytest.approx(0.5)
    assert parsed.analysis.tolerances.latency_relative == pytest.approx(0.25)
    assert parsed.router.kind is spec.RouterKind.GATEWAY_API
    assert parsed.router.httproute == "web"
    assert parsed.router.primary_backend_name(deployment="web") == "web-stable"
    assert parsed.router.canary_backend_name(deployment="web") == "web-next"
    assert parsed.canary_replicas == 3


@pytest.mark.parametrize(
    "value, mode",
    [
        pytest.param("evidence", spec.StepAdvance.EVIDENCE, id="evidence"),
        pytest.param("no-failure", spec.StepAdvance.NO_FAILURE, id="no-failure"),
    ],
)
def test_step_advance_accepts_each_mode(value, mode):
    parsed = parse(**{"step-advance": value})

    assert parsed.analysis.step_advance is mode


def test_backends_default_to_deployment_names():
    parsed = parse(router="gateway-api", httproute="web")

    assert parsed.router.primary_backend_name(deployment="web") == "web-primary"
    assert parsed.router.canary_backend_name(deployment="web") == "web-canary"


def test_other_prefixes_are_ignored():
    parsed = spec.parse_annotations(
        {"deployment.kubernetes.io/revision": "3", "example.com/canaryd.io-steps": "x"}, source=SOURCE
    )

    assert parsed.steps == (1, 5)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        pytest.param("steps", "5,1", "strictly increasing", id="steps-decreasing"),
        pytest.param("steps", "0,50", "between 0 and 100 exclusive", id="steps-zero"),
        pytest.param("enabled", "yes", '"true" or "false"', id="enabled-yes"),
        pytest.param("analysis-window", "2 minutes", "a duration", id="window-words"),
        pytest.param("step-deadline", "48h", "at most 24h", id="deadline-too-long"),
        pytest.param(
            "inconclusive-policy", "promote", "expected one of rollback, pause", id="policy-promote"
        ),
        pytest.param(
            "step-advance", "always", "expected one of evidence, no-failure", id="step-advance-always"
        ),
        pytest.param(
            "step-advance", "No-Failure", "expected one of evidence, no-failure", id="step-advance-case"
        ),
        pytest.param(
            "metric-preset",
            "datadog",
            "expected one of http, istio, envoy, ingress-nginx",
            id="preset-unknown",
        ),
        pytest.param("router", "haproxy", "standalone mode", id="router-haproxy"),
        pytest.param("router", "nginx", "expected one of gateway-api, replica-ratio", id="router-unknown"),
        pytest.param("httproute", "Web Route", "a Kubernetes object name", id="httproute-bad-name"),
        pytest.param("error-ratio-tolerance", "2", "between 0 and 1", id="tolerance-above-one"),
        pytest.param("canary-replicas", "0", "at least 1", id="replicas-zero"),
    ],
)
def test_bad_value_names_key_value_and_allowed(key, value, fragment):
    [problem] = problems_of({spec.PREFIX + key: value})

    assert problem.key == spec.PREFIX + key
    assert problem.value == value
    assert fragment in problem.message
    assert str(problem).startswith(f'{spec.PREFIX}{key}: "{value}": ')


def test_steps_problem_reads_as_documented():
    [problem] = problems_of({"canaryd.io/steps": "5,1"})

    assert str(problem) == (
        'canaryd.io/steps: "5,1": weights must be strictly increasing; expected comma-separated whole '
        'percents, strictly increasing, each between 0 and 100 exclusive, e.g. "1,5,25"'
    )


def test_unknown_key_suggests_closest():
    [problem] = problems_of({"canaryd.io/step": "1,5"})

    assert problem.key == "canaryd.io/step"
    assert "did you mean canaryd.io/steps?" in problem.message
    assert "analysis-window" in problem.message


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("canaryd.io/stpes", "did you mean canaryd.io/steps?"),
        ("canaryd.io/routr", "did you mean canaryd.io/router?"),
        ("canaryd.io/colour", None),
        ("canaryd.io/owner", None),
    ],
    ids=["transposed", "missing-letter", "unrelated", "short-unrelated"],
)
def test_unknown_key_hint_only_when_close(key: str, hint: str | None):
    [problem] = problems_of({key: "x"})

    if hint is None:
        assert "did you mean" not in problem.message
    else:
        assert hint in problem.message
    assert "known keys under canaryd.io/" in problem.message


def test_all_problems_reported_together():
    problems = problems_of(
        {
            "canaryd.io/enabled": "yes",
            "canaryd.io/steps": "5,1",
            "canaryd.io/stepz": "1",
            "canaryd.io/router": "haproxy",
            "canaryd.io/analysis-window": "forever",
        }
    )

    assert [problem.key for problem in problems] == [
        "canaryd.io/analysis-window",
        "canaryd.io/enabled",
        "canaryd.io/router",
        "canaryd.io/steps",
        "canaryd.io/stepz",
    ]


@pytest.mark.parametrize(
    "annotations, key, others",
    [
        pytest.param(
            {"router": "gateway-api"},
            "canaryd.io/httproute",
            ["canaryd.io/router"],
            id="gateway-without-httproute",
        ),
        pytest.param(
            {"step-deadline": "1m"},
            "canaryd.io/step-deadline",
            ["canaryd.io/analysis-window"],
            id="deadline-below-window",
        ),
        pytest.param(
            {"metric-preset": "istio", "metric-template": "slis"},
            "canaryd.io/metric-preset",
            ["canaryd.io/metric-template"],
            id="preset-and-template",
        ),
        pytest.param(
            {"metric-template": "a", "cluster-metric-template": "b"},
            "canaryd.io/metric-template",
            ["canaryd.io/cluster-metric-template"],
            id="two-templates",
        ),
        pytest.param(
            {"baseline": "true", "steps": "10,60", "router": "gateway-api", "httproute": "web"},
            "canaryd.io/steps",
            ["canaryd.io/baseline"],
            id="baseline-above-half",
        ),
        pytest.param(
            {"baseline": "true", "router": "replica-ratio"},
            "canaryd.io/baseline",
            ["canaryd.io/router"],
            id="baseline-with-replica-ratio",
        ),
        pytest.param(
            {"baseline": "true"},
            "canaryd.io/baseline",
            ["canaryd.io/router"],
            id="baseline-with-default-router",
        ),
    ],
)
def test_conflict_names_every_key_involved(annotations, key, others):
    [problem] = problems_of({spec.PREFIX + name: value for name, value in annotations.items()})

    assert problem.key == key
    for other in others:
        assert other in problem.message


def test_baseline_with_gateway_api_is_valid():
    parsed = parse(baseline="true", router="gateway-api", httproute="web")

    assert parsed.analysis.baseline is True
    assert parsed.router.kind is spec.RouterKind.GATEWAY_API


def test_baseline_rejection_says_how_to_fix():
    [problem] = problems_of({"canaryd.io/baseline": "true"})

    assert problem.value == "true"
    assert "set the router to gateway-api or turn the baseline off" in problem.message


def test_several_conflicts_reported_together():
    problems = problems_of({"canaryd.io/router": "gateway-api", "canaryd.io/step-deadline": "1m"})

    assert sorted(problem.key for problem in problems) == ["canaryd.io/httproute", "canaryd.io/step-deadline"]


def test_error_summary_names_source_and_each_problem():
    with pytest.raises(spec.SpecError) as caught:
        spec.parse_annotations({"canaryd.io/steps": "5,1", "canaryd.io/enabled": "maybe"}, source=SOURCE)

    lines = str(caught.value).splitlines()
    assert lines[0] == "Deployment shop/web has 2 rollout setting problems; fix them and canaryd retries:"
    assert lines[1].startswith('  canaryd.io/enabled: "maybe": ')
    assert lines[2].startswith('  canaryd.io/steps: "5,1": ')


def test_long_hostile_value_is_cut_and_escaped():
    [problem] = problems_of({"canaryd.io/steps": "1\n" + "x" * 500 + '"'})

    text = str(problem)
    assert "\n" not in text
    assert len(text) < 400


@pytest.mark.parametrize(
    "annotations, expected",
    [
        pytest.param({"canaryd.io/enabled": "true"}, True, id="true"),
        pytest.param({"canaryd.io/enabled": "TRUE"}, True, id="upper-case"),
        pytest.param({"canaryd.io/enabled": "yes"}, True, id="invalid-is-reported-not-ignored"),
        pytest.param({}, False, id="absent"),
    ],
)
def test_is_enabled(annotations, expected):
    assert spec.is_enabled(annotations) is expected


_keys = strategies.one_of(
    strategies.sampled_from([annotation.key for annotation in spec.ANNOTATIONS]),
    strategies.text(max_size=20).map(lambda suffix: spec.PREFIX + suffix),
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(annotations=strategies.dictionaries(_keys, strategies.text(max_size=40), max_size=8))
def test_any_annotations_give_spec_or_spec_error(annotations):
    try:
        parsed = spec.parse_annotations(annotations, source=SOURCE)
    except spec.SpecError as error:
        assert error.problems
        assert all(problem.key.startswith(spec.PREFIX) for problem in error.problems)
    else:
        assert isinstance(parsed, spec.RolloutSpec)
