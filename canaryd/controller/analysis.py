"""One analysis of a rollout attempt for the Kubernetes controller: Prometheus, the preset, the judge.

Layer 3 (engine). The window runs from the moment the router confirmed the first step's weight to the
last whole interval Prometheus has surely scraped, so each step's judgement builds on the evidence of
the steps before it (the judge's tests stay valid as the canary's share changes, see `canaryd.judge`).
The canary arm is the user's Deployment (`web`) and the
control arm the primary (`web-primary`), or the baseline (`web-baseline`) when the rollout runs one;
`canaryd.metrics.analysis.analyze` turns missing data and an
unreachable Prometheus into a `no_data` judgement, so the step holds rather than passes.

A rollout that names a MetricTemplate or ClusterMetricTemplate has it read from the API server at each
analysis, as the gateway router reads its HTTPRoute at each pass, so an edited template counts from the
next analysis. A template that is missing, invalid or rejected by the namespace confinement is a
configuration error naming the Deployment, the annotation and the template. A failed read is treated like
an unreachable Prometheus: no data, never a pass.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Protocol

import structlog
import urllib3.exceptions

from canaryd import judge, observations, verdicts
from canaryd.controller import names
from canaryd.core import observed
from canaryd.core import status as core_status
from canaryd.kube import api as kube_api
from canaryd.metrics import analysis as metrics_analysis
from canaryd.metrics import outcomes, presets, protocol, templates, windows
from canaryd.spec import annotations, settings

log = structlog.get_logger("canaryd.controller")


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """The controller-wide analysis settings (the per-Deployment ones come from annotations)."""

    interval_seconds: float = 30.0  # length of one analysis interval, the range of each increase()
    scrape_interval_seconds: float = 15.0  # how often Prometheus scrapes the apps
    judge: judge.JudgeSettings = dataclasses.field(default_factory=judge.JudgeSettings)
    # The labels a MetricTemplate may name as spec.namespaceLabel (`canaryd run --template-namespace-label`).
    template_policy: templates.TemplatePolicy = dataclasses.field(default_factory=templates.TemplatePolicy)


class TemplateReader(Protocol):
    """Reads one object from the API server; `canaryd.kube.api.Api` is the implementation."""

    def get_or_none(
        self, resource: kube_api.Resource, *, namespace: str | None, name: str
    ) -> dict[str, Any] | None: ...


class TemplateUnreadable(outcomes.SourceUnreachable):
    """A failed read of a rollout's metric template, after which nothing about the canary is known."""

    reason = "MetricTemplateUnreadable"


def window_since(
    start: datetime.datetime, *, now: datetime.datetime, settings: AnalysisSettings
) -> windows.Window | None:
    """Return the whole intervals since `start` that Prometheus has scraped by `now`, or None."""
    # The latest scrape may not be ingested yet; leaving it out keeps the last interval from reading low.
    settled = now.timestamp() - settings.scrape_interval_seconds
    count = int((settled - start.timestamp()) // settings.interval_seconds)
    if count < 1:
        return None
    begin = start.timestamp()
    return windows.Window(
        start=begin, end=begin + count * settings.interval_seconds, step_seconds=settings.interval_seconds
    )


def analyse_step(
    *,
    source: protocol.MetricsSource,
    spec: settings.RolloutSpec,
    status: core_status.RolloutStatus,
    namespace: str,
    deployment: str,
    now: datetime.datetime,
    settings: AnalysisSettings,
    template_reader: TemplateReader | None = None,
) -> observed.AnalysisResult | None:
    """Judge the attempt's data so far at the current step; None until a whole interval has passed.

    `template_reader` reads the metric template a spec names; without it, naming one is a configuration error.
    """
    if status.analysis_started_at is None or status.judged_since is None or status.revision is None:
        return None
    window = window_since(status.judged_since, now=now, settings=settings)
    if window is None:
        return None

    canary = protocol.ArmTarget(
        arm=observations.Arm.CANARY,
        namespace=namespace,
        workload=deployment,
        service=names.canary_service_name(deployment),
    )
    control_name = (
        names.baseline_name(deployment) if spec.analysis.baseline else names.primary_name(deployment)
    )
    control = protocol.ArmTarget(
        arm=observations.Arm.CONTROL, namespace=namespace, workload=control_name, service=control_name
    )
    try:
        preset = _preset(
            spec,
            subject=f"Deployment {namespace}/{deployment}",
            template_reader=template_reader,
            arms=(canary, control),
            step_seconds=window.step_seconds,
            policy=settings.template_policy,
        )
        judgement = metrics_analysis.analyze(
            source=source,
            preset=preset,
            canary=canary,
            control=control,
            window=window,
            settings=metrics_analysis.judge_settings(spec.analysis.tolerances, base=settings.judge),
        )
    except TemplateUnreadable as error:
        log.warning(
            "metric_template_read_failed", namespace=namespace, rollout=deployment, error=error.message
        )
        judgement = metrics_analysis.no_data_judgement(error)
    except outcomes.ConfigurationError as error:
        # Waiting will not fix a bad query or template. The judgement carries the reason, and the step waits
        # until its deadline, where the inconclusive policy decides.
        judgement = verdicts.Judgement(
            verdict=verdicts.Verdict.NO_DATA, reason=f"analysis is misconfigured: {error}"
        )
    return observed.AnalysisResult(
        revision=status.revision,
        step_index=status.step_index,
        window_start=_utc(window.start),
        window_end=_utc(window.end),
        judgement=judgement,
    )


def _preset(
    spec: settings.RolloutSpec,
    *,
    subject: str,
    template_reader: TemplateReader | None,
    arms: tuple[protocol.ArmTarget, protocol.ArmTarget],
    step_seconds: float,
    policy: templates.TemplatePolicy,
) -> protocol.Preset:
    name = spec.analysis.metrics.preset_name
    if name is not None:
        return presets.build_preset(name)
    reference = template_reference(spec, namespace=arms[0].namespace, subject=subject)
    assert reference is not None, "a spec without a preset names a template"
    if template_reader is None:
        raise outcomes.ConfigurationError(
            f"{reference.subject}: {reference.annotation} names {reference.description}, but this "
            "analysis has no access to the Kubernetes API to read it; set canaryd.io/metric-preset instead"
        )
    item = read_template(template_reader, reference=reference)
    return template_preset(item, reference=reference, arms=arms, step_seconds=step_seconds, policy=policy)


@dataclasses.dataclass(frozen=True)
class TemplateReference:
    """The metric template a Deployment names, and where the API server keeps it."""

    subject: str  # the Deployment naming it, "Deployment shop/web", for messages
    annotation: str  # the annotation that names it
    resource: kube_api.Resource
    namespace: str | None  # None for a ClusterMetricTemplate
    name: str

    @property
    def description(self) -> str:
        """The kind and name as kubectl shows them: "MetricTemplate shop/web-slis"."""
        if self.namespace is None:
            return f"{self.resource.kind} {self.name}"
        return f"{self.resource.kind} {self.namespace}/{self.name}"


def template_reference(
    spec: settings.RolloutSpec, *, namespace: str, subject: str
) -> TemplateReference | None:
    """Return the template the spec names, or None when it uses a preset; `subject` names the Deployment."""
    metrics = spec.analysis.metrics
    if metrics.template is not None:
        return TemplateReference(
            subject=subject,
            annotation=annotations.PREFIX + "metric-template",
            resource=kube_api.METRIC_TEMPLATES,
            namespace=namespace,
            name=metrics.template,
        )
    if metrics.cluster_template is not None:
        return TemplateReference(
            subject=subject,
            annotation=annotations.PREFIX + "cluster-metric-template",
            resource=kube_api.CLUSTER_METRIC_TEMPLATES,
            namespace=None,
            name=metrics.cluster_template,
        )
    return None


def read_template(reader: TemplateReader, *, reference: TemplateReference) -> dict[str, Any]:
    """Read the template object.

    Raises `ConfigurationError` when it is missing or canaryd may not read it, and `TemplateUnreadable`
    when the request failed.
    """
    try:
        item = reader.get_or_none(reference.resource, namespace=reference.namespace, name=reference.name)
    except kube_api.ApiException as error:
        if error.status == 403:
            # Waiting will not grant a missing permission, such as clustermetrictemplates in a namespaced
            # install, which has no ClusterRole.
            raise outcomes.ConfigurationError(
                f"{reference.subject}: {reference.annotation} names {reference.description}, but the "
                f"API server returned 403 Forbidden for get on {reference.resource.plural}."
                f"{reference.resource.group}; grant that verb to the identity reading it (canaryd's "
                "ServiceAccount, for the controller), or use a MetricTemplate in the Deployment's namespace"
            ) from error
        raise _unreadable(reference, f"HTTP {error.status} {error.reason}") from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise _unreadable(reference, f"{type(error).__name__}: {error}") from error

    if item is None:
        where = f" in namespace {reference.namespace}" if reference.namespace else ""
        raise outcomes.ConfigurationError(
            f"{reference.subject}: {reference.annotation} names {reference.description}, which was not "
            f"found; create the {reference.resource.kind}{where}, or correct {reference.annotation}"
        )
    return item


def template_preset(
    item: dict[str, Any],
    *,
    reference: TemplateReference,
    arms: tuple[protocol.ArmTarget, ...],
    step_seconds: float,
    policy: templates.TemplatePolicy,
) -> templates.TemplatePreset:
    """Build the preset of a template object and render every arm's queries once, to check them.

    Rendering here, before any query runs, reports a template that is invalid or breaks the namespace
    confinement under the Deployment and the annotation that named it.
    """
    try:
        preset = templates.TemplatePreset(template=templates.MetricTemplate.from_object(item), policy=policy)
        for arm in arms:
            preset.queries(target=arm, step_seconds=step_seconds)
    except outcomes.TemplateRejected as error:
        raise outcomes.TemplateRejected(
            f"{reference.subject}: {reference.annotation} names {reference.description}, which canaryd "
            f"rejected: {error.message}. Fix the template, or name another one in {reference.annotation}",
            query=error.query,
        ) from error
    return preset


def _unreadable(reference: TemplateReference, detail: str) -> TemplateUnreadable:
    return TemplateUnreadable(
        f"{reference.subject}: reading {reference.description} (named by {reference.annotation}) from the "
        f"Kubernetes API failed: {detail}"
    )


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
