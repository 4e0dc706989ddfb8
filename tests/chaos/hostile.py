"""Seeded generators of hostile rollout settings: annotation sets whose validity is known by construction.

Every generated annotation set carries its own expectation: which keys hold a bad value or are unknown,
and, when every value is valid alone, which cross-field conflicts the reader must report and which
settings it must produce. Bad values are either taken from a table of near misses per value type or
made from a valid value with junk that no parser accepts, so the expectation never depends on calling
the code under test.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import string

from canaryd import spec

PREFIX = spec.PREFIX

# Junk added to a valid value to make it invalid for every value type: each piece contains a character that
# no parser strips or accepts (no whitespace, no ASCII digit or letter alone).
JUNK = (
    "!",
    "\x00",
    "\u202e",
    "{{ namespace }}",
    '"}',
    "' or '1'='1",
    ";rm -rf /",
    "${HOME}",
    "\U0001f642",
    "\\",
    '=~".*"',
    "http://169.254.169.254/",
)


@dataclasses.dataclass(frozen=True)
class Value:
    """One annotation value and, for a valid one, what it means (None for a bad value)."""

    text: str
    meaning: object = None
    is_valid: bool = True


def _good(text: str, meaning: object = None) -> Value:
    return Value(text=text, meaning=meaning)


def _bad(text: str) -> Value:
    return Value(text=text, is_valid=False)


def _minutes(amount: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=amount)


BOOL_VALUES = (
    [_good("true", True), _good("false", False), _good("TRUE", True), _good(" false ", False)]
    + [_good("True", True)]
    + [_bad(text) for text in ("yes", "1", "on", "", "tru e", "truee", "f")]
)
STEPS_VALUES = [
    _good("1,5", (1, 5)),
    _good("1, 5, 25", (1, 5, 25)),
    _good("5%,50%", (5, 50)),
    _good("99", (99,)),
    _good("10,20,50", (10, 20, 50)),
    _good("49", (49,)),
    _good("1,5,25,50,75", (1, 5, 25, 50, 75)),
    _good(",".join(str(weight) for weight in range(1, 100)), tuple(range(1, 100))),
] + [
    _bad(text)
    for text in (
        "", "0", "100", "5,1", "1,1", "1.5", "-1", "1,,5", "1;5", "\u0663", "\uff11", "1,5,", "101",
        "1e1", "0x10", ",".join(str(weight) for weight in range(1, 100)) + ",99", "5,50%%", "1 5",
    )
]  # fmt: skip
DURATION_VALUES = [
    _good("90s", _minutes(1.5)),
    _good("2m", _minutes(2)),
    _good("1h30m", _minutes(90)),
    _good("1h", _minutes(60)),
    _good("24h", _minutes(24 * 60)),
    _good("10m", _minutes(10)),
    _good("30s", _minutes(0.5)),
    _good(" 5m ", _minutes(5)),
    _good("1m30s", _minutes(1.5)),
    _good("86400s", _minutes(24 * 60)),
] + [
    _bad(text)
    for text in (
        "", "0s", "2", "2 m", "25h", "-1m", "1.5m", "2M", "1d", "P1D", "m", "999h", "1s1m", "1000000s",
        "24h1s", "0h0m0s", "\uff12m",
    )
]  # fmt: skip
POLICY_VALUES = [_good("rollback"), _good("pause")] + [
    _bad(text) for text in ("Rollback", "promote", "", "pause ", "continue")
]
PRESET_VALUES = [_good(name) for name in spec.METRIC_PRESETS] + [
    _bad(text) for text in ("HTTP", "prom", "ingress_nginx", "", "http,istio")
]
NAME_VALUES = [_good(text) for text in ("web", "web-slis", "a", "a.b", "x" * 253, "0web")] + [
    _bad(text)
    for text in ("Web", "-web", "web-", "web_slis", "", "a" * 254, "web\n", "we b", "w\u00e9b", "web.")
]
FRACTION_VALUES = [_good(text) for text in ("0.001", "0.5%", "1", "0", "100%", "1e-3")] + [
    _bad(text) for text in ("-0.1", "1.01", "101%", "nan", "inf", "", "abc", "0.1.1", "%", "-0%x")
]
RELATIVE_VALUES = [_good(text) for text in ("0.2", "50%", "10", "1000%", "0")] + [
    _bad(text) for text in ("10.5", "1001%", "-1", "NaN", "1e400", "")
]
ROUTER_VALUES = [_good("gateway-api", "gateway-api"), _good("replica-ratio", "replica-ratio")] + [
    _bad(text) for text in ("haproxy", "istio", "", "Gateway-API", "gateway_api")
]
COUNT_VALUES = [_good(text) for text in ("1", "2", "100000", " 3 ")] + [
    _bad(text) for text in ("0", "-1", "1.0", "", "1234567", "\uff12", "2x")
]

VALUES_BY_KEY: dict[str, list[Value]] = {
    "enabled": BOOL_VALUES,
    "steps": STEPS_VALUES,
    "analysis-window": DURATION_VALUES,
    "step-deadline": DURATION_VALUES,
    "inconclusive-policy": POLICY_VALUES,
    "baseline": BOOL_VALUES,
    "metric-preset": PRESET_VALUES,
    "metric-template": NAME_VALUES,
    "cluster-metric-template": NAME_VALUES,
    "error-ratio-tolerance": FRACTION_VALUES,
    "error-ratio-relative-tolerance": RELATIVE_VALUES,
    "latency-tolerance": RELATIVE_VALUES,
    "router": ROUTER_VALUES,
    "httproute": NAME_VALUES,
    "primary-backend": NAME_VALUES,
    "canary-backend": NAME_VALUES,
    "canary-replicas": COUNT_VALUES,
}

# Keys that look like settings canaryd could be tricked into using: every one of them is unknown.
UNKNOWN_NAMES = (
    "step", "Steps", "analysis_window", "prometheus-url", "prometheus-address", "webhook-url",
    "webhook", "notify-url", "metrics-url", "slack-webhook", "prometheus", "query", "promql",
    "namespace", "kubeconfig", "server", "token", "enabled ", "", "ste\u200bps", "router/url",
)  # fmt: skip

# Keys outside canaryd.io/, which the reader ignores whatever their value.
FOREIGN_KEYS = (
    "kubernetes.io/change-cause",
    "example.com/canaryd.io-steps",
    "canaryd.io",
    "canaryd.iox/steps",
    " canaryd.io/steps",
    "CANARYD.IO/steps",
    "deployment.kubernetes.io/revision",
)


@dataclasses.dataclass(frozen=True)
class AnnotationCase:
    """A generated annotation set with the problems and settings the reader must find."""

    annotations: dict[str, str]
    bad_keys: frozenset[str]
    conflict_keys: frozenset[str]  # first key of each expected conflict, as the reader reports it
    meanings: dict[str, object]  # parsed meaning of the valid values that conflicts depend on

    @property
    def is_valid(self) -> bool:
        return not self.bad_keys and not self.conflict_keys


def random_junk(rng: random.Random) -> str:
    """Text that no value parser accepts: random printable and odd characters around a piece of JUNK."""
    alphabet = string.ascii_letters + string.digits + string.punctuation + "\u00e9\u0663\uff11\u200b\t"
    noise = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    piece = rng.choice(JUNK)
    return noise + piece if rng.random() < 0.5 else piece + noise


def spoil(rng: random.Random, text: str) -> str:
    """Make a valid value invalid: junk before, after or inside it, or a very long tail."""
    junk = random_junk(rng)
    where = rng.randrange(4)
    if where == 0:
        return junk + text
    if where == 1:
        return text + junk
    if where == 2:
        middle = rng.randint(0, len(text))
        return text[:middle] + junk + text[middle:]
    return text + junk + "!" * rng.choice((100, 4096, 65536))


def annotation_case(rng: random.Random) -> AnnotationCase:
    """Generate one annotation set: some valid values, some bad ones, unknown and foreign keys."""
    annotations: dict[str, str] = {}
    bad: set[str] = set()
    meanings: dict[str, object] = {}

    # Each known key is set with some chance; a set value is valid, a near miss, or spoiled.
    bad_chance = rng.choice((0.0, 0.0, 0.05, 0.2, 0.5))
    for name, table in VALUES_BY_KEY.items():
        if rng.random() > 0.45:
            continue
        key = PREFIX + name
        valid = [value for value in table if value.is_valid]
        if rng.random() >= bad_chance:
            value = rng.choice(valid)
            annotations[key] = value.text
            meanings[name] = value.meaning if value.meaning is not None else value.text
        elif rng.random() < 0.5:
            annotations[key] = rng.choice([value for value in table if not value.is_valid]).text
            bad.add(key)
        else:
            annotations[key] = spoil(rng, rng.choice(valid).text)
            bad.add(key)

    # Unknown keys under the prefix are errors; foreign keys are ignored.
    if rng.random() < bad_chance:
        key = PREFIX + rng.choice(UNKNOWN_NAMES + (random_junk(rng),))
        annotations[key] = rng.choice(("true", "http://127.0.0.1:1/", random_junk(rng)))
        bad.add(key)
    for key in rng.sample(FOREIGN_KEYS, rng.randint(0, 2)):
        annotations[key] = random_junk(rng)

    conflicts = frozenset() if bad else _expected_conflicts(meanings)
    return AnnotationCase(
        annotations=annotations, bad_keys=frozenset(bad), conflict_keys=conflicts, meanings=meanings
    )


def _expected_conflicts(meanings: dict[str, object]) -> frozenset[str]:
    """The first key of each conflict between valid values, in the order the reader names them."""
    found = set()
    steps = meanings.get("steps", (1, 5))
    if meanings.get("baseline", False) is True and max(steps) > 50:  # type: ignore[call-overload]
        found.add(PREFIX + "steps")
    window = meanings.get("analysis-window", _minutes(2))
    deadline = meanings.get("step-deadline", _minutes(10))
    if deadline < window:  # type: ignore[operator]
        found.add(PREFIX + "step-deadline")
    chosen = [
        name for name in ("metric-preset", "metric-template", "cluster-metric-template") if name in meanings
    ]
    if len(chosen) > 1:
        found.add(PREFIX + chosen[0])
    if meanings.get("router") == "gateway-api" and "httproute" not in meanings:
        found.add(PREFIX + "httproute")
    # Only the gateway-api router can route to a baseline; replica-ratio is the default router.
    if meanings.get("baseline", False) is True and meanings.get("router", "replica-ratio") == "replica-ratio":
        found.add(PREFIX + "baseline")
    return frozenset(found)
