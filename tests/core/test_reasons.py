"""Reason constants: unique names, and Warnings for the situations on-call must act on."""

from __future__ import annotations

import re

import pytest

from canaryd.core import actions, reasons

ALL_REASONS = [value for value in vars(reasons).values() if isinstance(value, reasons.Reason)]


def test_reason_names_are_unique_camel_case():
    names = [reason.name for reason in ALL_REASONS]

    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", name), name


def test_every_reason_is_found_by_name():
    for reason in ALL_REASONS:
        assert reasons.by_name(reason.name) is reason
    assert reasons.by_name("NoSuchReason") is None


@pytest.mark.parametrize(
    "reason",
    [
        reasons.INVALID_SPEC,
        reasons.ANALYSIS_FAILED,
        reasons.DEADLINE_EXCEEDED,
        reasons.DEADLINE_PAUSED,
        reasons.CANARY_UNAVAILABLE,
        reasons.PROMOTION_DEADLINE_EXCEEDED,
        reasons.ROLLBACK_BLOCKED,
        reasons.ROLLED_BACK,
        reasons.ANALYSIS_NO_DATA,
    ],
    ids=lambda reason: reason.name,
)
def test_failure_reasons_are_warnings(reason):
    assert reason.event_type is actions.EventType.WARNING


@pytest.mark.parametrize(
    "reason",
    [reasons.PROMOTED, reasons.STEP_PASSED, reasons.ANALYSING, reasons.INITIALIZED],
    ids=lambda reason: reason.name,
)
def test_progress_reasons_are_normal(reason):
    assert reason.event_type is actions.EventType.NORMAL
