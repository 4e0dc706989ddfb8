"""CanaryRollout records: one object per rollout attempt, holding the decision core's status.

Layer 3 (engine). The latest attempt's status is the decision core's memory: a restarted or newly
elected controller reads it back and resumes. The status is the core's `RolloutStatus` with camelCase
keys, plus a few fields for `kubectl get` (step as "2/3", the latest verdict) that the core ignores.
Commands from people arrive in the `canaryd.io/command` annotation as the JSON of a core `Command`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pydantic
import structlog

from canaryd.controller import names
from canaryd.core import commands as core_commands
from canaryd.core import status as core_status
from canaryd.kube import api as kube_api
from canaryd.spec import settings

log = structlog.get_logger(__name__)


def attempt_of(rollout: dict[str, Any]) -> int:
    label = (rollout["metadata"].get("labels") or {}).get(names.ATTEMPT_LABEL, "")
    return int(label) if label.isdigit() else -1


def latest(rollouts: list[dict[str, Any]], *, deployment: str) -> dict[str, Any] | None:
    """Return the Deployment's CanaryRollout with the highest attempt number, or None."""
    mine = [
        r for r in rollouts if (r["metadata"].get("labels") or {}).get(names.DEPLOYMENT_LABEL) == deployment
    ]
    return max(mine, key=attempt_of, default=None)


# Status encoding.


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda match: "_" + match.group(1).lower(), key)


def _rename_keys(value: Any, rename: Any) -> Any:
    if isinstance(value, dict):
        return {rename(key): _rename_keys(item, rename) for key, item in value.items()}
    if isinstance(value, list):
        return [_rename_keys(item, rename) for item in value]
    return value


def decode_status(rollout: dict[str, Any] | None) -> core_status.RolloutStatus:
    """Read the core's status back from a CanaryRollout; a missing or unreadable one starts afresh."""
    raw = (rollout or {}).get("status")
    if not raw:
        return core_status.RolloutStatus()
    try:
        return core_status.RolloutStatus.model_validate(_rename_keys(raw, _snake))
    except pydantic.ValidationError as error:
        # Starting afresh re-runs the bootstrap checks, which find the primary and change nothing.
        log.error("rollout_status_unreadable", rollout=rollout["metadata"]["name"], error=str(error))
        return core_status.RolloutStatus()


def encode_status(
    status: core_status.RolloutStatus, *, spec: settings.RolloutSpec | None, routed_weight: int | None
) -> dict[str, Any]:
    """Write the core's status with camelCase keys and the fields the printer columns show."""
    encoded = _rename_keys(status.model_dump(mode="json"), _camel)
    step_count = len(spec.steps) if spec is not None else 0
    if step_count:
        encoded["step"] = f"{min(status.step_index + 1, step_count)}/{step_count}"
    if routed_weight is not None:
        # The router's own reading (replica ratio: the share of Ready pods), which can differ from the
        # weight the decision core treats as confirmed when the requested one is not reachable.
        encoded["actualWeight"] = routed_weight
    verdict = latest_verdict(status)
    if verdict is not None:
        encoded["verdict"] = verdict
    return {key: value for key, value in encoded.items() if value is not None}


def latest_verdict(status: core_status.RolloutStatus) -> str | None:
    for record in sorted(status.steps, key=lambda record: record.index, reverse=True):
        if record.verdict is not None:
            return str(record.verdict)
        if record.judgement is not None:
            return str(record.judgement.verdict)
    return None


# Commands.


def commands(rollout: dict[str, Any] | None) -> tuple[list[core_commands.Command], str | None]:
    """Read the pending command; return it (or none) and a problem message when the annotation is invalid."""
    if rollout is None:
        return [], None
    text = (rollout["metadata"].get("annotations") or {}).get(names.COMMAND_ANNOTATION)
    if not text:
        return [], None
    try:
        return [core_commands.Command.model_validate_json(text)], None
    except pydantic.ValidationError as error:
        kinds = ", ".join(kind.value for kind in core_commands.CommandKind)
        problem = (
            f"annotation {names.COMMAND_ANNOTATION} on CanaryRollout {rollout['metadata']['name']} is not a "
            f"valid command ({error.error_count()} problems, first: {error.errors()[0]['msg']}); write "
            f'JSON like {{"kind": "promote", "issued_at": "2025-01-01T00:00:00Z"}} with kind one of {kinds}, '
            f"or use `canaryd promote|abort|pause|resume`"
        )
        return [], problem


# Writing.


def new_rollout(
    *,
    deployment: dict[str, Any],
    status: core_status.RolloutStatus,
    spec: settings.RolloutSpec | None,
    stable_template: dict[str, Any] | None,
) -> dict[str, Any]:
    """Build the CanaryRollout of a new attempt; its status is written separately, through the subresource."""
    name = deployment["metadata"]["name"]
    body: dict[str, Any] = {
        "apiVersion": kube_api.CANARY_ROLLOUTS.api_version,
        "kind": kube_api.CANARY_ROLLOUTS.kind,
        "metadata": {
            "name": names.rollout_name(name, status.attempt),
            "namespace": deployment["metadata"]["namespace"],
            "labels": {**names.owned_labels(name), names.ATTEMPT_LABEL: str(status.attempt)},
            "ownerReferences": [names.owner_reference(deployment)],
        },
        "spec": {
            "target": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "attempt": status.attempt,
            "revision": status.revision or "",
            "stableRevision": status.stable_revision or "",
        },
    }
    if spec is not None:
        body["spec"]["steps"] = list(spec.steps)
        body["spec"]["router"] = str(spec.router.kind)
    if stable_template is not None:
        body["spec"]["stablePodTemplate"] = copy.deepcopy(stable_template)
    return body


def write_status(api: kube_api.Api, *, rollout: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Replace the status; the object's resourceVersion makes a pass decided on stale data fail with 409."""
    body = copy.deepcopy(rollout)
    body["status"] = status
    return api.replace(
        kube_api.CANARY_ROLLOUTS,
        namespace=rollout["metadata"]["namespace"],
        name=rollout["metadata"]["name"],
        body=body,
        subresource="status",
    )


def superseded_status(status: dict[str, Any], *, attempt: int, revision: str | None) -> dict[str, Any]:
    """Close an attempt that a newer one replaced, so `kubectl get` does not show it still running."""
    closed = dict(status)
    closed.update(
        phase="Aborted",
        reason="Superseded",
        message=f"replaced by attempt {attempt} for revision {revision}",
    )
    return closed


def prune(api: kube_api.Api, *, rollouts: list[dict[str, Any]], deployment: str, keep: int) -> list[str]:
    """Delete the Deployment's oldest CanaryRollouts beyond the newest `keep`; return the names deleted."""
    mine = [
        r for r in rollouts if (r["metadata"].get("labels") or {}).get(names.DEPLOYMENT_LABEL) == deployment
    ]
    mine.sort(key=attempt_of, reverse=True)
    deleted = []
    for rollout in mine[keep:]:
        api.delete(
            kube_api.CANARY_ROLLOUTS,
            namespace=rollout["metadata"]["namespace"],
            name=rollout["metadata"]["name"],
        )
        deleted.append(rollout["metadata"]["name"])
    return deleted
