"""A team's working calendar and arithmetic in its working time.

Hours are laid out in the calendar's local wall-clock time (``zoneinfo``) and every instant
that comes in or goes out is an aware datetime; sums are taken between real instants, so the
night DST changes counts the minutes that really pass. Public holidays come from the
``holidays`` package (country and subdivision: Italy/MI has Sant'Ambrogio on 7 December).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, cached_property
from zoneinfo import ZoneInfo

from mailer.core.timing.durations import WorkTime
from mailer.errors import MailerError
from mailer.settings import CalendarSettings

HORIZON_DAYS = 3 * 366  # no working minute within three years: the calendar is broken
Interval = tuple[datetime, datetime]


class NoWorkingTime(MailerError):
    """A calendar with no working time ahead: every due time would be never. The admin must
    give it hours (``mailer check`` refuses a calendar without any)."""


@cache
def holiday_dates(region: str, year: int) -> frozenset[date]:
    """The public holidays of ``"IT"`` or ``"IT-MI"`` in one year."""
    import holidays  # here: a calendar without holidays does not pay its import (30 ms)

    country, _, subdivision = region.partition("-")
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found)


@dataclass(frozen=True)
class WorkingCalendar:
    settings: CalendarSettings
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, compare=False)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def name(self) -> str:
        return self.settings.name

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def is_holiday(self, day: date) -> bool:
        region = self.settings.holidays
        return region is not None and day in holiday_dates(region, day.year)

    def intervals(self, day: date) -> tuple[Interval, ...]:
        """The open intervals of one local day, as UTC instants, in order."""
        found = self._days.get(day)
        if found is None:
            found = self._days.setdefault(day, self._lay_out(day))
        return found

    def _lay_out(self, day: date) -> tuple[Interval, ...]:
        if self.is_holiday(day):
            return ()
        spans = [(start, end) for start, end in self.settings.hours[day.weekday()] if start < end]
        for closed in self.settings.closed:
            if closed.day == day:
                spans = _minus(spans, closed.start or time.min, closed.end or time.max)
        return tuple((self._instant(day, a), self._instant(day, b)) for a, b in spans)

    def _instant(self, day: date, at: time) -> datetime:
        if at == time.max:  # the end of the day is the next midnight
            return datetime.combine(day + timedelta(days=1), time.min, self.zone).astimezone(UTC)
        return datetime.combine(day, at, self.zone).astimezone(UTC)

    def intervals_from(self, instant: datetime) -> Iterator[Interval]:
        """Open intervals that end after ``instant``, the first one cut to start there."""
        day = self.local(instant).date() - timedelta(days=1)  # a day may end after midnight UTC
        for offset in range(HORIZON_DAYS):
            for start, end in self.intervals(day + timedelta(days=offset)):
                if end > instant:
                    yield max(start, instant), end
        raise NoWorkingTime(
            f"calendar {self.name!r} has no working time in the {HORIZON_DAYS} days after "
            f"{instant:%Y-%m-%d}: check its hours, holidays and closed days"
        )

    def is_open(self, instant: datetime) -> bool:
        start, _ = next(self.intervals_from(instant))
        return start == instant

    def next_open(self, instant: datetime) -> datetime:
        """``instant`` itself when open, else the next opening."""
        start, _ = next(self.intervals_from(instant))
        return start

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time that passes from ``start`` to ``end`` (zero if end <= start)."""
        total = timedelta()
        if end <= start:
            return total
        for a, b in self.intervals_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of working time has passed since ``start``.

        Counting starts at ``start`` if open, else at the next opening. Work that ends exactly
        at a closing is due at that closing, not at the next opening.
        """
        left = amount
        for a, b in self.intervals_from(start):
            if left <= b - a:
                return a + left if left > timedelta() else a
            left -= b - a
        raise AssertionError("unreachable: intervals_from raises first")  # pragma: no cover

    def add_days(self, start: datetime, days: int) -> datetime:
        """The same working-time position ``days`` working days later.

        Tuesday 10:00 + 2d is Thursday 10:00; from outside hours counting starts at the next
        opening, and a position at an opening is stated as the closing before it (Saturday + 1d
        is Monday's closing, not Tuesday's opening).
        """
        opened = self.next_open(start)
        first_day = self.local(opened).date()
        position = self.working_between(self.intervals(first_day)[0][0], opened)
        working_days = self._working_days(first_day)
        ahead = [next(working_days) for _ in range(days + 1)]  # ahead[0] is first_day
        if position == timedelta():
            return self.intervals(ahead[days - 1])[-1][1]
        return self.add(self.intervals(ahead[days])[0][0], position)

    def _working_days(self, first: date) -> Iterator[date]:
        for offset in range(HORIZON_DAYS):
            day = first + timedelta(days=offset)
            if self.intervals(day):
                yield day
        raise NoWorkingTime(f"calendar {self.name!r} has no working day after {first}")

    def due(self, start: datetime, target: WorkTime) -> datetime:
        """When a promise of ``target`` working time made at ``start`` falls due."""
        at = self.add_days(start, target.days) if target.days else start
        if target.minutes or not target.days:
            at = self.add(at, timedelta(minutes=target.minutes))
        return at

    def standard_day(self) -> timedelta:
        """The length of a usual working day (the longest weekday's hours): what "1d" means
        when a report turns working time into days."""
        lengths = [sum((_length(a, b) for a, b in day), timedelta()) for day in self.settings.hours]
        return max(lengths, default=timedelta())


def _length(start: time, end: time) -> timedelta:
    today = date(2000, 1, 3)
    return datetime.combine(today, end) - datetime.combine(today, start)


def _minus(spans: list[tuple[time, time]], cut_from: time, cut_to: time) -> list[tuple[time, time]]:
    """The parts of ``spans`` outside [cut_from, cut_to)."""
    kept: list[tuple[time, time]] = []
    for start, end in spans:
        if end <= cut_from or start >= cut_to:
            kept.append((start, end))
            continue
        if start < cut_from:
            kept.append((start, cut_from))
        if end > cut_to:
            kept.append((cut_to, end))
    return kept
