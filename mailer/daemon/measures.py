"""What a step means for the SLA metrics, said in the log (the metrics count the log):
the working time to a first response and to a resolution, and each target met or missed.

``request.first_response`` and ``request.resolved`` carry ``working_seconds`` in the
request's calendar (a resolution from its cycle's start: the arrival, or the last
reopening), ``promise.verdict`` the target and ``met`` or ``missed``; all carry the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from mailer.core.reporting.facts import DONE
from mailer.core.timing.calendar import WorkingCalendar
from mailer.model import OPEN_STATUSES, Event, Status, ThreadInfo
from mailer.store import Store

log = structlog.get_logger("mailer.intake")


def say_measures(
    store: Store,
    thread: ThreadInfo,
    calendar: WorkingCalendar,
    *,
    after: Status | None,
    first_response: bool,
    clock_events: Sequence[Event],
    now: float,
) -> None:
    team = thread.team or "none"
    if first_response:
        seconds = _working(calendar, thread.created_at, now)
        log.info(
            "request.first_response", reference=thread.reference, team=team, working_seconds=seconds
        )
    if after in DONE and thread.status not in DONE:
        reopened = [
            e.at
            for e in store.events(thread.id)
            if e.from_status in DONE and e.to_status in OPEN_STATUSES
        ]
        start = max(reopened, default=thread.created_at)
        seconds = _working(calendar, start, now)
        log.info("request.resolved", reference=thread.reference, team=team, working_seconds=seconds)
    for event in clock_events:
        if event.keyword in ("met", "missed") and event.note:
            target = event.note.split(maxsplit=1)[0]
            log.info(
                "promise.verdict",
                reference=thread.reference,
                team=team,
                target=target,
                verdict=event.keyword,
            )


def _working(calendar: WorkingCalendar, start: float, end: float) -> float:
    begin, finish = (datetime.fromtimestamp(t, UTC) for t in (start, end))
    return round(calendar.working_between(begin, finish).total_seconds(), 1)
