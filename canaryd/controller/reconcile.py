"""One reconcile pass of one annotated Deployment: observe, decide, act, record.

Layer 3 (engine). `reconcile` is a flat list of steps that may return early. It guards (the Deployment
exists and is enabled), copies the cached objects, binds the log keys, gathers observations, asks the
decision core, applies its actions through the adapters, writes the CanaryRollout status, and ends with
one summary log line with the pass's duration. Every decision lives in `canaryd.core`; this module only
moves data between the API and the core.

Actions are applied in order and the status is written only after all succeeded. A failed action
raises, the pass is retried with backoff from the unchanged status, and the core decides the same
actions again: each action is safe to apply twice.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import time
from typing import Any

import structlog

from canaryd import core
from canaryd.controller import analysis as controller_analysis
from canaryd.controller import names, records, traffic, workloads
from canaryd.core import actions as core_actions
from canaryd.core import phase as phases
from canaryd.kube import api as kube_api
from canaryd.kube import events as kube_events
from canaryd.metrics import protocol as metrics_protocol
from canaryd.notify import notifier as notify_notifier
from canaryd.observability import metrics as controller_metrics
from canaryd.routers import protocol as router_protocol
from canaryd.spec import annotations, errors
from canaryd.spec import settings as spec_settings

log = structlog.get_logger("canaryd.controller")

# Reasons of Events this module posts itself; the decision core's reasons are in canaryd.core.reasons.
ROUTER_FAILED = "RouterFailed"
WEIGHT_APPROXIMATED = "WeightApproximated"
INVALID_COMMAND = "InvalidCommand"
ROLLOUTS_DISABLED = "RolloutsDisabled"
WAITING_TO_DISABLE = "WaitingForDeploymentToServe"


@dataclasses.dataclass
class Environment:
    """The dependencies every pass shares: the API, the caches, the Event recorder, the metrics source."""

    api: kube_api.Api
    deployments: Any  # canaryd.kube.cache.Cache of Deployments (one per namespace watched, behind .get)
    rollouts: Any  # the CanaryRollout cache, same interface
    recorder: kube_events.EventRecorder
    source: metrics_protocol.MetricsSource | None
    analysis: controller_analysis.AnalysisSettings
    metrics: controller_metrics.ControllerMetrics
    keep_rollouts: int = 10
    active_requeue_seconds: float = 5.0
    notifier: notify_notifier.Notifier | None = None  # webhooks from the controller's configuration
    clock: Any = dataclasses.field(default=lambda: datetime.datetime.now(datetime.UTC))
    # Deployment key -> the CanaryRollout as this controller last wrote it, to tell a lagging cache.
    written_records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Pass:
    """One pass over one Deployment. Fields are None until the step that fills them has run."""

    key: str
    namespace: str
    name: str
    started: float  # monotonic start, for the summary line's duration
    now: datetime.datetime
    deployment: dict[str, Any] | None = None  # deep copy of the cached user Deployment
    primary: dict[str, Any] | None = None  # the live primary Deployment, None before the bootstrap
    baseline: dict[str, Any] | None = None  # the baseline Deployment, None until a rollout with one starts
    rollout: dict[str, Any] | None = None  # the latest CanaryRollout, read from the API server
    spec: spec_settings.RolloutSpec | errors.SpecError | None = None
    router: router_protocol.Router | None = None  # None while the spec is invalid or the router is broken
    routed_weight: int | None = None
    observations: core.Observations | None = None
    decision: core.Decision | None = None
    log: Any = None
    result: str = "unchanged"  # the summary line's outcome
    requeue_after: float | None = None  # seconds until this Deployment needs another pass, None: on change


def reconcile(env: Environment, *, key: str) -> float | None:
    """Run one pass over the Deployment with cache key `key`; return seconds until the next pass, or None."""
    namespace, name = kube_api.split_key(key)
    current = Pass(key=key, namespace=namespace or "", name=name, started=time.monotonic(), now=env.clock())
    current.log = log.bind(namespace=current.namespace, rollout=name)
    try:
        _run(env, current)
    finally:
        duration = time.monotonic() - current.started
        current.log.info("reconcile_completed", result=current.result, duration_seconds=round(duration, 4))
    return current.requeue_after


def _run(env: Environment, current: Pass) -> None:
    # Guard: a deleted Deployment takes canaryd's objects with it through their ownerReferences.
    cached = env.deployments.get(current.key)
    if cached is None:
        current.result = "deployment_gone"
        return
    current.deployment = copy.deepcopy(cached)
    # The primary comes from the cache too: a pass on a slightly stale primary decides actions that
    # are safe to apply again, and the watch delivers the change within moments.
    primary = env.deployments.get(f"{current.namespace}/{names.primary_name(current.name)}")
    current.primary = copy.deepcopy(primary) if primary is not None else None
    baseline = env.deployments.get(f"{current.namespace}/{names.baseline_name(current.name)}")
    current.baseline = copy.deepcopy(baseline) if baseline is not None else None
    annotations_map = current.deployment["metadata"].get("annotations") or {}
    if not annotations.is_enabled(annotations_map):
        _disable(env, current)
        return

    _read_spec(current, annotations_map)
    _read_rollout(env, current)
    _skip_record_without_status(env, current)
    status = records.decode_status(current.rollout)
    if not (current.rollout or {}).get("status"):
        status = _status_without_record(current, status)
    current.log = current.log.bind(
        revision=status.revision, step=status.step_index + 1, weight=status.desired_weight
    )
    _observe(env, current, status)
    commands, command_problem = records.commands(current.rollout)
    if command_problem:
        _record_event(env, current, core_actions.EventType.WARNING, INVALID_COMMAND, command_problem)

    current.decision = core.decide(
        spec=current.spec,
        status=status,
        observations=current.observations,
        commands=commands,
        now=current.now,
    )
    decided = current.decision.status
    current.log = current.log.bind(
        revision=decided.revision, step=decided.step_index + 1, weight=decided.desired_weight
    )
    _apply_actions(env, current)
    _write_record(env, current, before=status)
    _post_decided_events(env, current)
    _notify(env, current, before=status)
    _schedule(env, current)


# Observing.


def _read_spec(current: Pass, annotations_map: dict[str, str]) -> None:
    try:
        current.spec = annotations.parse_annotations(
            annotations_map, source=f"Deployment {current.namespace}/{current.name}"
        )
    except errors.SpecError as error:
        current.spec = error


def _read_rollout(env: Environment, current: Pass) -> None:
    """Find the latest CanaryRollout: from the cache, unless the cache has not caught up with this
    controller's own last write, because a pass decided on a stale status would undo that write."""
    cached = records.latest(_cached_rollouts(env, current), deployment=current.name)
    written = env.written_records.get(current.key)
    if written is None:
        current.rollout = copy.deepcopy(cached) if cached is not None else None
        return
    is_cache_current = (
        cached is not None
        and cached["metadata"]["name"] == written["metadata"]["name"]
        and cached["metadata"].get("resourceVersion") == written["metadata"].get("resourceVersion")
    )
    if is_cache_current:
        current.rollout = copy.deepcopy(cached)
        return
    newest = (
        written if cached is None or records.attempt_of(written) >= records.attempt_of(cached) else cached
    )
    current.rollout = env.api.get_or_none(
        kube_api.CANARY_ROLLOUTS, namespace=current.namespace, name=newest["metadata"]["name"]
    )


def _skip_record_without_status(env: Environment, current: Pass) -> None:
    # A record whose status was never written (its creator lost the Lease in between) holds no
    # decision; the pass decides again from the newest record that does, and reuses the empty one.
    if current.rollout is None or current.rollout.get("status"):
        return
    decided = [r for r in _cached_rollouts(env, current) if r.get("status")]
    previous = records.latest(decided, deployment=current.name)
    if previous is not None:
        current.rollout = copy.deepcopy(previous)


def _status_without_record(current: Pass, fresh: core.RolloutStatus) -> core.RolloutStatus:
    """Rebuild the status when no record holds one but canaryd's primary exists.

    That happens when a replica lost its Lease between creating a record and writing its status, or
    when someone deleted the records. The pass resumes the bootstrap's end from the primary's revision:
    route everything to the primary, then scale the canary to zero. Starting from an empty status
    instead would roll out the primary's own template again.
    """
    if current.primary is None or not _is_ours(current.primary):
        return fresh
    primary = workloads.workload_state(current.primary)
    assert primary is not None
    current.log.warning("rollout_status_rebuilt", primary_revision=primary.revision)
    return fresh.model_copy(
        update={
            "phase": phases.Phase.INITIALIZING,
            "revision": primary.revision,
            "stable_revision": primary.revision,
            "desired_weight": 100,
        }
    )


def _cached_rollouts(env: Environment, current: Pass) -> list[dict[str, Any]]:
    return [r for r in env.rollouts.objects() if r["metadata"].get("namespace") == current.namespace]


def _observe(env: Environment, current: Pass, status: core.RolloutStatus) -> None:
    canary = workloads.workload_state(current.deployment)
    assert canary is not None
    actual_weight = None
    if isinstance(current.spec, spec_settings.RolloutSpec):
        try:
            current.router = traffic.build_router(env.api, spec=current.spec, deployment=current.deployment)
            if current.primary is not None:
                reading = traffic.read_weight(
                    current.router,
                    desired=status.desired_weight,
                    primary=current.primary,
                    canary=current.deployment,
                )
                actual_weight = reading.confirmed
                current.routed_weight = reading.routed
        except router_protocol.RouterError as error:
            current.router = None
            _record_event(env, current, core_actions.EventType.WARNING, ROUTER_FAILED, str(error))

    analysis = None
    if (
        isinstance(current.spec, spec_settings.RolloutSpec)
        and env.source is not None
        and status.phase in phases.ANALYSING_PHASES
    ):
        analysis = controller_analysis.analyse_step(
            source=env.source,
            spec=current.spec,
            status=status,
            namespace=current.namespace,
            deployment=current.name,
            now=current.now,
            settings=env.analysis,
            template_reader=env.api,
        )
    has_baseline = isinstance(current.spec, spec_settings.RolloutSpec) and current.spec.analysis.baseline
    current.observations = core.Observations(
        canary=canary,
        primary=workloads.workload_state(current.primary),
        baseline=workloads.workload_state(current.baseline) if has_baseline else None,
        actual_weight=actual_weight,
        analysis=analysis,
    )


# Acting.


def _apply_actions(env: Environment, current: Pass) -> None:
    assert current.decision is not None
    # The canary Service follows the Deployment's current ReplicaSet before any weight moves to it.
    if current.primary is not None and any(_moves_traffic(action) for action in current.decision.actions):
        _ensure_services(env, current)
    for action in current.decision.actions:
        current.log.info("action_applied", action=type(action).__name__, **_action_fields(action))
        if isinstance(action, core_actions.RecordEvent):
            continue  # posted after the record is written, so a new attempt's Events land on its record
        elif isinstance(action, core_actions.SetWeight):
            _set_weight(env, current, action)
        elif isinstance(action, core_actions.ScaleCanary):
            workloads.scale(env.api, namespace=current.namespace, name=current.name, replicas=action.replicas)
        elif isinstance(action, core_actions.CopyTemplateToPrimary):
            _copy_template_to_primary(env, current)
        elif isinstance(action, core_actions.RestorePrimary):
            _restore_primary(env, current, action)
        elif isinstance(action, core_actions.ScaleBaseline):
            workloads.scale_baseline(
                env.api,
                deployment=current.deployment,
                primary=current.primary,
                baseline=current.baseline,
                replicas=action.replicas,
            )


def _moves_traffic(action: core_actions.Action) -> bool:
    return isinstance(action, core_actions.SetWeight) and action.canary > 0


def _post_decided_events(env: Environment, current: Pass) -> None:
    assert current.decision is not None
    for event in current.decision.events:
        _record_event(env, current, event.type, event.reason, event.message)


def _action_fields(action: core_actions.Action) -> dict[str, Any]:
    fields = dataclasses.asdict(action)
    fields.pop("message", None)
    return {f"action_{key}": str(value) for key, value in fields.items()}


def _set_weight(env: Environment, current: Pass, action: core_actions.SetWeight) -> None:
    if current.router is None:
        raise router_protocol.RouterError(
            f"Deployment {current.namespace}/{current.name}: no working router to set weight {action.canary}"
        )
    traffic.set_weight(current.router, canary=action.canary, baseline=action.baseline)
    achieved = traffic.achievable_weight(current.router, desired=action.canary, primary=current.primary)
    env.metrics.canary_weight.labels(namespace=current.namespace, rollout=current.name).set(achieved)
    if achieved != action.canary:
        _record_event(
            env,
            current,
            core_actions.EventType.WARNING,
            WEIGHT_APPROXIMATED,
            f"requested canary weight {action.canary}% is not reachable with whole pods next to the "
            f"primary's replicas; routing {achieved}% instead (the gateway-api router sets exact weights)",
        )


def _copy_template_to_primary(
    env: Environment, current: Pass, *, template: dict[str, Any] | None = None
) -> None:
    """Give the primary the Deployment's pod template, or `template`, creating the primary if needed."""
    assert current.deployment is not None
    deployment = current.deployment
    if template is not None:
        deployment = copy.deepcopy(deployment)
        deployment["spec"]["template"] = copy.deepcopy(template)
    hpa = _autoscaler(env, current)
    # The primary starts at the Deployment's current size (an autoscaler's choice, when it has one) and
    # canaryd never sets its replicas again: only the template is copied on promotion.
    # LIMITATION: after a rollback the Deployment is scaled to zero, so a primary re-created then starts
    # with one replica unless an autoscaler scales it (goes away when the attempt records the size).
    replicas = max(1, int(deployment["spec"].get("replicas", 1)))
    workloads.copy_template_to_primary(
        env.api, deployment=deployment, primary=current.primary, replicas=replicas
    )
    _ensure_services(env, current)
    if hpa is not None:
        _ensure_primary_autoscaler(env, current, hpa)


def _restore_primary(env: Environment, current: Pass, action: core_actions.RestorePrimary) -> None:
    assert current.deployment is not None
    template = ((current.rollout or {}).get("spec") or {}).get("stablePodTemplate")
    if template is None or names.revision_of(template) != action.revision:
        raise router_protocol.RouterError(
            f"Deployment {current.namespace}/{current.name}: the pod template of revision {action.revision} "
            "is not recorded in the CanaryRollout, so the primary cannot be restored; restore "
            f"{names.primary_name(current.name)} by hand"
        )
    if current.primary is None:
        # A primary deleted after a rollback comes back on the stable template, not the Deployment's.
        _copy_template_to_primary(env, current, template=template)
        return
    workloads.set_primary_template(env.api, primary=current.primary, template=copy.deepcopy(template))


def _ensure_services(env: Environment, current: Pass) -> None:
    assert current.deployment is not None
    deployment = current.deployment
    primary_service = names.primary_name(current.name)
    canary_service = names.canary_service_name(current.name)
    get = lambda service: env.api.get_or_none(kube_api.SERVICES, namespace=current.namespace, name=service)  # noqa: E731
    workloads.ensure_service(
        env.api,
        deployment=deployment,
        name=primary_service,
        selector=workloads.primary_selector(deployment),
        existing=get(primary_service),
    )
    template_hash = workloads.current_pod_template_hash(env.api, deployment=deployment)
    workloads.ensure_service(
        env.api,
        deployment=deployment,
        name=canary_service,
        selector=workloads.canary_selector(deployment, pod_template_hash=template_hash),
        existing=get(canary_service),
    )
    if isinstance(current.spec, spec_settings.RolloutSpec) and current.spec.analysis.baseline:
        baseline_service = names.baseline_name(current.name)
        workloads.ensure_service(
            env.api,
            deployment=deployment,
            name=baseline_service,
            selector=workloads.track_selector(deployment, track=names.BASELINE_TRACK),
            existing=get(baseline_service),
        )


def _autoscaler(env: Environment, current: Pass) -> dict[str, Any] | None:
    try:
        listing = env.api.list(kube_api.HPAS, namespace=current.namespace)
    except kube_api.ApiException as error:
        if error.status in (403, 404):
            return None
        raise
    return workloads.find_autoscaler(
        listing.get("items", []), namespace=current.namespace, target=current.name
    )


def _ensure_primary_autoscaler(env: Environment, current: Pass, hpa: dict[str, Any]) -> None:
    assert current.deployment is not None
    name = names.primary_name(current.name)
    if env.api.get_or_none(kube_api.HPAS, namespace=current.namespace, name=name) is None:
        body = workloads.primary_autoscaler_body(hpa, deployment=current.deployment)
        env.api.create(kube_api.HPAS, namespace=current.namespace, body=body)


def _record_event(env: Environment, current: Pass, event_type: Any, reason: str, message: str) -> None:
    kind = kube_events.EventType(str(event_type))
    log_method = current.log.warning if kind is kube_events.EventType.WARNING else current.log.info
    log_method("rollout_event_recorded", reason=reason, message=message)
    for obj in (current.deployment, current.rollout):
        if obj is not None:
            env.recorder.record(obj, type=kind, reason=reason, message=message)


# Recording.


def _write_record(env: Environment, current: Pass, *, before: core.RolloutStatus) -> None:
    assert current.decision is not None and current.deployment is not None
    status = current.decision.status
    spec = current.spec if isinstance(current.spec, spec_settings.RolloutSpec) else None
    encoded = records.encode_status(status, spec=spec, routed_weight=current.routed_weight)

    if current.rollout is None or records.attempt_of(current.rollout) != status.attempt:
        _start_record(env, current, encoded, spec=spec)
        return
    if current.rollout.get("status") == encoded:
        return
    current.rollout = records.write_status(env.api, rollout=current.rollout, status=encoded)
    env.written_records[current.key] = current.rollout
    current.result = f"status_written:{status.phase}"
    _count_new_verdicts(env, before=before, after=status)


def _start_record(
    env: Environment, current: Pass, encoded: dict[str, Any], *, spec: spec_settings.RolloutSpec | None
) -> None:
    assert current.decision is not None and current.deployment is not None
    status = current.decision.status

    # The attempt this one replaces keeps its record, closed, for `canaryd history`.
    if current.rollout is not None and current.rollout.get("status"):
        closing = current.rollout["status"]
        if closing.get("phase") in {str(phase) for phase in phases.ACTIVE_PHASES}:
            records.write_status(
                env.api,
                rollout=current.rollout,
                status=records.superseded_status(closing, attempt=status.attempt, revision=status.revision),
            )

    stable_template = (current.primary or {}).get("spec", {}).get("template")
    body = records.new_rollout(
        deployment=current.deployment, status=status, spec=spec, stable_template=stable_template
    )
    try:
        created = env.api.create(kube_api.CANARY_ROLLOUTS, namespace=current.namespace, body=body)
    except kube_api.ApiException as error:
        if not kube_api.is_conflict(error):
            raise
        # Created by an earlier pass whose status write failed: reuse it.
        created = env.api.get(
            kube_api.CANARY_ROLLOUTS, namespace=current.namespace, name=body["metadata"]["name"]
        )
    current.rollout = records.write_status(env.api, rollout=created, status=encoded)
    env.written_records[current.key] = current.rollout
    current.result = f"attempt_started:{status.attempt}"
    current.log.info("rollout_record_created", record=body["metadata"]["name"], attempt=status.attempt)

    deleted = records.prune(
        env.api,
        rollouts=_cached_rollouts(env, current) + [current.rollout],
        deployment=current.name,
        keep=env.keep_rollouts,
    )
    if deleted:
        current.log.info("rollout_records_pruned", records=deleted)


def _notify(env: Environment, current: Pass, *, before: core.RolloutStatus) -> None:
    # Only queues the messages: a slow or failing webhook never delays the pass.
    if env.notifier is None or current.decision is None:
        return
    after = current.decision.status
    spec = current.spec if isinstance(current.spec, spec_settings.RolloutSpec) else None
    env.notifier.notify_transition(
        before=before,
        after=after,
        namespace=current.namespace,
        deployment=current.name,
        rollout=names.rollout_name(current.name, after.attempt),
        step_count=len(spec.steps) if spec is not None else None,
        occurred_at=current.now,
    )


def _count_new_verdicts(env: Environment, *, before: core.RolloutStatus, after: core.RolloutStatus) -> None:
    decided_before = {record.index for record in before.steps if record.verdict is not None}
    for record in after.steps:
        if record.verdict is not None and record.index not in decided_before:
            env.metrics.verdicts.labels(verdict=str(record.verdict)).inc()


# Passes over a rollout that waits for pods or for a promotion are woken by the watch on the Deployments
# and the records; this timer is only the safety net for a change nothing watches (an HTTPRoute edit).
WAITING_REQUEUE_SECONDS = 30.0


def _schedule(env: Environment, current: Pass) -> None:
    """Schedule the next pass: soon while analysing (windows and deadlines are time), later while waiting."""
    assert current.decision is not None
    phase = current.decision.status.phase
    if phase in phases.ANALYSING_PHASES:
        current.requeue_after = env.active_requeue_seconds
    elif phase in phases.ACTIVE_PHASES or phase is phases.Phase.INITIALIZING:
        current.requeue_after = max(env.active_requeue_seconds, WAITING_REQUEUE_SECONDS)


# Turning rollouts off.


def _disable(env: Environment, current: Pass) -> None:
    """Return a Deployment whose annotation was removed to a plain state, without dropping traffic.

    The user's Deployment takes the primary's replicas and must be fully Ready before anything else
    changes; then the canary Service (which selects the user's pods) takes all traffic, and only then is
    the primary deleted. canaryd deletes only objects it created; the user's Deployment stays.
    """
    assert current.deployment is not None
    if current.primary is None or not _is_ours(current.primary):
        current.result = "not_enabled"
        return

    # The primary's template may be older than the Deployment's; the Deployment's own pods take over.
    primary_replicas = int(current.primary.get("spec", {}).get("replicas", 1))
    if int(current.deployment["spec"].get("replicas", 0)) < primary_replicas:
        workloads.scale(env.api, namespace=current.namespace, name=current.name, replicas=primary_replicas)
        current.result = "disable_scaling_up"
        current.requeue_after = env.active_requeue_seconds
        return
    state = workloads.workload_state(current.deployment)
    if state is None or not state.is_ready:
        _record_event(
            env,
            current,
            core_actions.EventType.NORMAL,
            WAITING_TO_DISABLE,
            "waiting for every replica of the Deployment to be Ready before removing the primary",
        )
        current.result = "disable_waiting"
        current.requeue_after = env.active_requeue_seconds
        return

    _route_everything_to_deployment(env, current)
    env.api.delete(kube_api.HPAS, namespace=current.namespace, name=names.primary_name(current.name))
    env.api.delete(kube_api.DEPLOYMENTS, namespace=current.namespace, name=names.primary_name(current.name))
    env.api.delete(kube_api.DEPLOYMENTS, namespace=current.namespace, name=names.baseline_name(current.name))
    _record_event(
        env,
        current,
        core_actions.EventType.NORMAL,
        ROLLOUTS_DISABLED,
        "canaryd.io/enabled is no longer true: the Deployment serves all traffic and the primary was removed",
    )
    current.result = "disabled"


def _route_everything_to_deployment(env: Environment, current: Pass) -> None:
    assert current.deployment is not None
    # The canary Service drops its revision pin so it keeps selecting the Deployment's pods from now on.
    workloads.ensure_service(
        env.api,
        deployment=current.deployment,
        name=names.canary_service_name(current.name),
        selector=workloads.canary_selector(current.deployment, pod_template_hash=None),
        existing=env.api.get_or_none(
            kube_api.SERVICES, namespace=current.namespace, name=names.canary_service_name(current.name)
        ),
    )
    try:
        spec = annotations.parse_annotations(
            {
                **(current.deployment["metadata"].get("annotations") or {}),
                annotations.PREFIX + "enabled": "true",
            },
            source=f"Deployment {current.namespace}/{current.name}",
        )
    except errors.SpecError:
        return
    if spec.router.kind is spec_settings.RouterKind.GATEWAY_API:
        traffic.build_router(env.api, spec=spec, deployment=current.deployment).set_weight(weight=100)


def _is_ours(obj: dict[str, Any]) -> bool:
    return (obj["metadata"].get("labels") or {}).get(names.MANAGED_BY_LABEL) == names.MANAGED_BY
