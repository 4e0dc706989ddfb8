"""Parsers for the text values of rollout settings: booleans, durations, step weights, fractions.

Layer 1 (pure logic). Annotation values are strings, and a standalone YAML file may write the same
setting as a string or as a number, so each setting type has one parser here that both the
annotation reader and the pydantic models use. Every parser raises a ValueError whose message states
what is allowed, with an example, so that callers can prefix it with the key and the bad value.
"""

from __future__ import annotations

import datetime
import math
import re

# Step weights are whole percents, so more steps than this cannot be strictly increasing below 100.
MAX_STEPS = 99

# Upper bound of any duration setting, so that a typo such as "5000h" is an error rather than a rollout
# that never ends, and so that timedelta arithmetic cannot overflow.
MAX_DURATION = datetime.timedelta(hours=24)

_DURATION_PATTERN = re.compile(
    r"(?:(?P<hours>[0-9]{1,3})h)?(?:(?P<minutes>[0-9]{1,5})m)?(?:(?P<seconds>[0-9]{1,6})s)?"
)
_NAME_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_NAME_MAX_LENGTH = 253
# ASCII digits only: str.isdecimal() also accepts other scripts' digits, which int() would read.
_WEIGHT_PATTERN = re.compile(r"[0-9]{1,3}")
_COUNT_PATTERN = re.compile(r"[0-9]{1,6}")

STEPS_ALLOWED = (
    'comma-separated whole percents, strictly increasing, each between 0 and 100 exclusive, e.g. "1,5,25"'
)
BOOL_ALLOWED = '"true" or "false"'
DURATION_ALLOWED = 'a duration in hours, minutes and seconds such as "90s", "2m" or "1h30m", at most 24h'
NAME_ALLOWED = (
    "a Kubernetes object name: lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)
POSITIVE_INT_ALLOWED = 'a whole number of at least 1, e.g. "2"'


def parse_bool(value: object) -> bool:
    """Parse "true" or "false" (any case), or a YAML boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected {BOOL_ALLOWED}")


def parse_duration(value: object) -> datetime.timedelta:
    """Parse "90s", "2m", "1h30m" (or a number of seconds, or a timedelta) into a positive timedelta."""
    if isinstance(value, datetime.timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if value > MAX_DURATION.total_seconds():
            raise ValueError(f"expected {DURATION_ALLOWED}")
        duration = datetime.timedelta(seconds=value)
    elif isinstance(value, str):
        duration = _parse_duration_text(value.strip())
    else:
        raise ValueError(f"expected {DURATION_ALLOWED}")

    if duration <= datetime.timedelta(0):
        raise ValueError(f"the duration must be above zero; expected {DURATION_ALLOWED}")
    if duration > MAX_DURATION:
        raise ValueError(f"expected {DURATION_ALLOWED}")
    return duration


def _parse_duration_text(text: str) -> datetime.timedelta:
    match = _DURATION_PATTERN.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"expected {DURATION_ALLOWED}")
    parts = {unit: int(amount) for unit, amount in match.groupdict().items() if amount is not None}
    return datetime.timedelta(**parts)


def format_duration(duration: datetime.timedelta) -> str:
    """Format a timedelta the way `parse_duration` reads it: "2m", "1h30m", "45s"."""
    seconds = int(duration.total_seconds())
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if amount
    )
    return text or "0s"


def parse_steps(value: object) -> tuple[int, ...]:
    """Parse step weights from "1,5,25" or a list of whole numbers; check that they can be walked in order."""
    if isinstance(value, str):
        weights = _parse_weight_list(value)
    elif isinstance(value, list | tuple):
        weights = tuple(_parse_weight(item) for item in value)
    else:
        raise ValueError(f"expected {STEPS_ALLOWED}")

    if not weights or len(weights) > MAX_STEPS:
        raise ValueError(f"expected {STEPS_ALLOWED}")
    if any(weight <= 0 or weight >= 100 for weight in weights):
        raise ValueError(f"each weight must be between 0 and 100 exclusive; expected {STEPS_ALLOWED}")
    if any(later <= earlier for earlier, later in zip(weights, weights[1:], strict=False)):
        raise ValueError(f"weights must be strictly increasing; expected {STEPS_ALLOWED}")
    return weights


def _parse_weight_list(text: str) -> tuple[int, ...]:
    items = [item.strip() for item in text.split(",")]
    return tuple(_parse_weight(item) for item in items)


def _parse_weight(item: object) -> int:
    # A weight of "5%" is accepted because people write percents that way. "2.5" is rejected, because
    # routers take whole percents and rounding it silently would change the schedule.
    if isinstance(item, bool):
        raise ValueError(f"expected {STEPS_ALLOWED}")
    if isinstance(item, int):
        return item
    if isinstance(item, str):
        text = item.strip().removesuffix("%")
        if _WEIGHT_PATTERN.fullmatch(text):
            return int(text)
    raise ValueError(f"expected {STEPS_ALLOWED}")


def parse_fraction(value: object, *, maximum: float) -> float:
    """Parse a fraction such as "0.01" or a percent such as "1%", between 0 and `maximum` inclusive."""
    allowed = (
        f"a number between 0 and {maximum:g}, or a percent between 0% and {maximum * 100:g}%, "
        'e.g. "0.01" or "1%"'
    )
    if isinstance(value, bool):
        raise ValueError(f"expected {allowed}")
    if isinstance(value, int | float):
        fraction = float(value)
    elif isinstance(value, str):
        fraction = _parse_fraction_text(value.strip(), allowed=allowed)
    else:
        raise ValueError(f"expected {allowed}")

    if not math.isfinite(fraction) or fraction < 0 or fraction > maximum:
        raise ValueError(f"expected {allowed}")
    return fraction


def _parse_fraction_text(text: str, *, allowed: str) -> float:
    is_percent = text.endswith("%")
    number_text = text.removesuffix("%").strip()
    try:
        number = float(number_text)
    except ValueError:
        raise ValueError(f"expected {allowed}") from None
    return number / 100 if is_percent else number


def parse_positive_int(value: object) -> int:
    """Parse a whole number of at least 1, written as text or as a YAML integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and _COUNT_PATTERN.fullmatch(value.strip()):
        number = int(value.strip())
        if number >= 1:
            return number
    raise ValueError(f"expected {POSITIVE_INT_ALLOWED}")


def parse_name(value: object) -> str:
    """Parse a Kubernetes object name (RFC 1123 subdomain label characters)."""
    if isinstance(value, str) and len(value) <= _NAME_MAX_LENGTH and _NAME_PATTERN.fullmatch(value):
        return value
    raise ValueError(f"expected {NAME_ALLOWED}")
