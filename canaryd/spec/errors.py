"""The error raised for an invalid rollout spec: every problem at once, each naming its key.

Layer 1 (pure logic). A release engineer fixes annotations in one edit only if they see all the problems
together, so the reader collects them instead of stopping at the first.
"""

from __future__ import annotations

import dataclasses

# Long values are cut in messages, so that a hostile or pasted annotation cannot flood Events and logs.
_MAX_VALUE_LENGTH = 80


@dataclasses.dataclass(frozen=True)
class SpecProblem:
    """One invalid setting: its key (annotation or config field), the value found, and what is allowed.

    `value` is None when the problem is a missing setting rather than a bad one.
    """

    key: str
    value: str | None
    message: str

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.key}: {self.message}"
        return f"{self.key}: {_quote(self.value)}: {self.message}"


class SpecError(ValueError):
    """A rollout spec with one or more problems; `problems` lists them all, in key order."""

    def __init__(self, *, source: str, problems: list[SpecProblem] | tuple[SpecProblem, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self.summary())

    def summary(self) -> str:
        """Render the problems as one message, one problem per line, for status, Events and logs."""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.source} has {count} rollout setting {noun}; fix them and canaryd retries:"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


def _quote(value: str) -> str:
    if len(value) > _MAX_VALUE_LENGTH:
        value = value[:_MAX_VALUE_LENGTH] + "..."
    return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
