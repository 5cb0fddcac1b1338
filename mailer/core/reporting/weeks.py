"""A report's period and its weeks, in a time zone: weeks start on Monday at 00:00 local
time (ISO 8601 weeks), so a week that a DST change shortens still ends at midnight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86400.0
DEFAULT_WEEKS = 4


@dataclass(frozen=True)
class Span:
    """[since, until) in epoch seconds, with a name (an ISO week "2026-W05", or a period)."""

    name: str
    since: float
    until: float

    def __contains__(self, instant: float) -> bool:
        return self.since <= instant < self.until


def monday_of(instant: float, zone: ZoneInfo) -> date:
    local = datetime.fromtimestamp(instant, UTC).astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def midnight(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, time.min, zone).timestamp()


def week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_of(period: Span, zone: ZoneInfo) -> tuple[Span, ...]:
    """The weeks that overlap ``period``, each cut to it."""
    found: list[Span] = []
    monday = monday_of(period.since, zone)
    while (start := midnight(monday, zone)) < period.until:
        end = midnight(monday + timedelta(days=7), zone)
        found.append(Span(week_name(monday), max(start, period.since), min(end, period.until)))
        monday += timedelta(days=7)
    return tuple(found)


def default_period(now: float, weeks: int = DEFAULT_WEEKS) -> Span:
    """The last ``weeks`` weeks up to ``now``."""
    return Span("period", now - weeks * 7 * DAY, now)


def full_week_before(instant: float, zone: ZoneInfo) -> Span:
    """The last whole week (Monday 00:00 to Monday 00:00) that ended at or before ``instant``."""
    monday = monday_of(instant, zone) - timedelta(days=7)
    return Span(week_name(monday), midnight(monday, zone), midnight(monday + timedelta(7), zone))
