"""From the store to the core's facts: the requests of a period with their counted steps.

Text stays here: a rating's score and an SLA verdict's target are read out of the stored
notes, and nothing else of them goes on.

A report reads one or several mailboxes' stores (``Desks``: ``mailer report --mailbox`` on a
shared store, as ``store.open_stores`` gives them); each store's rows are joined to their
steps on their own (ids are a store's own), and each request says its mailbox. Working time
counts in this config's calendars, by the name each request stored (one this config does not
know counts clock time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from mailer.core.deciding.rating import score_of
from mailer.core.reporting.facts import Occurrence, Request, Step
from mailer.core.reporting.figures import CalendarOf
from mailer.core.reporting.report import Report, build_report
from mailer.core.reporting.weeks import Span
from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.promises import calendar_named
from mailer.settings import Settings
from mailer.store import EventRow, ReportThread, Store

Desks = Sequence[tuple[str, Store]]  # (a mailbox's shared address, its store)


def calendars(settings: Settings) -> CalendarOf:
    def of(name: str | None) -> WorkingCalendar:
        return calendar_named(settings, name)

    return of


def report_zone(settings: Settings) -> ZoneInfo:
    """The report's time zone: the default calendar's ([service] calendar), else UTC."""
    return calendar_named(settings, settings.default_calendar).zone


def team_zone(settings: Settings, team: str | None) -> ZoneInfo:
    found = settings.team(team)
    name = (found.calendar if found else None) or settings.default_calendar
    return calendar_named(settings, name).zone


def step_of(event: EventRow) -> Step:
    note = event.note or ""
    return Step(
        at=event.at,
        kind=event.kind,
        keyword=event.keyword,
        from_status=event.from_status,
        to_status=event.to_status,
        target=note.split(maxsplit=1)[0] if event.kind == "sla" and note else None,
        score=score_of(note) if event.kind == "rating" else None,
    )


def request_of(
    settings: Settings, row: ReportThread, steps: list[Step], mailbox: str = ""
) -> Request:
    team = settings.team(row.team)
    calendar = row.calendar or (team.calendar if team else None) or settings.default_calendar
    return Request(
        reference=row.reference,
        requester=row.requester,
        team=row.team,
        category=row.category,
        owner=row.owner,
        calendar=calendar,
        arrived_at=row.arrived_at,
        acknowledged_at=row.acknowledged_at,
        first_response_at=row.first_response_at,
        steps=tuple(steps),
        mailbox=mailbox,
    )


def gather(
    desks: Desks, settings: Settings, period: Span
) -> tuple[list[Request], list[Occurrence]]:
    """The requests that have anything to count in ``period``, and the mail that was none."""
    window = {"since": period.since, "until": period.until}
    requests: list[Request] = []
    noise: list[Occurrence] = []
    for mailbox, store in desks:
        steps: dict[int, list[Step]] = defaultdict(list)
        for event in store.report_events(**window):
            steps[event.thread_id].append(step_of(event))
        requests += [
            request_of(settings, row, steps[row.id], mailbox)
            for row in store.report_threads(**window)
        ]
        noise += [
            Occurrence(o.at, o.what)
            for o in (*store.suppressed_messages(**window), *store.duplicates_seen(**window))
        ]
    return requests, noise


def make_report(
    desks: Desks,
    settings: Settings,
    period: Span,
    *,
    by: str = "team",
    zone: ZoneInfo | None = None,
    team: str | None = None,
) -> Report:
    """The report of ``period`` over the mailboxes of ``desks``; with ``team``, of that team's
    requests only (robots and duplicates belong to no team, so its report has none)."""
    requests, noise = gather(desks, settings, period)
    if team is not None:
        requests, noise = [r for r in requests if r.team == team], []
    zone = zone or report_zone(settings)
    mailboxes = [mailbox for mailbox, _ in desks]
    if mailboxes == [settings.store.mailbox]:
        mailboxes = []  # this config's own: the report names only another one it reads
    return build_report(
        requests, noise, period, zone, calendars(settings), by=by, mailboxes=mailboxes
    )
