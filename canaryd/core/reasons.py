"""Reasons for rollout transitions: one short constant per situation, paired with its message template.

Layer 1 (pure logic). The reason goes into the status, the conditions and the Kubernetes Event. The
message describes what happened to on-call and, for Warnings, what to do. Templates take only values
that do not change while the situation lasts (revision, step, weight, deadline), so that an Event is
posted only when the situation really changes.
"""

from __future__ import annotations

import dataclasses

from canaryd.core import actions


@dataclasses.dataclass(frozen=True)
class Reason:
    name: str
    template: str
    event_type: actions.EventType = actions.EventType.NORMAL

    def render(self, **params: object) -> str:
        return self.template.format(**params)


_WARNING = actions.EventType.WARNING

# Spec
# The keys come first because Events are cut at 1024 characters and each problem's details are long.
INVALID_SPEC = Reason("InvalidSpec", "invalid rollout settings {keys}\n{problems}", _WARNING)
SPEC_FIXED = Reason("SpecFixed", "the canaryd.io annotations are valid again; continuing")

# Bootstrap
BOOTSTRAPPING = Reason("Bootstrapping", "creating the primary from revision {revision}")
WAITING_FOR_PRIMARY = Reason(
    "WaitingForPrimary", "waiting for every primary replica to be Ready on revision {revision}"
)
SHIFTING_TO_PRIMARY = Reason(
    "ShiftingToPrimary", "the primary is Ready on revision {revision}; routing all traffic to it"
)
INITIALIZED = Reason(
    "Initialized", "the primary serves all traffic on revision {revision}; the canary is scaled to zero"
)

# Steps
TEMPLATE_MATCHES_PRIMARY = Reason(
    "TemplateMatchesPrimary",
    "the Deployment's pod template is the primary's revision {revision} again; nothing to roll out",
)
ROLLOUT_STARTED = Reason(
    "RolloutStarted", "rollout {attempt} of revision {revision} started; steps {steps}% then 100%"
)
RETRY_REQUESTED = Reason(
    "RetryRequested", "retry of revision {revision} requested by {by}; steps {steps}% then 100%"
)
REVISION_CHANGED = Reason(
    "RevisionChanged",
    "revision {revision} replaced {previous} during the rollout; restarting at step 1 ({weight}%)",
)
WAITING_FOR_CANARY = Reason(
    "WaitingForCanary", "step {step}/{steps}: waiting for every canary replica to be Ready"
)
WAITING_FOR_WEIGHT = Reason(
    "WaitingForWeight", "step {step}/{steps}: waiting for the router to report {weight}% on the canary"
)
ANALYSING = Reason(
    "Analysing", "step {step}/{steps}: analysing the canary at {weight}% for at least {window}"
)
ANALYSIS_INCONCLUSIVE = Reason(
    "AnalysisInconclusive",
    "step {step}/{steps} held at {weight}%: the analysis is inconclusive; deadline {deadline}",
)
ANALYSIS_NO_DATA = Reason(
    "AnalysisNoData",
    "step {step}/{steps} held at {weight}%: the analysis has no data yet; deadline {deadline}",
    _WARNING,
)
STEP_PASSED = Reason("StepPassed", "step {step}/{steps} passed at {weight}%; moving to {next_weight}%")
STEP_ADVANCED_WITHOUT_FAILURE = Reason(
    "StepAdvancedWithoutFailure",
    "step {step}/{steps} at {weight}% showed no failure over {analysed} with {canary_requests} canary "
    "requests, without a pass; moving to {next_weight}% (step advance: no-failure)",
)

# Rollback
ANALYSIS_FAILED = Reason(
    "AnalysisFailed",
    "step {step}/{steps} failed at {weight}%: {detail}; rolling back to revision {stable}",
    _WARNING,
)
DEADLINE_EXCEEDED = Reason(
    "DeadlineExceeded",
    "step {step}/{steps} did not pass within {deadline} (last verdict: {verdict}); "
    "rolling back to revision {stable} (inconclusive policy: rollback)",
    _WARNING,
)
DEADLINE_PAUSED = Reason(
    "DeadlinePaused",
    "step {step}/{steps} did not pass within {deadline} (last verdict: {verdict}); "
    "paused (inconclusive policy: pause). Resume to try the step again, or abort",
    _WARNING,
)
CANARY_UNAVAILABLE = Reason(
    "CanaryUnavailable",
    "the canary has no Ready pods while receiving {weight}% of traffic; rolling back",
    _WARNING,
)
PROMOTION_DEADLINE_EXCEEDED = Reason(
    "PromotionDeadlineExceeded",
    "the primary did not become Ready on revision {revision} within {deadline}; "
    "rolling back to revision {stable}",
    _WARNING,
)
ROLLBACK_BLOCKED = Reason(
    "RollbackBlocked",
    "rolling back, but the primary has no Ready pods of revision {stable} yet; "
    "traffic stays where it is until it has",
    _WARNING,
)
ROLLING_BACK = Reason(
    "RollingBack", "waiting for the primary to be Ready on revision {stable} with all traffic"
)
ROLLED_BACK = Reason(
    "RolledBack",
    "revision {revision} rolled back: the primary serves all traffic on revision {stable}",
    _WARNING,
)
ABORTED = Reason(
    "Aborted", "rollout of revision {revision} aborted: the primary serves all traffic on revision {stable}"
)

# Promotion
PROMOTING = Reason("Promoting", "all {steps} steps passed; the primary is taking revision {revision}")
PROMOTING_AFTER_NO_FAILURE = Reason(
    "PromotingAfterNoFailure",
    "the last of {steps} steps passed and {advanced} showed no failure without a pass; "
    "the primary is taking revision {revision}",
)
PROMOTED = Reason("Promoted", "revision {revision} promoted: the primary runs it and serves all traffic")

# Manual commands
ABORT_REQUESTED = Reason(
    "AbortRequested", "abort requested by {by}; rolling back to revision {stable}", _WARNING
)
PROMOTE_REQUESTED = Reason(
    "PromoteRequested",
    "promotion requested by {by} at step {step}; the primary is taking revision {revision}",
)
PAUSE_REQUESTED = Reason("PauseRequested", "paused by {by} at step {step}/{steps} ({weight}%)")
RESUMED = Reason("Resumed", "resumed by {by} at step {step}/{steps} ({weight}%) with a fresh deadline")
COMMAND_IGNORED = Reason("CommandIgnored", "{command} from {by} ignored: {explanation}")


def by_name(name: str) -> Reason | None:
    """Return the Reason constant with this name, or None for a name this version does not define."""
    return _BY_NAME.get(name)


_BY_NAME = {value.name: value for value in list(globals().values()) if isinstance(value, Reason)}
