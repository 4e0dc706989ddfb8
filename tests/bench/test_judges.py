"""canaryd's replay in the bench walks the steps the way the decision core does, in both modes."""

from __future__ import annotations

import numpy as np
import pytest

from canaryd.bench import decisions, judges, simulator
from canaryd.spec import settings as spec_settings
from tests.bench import test_baselines

INTERVALS = simulator.interval_count()
DEADLINE = int(judges.STEP_DEADLINE_SECONDS / simulator.SCRAPE_SECONDS)
WINDOW = int(judges.ANALYSIS_WINDOW_SECONDS / simulator.SCRAPE_SECONDS)
MODES = [
    pytest.param(spec_settings.StepAdvance.EVIDENCE, id="evidence"),
    pytest.param(spec_settings.StepAdvance.NO_FAILURE, id="no-failure"),
]


def steady_counts(*, canary_requests: float, canary_error_ratio: float = 0.0) -> simulator.WeightCounts:
    """The same counts at every interval: a control ten times larger, error-free and never slow."""
    canary = np.full((1, INTERVALS), canary_requests)
    return simulator.WeightCounts(
        canary_requests=canary,
        canary_errors=np.round(canary * canary_error_ratio),
        canary_slow=np.zeros_like(canary),
        control_requests=canary * 10,
        control_errors=np.zeros_like(canary),
        control_slow=np.zeros_like(canary),
    )


def replay(step_advance, counts: simulator.WeightCounts) -> decisions.Decisions:
    return judges.decide_canaryd(
        test_baselines.make_traces(),
        settings=judges.canaryd_settings(),
        step_advance=step_advance,
        step_counts=[counts] * len(simulator.STEP_WEIGHTS),
    )


@pytest.mark.parametrize("step_advance", MODES)
def test_no_canary_requests_end_at_first_deadline(step_advance):
    decided = replay(step_advance, steady_counts(canary_requests=0.0))

    assert decided.outcome[0] == decisions.Outcome.INCONCLUSIVE
    assert decided.decided_at[0] == DEADLINE - 1


@pytest.mark.parametrize("step_advance", MODES)
def test_much_worse_canary_fails_at_first_step(step_advance):
    decided = replay(step_advance, steady_counts(canary_requests=100.0, canary_error_ratio=0.2))

    assert decided.outcome[0] == decisions.Outcome.FAILED
    assert decided.decided_at[0] < DEADLINE - 1


@pytest.mark.parametrize("step_advance", MODES)
def test_clean_canary_promotes_after_every_window(step_advance):
    decided = replay(step_advance, steady_counts(canary_requests=100.0))

    assert decided.outcome[0] == decisions.Outcome.PROMOTED
    assert decided.decided_at[0] >= len(simulator.STEP_WEIGHTS) * WINDOW - 1
    assert decided.canary_requests is not None
    assert decided.canary_requests[0, 0] == 100.0


def test_evidence_carries_over_to_later_steps():
    # 50 clean requests per interval need about 20 intervals after the warm-up for a first pass. The
    # later steps then pass as soon as their own window is in, because the evidence carries over.
    decided = replay(spec_settings.StepAdvance.EVIDENCE, steady_counts(canary_requests=50.0))
    first_pass = int(judges.canaryd_settings().warmup_seconds / simulator.SCRAPE_SECONDS) + 20
    later_steps = len(simulator.STEP_WEIGHTS) - 1

    assert decided.outcome[0] == decisions.Outcome.PROMOTED
    assert decided.decided_at[0] <= first_pass + later_steps * WINDOW


def test_no_failure_advances_before_pass():
    counts = steady_counts(canary_requests=100.0)

    evidence = replay(spec_settings.StepAdvance.EVIDENCE, counts)
    no_failure = replay(spec_settings.StepAdvance.NO_FAILURE, counts)

    assert no_failure.decided_at[0] < evidence.decided_at[0]


def test_steps_set_served_weight():
    traces = test_baselines.make_traces()
    step_counts = [steady_counts(canary_requests=100.0 * (step + 1)) for step in range(5)]

    decided = judges.decide_canaryd(
        traces,
        settings=judges.canaryd_settings(),
        step_advance=spec_settings.StepAdvance.EVIDENCE,
        step_counts=step_counts,
    )

    served = decided.canary_requests[0, : decided.decided_at[0] + 1]
    assert served[0] == 100.0
    assert served[-1] == 500.0
    assert np.all(np.diff(served) >= 0)


def test_good_canary_at_one_percent_of_100_rps():
    # 1 request/s on the canary at the first step: rarely a pass within the deadline, but no failure.
    children = np.random.SeedSequence(7).spawn(40)
    traces = simulator.simulate(
        rate=100.0,
        change=simulator.Change(),
        control=simulator.ControlKind.PRIMARY,
        streams=[np.random.Generator(np.random.PCG64(child)) for child in children],
    )
    step_counts = judges.draw_step_counts(traces, rng=np.random.default_rng(7), quantile=0.99)

    def promoted(step_advance) -> float:
        decided = judges.decide_canaryd(
            traces, settings=judges.canaryd_settings(), step_advance=step_advance, step_counts=step_counts
        )
        assert not np.any(decided.outcome == decisions.Outcome.FAILED)
        return float(np.mean(decided.outcome == decisions.Outcome.PROMOTED))

    assert promoted(spec_settings.StepAdvance.EVIDENCE) < 0.2
    assert promoted(spec_settings.StepAdvance.NO_FAILURE) > 0.5
