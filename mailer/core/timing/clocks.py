"""The clocks of one request after a step: met or missed, paused, resumed, a new cycle.

- First response: met by the first human word the requester gets (a relayed answer, a
  progress mail with a staff note); status keywords alone, notes and automatic mail do not.
- Resolution: met by ``#resolved`` before its due time. ``#waiting`` pauses it; when the
  request moves on (the requester's reply, or staff), the due time moves by the working time
  paused. Reopening starts a new resolution cycle from the reopening.
Every change is an event (kind ``sla``) so ``mailer thread REF`` tells the story.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.promises import new_resolution_cycle
from mailer.model import Event, Promise, Status, ThreadInfo

ACTOR = "mailer"
DONE = (Status.RESOLVED, Status.CLOSED)


@dataclass(frozen=True)
class ClockChange:
    promise: Promise
    events: tuple[Event, ...] = ()


def after_step(
    promise: Promise,
    calendar: WorkingCalendar,
    *,
    before: Status,
    after: Status | None,
    first_response: bool,
    now: float,
) -> ClockChange:
    """The promise and its events once a step moved the request from ``before`` to ``after``
    (None: status unchanged); ``first_response``: this step is the first human answer."""
    if not promise.any:
        return ClockChange(promise)
    events: list[Event] = []
    if first_response and promise.first_response_due is not None:
        events.append(_verdict("first_response", now, promise.first_response_due))
    if after is None or after == before:
        return ClockChange(promise, tuple(events))
    if promise.paused_at is not None and after != Status.WAITING:
        promise = _resume(promise, calendar, now, events)
    if before in DONE and after not in DONE:
        promise = new_resolution_cycle(promise, calendar, now)
        events.append(_event("new_cycle", f"resolution due {iso(promise.resolution_due)}"))
    elif after == Status.WAITING and promise.resolution_due is not None:
        promise = replace(promise, paused_at=now)
        events.append(_event("paused", "the resolution clock waits for the requester"))
    elif after == Status.RESOLVED and promise.resolution_due is not None:
        events.append(_verdict("resolution", now, promise.resolution_due))
    return ClockChange(promise, tuple(events))


def _resume(
    promise: Promise, calendar: WorkingCalendar, now: float, events: list[Event]
) -> Promise:
    assert promise.paused_at is not None
    start, end = (datetime.fromtimestamp(t, UTC) for t in (promise.paused_at, now))
    paused = calendar.working_between(start, end)
    due = promise.resolution_due
    if due is not None:
        due = calendar.add(datetime.fromtimestamp(due, UTC), paused).timestamp()
    minutes = round(paused.total_seconds() / 60)
    events.append(_event("resumed", f"paused {minutes} working minutes; resolution due {iso(due)}"))
    return replace(promise, resolution_due=due, paused_at=None)


def _verdict(target: str, now: float, due: float) -> Event:
    word = "met" if now <= due else "missed"
    return _event(word, f"{target} due {iso(due)}")


def _event(keyword: str, note: str) -> Event:
    return Event("sla", ACTOR, keyword=keyword, note=note)


def iso(epoch: float | None) -> str:
    """UTC, ISO 8601 with offset; '-' for none."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Standing:
    """Where one target of a request stands at ``now``."""

    target: str
    due: float
    state: str  # met, missed, running, overdue, paused, closed


def standings(
    promise: Promise,
    *,
    status: Status,
    first_response_at: float | None,
    resolved_at: float | None,
    now: float,
) -> dict[str, Standing]:
    """``first_response`` and ``resolution`` (those that were promised) as of ``now``."""
    found: dict[str, Standing] = {}
    if promise.first_response_due is not None and promise.first_response_target:
        due = promise.first_response_due
        if first_response_at is not None:
            state = "met" if first_response_at <= due else "missed"
        else:
            state = "overdue" if now > due else "running"
        found["first_response"] = Standing(promise.first_response_target, due, state)
    if promise.resolution_due is not None and promise.resolution_target:
        due = promise.resolution_due
        if status == Status.RESOLVED and resolved_at is not None:
            state = "met" if resolved_at <= due else "missed"
        elif status == Status.CLOSED:
            state = "closed"
        elif promise.paused_at is not None:
            state = "paused"
        else:
            state = "overdue" if now > due else "running"
        found["resolution"] = Standing(promise.resolution_target, due, state)
    return found


def standings_of(thread: ThreadInfo, now: float) -> dict[str, Standing]:
    """``standings`` of one request as the store knows it."""
    return standings(
        thread.promise,
        status=thread.status,
        first_response_at=thread.first_response_at,
        resolved_at=thread.resolved_at,
        now=now,
    )
