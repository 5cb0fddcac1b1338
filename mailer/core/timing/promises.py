"""What a request is promised: its targets, the calendar they count in, and the due times.

The most specific target wins, key by key: the rule's own, then ``[targets.PRIORITY]`` of the
rule's priority, then the team's, then ``[targets]``. Working time is counted in the team's
calendar, else ``[service] calendar``; with none, a calendar that never closes (UTC), so a
"4h" promise without a calendar means four hours of the clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from functools import cache

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.durations import parse_worktime
from mailer.model import NO_PROMISE, Promise
from mailer.settings import CalendarSettings, Rule, Settings, Targets

ALWAYS_OPEN = CalendarSettings("always", "UTC", (((time.min, time.max),),) * 7)


@cache
def working_calendar(settings: CalendarSettings) -> WorkingCalendar:
    """One WorkingCalendar per calendar setting: their laid-out days are kept between calls."""
    return WorkingCalendar(settings)


def calendar_for(settings: Settings, team: str | None) -> WorkingCalendar:
    found = settings.team(team)
    name = (found.calendar if found is not None else None) or settings.default_calendar
    return working_calendar(settings.calendar(name) or ALWAYS_OPEN)


def calendar_named(settings: Settings, name: str | None) -> WorkingCalendar:
    return working_calendar(settings.calendar(name) or ALWAYS_OPEN)


def targets_for(settings: Settings, rule: Rule | None, team: str | None) -> Targets:
    """The effective targets, key by key: rule, priority, team, defaults."""
    found = settings.team(team)
    layers = [
        rule.targets if rule is not None else Targets(),
        dict(settings.priority_targets).get(rule.priority if rule else "normal", Targets()),
        found.targets if found is not None else Targets(),
        settings.targets,
    ]
    first = next((t.first_response for t in layers if t.first_response), None)
    resolution = next((t.resolution for t in layers if t.resolution), None)
    return Targets(first, resolution)


def promise_for(settings: Settings, rule: Rule | None, team: str | None, arrival: float) -> Promise:
    """The promise made to a request that arrived at ``arrival``."""
    targets = targets_for(settings, rule, team)
    if targets.first_response is None and targets.resolution is None:
        return NO_PROMISE
    calendar = calendar_for(settings, team)
    return Promise(
        calendar=calendar.name,
        first_response_target=targets.first_response,
        resolution_target=targets.resolution,
        first_response_due=_due(calendar, arrival, targets.first_response),
        resolution_due=_due(calendar, arrival, targets.resolution),
    )


def new_resolution_cycle(promise: Promise, calendar: WorkingCalendar, now: float) -> Promise:
    """A reopened request: a new resolution clock from ``now``, not paused."""
    due = _due(calendar, now, promise.resolution_target)
    return replace(promise, resolution_due=due, paused_at=None)


def _due(calendar: WorkingCalendar, start: float, target: str | None) -> float | None:
    if target is None:
        return None
    instant = datetime.fromtimestamp(start, UTC)
    return calendar.due(instant, parse_worktime(target)).timestamp()
