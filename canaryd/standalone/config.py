"""The standalone rollout file: one rollout through HAProxy, judged on Prometheus metrics.

Layer 3 (engine). The file is YAML; pydantic validates it, and `load_config` reports every problem
with its path in the file (`router.backend: ...`). Steps and analysis settings are the rollout
spec's own models, so `window: 2m` or `steps: [1, 5]` mean the same as the Kubernetes annotations.

    rollout: checkout
    router:
      socket: /run/haproxy/admin.sock
      backend: checkout
      primary_server: v1
      canary_server: v2
    prometheus:
      url: http://127.0.0.1:9090
      scrape_interval_seconds: 15
    metrics:
      preset: http
      preset_settings: {arm_selection: label, workload_label: app}
      namespace: shop
      control: checkout-v1
      canary: checkout-v2
      interval: 1m
    steps: [5, 25, 50]
    analysis:
      window: 5m
      deadline: 15m
"""

from __future__ import annotations

import datetime
import pathlib
import re
from typing import Annotated, Any

import pydantic
import pydantic_core
import yaml

from canaryd import judge
from canaryd.metrics import analysis as metrics_analysis
from canaryd.metrics import outcomes, windows
from canaryd.metrics import presets as metric_presets
from canaryd.metrics import prometheus as prometheus_source
from canaryd.spec import settings as spec_settings
from canaryd.spec import values as spec_values

# HAProxy proxy and server names: letters, digits and "-_.:" (haproxy.cfg section names).
_HAPROXY_NAME = re.compile(r"[A-Za-z0-9_.:-]+")

_MODEL_CONFIG = pydantic.ConfigDict(frozen=True, extra="forbid")

# Judge settings that the file sets through analysis.tolerances, the same way as the annotations.
_TOLERANCE_KEYS = ("error_ratio", "latency")


# Error type of a validator that found problems in settings below its own field. `format_errors`
# prints each of them on its own line with its full path, so a nested problem does not show as the
# whole section's value.
_NESTED_ERRORS = "nested_setting_errors"


class ConfigError(Exception):
    """The rollout file is missing, is not YAML, or has invalid settings; the message lists each one."""


def _nested_errors(problems: list[tuple[str, str, object]]) -> pydantic_core.PydanticCustomError:
    """Return a validation error listing (setting below the field, problem, value found) triples."""
    summary = "; ".join(f"{setting}: {problem}" for setting, problem, _ in problems)
    return pydantic_core.PydanticCustomError(
        _NESTED_ERRORS, "{summary}", {"summary": summary, "problems": problems}
    )


def _parse_socket_path(value: object) -> object:
    # pathlib reads "" as ".", the current directory, so the runner would open a directory as the socket.
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected the path of the HAProxy stats socket, such as /run/haproxy/admin.sock")
    return value


def _parse_steps(value: object) -> tuple[int, ...]:
    try:
        return spec_values.parse_steps(value)
    except ValueError as error:
        raise ValueError(
            f"{error}; a YAML list of whole numbers such as [5, 25, 50] is read the same"
        ) from None


def _parse_haproxy_name(value: object) -> str:
    if isinstance(value, str) and _HAPROXY_NAME.fullmatch(value):
        return value
    raise ValueError('expected an HAProxy backend or server name: letters, digits and "-_.:", e.g. "app"')


HAProxyName = Annotated[str, pydantic.BeforeValidator(_parse_haproxy_name)]


class HAProxySettings(pydantic.BaseModel):
    """The HAProxy backend whose two servers' weights split the traffic."""

    model_config = _MODEL_CONFIG

    socket: Annotated[pathlib.Path, pydantic.BeforeValidator(_parse_socket_path)] = pydantic.Field(
        description="Path of the HAProxy stats socket (`stats socket PATH level admin` in haproxy.cfg)."
    )
    backend: HAProxyName = pydantic.Field(description="Backend holding the primary and the canary server.")
    primary_server: HAProxyName = pydantic.Field(
        description="Server in the backend that runs the version in service."
    )
    canary_server: HAProxyName = pydantic.Field(
        description="Server in the backend that runs the new version."
    )
    timeout_seconds: float = pydantic.Field(
        default=2.0, gt=0, description="Timeout of each runtime API command."
    )

    @pydantic.model_validator(mode="after")
    def _check_servers_differ(self) -> HAProxySettings:
        if self.primary_server == self.canary_server:
            raise ValueError(
                f"primary_server and canary_server are both {self.primary_server!r}; name two different "
                "servers of the backend"
            )
        return self


class MetricsTargets(pydantic.BaseModel):
    """The SLI queries to run, and the series of the control and of the canary."""

    model_config = _MODEL_CONFIG

    preset: str = pydantic.Field(
        default=spec_settings.DEFAULT_METRIC_PRESET,
        description=f"Built-in SLI queries: one of {', '.join(metric_presets.KNOWN_PRESETS)}.",
    )
    preset_settings: dict[str, Any] = pydantic.Field(
        default_factory=dict,
        description="Settings of the preset, for example its metric and label names.",
    )
    namespace: str = pydantic.Field(description="Value of the preset's namespace label on both arms' series.")
    control: str = pydantic.Field(description="Workload name that selects the primary's series.")
    canary: str = pydantic.Field(description="Workload name that selects the canary's series.")
    interval: spec_settings.Duration = pydantic.Field(
        default=datetime.timedelta(seconds=30),
        description="Length of one analysis interval (the range query step); at least four scrape intervals.",
    )

    @pydantic.field_validator("preset")
    @classmethod
    def _check_preset_name(cls, name: str) -> str:
        if name not in metric_presets.KNOWN_PRESETS:
            raise ValueError(
                f"unknown metrics preset; known presets: {', '.join(metric_presets.KNOWN_PRESETS)}"
            )
        return name

    @pydantic.model_validator(mode="after")
    def _check_preset(self) -> MetricsTargets:
        # Building the preset checks its settings now, not at the first analysis.
        try:
            metric_presets.build_preset(self.preset, self.preset_settings)
        except outcomes.ConfigurationError as error:
            if not isinstance(error.__cause__, pydantic.ValidationError):
                raise ValueError(error.message) from error
            raise _nested_errors(_preset_setting_problems(self.preset, error.__cause__)) from error
        if self.control == self.canary:
            raise ValueError(f"control and canary are both {self.control!r}; their series must differ")
        return self


def _preset_setting_problems(preset: str, error: pydantic.ValidationError) -> list[tuple[str, str, object]]:
    problems = []
    for detail in error.errors(include_url=False):
        setting = ".".join(["preset_settings", *(str(part) for part in detail["loc"])])
        if detail["type"] == "extra_forbidden":
            known = ", ".join(type(metric_presets.build_preset(preset).settings).model_fields)
            message = f"unknown setting of the {preset} preset; known settings: {known}"
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append((setting, message, detail.get("input")))
    return problems


class StandaloneConfig(pydantic.BaseModel):
    """One rollout through HAProxy: where to route, where to read metrics, and the steps."""

    model_config = _MODEL_CONFIG

    rollout: spec_settings.ObjectName = pydantic.Field(
        description="Name of the rollout in logs and the record."
    )
    router: HAProxySettings
    prometheus: prometheus_source.PrometheusSettings = pydantic.Field(
        default_factory=prometheus_source.PrometheusSettings
    )
    metrics: MetricsTargets
    steps: Annotated[tuple[int, ...], pydantic.BeforeValidator(_parse_steps)] = pydantic.Field(
        default=(1, 5),
        description="Canary weights in percent, walked in order; promotion to 100% follows the last step.",
    )
    analysis: spec_settings.AnalysisSettings = pydantic.Field(default_factory=spec_settings.AnalysisSettings)
    judge: dict[str, Any] = pydantic.Field(
        default_factory=dict,
        description="Settings of the statistical judge other than its tolerances, for example "
        "min_canary_requests or warmup_seconds; the tolerances come from analysis.tolerances.",
    )
    pass_interval: spec_settings.Duration = pydantic.Field(
        default=datetime.timedelta(seconds=10),
        description="Time between two passes of the rollout: read HAProxy, analyse, decide, act.",
    )

    @pydantic.field_validator("metrics")
    @classmethod
    def _check_interval(cls, metrics: MetricsTargets, info: pydantic.ValidationInfo) -> MetricsTargets:
        # The same check as `canaryd analyze`: increase() needs several scrapes in each interval.
        prometheus = info.data.get("prometheus")
        if prometheus is None:
            return metrics  # the prometheus section is invalid and reported on its own
        try:
            windows.check_window(
                step_seconds=metrics.interval.total_seconds(),
                scrape_interval_seconds=prometheus.scrape_interval_seconds,
                min_scrapes_per_interval=prometheus.min_scrapes_per_interval,
            )
        except outcomes.WindowTooShort as error:
            found = spec_values.format_duration(metrics.interval)
            raise _nested_errors([("interval", error.message, found)]) from error
        return metrics

    @pydantic.model_validator(mode="after")
    def _check_standalone_analysis(self) -> StandaloneConfig:
        if self.analysis.baseline:
            raise ValueError("analysis.baseline is not available in standalone mode; remove it")
        if self.analysis.metrics.template is not None or self.analysis.metrics.cluster_template is not None:
            raise ValueError(
                "analysis.metrics templates are Kubernetes objects; in standalone mode set metrics.preset"
            )
        return self

    @pydantic.field_validator("judge")
    @classmethod
    def _check_judge(cls, settings: dict[str, Any]) -> dict[str, Any]:
        tolerances = sorted(set(settings) & set(_TOLERANCE_KEYS))
        if tolerances:
            raise ValueError(
                f"{', '.join(tolerances)} cannot be set here; set the tolerances in analysis.tolerances"
            )
        judge.JudgeSettings.model_validate(settings)
        return settings

    def judge_settings(self) -> judge.JudgeSettings:
        """Return the judge's settings: this file's `judge` section with the tolerances of `analysis`."""
        configured = judge.JudgeSettings.model_validate(self.judge)
        return metrics_analysis.judge_settings(self.analysis.tolerances, base=configured)

    def rollout_spec(self) -> spec_settings.RolloutSpec:
        """Return the same settings as a Kubernetes rollout spec with the HAProxy router."""
        return spec_settings.RolloutSpec(
            enabled=True,
            steps=self.steps,
            analysis=self.analysis,
            router=spec_settings.RouterSettings(kind=spec_settings.RouterKind.HAPROXY),
        )


def load_config(path: pathlib.Path) -> StandaloneConfig:
    """Read and validate a rollout file; raise `ConfigError` naming every invalid field."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read rollout file {path}: {error.strerror}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"rollout file {path} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError(f"rollout file {path} must be a YAML mapping with router, metrics and steps")

    try:
        return StandaloneConfig.model_validate(document)
    except pydantic.ValidationError as error:
        raise ConfigError(format_errors(path, error)) from error


def format_errors(path: pathlib.Path, error: pydantic.ValidationError) -> str:
    """Format one line per invalid field: its dotted path, the problem, and the value found."""
    lines = []
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            lines.append(f"  {field}: missing; this setting is required")
        elif detail["type"] == "extra_forbidden":
            lines.append(f"  {field}: unknown setting; check its spelling and indentation")
        elif detail["type"] == _NESTED_ERRORS:
            for setting, problem, found in detail["ctx"]["problems"]:
                lines.append(f"  {field}.{setting}: {problem} (found {_short(found)})")
        else:
            lines.append(f"  {field}: {message} (found {_short(detail.get('input'))})")
    return "\n".join([f"rollout file {path} has {len(lines)} invalid setting(s):", *lines])


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
