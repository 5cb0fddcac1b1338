"""``[calendars.NAME]`` and ``[targets]``: when teams work and what they promise.

```toml
[calendars.office]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
holidays = "IT-MI"
closed = ["2026-12-24", "2026-12-31 13:00-"]

[targets]
first_response = "4h"
resolution = "2d"
```
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailer.config.tables import Report, Table
from mailer.config.values import Invalid, expected, string
from mailer.core.timing.durations import parse_worktime
from mailer.settings import CalendarSettings, ClosedSpan, Settings, Targets

CALENDAR_KEYS = ("timezone", "hours", "holidays", "closed")
TARGET_KEYS = ("first_response", "resolution")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*([a-z,\s-]+?)\s+(\d{1,2}:\d\d)\s*-\s*(\d{1,2}:\d\d)\s*$", re.I)
_CLOSED = re.compile(r"^\s*(\d{4}-\d\d-\d\d)(?:\s+(\d{1,2}:\d\d)?\s*-\s*(\d{1,2}:\d\d)?)?\s*$")


def read_calendars(report: Report, raw: object) -> tuple[CalendarSettings, ...]:
    """Every ``[calendars.NAME]`` table; a broken one is reported and left out."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        report.add(
            ("calendars",), "calendars", None, str(expected("tables like [calendars.office]", raw))
        )
        return ()
    found = []
    for name, data in raw.items():
        if not isinstance(data, dict):
            report.add(("calendars", name), "calendars", name, str(expected("a table", data)))
            continue
        table = Table(report, ("calendars", name), data, f"calendars.{name}", CALENDAR_KEYS)
        calendar = CalendarSettings(
            name,
            timezone=table.require("timezone", timezone, "UTC"),
            hours=table.require("hours", weekly_hours, ((),) * 7),
            holidays=table.get("holidays", holiday_region, None),
            closed=table.get("closed", closed_days, ()),
        )
        if table.ok:
            found.append(calendar)
    return tuple(found)


def read_targets(table: Table) -> Targets:
    """``first_response`` and ``resolution`` of one table ([targets], a team or a rule)."""
    return Targets(
        first_response=table.get("first_response", worktime, None),
        resolution=table.get("resolution", worktime, None),
    )


def read_priority_targets(
    report: Report, raw: Mapping[str, Any]
) -> tuple[tuple[str, Targets], ...]:
    """``[targets.high]`` and the like: targets for a rule's priority."""
    found = []
    for key, data in raw.items():
        if key in TARGET_KEYS:
            continue
        if not isinstance(data, dict):
            report.add(
                ("targets", key),
                "targets",
                key,
                "unknown key (did you mean first_response or resolution?)",
            )
            continue
        table = Table(report, ("targets", key), data, f"targets.{key}", TARGET_KEYS)
        found.append((key, read_targets(table)))
    return tuple(found)


def worktime(value: object) -> str:
    text = string(value)
    try:
        parse_worktime(text)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    return text.strip()


def timezone(value: object) -> str:
    name = string(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f'unknown time zone {name!r}: use an IANA name like "Europe/Rome"') from exc
    return name


def holiday_region(value: object) -> str:
    """``"IT"`` or ``"IT-MI"``: a country the holidays package knows, and its subdivision."""
    import holidays  # only where a calendar names holidays: a start without pays nothing

    text = string(value).strip()
    country, _, subdivision = text.partition("-")
    supported = holidays.list_supported_countries()
    if country.upper() not in supported:
        raise Invalid(f'unknown country {country!r} for holidays: use an ISO code like "IT"')
    if subdivision and subdivision.upper() not in supported[country.upper()]:
        known = ", ".join(supported[country.upper()][:12])
        raise Invalid(f"{country.upper()} has no subdivision {subdivision!r} (some: {known}, ...)")
    return f"{country.upper()}-{subdivision.upper()}" if subdivision else country.upper()


def weekly_hours(value: object) -> tuple[tuple[tuple[time, time], ...], ...]:
    """``["mon-fri 08:30-12:30", "sat 09:00-12:00"]`` → Monday's to Sunday's intervals."""
    if value == []:
        raise Invalid("no working time at all: every due time would be never")
    if not isinstance(value, list):
        raise Invalid(
            str(expected('a list like ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]', value))
        )
    days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for index, item in enumerate(value):
        match = _HOURS.match(item) if isinstance(item, str) else None
        if match is None:
            raise Invalid(f'{item!r}: write days and hours like "mon-fri 08:30-17:30"', index)
        start, end = _clock(match.group(2), index), _clock(match.group(3), index)
        if end <= start:
            raise Invalid(f"{item!r}: the end must come after the start", index)
        for day in _days(match.group(1), index):
            days[day].append((start, end))
    for intervals in days:
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise Invalid("intervals of one day overlap")
    return tuple(tuple(intervals) for intervals in days)


def closed_days(value: object) -> tuple[ClosedSpan, ...]:
    """``["2026-12-24", "2026-12-31 13:00-", "2027-01-02 -10:00"]``."""
    if not isinstance(value, list):
        raise Invalid(str(expected('a list like ["2026-12-24", "2026-12-31 13:00-"]', value)))
    spans = []
    for index, item in enumerate(value):
        match = _CLOSED.match(item) if isinstance(item, str) else None
        if match is None:
            raise Invalid(f"{item!r}: write a date, optionally with closed hours "
                          '("2026-12-24", "2026-12-31 13:00-")', index)  # fmt: skip
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError as exc:
            raise Invalid(f"{item!r}: {exc}", index) from exc
        start = _clock(match.group(2), index) if match.group(2) else None
        end = _clock(match.group(3), index) if match.group(3) else None
        spans.append(ClosedSpan(day, start, end))
    return tuple(spans)


def clock_time(value: object) -> time:
    """ "08:45": a time of day."""
    text = string(value)
    if not re.fullmatch(r"\d{1,2}:\d\d", text.strip()):
        raise Invalid(f'{text!r}: write a time of day like "08:45"')
    return _clock(text.strip(), 0)


def _clock(text: str, index: int) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if hours > 23 or minutes > 59:
        raise Invalid(f"{text!r} is not a time of day", index)
    return time(hours, minutes)


def _days(text: str, index: int) -> list[int]:
    found: list[int] = []
    for part in (p.strip().lower() for p in text.split(",")):
        first, _, last = part.partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise Invalid(f"{text!r}: days are mon, tue, wed, thu, fri, sat, sun", index)
        a, b = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        found.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return found


def read_promises(
    report: Report, data: Mapping[str, Any], default_calendar: str | None, teams: Mapping[str, Any]
) -> dict[str, Any]:
    """The Settings fields of calendars and targets, with every name checked."""
    calendars = read_calendars(report, data.get("calendars"))
    names = {c.name for c in calendars} | set(_names(data.get("calendars")))
    raw_targets = data.get("targets", {})
    targets, by_priority = Targets(), tuple[tuple[str, Targets], ...]()
    if isinstance(raw_targets, dict):
        own = {k: v for k, v in raw_targets.items() if k in TARGET_KEYS}
        table = Table(report, ("targets",), own, "targets", TARGET_KEYS)
        targets = read_targets(table)
        by_priority = read_priority_targets(report, raw_targets)
    elif raw_targets is not None:
        report.add(("targets",), "targets", None, str(expected("a table [targets]", raw_targets)))
    if default_calendar is not None and default_calendar not in names:
        report.add(
            ("service", "calendar"), "service", "calendar", _unknown(default_calendar, names)
        )
    for key, defined in teams.items():
        name = defined.team.calendar
        if name is not None and name not in names:
            report.add(
                ("teams", key, "calendar"), f"teams.{key}", "calendar", _unknown(name, names)
            )
    return {
        "calendars": calendars,
        "default_calendar": default_calendar,
        "targets": targets,
        "priority_targets": by_priority,
    }


def _names(raw: object) -> list[str]:
    return list(raw) if isinstance(raw, dict) else []


def _unknown(name: str, names: set[str]) -> str:
    known = ", ".join(sorted(names)) or "none is defined"
    return f"unknown calendar {name!r} (calendars: {known}); define [calendars.{name}]"


def promises(settings: Settings) -> dict[str, Any]:
    """[calendars.*] and [targets] as TOML values again (for ``mailer config``)."""
    out: dict[str, Any] = {}
    if settings.calendars:
        out["calendars"] = {c.name: _calendar_table(c) for c in settings.calendars}
    targets = {k: v for k, v in vars(settings.targets).items() if v is not None}
    for priority, own in settings.priority_targets:
        targets[priority] = {k: v for k, v in vars(own).items() if v is not None}
    if targets:
        out["targets"] = targets
    return out


def _calendar_table(calendar: CalendarSettings) -> dict[str, Any]:
    table: dict[str, Any] = {"timezone": calendar.timezone, "hours": _hours_text(calendar.hours)}
    if calendar.holidays:
        table["holidays"] = calendar.holidays
    if calendar.closed:
        table["closed"] = [_closed_text(span) for span in calendar.closed]
    return table


def _hours_text(hours: tuple[tuple[tuple[time, time], ...], ...]) -> list[str]:
    """Each interval once, with the days that have it: ["mon-fri 08:30-12:30", ...]."""
    order: list[tuple[time, time]] = []
    for day in hours:
        order.extend(span for span in day if span not in order)
    lines = []
    for start, end in order:
        days = [i for i, day in enumerate(hours) if (start, end) in day]
        lines.append(f"{_day_ranges(days)} {_clock_text(start)}-{_clock_text(end)}")
    return lines


def _day_ranges(days: list[int]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAYS[r[0]] + (f"-{DAYS[r[-1]]}" if len(r) > 1 else "") for r in runs)


def _clock_text(at: time) -> str:
    return "24:00" if at == time.max else f"{at:%H:%M}"


def _closed_text(span: ClosedSpan) -> str:
    if span.start is None and span.end is None:
        return span.day.isoformat()
    start = _clock_text(span.start) if span.start else ""
    end = _clock_text(span.end) if span.end else ""
    return f"{span.day.isoformat()} {start}-{end}"
