"""The CLI's Kubernetes side: connect with a kubeconfig, find a Deployment's rollouts, send commands.

Layer 4 (CLI), on `canaryd.kube.api`. The controller keeps one `CanaryRollout` per rollout attempt, owned
by the Deployment. A manual command is written to the latest attempt's `canaryd.io/command` annotation
as the JSON of a `canaryd.core.Command`, so it is audited by the API server and honoured by whichever
replica leads. The command stays there until the next one replaces it, and the decision core acts on it
once (it records the issue time of the last command it handled).
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import json
import os
import re
import socket
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.config.config_exception
import pydantic
import urllib3.exceptions
import yaml

from canaryd.cli import output
from canaryd.controller import names, records
from canaryd.core import commands as core_commands
from canaryd.core import status as core_status
from canaryd.kube import api as kube_api

# Where kubectl and the kubernetes client look when neither --kubeconfig nor KUBECONFIG is set.
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclasses.dataclass(frozen=True)
class Rollout:
    """One CanaryRollout object with its status decoded; `status` is None before the first pass wrote one."""

    name: str
    namespace: str
    deployment: str
    created_at: str
    document: dict[str, Any]
    status: core_status.RolloutStatus | None

    @property
    def attempt(self) -> int:
        """The attempt number the controller gave this object (its `canaryd.io/attempt` label)."""
        return records.attempt_of(self.document)


class Cluster:
    """A connection to the API server made from a kubeconfig, with the namespace to use."""

    def __init__(self, *, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
        paths = kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
        check_kubeconfig(paths, context=context)
        try:
            api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig, context=context)
            _, active = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
        except (kubernetes.config.config_exception.ConfigException, OSError) as error:
            raise output.CliError(
                f"cannot load the kubeconfig {paths}: {error}; fix the file, or pass --kubeconfig or set "
                "KUBECONFIG to another one",
                exit_code=output.ExitCode.UNREACHABLE,
            ) from None
        self.namespace = namespace or _context_namespace(kubeconfig, context=context, active=active)
        self.api = kube_api.Api(api_client=api_client, request_timeout=15.0)

    def get_deployment(self, name: str) -> dict[str, Any]:
        deployment = self._call(
            lambda: self.api.get_or_none(kube_api.DEPLOYMENTS, namespace=self.namespace, name=name),
            target=f"Deployment {self.namespace}/{name}",
        )
        if deployment is None:
            raise output.CliError(
                f"Deployment {self.namespace}/{name} not found; check the name and pass -n NAMESPACE",
                exit_code=output.ExitCode.NOT_FOUND,
            )
        return deployment

    def list_all_rollouts(self, *, all_namespaces: bool = False) -> list[Rollout]:
        """Return every rollout attempt in the namespace (or all of them), oldest first per Deployment."""
        namespace = None if all_namespaces else self.namespace
        where = "all namespaces" if all_namespaces else f"namespace {self.namespace}"
        listing = self._call(
            lambda: self.api.list(kube_api.CANARY_ROLLOUTS, namespace=namespace),
            target=f"CanaryRollouts in {where}",
        )
        rollouts = [_decode(item, namespace=self.namespace) for item in listing.get("items", [])]
        return sorted(
            rollouts,
            key=lambda rollout: (rollout.namespace, rollout.deployment, rollout.attempt, rollout.created_at),
        )

    def list_rollouts(self, deployment: str) -> list[Rollout]:
        """Return the Deployment's rollout attempts, oldest first."""
        return [rollout for rollout in self.list_all_rollouts() if rollout.deployment == deployment]

    def latest_rollout(self, deployment: str) -> Rollout:
        """Return the latest attempt; raise NOT_FOUND when the Deployment has none."""
        rollouts = self.list_rollouts(deployment)
        if rollouts:
            return rollouts[-1]
        self.get_deployment(deployment)  # a missing Deployment is the likelier mistake, so name it first
        raise output.CliError(
            f"Deployment {self.namespace}/{deployment} has no CanaryRollout yet; canaryd creates one when "
            'the Deployment has the annotation canaryd.io/enabled: "true" and the controller has seen it',
            exit_code=output.ExitCode.NOT_FOUND,
        )

    def get_rollout(self, name: str) -> Rollout:
        document = self._call(
            lambda: self.api.get_or_none(kube_api.CANARY_ROLLOUTS, namespace=self.namespace, name=name),
            target=f"CanaryRollout {self.namespace}/{name}",
        )
        if document is None:
            raise output.CliError(
                f"CanaryRollout {self.namespace}/{name} not found", exit_code=output.ExitCode.NOT_FOUND
            )
        return _decode(document, namespace=self.namespace)

    def send_command(self, rollout: Rollout, command: core_commands.Command) -> None:
        """Write the command to the rollout's `canaryd.io/command` annotation with a merge patch."""
        body = {"metadata": {"annotations": {names.COMMAND_ANNOTATION: command.model_dump_json()}}}
        self._call(
            lambda: self.api.patch(
                kube_api.CANARY_ROLLOUTS,
                namespace=self.namespace,
                name=rollout.name,
                body=body,
                field_manager="canaryd-cli",
            ),
            target=f"CanaryRollout {self.namespace}/{rollout.name}",
        )

    def current_user(self) -> str:
        """Return the user name the API server authenticates this kubeconfig as, or "" when it cannot tell.

        It creates a SelfSubjectReview (authentication.k8s.io/v1, Kubernetes 1.28 and later), because only
        the API server knows the identity behind certificates and tokens that the kubeconfig does not name.
        """
        review = kube_api.Resource(
            "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced=False
        )
        body = {"apiVersion": review.api_version, "kind": review.kind}
        try:
            answer = self.api.create(review, namespace=None, body=body)
        except (kube_api.ApiException, urllib3.exceptions.HTTPError, OSError):
            return ""
        return str(answer.get("status", {}).get("userInfo", {}).get("username", ""))

    def _call(self, request: Any, *, target: str) -> Any:
        try:
            return request()
        except kube_api.ApiException as error:
            raise _api_error(error, target=target) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise output.CliError(
                f"cannot reach the Kubernetes API server for {target}: {error}; "
                "check KUBECONFIG and the context",
                exit_code=output.ExitCode.UNREACHABLE,
            ) from None


def check_kubeconfig(paths: str, *, context: str | None) -> None:
    """Raise a one-line CliError naming the file when the kubeconfig is missing, not YAML or lacks `context`.

    `paths` is one file or an os.pathsep-separated list, as KUBECONFIG holds; the kubernetes client merges
    them. The client's own errors name neither the file nor the contexts there are, so this runs first.
    """
    contexts: list[str] = []
    existing = [path for path in paths.split(os.pathsep) if path and os.path.exists(path)]
    if not existing:
        raise output.CliError(
            f"kubeconfig {paths} not found; pass --kubeconfig with an existing file or set KUBECONFIG",
            exit_code=output.ExitCode.UNREACHABLE,
        )
    for path in existing:
        document = _read_kubeconfig(path)
        contexts += [
            str(entry.get("name")) for entry in document.get("contexts") or [] if isinstance(entry, dict)
        ]

    if context is not None and context not in contexts:
        available = ", ".join(contexts) if contexts else "none"
        raise output.CliError(
            f"context {context!r} not found in the kubeconfig {paths}; its contexts are: {available}. "
            "Pass one of them with --context, or omit --context to use the current context",
            exit_code=output.ExitCode.UNREACHABLE,
        )


def _read_kubeconfig(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as file:
            document = yaml.safe_load(file)
    except yaml.YAMLError as error:
        # PyYAML's messages span several lines; one line keeps the error readable in a terminal or log.
        detail = " ".join(str(error).split())
        raise output.CliError(
            f"kubeconfig {path} is not valid YAML: {detail}", exit_code=output.ExitCode.UNREACHABLE
        ) from None
    except OSError as error:
        raise output.CliError(
            f"cannot read the kubeconfig {path}: {error.strerror}", exit_code=output.ExitCode.UNREACHABLE
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise output.CliError(
            f"kubeconfig {path} is not a kubeconfig: expected a mapping with clusters, contexts and users, "
            f"got a YAML {type(document).__name__}",
            exit_code=output.ExitCode.UNREACHABLE,
        )
    return document


def build_command(
    *, kind: core_commands.CommandKind, issued_by: str, revision: str | None
) -> core_commands.Command:
    # The decision core acts on a command only if its issue time is later than the last one it handled,
    # so the time is taken here, once, and carried in the command.
    issued_by = issued_by or f"{_local_user()}@{socket.gethostname()}"
    return core_commands.Command(
        kind=kind, issued_at=datetime.datetime.now(datetime.UTC), issued_by=issued_by, revision=revision
    )


def decode_status(document: dict[str, Any]) -> core_status.RolloutStatus | None:
    """Read a CanaryRollout's status into the decision core's model, with camelCase or snake_case keys."""
    raw = document.get("status")
    if not raw:
        return None
    name = document.get("metadata", {}).get("name", "?")
    try:
        return core_status.RolloutStatus.model_validate(_snake_case_keys(raw))
    except pydantic.ValidationError as error:
        raise output.CliError(
            f"CanaryRollout {name} has a status this canaryd version cannot read ({error.error_count()} "
            f"problems, first: {error.errors()[0]['loc']}: {error.errors()[0]['msg']}); "
            "use a canaryd CLI of the controller's version",
            exit_code=output.ExitCode.ERROR,
        ) from None


def _decode(document: dict[str, Any], *, namespace: str) -> Rollout:
    metadata = document.get("metadata", {})
    return Rollout(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace", namespace),
        deployment=_deployment_of(document) or "",
        created_at=metadata.get("creationTimestamp", ""),
        document=document,
        status=decode_status(document),
    )


def _deployment_of(document: dict[str, Any]) -> str | None:
    """Return the name of the Deployment a CanaryRollout belongs to: its owner, label or spec field."""
    metadata = document.get("metadata", {})
    for owner in metadata.get("ownerReferences", []) or []:
        if owner.get("kind") == "Deployment":
            return owner.get("name")
    label = (metadata.get("labels") or {}).get(names.DEPLOYMENT_LABEL)
    if label:
        return label
    return ((document.get("spec") or {}).get("target") or {}).get("name")


def _snake_case_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_snake_case(key): _snake_case_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snake_case_keys(item) for item in value]
    return value


def _snake_case(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda match: "_" + match.group(1).lower(), key)


def _api_error(error: kube_api.ApiException, *, target: str) -> output.CliError:
    detail = _api_message(error)
    if error.status in (401, 403):
        return output.CliError(
            f"the API server refused access to {target} (HTTP {error.status}): {detail}; your user needs "
            "get, list and patch on canaryrollouts.canaryd.io and get on deployments",
            exit_code=output.ExitCode.UNREACHABLE,
        )
    if error.status == 404:
        return output.CliError(
            f"{target} not found: {detail}; if the resource type is missing, install canaryd's CRDs "
            "(kubectl apply -k manifests/)",
            exit_code=output.ExitCode.NOT_FOUND,
        )
    return output.CliError(
        f"request for {target} failed with HTTP {error.status}: {detail}", exit_code=output.ExitCode.ERROR
    )


def _api_message(error: kube_api.ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


def _context_namespace(kubeconfig: str | None, *, context: str | None, active: dict[str, Any]) -> str:
    """Return the namespace the kubeconfig context sets, as kubectl uses it, or "default"."""
    if context is not None:
        contexts, _ = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
        active = next((entry for entry in contexts if entry.get("name") == context), {})
    return (active.get("context") or {}).get("namespace") or "default"


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
