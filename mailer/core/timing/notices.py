"""Which reminders, escalations and late notices are due at ``now``, and to whom.

Per request and target still running (first response not yet given; resolution not paused,
not done): a **reminder** once the working time left is at most ``[promises]
remind_before``, to the owner, or the team when nobody owns it; an **escalation** once the
due time has passed, to the team's ``escalate_to`` (else to whoever got the reminder); with
``tell_requester_when_late``, one **late** notice to the requester at the same moment.
Nothing goes out while the calendar is closed: what fell due at night goes at the next
opening. Each notice is keyed by (request, kind, due time, recipient): the caller records
the key in the same transaction as the mail, so none is ever sent twice, and a new due
time (a pause, a reopening) makes a new key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.durations import WorkTime, parse_worktime
from mailer.model import Status, ThreadInfo
from mailer.settings import Settings

REMINDER, ESCALATION, LATE = "reminder", "escalation", "late"
TARGETS = ("first_response", "resolution")


@dataclass(frozen=True)
class Notice:
    thread: ThreadInfo
    kind: str  # reminder, escalation, late
    target: str  # first_response, resolution
    due: float
    recipient: str  # lower-cased address

    @property
    def key(self) -> tuple[int, str, float, str]:
        return (self.thread.id, f"{self.kind}:{self.target}", self.due, self.recipient)


def notices_due(
    threads: Iterable[ThreadInfo],
    settings: Settings,
    calendar_of: Callable[[ThreadInfo], WorkingCalendar],
    now: float,
) -> list[Notice]:
    """Every notice due at ``now`` (already-sent ones included: the store's key drops them)."""
    before = parse_worktime(settings.promises.remind_before)
    instant = datetime.fromtimestamp(now, UTC)
    found: list[Notice] = []
    for thread in threads:
        calendar = calendar_of(thread)
        if not calendar.is_open(instant):
            continue
        for target, due in running(thread):
            due_at = datetime.fromtimestamp(due, UTC)
            if now >= due:
                found += _escalations(thread, settings, target, due)
            elif calendar.working_between(instant, due_at) <= _span(calendar, before):
                found += [Notice(thread, REMINDER, target, due, who) for who in _handlers(thread)]
    return found


def running(thread: ThreadInfo) -> list[tuple[str, float]]:
    """(target, due time) of the clocks still running on an open request."""
    promise = thread.promise
    out: list[tuple[str, float]] = []
    if thread.status in (Status.RESOLVED, Status.CLOSED):
        return out
    if promise.first_response_due is not None and thread.first_response_at is None:
        out.append(("first_response", promise.first_response_due))
    if promise.resolution_due is not None and promise.paused_at is None:
        out.append(("resolution", promise.resolution_due))
    return out


def _span(calendar: WorkingCalendar, before: WorkTime) -> timedelta:
    """``remind_before`` as working time; whole days count as the calendar's usual day."""
    return before.days * calendar.standard_day() + timedelta(minutes=before.minutes)


def _handlers(thread: ThreadInfo) -> list[str]:
    who = thread.owner or thread.team_address
    return [who.lower()] if who else []


def _escalations(thread: ThreadInfo, settings: Settings, target: str, due: float) -> list[Notice]:
    team = settings.team(thread.team)
    leads = list(team.escalate_to) if team is not None and team.escalate_to else []
    # without a lead, whoever handles it hears that it is late
    found = [Notice(thread, ESCALATION, target, due, w) for w in leads or _handlers(thread)]
    if settings.promises.tell_requester_when_late and thread.requester:
        found.append(Notice(thread, LATE, target, due, thread.requester.lower()))
    return found
