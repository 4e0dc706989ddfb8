"""Read a Deployment's `canaryd.io/*` annotations into a RolloutSpec, reporting every problem at once.

Layer 1 (pure logic). The table `ANNOTATIONS` is the single list of supported keys: the reader, the
generated reference (`canaryd.spec.reference`) and the error messages all come from it, so a key cannot be
documented one way and parsed another.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from canaryd.spec import errors, settings, values

PREFIX = "canaryd.io/"


@dataclasses.dataclass(frozen=True)
class Annotation:
    """One supported annotation: where its value goes in RolloutSpec and how its text is read."""

    key: str
    field: tuple[str, ...]  # path of the RolloutSpec field it sets
    parse: Callable[[str], Any]  # raises ValueError saying what is allowed
    default: str  # the documented default, as the annotation would be written ("" when there is none)
    example: str

    @property
    def name(self) -> str:
        return self.key.removeprefix(PREFIX)


def _parse_choice(text: str, *, choices: tuple[str, ...], hint: str = "") -> str:
    if text not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}{hint}")
    return text


def _parse_router(text: str) -> settings.RouterKind:
    choices = (settings.RouterKind.GATEWAY_API.value, settings.RouterKind.REPLICA_RATIO.value)
    hint = " (haproxy is for the standalone mode, set in its config file)"
    return settings.RouterKind(_parse_choice(text, choices=choices, hint=hint))


def _parse_policy(text: str) -> settings.InconclusivePolicy:
    choices = tuple(policy.value for policy in settings.InconclusivePolicy)
    return settings.InconclusivePolicy(_parse_choice(text, choices=choices))


def _parse_step_advance(text: str) -> settings.StepAdvance:
    choices = tuple(mode.value for mode in settings.StepAdvance)
    return settings.StepAdvance(_parse_choice(text, choices=choices))


def _annotation(
    key: str, field: tuple[str, ...], parse: Callable[[str], Any], default: str, example: str
) -> Annotation:
    return Annotation(key=PREFIX + key, field=field, parse=parse, default=default, example=example)


ANNOTATIONS: tuple[Annotation, ...] = (
    _annotation("enabled", ("enabled",), values.parse_bool, "false", "true"),
    _annotation("steps", ("steps",), values.parse_steps, "1,5", "1,5,25,50"),
    _annotation("analysis-window", ("analysis", "window"), values.parse_duration, "2m", "5m"),
    _annotation("step-deadline", ("analysis", "deadline"), values.parse_duration, "10m", "30m"),
    _annotation(
        "inconclusive-policy",
        ("analysis", "inconclusive_policy"),
        _parse_policy,
        "rollback",
        "pause",
    ),
    _annotation(
        "step-advance", ("analysis", "step_advance"), _parse_step_advance, "evidence", "no-failure"
    ),
    _annotation("baseline", ("analysis", "baseline"), values.parse_bool, "false", "true"),
    _annotation(
        "metric-preset",
        ("analysis", "metrics", "preset"),
        functools.partial(_parse_choice, choices=settings.METRIC_PRESETS),
        settings.DEFAULT_METRIC_PRESET,
        "istio",
    ),
    _annotation("metric-template", ("analysis", "metrics", "template"), values.parse_name, "", "web-slis"),
    _annotation(
        "cluster-metric-template",
        ("analysis", "metrics", "cluster_template"),
        values.parse_name,
        "",
        "http-slis",
    ),
    _annotation(
        "error-ratio-tolerance",
        ("analysis", "tolerances", "error_ratio_absolute"),
        functools.partial(values.parse_fraction, maximum=1.0),
        "0.001",
        "0.5%",
    ),
    _annotation(
        "error-ratio-relative-tolerance",
        ("analysis", "tolerances", "error_ratio_relative"),
        functools.partial(values.parse_fraction, maximum=10.0),
        "0.2",
        "50%",
    ),
    _annotation(
        "latency-tolerance",
        ("analysis", "tolerances", "latency_relative"),
        functools.partial(values.parse_fraction, maximum=10.0),
        "0.1",
        "25%",
    ),
    _annotation(
        "router",
        ("router", "kind"),
        _parse_router,
        settings.RouterKind.REPLICA_RATIO.value,
        "gateway-api",
    ),
    _annotation("httproute", ("router", "httproute"), values.parse_name, "", "web"),
    _annotation(
        "primary-backend",
        ("router", "primary_backend"),
        values.parse_name,
        "<deployment>-primary",
        "web-stable",
    ),
    _annotation(
        "canary-backend", ("router", "canary_backend"), values.parse_name, "<deployment>-canary", "web-next"
    ),
    _annotation("canary-replicas", ("canary_replicas",), values.parse_positive_int, "", "2"),
)

_BY_KEY = {annotation.key: annotation for annotation in ANNOTATIONS}
_BY_FIELD = {annotation.field: annotation for annotation in ANNOTATIONS}


def is_enabled(annotations: Mapping[str, str]) -> bool:
    """Return whether `canaryd.io/enabled` asks for canary rollouts.

    Only an absent annotation or "false" means no. An invalid value such as "ture" counts as enabled, so
    that the reader reports it as an invalid spec. Read as "no", it would make the controller hand a
    rollout in progress back to the plain Deployment, whose pods run the canary's unjudged template.
    """
    text = annotations.get(PREFIX + "enabled")
    if text is None:
        return False
    try:
        return bool(values.parse_bool(text))
    except ValueError:
        return True


def parse_annotations(annotations: Mapping[str, str], *, source: str) -> settings.RolloutSpec:
    """Build the RolloutSpec from a Deployment's annotations.

    `source` names the object in messages, e.g. "Deployment shop/web". Annotations outside `canaryd.io/`
    are ignored. Raises errors.SpecError listing every unknown key, bad value and conflict.
    """
    problems: list[errors.SpecProblem] = []

    # Read every key, even after a bad one, so that all problems are reported in one pass.
    fields: dict[tuple[str, ...], Any] = {}
    for key in sorted(annotations):
        if not key.startswith(PREFIX):
            continue
        text = annotations[key]
        annotation = _BY_KEY.get(key)
        if annotation is None:
            problems.append(_unknown_key_problem(key, text))
            continue
        try:
            fields[annotation.field] = annotation.parse(text)
        except ValueError as error:
            problems.append(errors.SpecProblem(key=key, value=text, message=str(error)))

    # Conflicts between settings are checked only when each setting is valid alone.
    if not problems:
        problems.extend(_conflict_problems(fields, annotations))
    if problems:
        raise errors.SpecError(source=source, problems=problems)
    return _validated_spec(fields, source=source)


# Smallest difflib similarity ratio of an unknown name to a known one for a "did you mean" hint.
_HINT_CUTOFF = 0.75


def _unknown_key_problem(key: str, text: str) -> errors.SpecProblem:
    # Names are compared without the shared prefix, which would make any two keys look alike, and only a
    # close match (a typo such as "step" or "stpes" for "steps") earns a hint.
    names = [annotation.name for annotation in ANNOTATIONS]
    close = difflib.get_close_matches(key.removeprefix(PREFIX), names, n=1, cutoff=_HINT_CUTOFF)
    hint = f"did you mean {PREFIX}{close[0]}? " if close else ""
    known = ", ".join(annotation.name for annotation in ANNOTATIONS)
    return errors.SpecProblem(
        key=key, value=text, message=f"unknown canaryd annotation; {hint}known keys under {PREFIX}: {known}"
    )


def _conflict_problems(
    fields: dict[tuple[str, ...], Any], annotations: Mapping[str, str]
) -> list[errors.SpecProblem]:
    spec = _construct_unvalidated(fields)
    problems = []
    for conflict in settings.conflicts(spec):
        keys = [_BY_FIELD[field].key for field in conflict.fields if field in _BY_FIELD]
        first = keys[0]
        others = ", ".join(keys[1:])
        message = f"{conflict.message} (conflicts with {others})" if others else conflict.message
        problems.append(errors.SpecProblem(key=first, value=annotations.get(first), message=message))
    return problems


def _construct_unvalidated(fields: dict[tuple[str, ...], Any]) -> settings.RolloutSpec:
    # Each value was parsed alone already and defaults fill the rest. No validator runs here, so that
    # settings.conflicts() can list every conflict rather than only the first one a validator raises.
    def section(model: type[pydantic.BaseModel], prefix: tuple[str, ...], **children: Any) -> Any:
        own = {path[-1]: value for path, value in fields.items() if path[:-1] == prefix}
        defaults = {
            name: info.get_default(call_default_factory=True)
            for name, info in model.model_fields.items()
            if not info.is_required()
        }
        return model.model_construct(**{**defaults, **own, **children})

    tolerances = section(settings.Tolerances, ("analysis", "tolerances"))
    metrics = section(settings.MetricsSettings, ("analysis", "metrics"))
    analysis = section(settings.AnalysisSettings, ("analysis",), tolerances=tolerances, metrics=metrics)
    router = section(settings.RouterSettings, ("router",))
    return section(settings.RolloutSpec, (), analysis=analysis, router=router)


def _validated_spec(fields: dict[tuple[str, ...], Any], *, source: str) -> settings.RolloutSpec:
    nested: dict[str, Any] = {}
    for path, value in fields.items():
        target = nested
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    try:
        return settings.RolloutSpec.model_validate(nested)
    except pydantic.ValidationError as error:
        # The checks above cover every check of the models, so reaching this is a bug in canaryd. It is
        # still reported as a spec problem, because crashing would stop the reconcile loop.
        problem = errors.SpecProblem(key=PREFIX + "*", value=None, message=f"invalid settings: {error}")
        raise errors.SpecError(source=source, problems=[problem]) from error
