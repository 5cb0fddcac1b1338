"""Durations in working time as admins write them: ``"4h"``, ``"30m"``, ``"2d"``, ``"1h30m"``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"(\d+)\s*([dhm])", re.I)
_WHOLE = re.compile(r"^\s*(?:\d+\s*[dhm]\s*)+$", re.I)


@dataclass(frozen=True, order=True)
class WorkTime:
    """``days`` working days, then ``minutes`` working minutes."""

    days: int = 0
    minutes: int = 0

    def __str__(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        parts = [f"{self.days}d"] * bool(self.days) + [f"{hours}h"] * bool(hours)
        parts += [f"{minutes}m"] * bool(minutes)
        return "".join(parts) or "0m"

    @property
    def is_zero(self) -> bool:
        return not (self.days or self.minutes)


def parse_worktime(text: str) -> WorkTime:
    """``"4h"`` → 240 minutes; ``"2d"`` → 2 working days; ``"1d 4h"`` → both. ValueError if not."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(
            f"{text!r} is not a working-time duration: write a number and a unit, "
            'd (working days), h or m, e.g. "4h", "30m", "2d", "1h30m"'
        )
    days = minutes = 0
    for amount, unit in _PART.findall(text):
        if unit.lower() == "d":
            days += int(amount)
        else:
            minutes += int(amount) * (60 if unit.lower() == "h" else 1)
    return WorkTime(days, minutes)
