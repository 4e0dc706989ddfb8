"""`canaryd analyze`: judge a past time window from Prometheus, without touching the cluster.

Layer 4 (CLI). A release engineer points it at yesterday's traffic of a Deployment and its primary,
with the `canaryd.io/*` annotations they mean to ship. The output is the verdict the controller would
have reached, the numbers behind it, and the time at which it would have been reached. It runs the
controller's own code path: the spec reader, a metrics preset, `canaryd.metrics.analysis` and the judge.
Only annotations that name a metric template need the cluster: the template is read from the API server
and checked by the controller's own functions.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import pathlib
import re
from typing import Any

import click
import numpy as np
import rich.text
import yaml

from canaryd import judge, observations, spec, verdicts
from canaryd.cli import commands_api, output
from canaryd.controller import analysis as controller_analysis
from canaryd.metrics import analysis as metrics_analysis
from canaryd.metrics import collect, outcomes, presets, prometheus, protocol, templates, windows
from canaryd.observability import logging as observability_logging
from canaryd.spec import values as spec_values

PROMETHEUS_URL_VARIABLE = "CANARYD_PROMETHEUS_URL"

_RELATIVE_TIME = re.compile(r"^now(?:-(?P<ago>.+))?$")
_AGO_PART = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}

# Prometheus' limit on the points per series of one range query (its query_range API rejects more).
PROMETHEUS_MAX_POINTS = 11_000

# Exit code per overall verdict, as docs/cli.md lists them.
_VERDICT_EXIT_CODES = {
    verdicts.Verdict.PASS: output.ExitCode.OK,
    verdicts.Verdict.FAIL: output.ExitCode.FAILED,
    verdicts.Verdict.INCONCLUSIVE: output.ExitCode.NEEDS_ATTENTION,
    verdicts.Verdict.NO_DATA: output.ExitCode.NO_DATA,
}


@click.command("analyze")
@click.argument("deployment")
@click.option("-n", "--namespace", default="default", show_default=True, help="Namespace of the Deployment.")
@click.option(
    "--from",
    "start",
    required=True,
    metavar="TIME",
    help='Start of the window: ISO 8601 ("2026-12-03T14:00:00Z"), Unix seconds, or "now-2h".',
)
@click.option(
    "--to", "end", default="now", show_default=True, metavar="TIME", help="End of the window, as --from."
)
@click.option(
    "-f",
    "--annotations-file",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    help="A Deployment manifest, or a YAML mapping of annotations, whose canaryd.io/* settings to try. "
    "Default: canaryd's defaults.",
)
@click.option(
    "--canary", "canary_workload", metavar="WORKLOAD", help="Workload of the canary arm. Default: DEPLOYMENT."
)
@click.option(
    "--control",
    "control_workload",
    metavar="WORKLOAD",
    help="Workload of the control arm. Default: DEPLOYMENT-primary.",
)
@click.option("--preset", help="Metrics preset, overriding canaryd.io/metric-preset.")
@click.option(
    "--preset-setting",
    "preset_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of the preset, such as status_label=status; repeat for several.",
)
@click.option(
    "--prometheus-url",
    envvar=PROMETHEUS_URL_VARIABLE,
    default="http://127.0.0.1:9090",
    show_default=True,
    help=f"Prometheus to query; also read from {PROMETHEUS_URL_VARIABLE}.",
)
@click.option(
    "--interval",
    default="2m",
    show_default=True,
    help="Length of one analysis interval, the range of each increase() query.",
)
@click.option(
    "--scrape-interval",
    default="30s",
    show_default=True,
    help="Prometheus' scrape interval for these targets; an interval must span at least 4 scrapes.",
)
@click.option(
    "--warmup",
    default=None,
    help="Time after the canary first served whose intervals are not counted, as the controller does after "
    "a canary starts. Default: the judge's (2m); 0s for a canary that was already warm at --from.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    help="kubeconfig file to read a metric template with, when the annotations name one. "
    "Default: $KUBECONFIG, then ~/.kube/config.",
)
@click.option("--context", help="kubeconfig context to use. Default: the current context.")
@click.option(
    "--template-namespace-label",
    "template_namespace_labels",
    multiple=True,
    default=("namespace",),
    show_default=True,
    help="A label that a MetricTemplate may name as spec.namespaceLabel (repeatable), as the controller's "
    "option of the same name.",
)
@output.output_option
def analyze(
    *,
    deployment: str,
    namespace: str,
    start: str,
    end: str,
    annotations_file: pathlib.Path | None,
    canary_workload: str | None,
    control_workload: str | None,
    preset: str | None,
    preset_settings: tuple[str, ...],
    prometheus_url: str,
    interval: str,
    scrape_interval: str,
    warmup: str | None,
    kubeconfig: str | None,
    context: str | None,
    template_namespace_labels: tuple[str, ...],
    output_format: str,
) -> None:
    """Judge a past time window from Prometheus, offline.

    Compares DEPLOYMENT (the canary) with DEPLOYMENT-primary (the control) over the window, with the
    same statistics the controller uses, and prints each SLI's verdict with its numbers and the time at
    which the verdict would first have been reached. Exits 0 on pass, 10 on fail, 11 when inconclusive
    and 12 with no data.

    \b
    Example:
      canaryd analyze web -n shop --from now-1d --to now-23h -f deploy/web.yaml
    """
    # Log lines go to standard error, so that standard output holds only the result (JSON for scripts).
    # Warnings such as a query without series repeat what the verdict and its reason already report.
    observability_logging.configure(log_format=observability_logging.LogFormat.CONSOLE, level="error")
    # urllib3 logs a warning per retry with its internal repr; the error message below says it once.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    now = datetime.datetime.now(datetime.UTC)
    window_start = parse_time(start, now=now, option="--from")
    window_end = parse_time(end, now=now, option="--to")
    step_seconds = _parse_seconds(interval, option="--interval")
    check_window_bounds(start=window_start, end=window_end, step_seconds=step_seconds)

    rollout_spec = _read_spec(annotations_file, deployment=deployment, namespace=namespace)
    canary = protocol.ArmTarget(
        arm=observations.Arm.CANARY, namespace=namespace, workload=canary_workload or deployment
    )
    control = protocol.ArmTarget(
        arm=observations.Arm.CONTROL,
        namespace=namespace,
        workload=control_workload or f"{deployment}-primary",
    )
    if preset is None and rollout_spec.analysis.metrics.preset_name is None:
        if preset_settings:
            raise click.BadParameter(
                "the annotations name a metric template, which has no preset settings; "
                "add --preset to analyze with a preset instead",
                param_hint="--preset-setting",
            )
        metrics_preset: protocol.Preset = _read_template_preset(
            rollout_spec,
            subject=f"Deployment {namespace}/{deployment}",
            arms=(canary, control),
            step_seconds=step_seconds,
            connection=_TemplateConnection(
                kubeconfig=kubeconfig, context=context, labels=template_namespace_labels
            ),
        )
    else:
        metrics_preset = _build_preset(rollout_spec, preset=preset, settings=preset_settings)

    source = _connect(
        prometheus_url, scrape_interval=_parse_seconds(scrape_interval, option="--scrape-interval")
    )
    settings = judge_settings(rollout_spec)
    if warmup is not None:
        settings = settings.model_copy(
            update={"warmup_seconds": _parse_seconds(warmup, option="--warmup", zero=True)}
        )
    try:
        window = _window(source, start=window_start, end=window_end, step_seconds=step_seconds)
        judgement = _judge(
            source, preset=metrics_preset, canary=canary, control=control, window=window, settings=settings
        )
        decided_at = None
        if judgement.verdict in (verdicts.Verdict.PASS, verdicts.Verdict.FAIL):
            decided_at = _first_decision(
                source,
                preset=metrics_preset,
                canary=canary,
                control=control,
                window=window,
                settings=settings,
                verdict=judgement.verdict,
            )
    finally:
        source.close()

    view = analysis_view(
        namespace=namespace,
        canary=canary,
        control=control,
        preset=metrics_preset.name,
        window=window,
        judgement=judgement,
        decided_at=decided_at,
    )
    if output_format == output.OutputFormat.JSON:
        output.print_json(view)
    else:
        render(view)
    raise SystemExit(int(_VERDICT_EXIT_CODES[judgement.verdict]))


def parse_time(text: str, *, now: datetime.datetime, option: str) -> datetime.datetime:
    """Parse ISO 8601 (UTC when no offset is given), Unix seconds, `now` or `now-<duration>`."""
    text = text.strip()
    relative = _RELATIVE_TIME.match(text)
    if relative:
        ago = relative.group("ago")
        return now - (_parse_ago(ago, option=option) if ago else datetime.timedelta(0))
    try:
        return datetime.datetime.fromtimestamp(float(text), tz=datetime.UTC)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time; use ISO 8601 (2026-12-03T14:00:00Z), Unix seconds, now or now-2h",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def check_window_bounds(*, start: datetime.datetime, end: datetime.datetime, step_seconds: float) -> None:
    """Reject a window that ends before it starts, is shorter than one interval, or has too many points."""
    if start >= end:
        raise click.BadParameter(
            f"--from {_utc(start)} is not before --to {_utc(end)}; the window must start before it ends "
            "(were they swapped?)",
            param_hint="--from/--to",
        )
    span = (end - start).total_seconds()
    if span < step_seconds:
        raise click.BadParameter(
            f"the window from {_utc(start)} to {_utc(end)} spans {_span(span)}, shorter than one interval "
            f"of {_span(step_seconds)}; widen the window or shorten --interval",
            param_hint="--from/--to",
        )

    # Prometheus rejects a range query with more than 11,000 points per series ("exceeded maximum
    # resolution"), so such a window is reported here with the spans that would work.
    if span / step_seconds > PROMETHEUS_MAX_POINTS:
        widest = PROMETHEUS_MAX_POINTS * step_seconds
        smallest_step = math.ceil(span / PROMETHEUS_MAX_POINTS)
        raise click.BadParameter(
            f"the window from {_utc(start)} to {_utc(end)} spans {_span(span)}, which is "
            f"{int(span // step_seconds):,} intervals of {_span(step_seconds)}, and Prometheus returns at "
            f"most {PROMETHEUS_MAX_POINTS:,} points per series; at this --interval the window can span at "
            f"most {_span(widest)}, so move --from later or set --interval to at least "
            f"{_span(smallest_step)}",
            param_hint="--from/--to",
        )


def judge_settings(rollout_spec: spec.RolloutSpec) -> judge.JudgeSettings:
    """Return the judge's defaults with the spec's tolerances, as the engines build them."""
    return metrics_analysis.judge_settings(rollout_spec.analysis.tolerances, base=judge.JudgeSettings())


def first_decision(
    comparison: observations.Comparison, *, settings: judge.JudgeSettings, verdict: verdicts.Verdict
) -> float | None:
    """Return the end of the first interval after which the judge reached `verdict`, or None.

    The judge's tests stay valid when checked after every interval, which is what the controller does,
    so judging each prefix of the window shows when the controller would have decided.
    """
    if verdict not in (verdicts.Verdict.PASS, verdicts.Verdict.FAIL):
        return None
    for count in range(1, comparison.interval_count + 1):
        if judge.judge(_prefix(comparison, count), settings=settings).verdict is verdict:
            return float(comparison.canary.interval_ends[count - 1])
    return None


def analysis_view(
    *,
    namespace: str,
    canary: protocol.ArmTarget,
    control: protocol.ArmTarget,
    preset: str,
    window: windows.Window,
    judgement: verdicts.Judgement,
    decided_at: float | None,
) -> dict[str, Any]:
    """Build the JSON-ready result that both the table and `--output json` print."""
    return {
        "schema": output.ANALYSIS_SCHEMA,
        "namespace": namespace,
        "canary": canary.workload,
        "control": control.workload,
        "preset": preset,
        "window": {
            "start": _iso(window.start),
            "end": _iso(window.end),
            "interval_seconds": window.step_seconds,
        },
        "verdict": judgement.verdict.value,
        "reason": judgement.reason,
        "intervals_used": judgement.intervals_used,
        "decided_at": _iso(decided_at) if decided_at is not None else None,
        "metrics": [output.metric_view(result) for result in judgement.metrics],
    }


def render(view: dict[str, Any]) -> None:
    console = output.console()
    window = view["window"]
    # Text objects, not markup strings, because workload names and reasons may contain square brackets.
    console.print(
        rich.text.Text.assemble(
            "Analysis of ",
            (f"{view['namespace']}/{view['canary']}", "bold"),
            " (canary) against ",
            (view["control"], "bold"),
            f" (control), preset {view['preset']}",
        )
    )
    console.print(
        output.plain(
            f"Window   {output.format_time(window['start'])} to {output.format_time(window['end'])}, "
            f"intervals of {window['interval_seconds']:g}s, {view['intervals_used']} counted"
        )
    )
    verdict_line = output.styled(view["verdict"], output.VERDICT_STYLES)
    verdict_line.append(f"  {view['reason']}", style="")
    console.print("Verdict  ", verdict_line, sep="")
    if view["decided_at"]:
        console.print(
            output.plain(
                f"Decided  at {output.format_time(view['decided_at'])}, the end of the first interval "
                "after which the controller would have acted"
            )
        )
    console.print()
    console.print(output.metrics_table(title="SLIs", metrics=view["metrics"]))


def _prefix(comparison: observations.Comparison, count: int) -> observations.Comparison:
    def arm(series: observations.ArmSeries) -> observations.ArmSeries:
        return observations.ArmSeries(
            interval_ends=series.interval_ends[:count],
            requests=series.requests[:count],
            errors=series.errors[:count],
            bucket_bounds=series.bucket_bounds,
            bucket_counts=None if series.bucket_counts is None else series.bucket_counts[:count],
        )

    return observations.Comparison(
        canary=arm(comparison.canary),
        control=arm(comparison.control),
        canary_share=np.asarray(comparison.canary_share)[:count],
        canary_ready=np.asarray(comparison.canary_ready)[:count],
    )


def _read_spec(path: pathlib.Path | None, *, deployment: str, namespace: str) -> spec.RolloutSpec:
    source = f"Deployment {namespace}/{deployment}"
    if path is None:
        return spec.RolloutSpec()
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise output.CliError(
            f"{path} is not valid YAML: {error}", exit_code=output.ExitCode.INVALID_CONFIG
        ) from None

    # A Deployment manifest carries the annotations under metadata; a plain mapping is the annotations.
    annotations = document
    if isinstance(document, dict) and isinstance(document.get("metadata"), dict):
        annotations = document["metadata"].get("annotations") or {}
        source = f"{path} (Deployment {document['metadata'].get('name', deployment)})"
    if not isinstance(annotations, dict):
        raise output.CliError(
            f"{path}: expected a Deployment manifest or a mapping of annotations, "
            f"got {type(annotations).__name__}",
            exit_code=output.ExitCode.INVALID_CONFIG,
        )
    try:
        return spec.parse_annotations(
            {str(key): str(value) for key, value in annotations.items()}, source=source
        )
    except spec.SpecError as error:
        # SpecError.summary() is worded for the controller, which retries by itself. Nothing retries here.
        count = len(error.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{error.source} has {count} rollout setting {noun}; fix them and run analyze again:"]
        lines += [f"  {problem}" for problem in error.problems]
        raise output.CliError("\n".join(lines), exit_code=output.ExitCode.INVALID_CONFIG) from None


def _build_preset(
    rollout_spec: spec.RolloutSpec, *, preset: str | None, settings: tuple[str, ...]
) -> protocol.Preset:
    name = preset or rollout_spec.analysis.metrics.preset_name
    assert name is not None, "a spec that names a template is read by _read_template_preset"
    try:
        return presets.build_preset(name, _parse_settings(settings))
    except outcomes.ConfigurationError as error:
        raise output.CliError(str(error), exit_code=output.ExitCode.INVALID_CONFIG) from None


@dataclasses.dataclass(frozen=True)
class _TemplateConnection:
    """The kubeconfig and context for reading a metric template, and the allowed namespace labels."""

    kubeconfig: str | None
    context: str | None
    labels: tuple[str, ...]


def _read_template_preset(
    rollout_spec: spec.RolloutSpec,
    *,
    subject: str,
    arms: tuple[protocol.ArmTarget, protocol.ArmTarget],
    step_seconds: float,
    connection: _TemplateConnection,
) -> protocol.Preset:
    """Read the template the annotations name from the cluster and check it, as the controller does."""
    try:
        policy = templates.TemplatePolicy(allowed_namespace_labels=connection.labels)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--template-namespace-label") from None
    reference = controller_analysis.template_reference(
        rollout_spec, namespace=arms[0].namespace, subject=subject
    )
    assert reference is not None, "a spec without a preset names a template"

    cluster = commands_api.Cluster(
        kubeconfig=connection.kubeconfig, context=connection.context, namespace=arms[0].namespace
    )
    try:
        item = controller_analysis.read_template(cluster.api, reference=reference)
        return controller_analysis.template_preset(
            item, reference=reference, arms=arms, step_seconds=step_seconds, policy=policy
        )
    except controller_analysis.TemplateUnreadable as error:
        raise output.CliError(
            f"{error.message}; check --kubeconfig and --context", exit_code=output.ExitCode.UNREACHABLE
        ) from None
    except outcomes.ConfigurationError as error:
        raise output.CliError(str(error), exit_code=output.ExitCode.INVALID_CONFIG) from None


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--preset-setting")
        # YAML reads numbers, booleans and {"handler": "/api"} mappings the way a config file would.
        parsed[key] = yaml.safe_load(text) if text else ""
    return parsed


def _connect(url: str, *, scrape_interval: float) -> prometheus.PrometheusSource:
    try:
        settings = prometheus.PrometheusSettings(url=url, scrape_interval_seconds=scrape_interval)
    except ValueError as error:
        raise click.BadParameter(f"{url!r}: {error}", param_hint="--prometheus-url") from None
    return prometheus.PrometheusSource(settings=settings)


def _window(
    source: prometheus.PrometheusSource,
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    step_seconds: float,
) -> windows.Window:
    try:
        source.check_window(step_seconds=step_seconds)
    except outcomes.WindowTooShort as error:
        raise output.CliError(str(error), exit_code=output.ExitCode.INVALID_CONFIG) from None
    try:
        return windows.Window(start=start.timestamp(), end=end.timestamp(), step_seconds=step_seconds)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--from/--to") from None


def _judge(
    source: prometheus.PrometheusSource,
    *,
    preset: protocol.Preset,
    canary: protocol.ArmTarget,
    control: protocol.ArmTarget,
    window: windows.Window,
    settings: judge.JudgeSettings,
) -> verdicts.Judgement:
    """Judge the window the way the controller judges a step; missing data is a no_data judgement."""
    # The engine's analysis turns an unreachable Prometheus into no_data, so that a rollout holds.
    # Here that would hide a wrong --prometheus-url, so the source is checked first.
    _check_source(source)
    try:
        return metrics_analysis.analyze(
            source=source, preset=preset, canary=canary, control=control, window=window, settings=settings
        )
    except outcomes.ConfigurationError as error:
        raise output.CliError(str(error), exit_code=output.ExitCode.INVALID_CONFIG) from None


def _first_decision(
    source: prometheus.PrometheusSource,
    *,
    preset: protocol.Preset,
    canary: protocol.ArmTarget,
    control: protocol.ArmTarget,
    window: windows.Window,
    settings: judge.JudgeSettings,
    verdict: verdicts.Verdict,
) -> float | None:
    """Find when the verdict was first reached, from a second read; None (with a warning) if it fails."""
    try:
        comparison = collect.collect_comparison(
            source=source, preset=preset, canary=canary, control=control, window=window
        )
    except outcomes.MetricsOutcome as error:
        # The verdict is kept because it came from the first read. Only the moment it was reached is unknown.
        click.echo(
            f"warning: the time of the first {verdict} look is unknown: reading Prometheus "
            f"again failed: {error}",
            err=True,
        )
        return None
    return first_decision(comparison, settings=settings, verdict=verdict)


def _check_source(source: prometheus.PrometheusSource) -> None:
    """Query Prometheus once and turn a failure into one line that says how to fix --prometheus-url."""
    url = str(source.settings.url).rstrip("/")
    try:
        source.check_health()
    except outcomes.QueryRejected as error:
        if error.status_code == 404:
            raise output.CliError(
                f"Prometheus at {url} returned HTTP 404 (not found) for its query API; check "
                "--prometheus-url: it should be the server's base URL such as http://127.0.0.1:9090, "
                "without /api/v1",
                exit_code=output.ExitCode.UNREACHABLE,
            ) from None
        raise output.CliError(
            f"Prometheus at {url} rejected the query vector(1) with HTTP {error.status_code}: "
            f"{_one_line(error.prometheus_error)}; check --prometheus-url",
            exit_code=output.ExitCode.UNREACHABLE,
        ) from None
    except outcomes.SourceUnreachable as error:
        raise output.CliError(
            _unreachable_message(error, url=url, source=source), exit_code=output.ExitCode.UNREACHABLE
        ) from None


def _unreachable_message(
    error: outcomes.SourceUnreachable, *, url: str, source: prometheus.PrometheusSource
) -> str:
    # The outcome's text contains urllib3's repr of the whole retry chain, so only the socket error at its
    # root ("Connection refused", "Name or service not known") is shown, which the user can act on.
    root = _root_cause(error)
    if not isinstance(root, OSError):
        return _one_line(error.message)
    detail = root.strerror or ("timed out" if isinstance(root, TimeoutError) else type(root).__name__)
    attempts = source.settings.retries + 1
    return (
        f"Prometheus at {url} is unreachable: {detail} (tried {attempts} times); check --prometheus-url "
        f"or {PROMETHEUS_URL_VARIABLE}, and that Prometheus is running there"
    )


def _root_cause(error: BaseException) -> BaseException:
    """Follow causes, urllib3's MaxRetryError.reason and requests' wrapped exceptions to the first error."""
    current, seen = error, set()
    while id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        wrapped = current.args[0] if current.args else None
        following = next(
            (
                candidate
                for candidate in (current.__cause__, reason, wrapped)
                if isinstance(candidate, BaseException)
            ),
            None,
        )
        if following is None:
            break
        current = following
    return current


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _parse_ago(text: str, *, option: str) -> datetime.timedelta:
    # Unlike annotation durations, which stop at 24h, a look back may span weeks: "now-1d12h", "now-2w".
    if not re.fullmatch(r"(?:\d+[wdhms])+", text):
        raise click.BadParameter(
            f"now-{text} is not a time; write the look back in w, d, h, m and s, such as now-1d or now-90m",
            param_hint=option,
        )
    seconds = sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _AGO_PART.findall(text))
    return datetime.timedelta(seconds=seconds)


def _parse_seconds(text: str, *, option: str, zero: bool = False) -> float:
    if zero and text.strip() in ("0", "0s"):
        return 0.0
    try:
        return spec_values.parse_duration(text).total_seconds()
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: {error}", param_hint=option) from None


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    """Format a duration as 15d6h40m, 2m or 90s: whole seconds, largest units first."""
    remainder = round(seconds)
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        if unit == "w":
            continue
        amount, remainder = divmod(remainder, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat()
