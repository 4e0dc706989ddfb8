"""Step decisions: start a rollout, walk the steps, hold an undecided step, apply the deadline policy.

Layer 1 (pure logic). Each step goes through the same stages, and each stage can end the pass early:
the canary (and baseline) becomes Ready, the router reports the step's weight, the analysis window opens,
and a fresh judgement of this revision decides. Every judgement covers the attempt's data since the
first step's weight held (`judged_since`), so evidence carries over from step to step. A pass verdict
counts only when the step's whole analysis window at its own weight is in it. A step with no such pass
by its deadline is decided by the inconclusive policy, and is never passed.

With step-advance no-failure, a step before the last also advances on an inconclusive judgement of the
whole window in which every metric reached the judge's minimum sample and no critical metric failed. Its
record keeps the inconclusive verdict and is marked `advanced_without_pass`. The last step needs a pass.
"""

from __future__ import annotations

from canaryd import verdicts
from canaryd.core import actions, context, observed, promotion, reasons, rollback, status
from canaryd.core import phase as phases
from canaryd.spec import settings, values


def start_rollout(current: context.PassContext, reason: reasons.Reason, **params: object) -> None:
    """Start an attempt for the canary's current revision at step 1, scaling the canary (and baseline) up."""
    primary = current.observations.primary
    replicas = current.canary_replicas()
    current.update(
        revision=current.observations.canary.revision,
        stable_revision=primary.revision if primary is not None else current.status.stable_revision,
        attempt=current.status.attempt + 1,
        steps=(),
        judged_since=None,
        started_at=current.now,
        is_aborted=False,
        resume_phase=None,
    )
    current.start_step(0)

    current.act(actions.ScaleCanary(replicas=replicas))
    if current.has_baseline:
        current.act(actions.ScaleBaseline(replicas=replicas))
    steps = ",".join(str(weight) for weight in current.spec.steps)
    current.move(phases.Phase.PROGRESSING, reason, **{**current.step_params(), "steps": steps, **params})


def restart_for_new_revision(current: context.PassContext) -> None:
    """Restart the rollout at step 1 for the revision that replaced the one under analysis.

    The canary's weight drops to the first step's at once, or to 0 if the canary has no Ready pods of
    the new template yet. The analysis window opens again only after that weight is confirmed, so no
    judgement of the old revision or of the old weight is reused.
    """
    previous = current.status.revision
    current.update(
        revision=current.observations.canary.revision,
        attempt=current.status.attempt + 1,
        steps=(),
        judged_since=None,
        started_at=current.now,
        resume_phase=None,
    )
    current.start_step(0)

    first = current.spec.steps[0]
    target = first if current.observations.canary.has_ready_pods else 0
    context.route(current, canary=min(target, current.status.desired_weight))
    current.move(phases.Phase.PROGRESSING, reasons.REVISION_CHANGED, previous=previous, **_params(current))


def progress(current: context.PassContext) -> None:
    """Advance the current step by one stage, or decide it."""
    _realign_with_schedule(current)
    index = current.status.step_index
    if index >= current.step_count:
        _start_promotion(current)
        return
    if _is_past_deadline(current):
        _apply_inconclusive_policy(current)
        return

    if not _are_rollout_workloads_ready(current):
        current.move(phases.Phase.PROGRESSING, reasons.WAITING_FOR_CANARY, **_params(current))
        return
    context.route(current, canary=current.spec.steps[index])
    if not context.is_weight_confirmed(current) or current.status.desired_weight != current.spec.steps[index]:
        current.move(phases.Phase.PROGRESSING, reasons.WAITING_FOR_WEIGHT, **_params(current))
        return
    if current.status.analysis_started_at is None:
        judged_since = current.status.judged_since or current.now
        current.update(analysis_started_at=current.now, judged_since=judged_since)
        current.move(phases.Phase.PROGRESSING, reasons.ANALYSING, **_params(current))
        return
    if current.status.judged_since is None:
        # A status written by a canaryd without cumulative analysis: judge from the current step's weight.
        current.update(judged_since=current.status.analysis_started_at)
        return

    _judge_step(current)


def _judge_step(current: context.PassContext) -> None:
    # A failing judgement never reaches this point: the transition rolls back on it before any phase logic.
    analysis = context.fresh_analysis(current)
    index = current.status.step_index
    if analysis is None or analysis.step_index != index:
        return
    current.record_step(
        index,
        judgement=analysis.judgement,
        window_start=analysis.window_start,
        window_end=analysis.window_end,
    )

    verdict = analysis.verdict
    covers_window = context.time_at_weight(current, analysis) >= current.spec.analysis.window
    if verdict is verdicts.Verdict.PASS and covers_window:
        _advance(current)
    elif covers_window and _may_advance_without_pass(current, analysis.judgement):
        _advance_without_pass(current, analysis)
    elif verdict is verdicts.Verdict.PASS:
        current.move(phases.Phase.PROGRESSING, reasons.ANALYSING, **_params(current))
    elif verdict is verdicts.Verdict.INCONCLUSIVE:
        current.move(phases.Phase.HOLDING, reasons.ANALYSIS_INCONCLUSIVE, **_params(current))
    elif verdict is verdicts.Verdict.NO_DATA:
        current.move(phases.Phase.HOLDING, reasons.ANALYSIS_NO_DATA, **_params(current))


def _advance(current: context.PassContext) -> None:
    index = current.status.step_index
    current.record_step(index, verdict=verdicts.Verdict.PASS, decided_at=current.now)
    passed = _params(current)

    if index + 1 >= current.step_count:
        _start_promotion(current)
        return
    current.start_step(index + 1)
    context.route(current, canary=current.spec.steps[index + 1])
    current.move(
        phases.Phase.PROGRESSING,
        reasons.STEP_PASSED,
        **{**passed, "next_weight": current.spec.steps[index + 1]},
    )


def _may_advance_without_pass(current: context.PassContext, judgement: verdicts.Judgement) -> bool:
    if current.spec.analysis.step_advance is not settings.StepAdvance.NO_FAILURE:
        return False
    # The last step is what promotion follows, so it needs a pass in every mode.
    if current.status.step_index + 1 >= current.step_count:
        return False
    return shows_no_failure(judgement)


def shows_no_failure(judgement: verdicts.Judgement) -> bool:
    """True when the judgement is inconclusive on enough data and no critical metric failed.

    Enough data means that every metric reached the judge's minimum sample, so no data on any metric
    is never enough.
    """
    metrics = judgement.metrics
    if judgement.verdict is not verdicts.Verdict.INCONCLUSIVE or not metrics:
        return False
    if any(result.verdict is verdicts.Verdict.FAIL and result.critical for result in metrics):
        return False
    return all(
        result.has_minimum_sample and result.verdict is not verdicts.Verdict.NO_DATA for result in metrics
    )


def _advance_without_pass(current: context.PassContext, analysis: observed.AnalysisResult) -> None:
    index = current.status.step_index
    current.record_step(
        index, verdict=verdicts.Verdict.INCONCLUSIVE, decided_at=current.now, advanced_without_pass=True
    )
    canary_requests = min(result.canary_samples for result in analysis.judgement.metrics)
    params = {
        **_params(current),
        "analysed": values.format_duration(analysis.window),
        "canary_requests": f"{canary_requests:,}",
        "next_weight": current.spec.steps[index + 1],
    }

    current.start_step(index + 1)
    context.route(current, canary=current.spec.steps[index + 1])
    current.move(phases.Phase.PROGRESSING, reasons.STEP_ADVANCED_WITHOUT_FAILURE, **params)


def _start_promotion(current: context.PassContext) -> None:
    # Promoting says that every step passed, so a step advanced without a pass needs another reason.
    advanced = [
        record.index + 1
        for record in current.status.steps
        if record.advanced_without_pass and record.index < current.step_count
    ]
    if not advanced:
        promotion.start(current, reasons.PROMOTING)
        return
    numbers = [str(number) for number in sorted(advanced)]
    label = (
        f"step {numbers[0]}" if len(numbers) == 1 else f"steps {', '.join(numbers[:-1])} and {numbers[-1]}"
    )
    promotion.start(current, reasons.PROMOTING_AFTER_NO_FAILURE, advanced=label)


def _apply_inconclusive_policy(current: context.PassContext) -> None:
    index = current.status.step_index
    record = current.status.step_record(index)
    last = (
        record.judgement.verdict
        if record is not None and record.judgement is not None
        else verdicts.Verdict.NO_DATA
    )
    current.record_step(index, verdict=last, decided_at=current.now)
    deadline = values.format_duration(current.spec.analysis.deadline)

    if current.spec.analysis.inconclusive_policy is settings.InconclusivePolicy.PAUSE:
        current.update(resume_phase=phases.Phase.PROGRESSING)
        params = {**_params(current), "deadline": deadline, "verdict": last}
        current.move(phases.Phase.PAUSED, reasons.DEADLINE_PAUSED, **params)
    else:
        rollback.start(current, reasons.DEADLINE_EXCEEDED, deadline=deadline, verdict=last)


def _is_past_deadline(current: context.PassContext) -> bool:
    started = current.status.step_started_at
    return started is not None and current.now - started >= current.spec.analysis.deadline


def has_lost_canary(current: context.PassContext) -> bool:
    """True when the canary receives traffic but has no Ready pods of its template left."""
    return current.status.desired_weight > 0 and current.observations.canary.has_lost_pods


def _realign_with_schedule(current: context.PassContext) -> None:
    # The steps or the step-advance mode may have been edited during the rollout. The rollout goes back
    # to the first step of the current schedule not finished at its weight, so promotion always follows
    # a pass at the last step, and at every step with step-advance evidence.
    index = current.status.step_index
    first_unfinished = _first_unfinished_step(current)
    current_record = current.status.step_record(index)
    is_current_step_valid = (
        index < current.step_count
        and current_record is not None
        and current_record.weight == current.spec.steps[index]
    )
    if first_unfinished is None or (first_unfinished == index and is_current_step_valid):
        return
    current.start_step(first_unfinished)


def _first_unfinished_step(current: context.PassContext) -> int | None:
    for index, weight in enumerate(current.spec.steps):
        record = current.status.step_record(index)
        if record is None or record.weight != weight or not _is_finished(current, record):
            return index
    return None


def _is_finished(current: context.PassContext, record: status.StepRecord) -> bool:
    if record.verdict is verdicts.Verdict.PASS:
        return True
    # A step left without a pass stays finished only while the spec still allows that: under
    # no-failure, and not as the last step. A step the deadline decided was never finished.
    is_last = record.index >= current.step_count - 1
    allows = current.spec.analysis.step_advance is settings.StepAdvance.NO_FAILURE and not is_last
    return record.advanced_without_pass and allows


def _are_rollout_workloads_ready(current: context.PassContext) -> bool:
    observations = current.observations
    if observations.canary.revision != current.status.revision or not observations.canary.is_ready:
        return False
    if current.has_baseline and (observations.baseline is None or not observations.baseline.is_ready):
        return False
    return observations.primary is not None and observations.primary.has_ready_pods


def _params(current: context.PassContext) -> dict[str, object]:
    return {
        **current.step_params(),
        "window": values.format_duration(current.spec.analysis.window),
        "deadline": current.deadline_text(current.status.step_started_at),
    }
