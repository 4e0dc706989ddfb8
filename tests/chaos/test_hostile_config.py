"""Hostile standalone rollout files: generated mutations of a valid file through `load_config`.

`load_config` must return a config or raise ConfigError, never anything else, and its message must
name the setting that was broken: the field itself, or the section whose cross-field check it fails.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import pathlib
import random

import pytest
import yaml

from canaryd.standalone import config
from tests.chaos import hostile, scale

pytestmark = pytest.mark.chaos

VALID = {
    "rollout": "checkout",
    "router": {
        "socket": "/run/haproxy/admin.sock",
        "backend": "app",
        "primary_server": "v1",
        "canary_server": "v2",
    },
    "prometheus": {"url": "http://127.0.0.1:9090", "scrape_interval_seconds": 5},
    "metrics": {
        "preset": "http",
        "preset_settings": {"arm_selection": "label"},
        "namespace": "shop",
        "control": "checkout-v1",
        "canary": "checkout-v2",
        "interval": "20s",
    },
    "steps": [5, 25],
    "analysis": {"window": "1m", "deadline": "3m"},
}

# Bad values per field. Each is rejected by the field's own check, so the error names the field.
FIELD_BAD_VALUES: dict[str, tuple[object, ...]] = {
    "rollout": ("Checkout", "", 5, None, "a" * 300, ["checkout"]),
    "router.socket": (5, None, [], {"path": "/x"}),
    "router.backend": ("bad name", "", 7, "a/b", None),
    "router.primary_server": ("v 1", "", 1.5, "v1\n"),
    "router.timeout_seconds": (0, -1, "fast", None, float("nan")),
    "prometheus.url": ("not a url", "ftp://127.0.0.1/", "", 5, "http://", "file:///etc/passwd"),
    "prometheus.scrape_interval_seconds": (0, -5, "x", None),
    "prometheus.retries": (-1, 1.5, "many"),
    "metrics.namespace": (5, None, []),
    "metrics.interval": ("0s", "1d", -1, "25h", True),
    "steps": ([], [5, 1], [0], "x", [1.5], [True], [100], list(range(1, 101)), None),
    "analysis.window": ("1d", "0s", -3, [], "2 minutes"),
    "analysis.deadline": ("0s", "forever", 1e400),
    "analysis.inconclusive_policy": ("promote", 1, None),
    "analysis.baseline": ("maybe", 2, None),
    "analysis.tolerances.error_ratio_absolute": (2, "150%", -0.1, "nan"),
    "judge": ({"error_ratio": 0.1}, "strict", [1, 2], {"no_such_setting": 1}),
    "pass_interval": ("0s", "1d", "soon"),
}

# Bad values rejected by a cross-field check, which pydantic reports at the section (the field's parent).
SECTION_BAD_VALUES: dict[str, tuple[object, ...]] = {
    "metrics.preset": ("nope", "HTTP", ""),
    "metrics.preset_settings": ({"no_such_setting": 1}, {"arm_selection": "telepathy"}),
    "metrics.canary": ("checkout-v1",),
    "router.canary_server": ("v1",),
    "analysis.deadline": ("30s",),
    "analysis.baseline": (True,),
}

REQUIRED = (
    "rollout",
    "router",
    "metrics",
    "router.socket",
    "router.backend",
    "metrics.namespace",
    "metrics.control",
)


@dataclasses.dataclass(frozen=True)
class Mutation:
    path: str
    kind: str  # "field", "section", "missing", "unknown" or "garbage"
    value: object = None

    @property
    def reported_at(self) -> str:
        """The dotted location the error must name."""
        if self.kind == "section" and self.path == "analysis.baseline":
            return "(top level)"  # the standalone file's own check, at the top of the file
        if self.kind == "section":
            return self.path.rpartition(".")[0]
        return self.path


def _set(document: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _delete(document: dict, path: str) -> None:
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    target.pop(last, None)


def _garbage(rng: random.Random) -> object:
    return rng.choice(
        (
            None,
            0,
            -1,
            1e308,
            True,
            [],
            [None],
            {},
            {"": None},
            "x" * 10_000,
            hostile.random_junk(rng),
            [[[[]]]],
        )
    )


def _mutation(rng: random.Random) -> Mutation:
    kind = rng.choice(("field", "field", "section", "missing", "unknown", "garbage"))
    if kind == "field":
        path = rng.choice(list(FIELD_BAD_VALUES))
        return Mutation(path=path, kind=kind, value=rng.choice(FIELD_BAD_VALUES[path]))
    if kind == "section":
        path = rng.choice(list(SECTION_BAD_VALUES))
        return Mutation(path=path, kind=kind, value=rng.choice(SECTION_BAD_VALUES[path]))
    if kind == "missing":
        return Mutation(path=rng.choice(REQUIRED), kind=kind)
    if kind == "unknown":
        section = rng.choice(("", "router.", "prometheus.", "metrics.", "analysis.", "analysis.tolerances."))
        name = rng.choice(("address", "webhook_url", "prometheus_url", "Steps", "extra", "command", "exec"))
        return Mutation(path=section + name, kind=kind, value=rng.choice(("http://10.0.0.1/", 1, None)))
    return Mutation(path=rng.choice(list(VALID)), kind=kind, value=_garbage(rng))


def _overlaps(first: str, second: str) -> bool:
    return first == second or first.startswith(second + ".") or second.startswith(first + ".")


def _document(rng: random.Random) -> tuple[dict, list[Mutation]]:
    document = copy.deepcopy(VALID)
    mutations: list[Mutation] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        mutation = _mutation(rng)
        if any(_overlaps(mutation.path, done.path) for done in mutations):
            continue
        mutations.append(mutation)
        if mutation.kind == "missing":
            _delete(document, mutation.path)
        else:
            _set(document, mutation.path, mutation.value)
    return document, mutations


def _names(field: str, expected: str) -> bool:
    """Whether an error line about `field` names `expected`: the same setting, its section or a key inside."""
    return field == expected or expected.startswith(field + ".") or field.startswith(expected + ".")


def _reported_fields(message: str) -> set[str]:
    lines = message.splitlines()[1:]
    return {line.strip().split(":", 1)[0] for line in lines}


def test_generated_rollout_files_are_rejected_by_field(tmp_path: pathlib.Path):
    rng = random.Random(scale.seed())
    count = scale.current().config_files
    path = tmp_path / "rollout.yaml"
    tally: collections.Counter[str] = collections.Counter()

    for number in range(count):
        document, mutations = _document(rng)
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
        context = f"file {number} (seed {scale.seed()}): mutations {mutations!r:.400}"
        try:
            loaded = config.load_config(path)
        except config.ConfigError as error:
            loaded = error
        except Exception as error:  # noqa: BLE001 - any other exception is the crash under test
            pytest.fail(f"load_config raised {type(error).__name__}: {error}; {context}")

        # Garbage may happen to be valid for an optional section ({} for prometheus); anything else is bad.
        if all(mutation.kind == "garbage" for mutation in mutations) and isinstance(
            loaded, config.StandaloneConfig
        ):
            tally["garbage accepted"] += 1
            continue
        assert isinstance(loaded, config.ConfigError), context
        tally["rejected"] += 1
        reported = _reported_fields(str(loaded))
        sections_only = len(mutations) == 1
        for mutation in mutations:
            tally[mutation.kind] += 1
            if mutation.kind == "garbage" or (mutation.kind == "section" and not sections_only):
                continue
            expected = mutation.reported_at
            assert any(_names(field, expected) for field in reported), (
                f"{expected} not named in {str(loaded)!r:.800}; {context}"
            )

    for kind in ("field", "section", "missing", "unknown", "garbage"):
        assert tally[kind] >= count // 20, tally


def test_unreadable_rollout_files_raise_config_error(tmp_path: pathlib.Path):
    rng = random.Random(scale.seed() + 1)
    path = tmp_path / "rollout.yaml"
    texts = [
        "",
        "- a\n- b\n",
        "rollout: [",
        "\x00\x01",
        "a: &x [*x]\n",
        ": :",
        "%YAML 9.9\n---\n",
        "!!python/object:os.system ls",
    ]
    texts += [
        hostile.random_junk(rng) * rng.randint(1, 50) for _ in range(scale.current().config_files // 10)
    ]

    for text in texts:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            config.load_config(path)
        except config.ConfigError:
            continue
        except Exception as error:  # noqa: BLE001 - any other exception is the crash under test
            pytest.fail(f"load_config raised {type(error).__name__}: {error} on {text!r:.200}")
        pytest.fail(f"load_config accepted {text!r:.200}")
