"""The committed annotation reference matches what the models render."""

from __future__ import annotations

import pathlib

from canaryd import spec
from canaryd.spec import reference

REFERENCE = pathlib.Path(__file__).parents[2] / "docs" / "annotations.md"


def test_committed_reference_is_current():
    rendered = reference.render_annotation_reference()

    assert REFERENCE.read_text() == rendered, (
        "docs/annotations.md is out of date; run: python -m canaryd.spec.reference > docs/annotations.md"
    )


def test_reference_lists_every_annotation_with_default():
    rendered = reference.render_annotation_reference()

    for annotation in spec.ANNOTATIONS:
        row = next(line for line in rendered.splitlines() if line.startswith(f"| `{annotation.key}` |"))
        if annotation.default:
            assert f"`{annotation.default}`" in row


def test_reference_examples_are_valid():
    for annotation in spec.ANNOTATIONS:
        annotation.parse(annotation.example)
