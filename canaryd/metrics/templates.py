"""User metric templates: the `MetricTemplate` and `ClusterMetricTemplate` resources and their rendering.

A template is a user-written preset: three PromQL queries (requests, errors, and optionally
latency buckets), each an increase over one analysis interval, with variables that canaryd fills
per arm. Values are escaped for use inside double-quoted PromQL strings:

    sum(increase(http_requests_total{pod=~"{{ pod_regex }}"}[{{ interval }}]))

Variables: `namespace`, `workload`, `service`, `arm` (canary or control), `pod_regex` (the
workload's pods) and `interval` (the step as a PromQL duration, written outside quotes).

A `MetricTemplate` lives in a namespace, serves only rollouts of that namespace, and every selector
of its rendered queries is confined to that namespace (`canaryd.metrics.confinement`). The
namespace label it may name comes from a platform-wide allow list, so a template cannot pick a
label whose values it controls. A `ClusterMetricTemplate` is written by the platform team; when
its `namespaceLabel` is set, it is confined to the rollout's namespace the same way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import alias_generators

from canaryd.metrics import confinement, outcomes, promql, protocol

GROUP = "canaryd.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
KNOWN_VARIABLES = ("namespace", "workload", "service", "arm", "pod_regex", "interval")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class TemplateKind(enum.StrEnum):
    METRIC_TEMPLATE = "MetricTemplate"  # namespaced; confined to its own namespace
    CLUSTER_METRIC_TEMPLATE = "ClusterMetricTemplate"  # cluster-scoped; written by the platform team


class MetricTemplateSpec(pydantic.BaseModel):
    """The `spec` of both template kinds, with the CRD's camelCase field names."""

    model_config = pydantic.ConfigDict(
        extra="forbid", frozen=True, alias_generator=alias_generators.to_camel, populate_by_name=True
    )

    description: str = ""
    requests: str = pydantic.Field(min_length=1)
    errors: str = pydantic.Field(min_length=1)
    latency_buckets: str | None = None
    bucket_unit_seconds: float = pydantic.Field(default=1.0, gt=0)
    # The label carrying the Kubernetes namespace; None (cluster templates only) turns confinement off.
    namespace_label: str | None = "namespace"

    @pydantic.field_validator("namespace_label")
    @classmethod
    def _check_label(cls, value: str | None) -> str | None:
        if value is not None:
            promql.validate_label_name(value)
        return value


class TemplatePolicy(pydantic.BaseModel):
    """Platform-wide rules for namespaced templates."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    # Labels a MetricTemplate may name as its namespace label. Only labels set from the scraped
    # target's namespace belong here, never labels an application sets on its own series.
    allowed_namespace_labels: tuple[str, ...] = ("namespace",)

    @pydantic.field_validator("allowed_namespace_labels")
    @classmethod
    def _check_labels(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        for label in labels:
            promql.validate_label_name(label)
        return labels


class MetricTemplate(pydantic.BaseModel):
    """One template object; `namespace` is None for a `ClusterMetricTemplate`."""

    model_config = pydantic.ConfigDict(frozen=True)

    kind: TemplateKind
    name: str
    namespace: str | None
    spec: MetricTemplateSpec

    @property
    def is_cluster_scoped(self) -> bool:
        return self.kind is TemplateKind.CLUSTER_METRIC_TEMPLATE

    @property
    def reference(self) -> str:
        return (
            f"{self.kind.value} {self.name}"
            if self.is_cluster_scoped
            else f"{self.kind.value} {self.namespace}/{self.name}"
        )

    @pydantic.model_validator(mode="after")
    def _check_scope(self) -> MetricTemplate:
        if self.is_cluster_scoped and self.namespace is not None:
            raise ValueError(f"ClusterMetricTemplate {self.name} must not have a namespace")
        if not self.is_cluster_scoped:
            if self.namespace is None:
                raise ValueError(f"MetricTemplate {self.name} needs metadata.namespace")
            if self.spec.namespace_label is None:
                raise ValueError(
                    f"MetricTemplate {self.namespace}/{self.name}: spec.namespaceLabel must be set, "
                    "because a namespaced template is always confined to its namespace"
                )
        return self

    @classmethod
    def from_object(cls, item: Mapping[str, Any]) -> MetricTemplate:
        """Build a template from a Kubernetes object, raising `TemplateRejected` naming the object."""
        metadata = item.get("metadata") or {}
        kind = item.get("kind")
        name = metadata.get("name", "<unnamed>")
        if item.get("apiVersion") != API_VERSION or kind not in TemplateKind.__members__.values():
            raise outcomes.TemplateRejected(
                f"object {name} has apiVersion {item.get('apiVersion')!r} and kind {kind!r}; expected "
                f"{API_VERSION} MetricTemplate or ClusterMetricTemplate"
            )
        try:
            return cls(kind=kind, name=name, namespace=metadata.get("namespace"), spec=item.get("spec") or {})
        except pydantic.ValidationError as error:
            raise outcomes.TemplateRejected(f"{kind} {name} is invalid: {error}") from error


class TemplatePreset:
    """A `protocol.Preset` that renders, validates and confines one template's queries."""

    def __init__(self, *, template: MetricTemplate, policy: TemplatePolicy | None = None) -> None:
        self.template = template
        self.policy = policy or TemplatePolicy()
        self.name = template.reference

    def queries(self, *, target: protocol.ArmTarget, step_seconds: float) -> protocol.ArmQueries:
        self._check_target(target)
        spec = self.template.spec
        latency = None
        if spec.latency_buckets is not None:
            latency = self._render(spec.latency_buckets, "latencyBuckets", target, step_seconds)
        return protocol.ArmQueries(
            requests=self._render(spec.requests, "requests", target, step_seconds),
            errors=self._render(spec.errors, "errors", target, step_seconds),
            latency_buckets=latency,
            bucket_unit_seconds=spec.bucket_unit_seconds,
        )

    def _check_target(self, target: protocol.ArmTarget) -> None:
        template = self.template
        if template.is_cluster_scoped:
            return
        if target.namespace != template.namespace:
            raise outcomes.TemplateRejected(
                f"{template.reference} can only be used by rollouts in namespace {template.namespace}, "
                f"not {target.namespace}; copy it into that namespace or ask for a ClusterMetricTemplate"
            )
        if template.spec.namespace_label not in self.policy.allowed_namespace_labels:
            raise outcomes.TemplateRejected(
                f"{template.reference} sets spec.namespaceLabel to {template.spec.namespace_label!r}; "
                f"allowed: {', '.join(self.policy.allowed_namespace_labels)}"
            )

    def _render(self, text: str, field: str, target: protocol.ArmTarget, step_seconds: float) -> str:
        rendered = render(
            text, target=target, step_seconds=step_seconds, where=f"{self.template.reference} spec.{field}"
        )
        label = self.template.spec.namespace_label
        if label is None:
            confinement.parse(rendered)
            return rendered
        return confinement.confine_to_namespace(rendered, namespace=target.namespace, label=label)


def render(text: str, *, target: protocol.ArmTarget, step_seconds: float, where: str) -> str:
    """Fill the template variables of `text` for `target`; `where` names the field in errors.

    String values are escaped for a double-quoted PromQL string. Names are checked to be DNS labels
    first, so even a variable written outside quotes cannot add PromQL syntax.
    """
    _check_names(target, where=where)
    used = set(_VARIABLE.findall(text))
    unknown = sorted(used - set(KNOWN_VARIABLES))
    if unknown:
        raise outcomes.TemplateRejected(
            f"{where} uses unknown variables {', '.join(unknown)}; known: {', '.join(KNOWN_VARIABLES)}",
            query=text,
        )
    if "interval" not in used:
        raise outcomes.TemplateRejected(
            f"{where} does not use {{{{ interval }}}}; write increase(...[{{{{ interval }}}}]) so each "
            "value covers exactly one analysis interval",
            query=text,
        )

    values = {
        "namespace": promql.escape_string_content(target.namespace),
        "workload": promql.escape_string_content(target.workload),
        "service": promql.escape_string_content(target.service_name),
        "arm": promql.escape_string_content(target.arm.value),
        "pod_regex": promql.escape_string_content(target.pod_regex),
        "interval": promql.format_duration(step_seconds),
    }
    return _VARIABLE.sub(lambda match: values[match.group(1)], text)


def _check_names(target: protocol.ArmTarget, *, where: str) -> None:
    for field, value in (
        ("namespace", target.namespace),
        ("workload", target.workload),
        ("service", target.service_name),
    ):
        if not _DNS_LABEL.match(value):
            raise outcomes.TemplateRejected(
                f"{where}: the arm's {field} {value!r} is not a Kubernetes DNS label "
                "(lowercase letters, digits and '-', at most 63 characters)"
            )
