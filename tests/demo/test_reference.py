"""The committed standalone rollout file reference matches what the models render."""

from __future__ import annotations

import pathlib

import yaml

from canaryd.demo import reference
from canaryd.standalone import config as standalone_config

REFERENCE = pathlib.Path(__file__).parents[2] / "docs" / "standalone.md"


def test_committed_reference_is_current():
    rendered = reference.render_standalone_reference()

    assert REFERENCE.read_text() == rendered, (
        "docs/standalone.md is out of date; run: python -m canaryd.demo.reference > docs/standalone.md"
    )


def test_reference_example_is_valid(tmp_path):
    rendered = reference.render_standalone_reference()
    example = rendered.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "rollout.yaml"
    path.write_text(example)

    config = standalone_config.load_config(path)

    assert config.rollout == yaml.safe_load(example)["rollout"]


def test_reference_lists_every_field():
    rendered = reference.render_standalone_reference()

    for name in standalone_config.StandaloneConfig.model_fields:
        assert f"| `{name}` |" in rendered
    for name in standalone_config.HAProxySettings.model_fields:
        assert f"| `router.{name}` |" in rendered
    for name in standalone_config.MetricsTargets.model_fields:
        assert f"| `metrics.{name}` |" in rendered
