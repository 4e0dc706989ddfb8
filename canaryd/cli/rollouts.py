"""`canaryd status`, `history`, `promote`, `abort`, `pause` and `resume`: read and steer rollouts.

Layer 4 (CLI). The read commands build one JSON-ready view per rollout from its CanaryRollout status
(the decision core's `RolloutStatus`) and the Deployment's `canaryd.io/*` annotations, then print it as
tables or, with `--output json`, as JSON (`canaryd.cli.output`). The write commands send a manual
command through the Kubernetes API (`canaryd.cli.commands_api`), so the API server audits it and the
leading controller replica honours it at its next reconcile.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import Any

import click
import rich.console
import rich.live
import rich.table
import rich.text

from canaryd import spec, verdicts
from canaryd.cli import commands_api, output
from canaryd.core import commands as core_commands
from canaryd.core import explain
from canaryd.core import phase as phases
from canaryd.core import status as core_status

Phase = phases.Phase

# One line per phase for people reading `status`, matching the comments in canaryd.core.phase.
PHASE_MEANINGS = {
    Phase.IDLE: "no rollout: the primary serves all traffic",
    Phase.INITIALIZING: "creating the primary and moving traffic to it",
    Phase.PROGRESSING: "walking the steps: waiting for the canary, shifting weight, analysing",
    Phase.HOLDING: "the step's analysis is inconclusive or has no data; waiting for data or the deadline",
    Phase.PAUSED: "weights frozen until someone resumes or aborts",
    Phase.PROMOTING: "every step passed; the primary is taking the canary's pod template",
    Phase.SUCCEEDED: "promoted: the primary runs the canary's template and serves all traffic",
    Phase.ROLLING_BACK: "returning all traffic to the primary",
    Phase.FAILED: "rolled back after a failed or undecided analysis",
    Phase.ABORTED: "rolled back on request",
    Phase.INVALID: "the canaryd.io annotations are invalid; nothing changes until they are fixed",
}

# Exit code of `status` per phase (docs/cli.md); phases not listed exit 0.
_PHASE_EXIT_CODES = {
    Phase.FAILED: output.ExitCode.FAILED,
    Phase.ABORTED: output.ExitCode.FAILED,
    Phase.PAUSED: output.ExitCode.NEEDS_ATTENTION,
    Phase.INVALID: output.ExitCode.NEEDS_ATTENTION,
}

# The phases in which each command changes anything; the decision core ignores it in the others.
COMMAND_PHASES = {
    core_commands.CommandKind.PROMOTE: frozenset({Phase.PROGRESSING, Phase.HOLDING, Phase.PAUSED}),
    core_commands.CommandKind.ABORT: frozenset(
        {Phase.PROGRESSING, Phase.HOLDING, Phase.PAUSED, Phase.PROMOTING}
    ),
    core_commands.CommandKind.PAUSE: frozenset({Phase.PROGRESSING, Phase.HOLDING}),
    core_commands.CommandKind.RESUME: frozenset({Phase.PAUSED, Phase.FAILED, Phase.ABORTED}),
}

# The phases a handled command leads to; any other phase after handling means the core ignored it.
_COMMAND_OUTCOMES = {
    core_commands.CommandKind.PROMOTE: frozenset({Phase.PROMOTING, Phase.SUCCEEDED}),
    core_commands.CommandKind.ABORT: frozenset({Phase.ROLLING_BACK, Phase.ABORTED}),
    core_commands.CommandKind.PAUSE: frozenset({Phase.PAUSED}),
    core_commands.CommandKind.RESUME: frozenset({Phase.PROGRESSING, Phase.HOLDING, Phase.PROMOTING}),
}

# Phases from which `resume` retries the revision as a new attempt, a new CanaryRollout object.
_RETRY_PHASES = frozenset({Phase.FAILED, Phase.ABORTED})


def cluster_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add the kubectl-style connection options: -n/--namespace, --kubeconfig and --context."""
    function = click.option("--context", help="kubeconfig context to use. Default: the current context.")(
        function
    )
    function = click.option(
        "--kubeconfig",
        envvar="KUBECONFIG",
        help="kubeconfig file. Default: $KUBECONFIG, then ~/.kube/config.",
    )(function)
    return click.option(
        "-n",
        "--namespace",
        help="Namespace of the Deployment. Default: the context's namespace, else default.",
    )(function)


# Read commands.


@click.command("status")
@click.argument("name", required=False)
@cluster_options
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="Without NAME, list the rollouts of every namespace."
)
@click.option("-w", "--watch", is_flag=True, help="Keep showing the status until the rollout settles.")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0.5),
    help="Seconds between reads with --watch.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=1), help="With --watch, give up after this many seconds (exit 13)."
)
@output.output_option
def status(
    *,
    name: str | None,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    all_namespaces: bool,
    watch: bool,
    interval: float,
    timeout: float | None,
    output_format: str,
) -> None:
    """Show a rollout's phase, step, weights and verdicts.

    With NAME (a Deployment), shows its latest rollout: the phase, the step, desired and actual canary
    weight, each step's verdict with the effect and the sample sizes behind it, and what canaryd is
    waiting for. Without NAME, lists the latest rollout of every Deployment in the namespace.

    Exits 0 while the rollout is healthy or progressing, and 10 when it failed or was aborted. Exits 11
    when it is paused or its annotations are invalid. docs/cli.md lists every exit code.

    \b
    Examples:
      canaryd status web -n shop
      kubectl canary status web --watch
      canaryd status web -o json | jq .steps
    """
    cluster = commands_api.Cluster(kubeconfig=kubeconfig, context=context, namespace=namespace)
    if name is None:
        if watch:
            raise click.UsageError("--watch needs a NAME")
        _print_summary(cluster, all_namespaces=all_namespaces, output_format=output_format)
        return
    if all_namespaces:
        raise click.UsageError("--all-namespaces lists every rollout and takes no NAME; use -n NAMESPACE")

    if watch:
        final = _watch(cluster, name=name, interval=interval, timeout=timeout, output_format=output_format)
    else:
        final = status_view(cluster=cluster, deployment=name, now=_now())
        _print_status(final, output_format=output_format)
    raise SystemExit(int(_PHASE_EXIT_CODES.get(Phase(final["phase"]), output.ExitCode.OK)))


@click.command("history")
@click.argument("name")
@cluster_options
@output.output_option
def history(
    *, name: str, namespace: str | None, kubeconfig: str | None, context: str | None, output_format: str
) -> None:
    """List past rollout attempts of a Deployment.

    One row per CanaryRollout, oldest first: revision, outcome, when it started and settled, how many
    steps passed, and the message of its last transition.
    """
    cluster = commands_api.Cluster(kubeconfig=kubeconfig, context=context, namespace=namespace)
    rollouts = cluster.list_rollouts(name)
    if not rollouts:
        cluster.get_deployment(name)
    view = {
        "schema": output.HISTORY_SCHEMA,
        "namespace": cluster.namespace,
        "deployment": name,
        "attempts": [_attempt_view(rollout) for rollout in rollouts],
    }
    if output_format == output.OutputFormat.JSON:
        output.print_json(view)
    else:
        output.console().print(_history_table(view))


# Write commands.


def _command(kind: core_commands.CommandKind, summary: str, details: str) -> click.Command:
    @click.command(kind.value, help=f"{summary}\n\n{details}", short_help=summary)
    @click.argument("name")
    @cluster_options
    @click.option("--revision", help="Act only if the rollout in progress is of this revision.")
    @click.option(
        "--wait/--no-wait", default=True, show_default=True, help="Wait until canaryd handled the command."
    )
    @click.option(
        "--timeout", default=60.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait."
    )
    def command(
        *,
        name: str,
        namespace: str | None,
        kubeconfig: str | None,
        context: str | None,
        revision: str | None,
        wait: bool,
        timeout: float,
    ) -> None:
        cluster = commands_api.Cluster(kubeconfig=kubeconfig, context=context, namespace=namespace)
        send_command(cluster, deployment=name, kind=kind, revision=revision, wait=wait, timeout=timeout)

    return command


promote = _command(
    core_commands.CommandKind.PROMOTE,
    "Promote the canary now, skipping remaining steps.",
    "The primary takes the canary's pod template and then all traffic; the remaining steps and their "
    "analysis are skipped. Applies while the rollout is Progressing, Holding or Paused.",
)
abort = _command(
    core_commands.CommandKind.ABORT,
    "Abort the rollout and roll traffic back to the primary.",
    "All traffic returns to the primary on its previous revision and the canary is scaled to zero; the "
    "rollout ends as Aborted. `canaryd resume` retries the same revision.",
)
pause = _command(
    core_commands.CommandKind.PAUSE,
    "Pause the rollout at its current step.",
    "The weights stay as they are and no analysis advances or fails the step until `canaryd resume`.",
)
resume = _command(
    core_commands.CommandKind.RESUME,
    "Resume a paused rollout.",
    "A paused rollout continues at its step with a fresh deadline. A Failed or Aborted rollout is retried "
    "from the first step, if the Deployment still has the same revision.",
)


def send_command(
    cluster: commands_api.Cluster,
    *,
    deployment: str,
    kind: core_commands.CommandKind,
    revision: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Send one command to the Deployment's latest rollout, and with `wait`, report what canaryd did."""
    rollout = cluster.latest_rollout(deployment)
    current_phase = rollout.status.phase if rollout.status else Phase.IDLE
    if current_phase not in COMMAND_PHASES[kind]:
        allowed = ", ".join(sorted(COMMAND_PHASES[kind]))
        raise output.CliError(
            f"cannot {kind.value} {cluster.namespace}/{deployment}: its rollout {rollout.name} is "
            f"{current_phase}; {kind.value} applies only while it is {allowed}",
            exit_code=output.ExitCode.REJECTED,
        )

    command = commands_api.build_command(kind=kind, issued_by=cluster.current_user(), revision=revision)
    cluster.send_command(rollout, command)
    click.echo(
        f"{kind.value} sent to CanaryRollout {cluster.namespace}/{rollout.name} as {command.issued_by}"
    )
    if not wait:
        return

    handled = _wait_for_handling(
        cluster, rollout=rollout, command=command, timeout=timeout, is_retry=current_phase in _RETRY_PHASES
    )
    if handled.rollout_name != rollout.name:
        phase = handled.status.phase if handled.status else "created"
        message = handled.status.message if handled.status else "the controller has not written a status yet"
        click.echo(f"{deployment}: retry started as CanaryRollout {handled.rollout_name}: {phase}: {message}")
        return
    assert handled.status is not None
    if handled.status.phase not in _COMMAND_OUTCOMES[kind]:
        raise output.CliError(
            f"canaryd ignored the {kind.value}: the rollout is {handled.status.phase} "
            f"({handled.status.message}); see `kubectl describe canaryrollout {rollout.name} "
            f"-n {cluster.namespace}` for the event",
            exit_code=output.ExitCode.REJECTED,
        )
    click.echo(f"{deployment}: {handled.status.phase}: {handled.status.message}")


@dataclasses.dataclass(frozen=True)
class _Handling:
    """The rollout that shows the command was handled: the one commanded, or a newer retry attempt."""

    rollout_name: str
    status: core_status.RolloutStatus | None


def _wait_for_handling(
    cluster: commands_api.Cluster,
    *,
    rollout: commands_api.Rollout,
    command: core_commands.Command,
    timeout: float,
    is_retry: bool,
) -> _Handling:
    deadline = time.monotonic() + timeout
    while True:
        current = cluster.get_rollout(rollout.name).status
        if (
            current is not None
            and current.last_command_at is not None
            and current.last_command_at >= command.issued_at
        ):
            return _Handling(rollout_name=rollout.name, status=current)

        # Resuming a Failed or Aborted rollout makes the controller start a new attempt, a new
        # CanaryRollout, and the handled command is recorded there rather than on the old object.
        retry = _retry_attempt(cluster, rollout=rollout, command=command) if is_retry else None
        if retry is not None:
            return _Handling(rollout_name=retry.name, status=retry.status)

        if time.monotonic() >= deadline:
            raise output.CliError(
                f"canaryd did not handle the {command.kind.value} within {timeout:g}s; the command stays on "
                f"CanaryRollout {rollout.name} and acts at the next reconcile. Is the controller running "
                "(kubectl get lease -A | grep canaryd)?",
                exit_code=output.ExitCode.TIMED_OUT,
            )
        time.sleep(1.0)


def _retry_attempt(
    cluster: commands_api.Cluster, *, rollout: commands_api.Rollout, command: core_commands.Command
) -> commands_api.Rollout | None:
    """Return a later attempt of the same Deployment that records the command or was created since."""
    # creationTimestamp has whole seconds, so the issue time is truncated before comparing.
    issued = command.issued_at.replace(microsecond=0)
    for candidate in reversed(cluster.list_rollouts(rollout.deployment)):
        if candidate.name == rollout.name or candidate.attempt <= rollout.attempt:
            continue
        handled = candidate.status.last_command_at if candidate.status else None
        if handled is not None and handled >= command.issued_at:
            return candidate
        created = _parse_time(candidate.created_at)
        if created is not None and created >= issued:
            return candidate
    return None


# The status view.


def status_view(*, cluster: commands_api.Cluster, deployment: str, now: datetime.datetime) -> dict[str, Any]:
    """Build the status of the Deployment's latest rollout as a JSON-ready dict."""
    rollout = cluster.latest_rollout(deployment)
    rollout_spec = _read_spec(cluster.get_deployment(deployment), namespace=cluster.namespace)
    return build_status_view(rollout=rollout, rollout_spec=rollout_spec, now=now)


def build_status_view(
    *,
    rollout: commands_api.Rollout,
    rollout_spec: spec.RolloutSpec | spec.SpecError,
    now: datetime.datetime,
) -> dict[str, Any]:
    current = rollout.status or core_status.RolloutStatus()
    steps = rollout_spec.steps if isinstance(rollout_spec, spec.RolloutSpec) else None
    step_count = len(steps) if steps is not None else len(current.steps)
    return {
        "schema": output.STATUS_SCHEMA,
        "namespace": rollout.namespace,
        "deployment": rollout.deployment,
        "rollout": rollout.name,
        "attempt": _attempt_number(rollout),
        "phase": current.phase.value,
        "phase_meaning": PHASE_MEANINGS[current.phase],
        "reason": current.reason,
        "message": current.message,
        "revision": current.revision,
        "stable_revision": current.stable_revision,
        "step": {
            "number": min(current.step_index + 1, step_count) if step_count and current.steps else None,
            "count": step_count,
            "weights": list(steps) if steps is not None else [record.weight for record in current.steps],
        },
        "weight": {
            "desired": current.desired_weight,
            "actual": current.actual_weight,
            "baseline": current.desired_baseline_weight,
            "primary": _primary_weight(current),
            "approximated": is_weight_approximated(current),
        },
        "waiting_for": waiting_for(current, rollout_spec=rollout_spec, now=now),
        "cause": rollback_cause(current),
        "deadline": _iso(_step_deadline(current, rollout_spec)),
        "analysis_window_end": _iso(_analysis_window_end(current, rollout_spec)),
        "started_at": _iso(current.started_at),
        "phase_changed_at": _iso(current.phase_changed_at),
        "steps": [_step_view(record) for record in current.steps],
        "conditions": [condition.model_dump(mode="json") for condition in current.conditions],
        "spec_problems": str(rollout_spec) if isinstance(rollout_spec, spec.SpecError) else None,
    }


def waiting_for(
    current: core_status.RolloutStatus,
    *,
    rollout_spec: spec.RolloutSpec | spec.SpecError,
    now: datetime.datetime,
) -> str:
    """Say in one sentence what canaryd waits for before it changes anything."""
    phase = current.phase
    if phase is Phase.INVALID or isinstance(rollout_spec, spec.SpecError):
        return "valid canaryd.io annotations on the Deployment; see the message for each problem"
    if phase is Phase.PAUSED:
        return (
            "a person: `canaryd resume` continues the step with a fresh deadline, `canaryd abort` rolls back"
        )
    if phase in (Phase.PROGRESSING, Phase.HOLDING):
        return _waiting_in_step(current, rollout_spec=rollout_spec, now=now)
    if phase is Phase.PROMOTING:
        return (
            f"every primary replica to be Ready on revision {current.revision}, then all traffic moves to it"
        )
    if phase is Phase.ROLLING_BACK:
        return f"every primary replica to be Ready on revision {current.stable_revision} with all traffic"
    if phase is Phase.INITIALIZING:
        return "every primary replica to be Ready, then all traffic moves to the primary"
    if phase in (Phase.FAILED, Phase.ABORTED):
        return "a new pod template on the Deployment, or `canaryd resume` to retry this revision"
    return "a new pod template on the Deployment, which starts the next rollout"


# The cause is worded in the pure layer, so the standalone mode and the report give the same one.
rollback_cause = explain.rollback_cause


def _waiting_in_step(
    current: core_status.RolloutStatus, *, rollout_spec: spec.RolloutSpec, now: datetime.datetime
) -> str:
    deadline = _step_deadline(current, rollout_spec)
    policy = rollout_spec.analysis.inconclusive_policy.value
    until = f"; at the deadline {_clock(deadline, now)} the {policy} policy decides" if deadline else ""

    if current.reason == "WaitingForCanary":
        return f"every canary replica to be Ready{until}"
    if (
        current.reason == "WaitingForWeight"
        or current.analysis_started_at is None
        or current.actual_weight is None
    ):
        actual = "unknown" if current.actual_weight is None else f"{current.actual_weight}%"
        if rollout_spec.router.kind is spec.RouterKind.REPLICA_RATIO:
            return (
                f"the canary's pods to be Ready at the share of pods closest to {current.desired_weight}%, "
                f"as the replica-ratio router reaches only whole-pod shares (it reports {actual}){until}"
            )
        return f"the router to report {current.desired_weight}% on the canary (it reports {actual}){until}"

    window_end = _analysis_window_end(current, rollout_spec)
    approximated = is_weight_approximated(current)
    at = f" at {current.actual_weight}%" if approximated else ""
    record = current.step_record(current.step_index)
    latest = record.judgement if record is not None else None
    if window_end is not None and window_end > now:
        verdict = f" (latest verdict: {latest.verdict.value})" if latest else ""
        closes = _clock(window_end, now)
        waiting = f"the analysis window{at} to close at {closes}{verdict}; a failure acts at once{until}"
    elif latest is None:
        waiting = f"the first analysis of this step{at}{until}"
    else:
        undecided = [result for result in latest.metrics if result.verdict is not verdicts.Verdict.PASS]
        names = ", ".join(f"{result.metric} ({result.verdict.value})" for result in undecided) or "every SLI"
        waiting = f"enough evidence on {names} to pass{until}"
    if approximated:
        waiting += (
            f". The router's achievable weight is {current.actual_weight}% with the current replicas, "
            f"not {current.desired_weight}%, and the analysis proceeds at it"
        )
    return waiting


def is_weight_approximated(current: core_status.RolloutStatus) -> bool:
    """Return whether the router routes another weight than desired and the controller accepted it.

    The replica-ratio router reaches only whole-pod shares. When it has done what it can, the controller
    starts the analysis although the routed share recorded as the actual weight differs from the desired.
    """
    return (
        current.analysis_started_at is not None
        and current.reason != "WaitingForWeight"
        and current.actual_weight is not None
        and current.actual_weight != current.desired_weight
    )


def _primary_weight(current: core_status.RolloutStatus) -> int:
    # The primary gets what the canary and the baseline do not. The router's reading is used when it
    # differs from the desired weight, as it does with whole-pod shares.
    canary = current.desired_weight if current.actual_weight is None else current.actual_weight
    return 100 - canary - current.desired_baseline_weight


def _step_deadline(
    current: core_status.RolloutStatus, rollout_spec: spec.RolloutSpec | spec.SpecError
) -> datetime.datetime | None:
    if current.phase not in phases.ANALYSING_PHASES or current.step_started_at is None:
        return None
    if not isinstance(rollout_spec, spec.RolloutSpec):
        return None
    return current.step_started_at + rollout_spec.analysis.deadline


def _analysis_window_end(
    current: core_status.RolloutStatus, rollout_spec: spec.RolloutSpec | spec.SpecError
) -> datetime.datetime | None:
    if current.phase not in phases.ANALYSING_PHASES or current.analysis_started_at is None:
        return None
    if not isinstance(rollout_spec, spec.RolloutSpec):
        return None
    return current.analysis_started_at + rollout_spec.analysis.window


def _step_view(record: core_status.StepRecord) -> dict[str, Any]:
    judgement = record.judgement
    return {
        "number": record.index + 1,
        "weight": record.weight,
        "verdict": record.verdict.value if record.verdict else None,
        "latest_verdict": judgement.verdict.value if judgement else None,
        "started_at": _iso(record.started_at),
        "decided_at": _iso(record.decided_at),
        "window": {"start": _iso(record.window_start), "end": _iso(record.window_end)},
        "intervals_used": judgement.intervals_used if judgement else 0,
        "reason": judgement.reason if judgement else "",
        "metrics": [output.metric_view(result) for result in judgement.metrics] if judgement else [],
    }


def _attempt_view(rollout: commands_api.Rollout) -> dict[str, Any]:
    current = rollout.status or core_status.RolloutStatus()
    passed = sum(1 for record in current.steps if record.verdict is verdicts.Verdict.PASS)
    last = current.steps[-1] if current.steps else None
    return {
        "rollout": rollout.name,
        "attempt": _attempt_number(rollout),
        "revision": current.revision,
        "stable_revision": current.stable_revision,
        "phase": current.phase.value,
        "started_at": _iso(current.started_at),
        "settled_at": _iso(current.phase_changed_at) if current.phase in phases.SETTLED_PHASES else None,
        "steps_passed": passed,
        "steps_started": len(current.steps),
        "last_verdict": last.verdict.value if last and last.verdict else None,
        "reason": current.reason,
        "message": current.message,
    }


def _attempt_number(rollout: commands_api.Rollout) -> int:
    # The label numbers the object (web-3 is attempt 3); objects without it fall back to the status' count.
    if rollout.attempt >= 0:
        return rollout.attempt
    return rollout.status.attempt if rollout.status is not None else 0


def _read_spec(deployment: dict[str, Any], *, namespace: str) -> spec.RolloutSpec | spec.SpecError:
    name = deployment.get("metadata", {}).get("name", "")
    annotations = deployment.get("metadata", {}).get("annotations") or {}
    try:
        return spec.parse_annotations(annotations, source=f"Deployment {namespace}/{name}")
    except spec.SpecError as error:
        return error


# Printing.


def _print_status(view: dict[str, Any], *, output_format: str, compact: bool = False) -> None:
    if output_format == output.OutputFormat.JSON:
        if compact:
            click.echo(output.json_line(view))
        else:
            output.print_json(view)
        return
    console = output.console()
    for renderable in status_renderables(view, now=_now()):
        console.print(renderable)


def status_renderables(view: dict[str, Any], *, now: datetime.datetime) -> list[Any]:
    """Build the header grid and the steps table that `status` prints for people."""
    header = rich.table.Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column(overflow="fold")
    header.add_row(
        "Rollout",
        output.plain(
            f"{view['namespace']}/{view['deployment']}  "
            f"(CanaryRollout {view['rollout']}, attempt {view['attempt']})"
        ),
    )
    phase_text = output.styled(view["phase"], output.PHASE_STYLES)
    phase_text.append(f"  {view['phase_meaning']}", style="dim")
    header.add_row("Phase", phase_text)
    if view["message"]:
        reason = f"  [{view['reason']}]" if view["reason"] else ""
        message = view["message"]
        if view["spec_problems"] and Phase(view["phase"]) is Phase.INVALID:
            # The controller's message lists the same problems that the Annotations row shows below.
            message = message.splitlines()[0]
        header.add_row("Message", output.plain(f"{message}{reason}"))
    header.add_row(
        "Revision",
        output.plain(f"canary {view['revision'] or '-'}, stable {view['stable_revision'] or '-'}"),
    )

    step = view["step"]
    if step["number"] is not None:
        plan = ", ".join(f"{weight}%" for weight in step["weights"]) + ", then 100%"
        header.add_row("Step", f"{step['number']} of {step['count']}  (steps {plan})")
    weight = view["weight"]
    actual = "unknown" if weight["actual"] is None else f"{weight['actual']}%"
    approximated = " (the closest share the router reaches)" if weight["approximated"] else ""
    weights = (
        f"canary {weight['desired']}% desired, {actual} actual{approximated}; primary {weight['primary']}%"
    )
    if weight["baseline"]:
        weights += f"; baseline {weight['baseline']}%"
    header.add_row("Weight", weights)
    if view["cause"]:
        header.add_row("Cause", rich.text.Text(view["cause"], style="red"))
    header.add_row("Waiting for", output.plain(view["waiting_for"]))
    if view["deadline"]:
        header.add_row("Deadline", output.format_time(view["deadline"], now=now))
    if view["started_at"]:
        header.add_row("Started", output.format_time(view["started_at"], now=now))
    if view["spec_problems"]:
        header.add_row("Annotations", rich.text.Text(view["spec_problems"], style="red"))

    renderables: list[Any] = [header]
    if view["steps"]:
        renderables += ["", _steps_table(view["steps"])]
    return renderables


def _steps_table(steps: list[dict[str, Any]]) -> rich.table.Table:
    table = rich.table.Table(title="Steps", title_justify="left", show_edge=False, pad_edge=False)
    for header, justify in [
        ("step", "right"),
        ("weight", "right"),
        ("verdict", "left"),
        ("SLI", "left"),
        ("SLI verdict", "left"),
        ("canary", "right"),
        ("control", "right"),
        ("effect", "right"),
        ("tolerance", "right"),
        ("n canary", "right"),
        ("n control", "right"),
        ("why", "left"),
    ]:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]

    for step in steps:
        verdict = step["verdict"] or (
            f"undecided ({step['latest_verdict']})" if step["latest_verdict"] else "undecided"
        )
        verdict_text = output.styled(step["verdict"] or step["latest_verdict"], output.VERDICT_STYLES)
        verdict_text.plain = verdict
        lead = [str(step["number"]), f"{step['weight']}%", verdict_text]
        if not step["metrics"]:
            why = output.plain(step["reason"] or "no analysis yet")
            table.add_row(*lead, "-", "", "", "", "", "", "", "", why)
            continue
        for position, metric in enumerate(step["metrics"]):
            cells = output.metric_cells(metric)
            table.add_row(*(lead if position == 0 else ["", "", ""]), *cells)
        table.add_section()
    return table


def _history_table(view: dict[str, Any]) -> rich.table.Table:
    table = rich.table.Table(
        title=output.plain(f"Rollouts of {view['namespace']}/{view['deployment']}"),
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for header in (
        "attempt",
        "rollout",
        "revision",
        "phase",
        "started",
        "settled",
        "steps passed",
        "message",
    ):
        table.add_column(header, overflow="fold")
    for attempt in view["attempts"]:
        table.add_row(
            str(attempt["attempt"]),
            output.plain(attempt["rollout"]),
            output.plain(attempt["revision"] or "-"),
            output.styled(attempt["phase"], output.PHASE_STYLES),
            output.format_time(attempt["started_at"]),
            output.format_time(attempt["settled_at"]),
            f"{attempt['steps_passed']}/{attempt['steps_started']}",
            output.plain(attempt["message"]),
        )
    if not view["attempts"]:
        table.caption = "no rollout yet: canaryd starts one when the Deployment's pod template changes"
    return table


def _print_summary(cluster: commands_api.Cluster, *, all_namespaces: bool, output_format: str) -> None:
    """List the latest rollout of every Deployment in the namespace, or in every namespace."""
    latest: dict[tuple[str, str], commands_api.Rollout] = {}
    for rollout in cluster.list_all_rollouts(all_namespaces=all_namespaces):
        latest[(rollout.namespace, rollout.deployment)] = rollout
    rows = [
        {"namespace": namespace, "deployment": deployment} | _attempt_view(rollout)
        for (namespace, deployment), rollout in sorted(latest.items())
    ]
    scope = None if all_namespaces else cluster.namespace
    if output_format == output.OutputFormat.JSON:
        output.print_json({"schema": output.HISTORY_SCHEMA, "namespace": scope, "rollouts": rows})
        return

    where = "every namespace" if all_namespaces else f"namespace {cluster.namespace}"
    table = rich.table.Table(
        title=output.plain(f"Rollouts in {where}"), title_justify="left", show_edge=False
    )
    for header in ("namespace", "deployment", "phase", "revision", "steps passed", "started", "message"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(
            output.plain(row["namespace"]),
            output.plain(row["deployment"]),
            output.styled(row["phase"], output.PHASE_STYLES),
            output.plain(row["revision"] or "-"),
            f"{row['steps_passed']}/{row['steps_started']}",
            output.format_time(row["started_at"]),
            output.plain(row["message"]),
        )
    if not rows:
        table.caption = f'no CanaryRollout in {where}; annotate a Deployment with canaryd.io/enabled: "true"'
    output.console().print(table)


def _watch(
    cluster: commands_api.Cluster, *, name: str, interval: float, timeout: float | None, output_format: str
) -> dict[str, Any]:
    """Show the status until the rollout settles; return the last view. JSON prints one line per change."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if output_format == output.OutputFormat.JSON:
        return _watch_json(cluster, name=name, interval=interval, deadline=deadline)

    console = output.console()
    view = status_view(cluster=cluster, deployment=name, now=_now())
    with rich.live.Live(
        rich.console.Group(*status_renderables(view, now=_now())), console=console, auto_refresh=False
    ) as live:
        while not _is_settled(view):
            _sleep_or_time_out(interval, deadline=deadline, name=name)
            view = status_view(cluster=cluster, deployment=name, now=_now())
            live.update(rich.console.Group(*status_renderables(view, now=_now())), refresh=True)
    return view


def _watch_json(
    cluster: commands_api.Cluster, *, name: str, interval: float, deadline: float | None
) -> dict[str, Any]:
    previous = None
    while True:
        view = status_view(cluster=cluster, deployment=name, now=_now())
        comparable = {key: value for key, value in view.items() if key != "waiting_for"}
        if comparable != previous:
            _print_status(view, output_format=output.OutputFormat.JSON, compact=True)
            previous = comparable
        if _is_settled(view):
            return view
        _sleep_or_time_out(interval, deadline=deadline, name=name)


def _is_settled(view: dict[str, Any]) -> bool:
    return Phase(view["phase"]) in phases.SETTLED_PHASES


def _sleep_or_time_out(interval: float, *, deadline: float | None, name: str) -> None:
    if deadline is not None and time.monotonic() + interval > deadline:
        raise output.CliError(
            f"the rollout of {name} did not settle before --timeout", exit_code=output.ExitCode.TIMED_OUT
        )
    time.sleep(interval)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _clock(moment: datetime.datetime | None, now: datetime.datetime) -> str:
    if moment is None:
        return "-"
    return output.format_time(moment.isoformat(), now=now)
