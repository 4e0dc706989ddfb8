"""Small PromQL text helpers: string literals, label matchers and durations.

Every value canaryd puts into PromQL passes through `quote_string`, so a label value holding
quotes, backslashes or line breaks stays one string literal and cannot change the query's shape.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re

# Classic Prometheus label names. canaryd does not write the quoted UTF-8 names of Prometheus 3.
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_REGEX_METACHARACTERS = re.compile(r"[\\.^$|?*+()\[\]{}]")


class MatchOp(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclasses.dataclass(frozen=True)
class LabelMatcher:
    """One `name op "value"` term of a selector."""

    name: str
    value: str
    op: MatchOp = MatchOp.EQUAL

    def __post_init__(self) -> None:
        validate_label_name(self.name)

    def render(self) -> str:
        return f"{self.name}{self.op.value}{quote_string(self.value)}"


def quote_string(value: str) -> str:
    """Return `value` as a double-quoted PromQL string literal.

    PromQL string literals follow Go's escapes; JSON's escapes (\\", \\\\, \\n, \\t, \\uXXXX) are a
    subset of them, so a JSON string is a valid PromQL string with the same value.
    """
    return json.dumps(value, ensure_ascii=False)


def escape_string_content(value: str) -> str:
    """Return `value` escaped for insertion between the double quotes of a PromQL string."""
    return quote_string(value)[1:-1]


def escape_regex(value: str) -> str:
    """Escape RE2 metacharacters so `value` matches only itself inside a PromQL regex."""
    return _REGEX_METACHARACTERS.sub(r"\\\g<0>", value)


def render_matchers(matchers: tuple[LabelMatcher, ...] | list[LabelMatcher]) -> str:
    """Render matchers as the inside of a selector's braces, comma-separated."""
    return ",".join(matcher.render() for matcher in matchers)


def render_selector(metric: str, matchers: tuple[LabelMatcher, ...] | list[LabelMatcher]) -> str:
    validate_metric_name(metric)
    return f"{metric}{{{render_matchers(matchers)}}}"


def format_duration(seconds: float) -> str:
    """Format seconds as a PromQL duration, in whole milliseconds (`30s`, `1500ms`)."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a PromQL duration must be a positive number of seconds, got {seconds!r}")
    milliseconds = round(seconds * 1000)
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def validate_label_name(name: str) -> None:
    if not _LABEL_NAME.match(name):
        raise ValueError(
            f"invalid Prometheus label name {name!r}: use letters, digits and underscores, "
            "not starting with a digit"
        )


def validate_metric_name(name: str) -> None:
    if not _METRIC_NAME.match(name):
        raise ValueError(
            f"invalid Prometheus metric name {name!r}: use letters, digits, underscores and colons, "
            "not starting with a digit"
        )
