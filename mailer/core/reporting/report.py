"""A whole report: the period's figures, the same per week (the charts' series) and per
group (``--by`` team, category, owner, mailbox or week), and the oldest requests still open.

Groups by team, category, owner or mailbox hold the requests of that team (category, current
owner, shared mailbox: a report of a shared store may span several mailboxes),
with every figure of the period; robots and duplicates belong to no request, so only the
period and its weeks count them. Grouped by week, the groups are the weeks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from mailer.core.reporting.facts import Occurrence, Request
from mailer.core.reporting.figures import CalendarOf, Figures, figures
from mailer.core.reporting.weeks import DAY, Span, weeks_of
from mailer.model import OPEN_STATUSES

GROUPINGS = ("team", "category", "owner", "mailbox", "week")
NOBODY = {"team": "(no team)", "category": "(none)", "owner": "(nobody)", "mailbox": "(none)"}
OLDEST = 10  # open requests listed


@dataclass(frozen=True)
class OpenRequest:
    """One of the oldest requests still open at the end of the period."""

    reference: str
    team: str | None
    owner: str | None
    status: str
    age_days: float
    requester: str  # shown only with --with-requesters


@dataclass(frozen=True)
class Report:
    by: str
    timezone: str
    total: Figures
    weeks: tuple[Figures, ...]
    groups: tuple[Figures, ...]
    oldest_open: tuple[OpenRequest, ...]
    group_weeks: tuple[tuple[Figures, ...], ...] = ()  # each group's weeks (not by week)
    mailboxes: tuple[str, ...] = ()  # the shared addresses it reads, when not its config's


def group_key(by: str) -> Callable[[Request], str]:
    if by not in NOBODY:
        raise ValueError(f"cannot group by {by!r}: choose one of {', '.join(GROUPINGS)}")
    return lambda request: getattr(request, by) or NOBODY[by]


def build_report(
    requests: Sequence[Request],
    noise: Sequence[Occurrence],
    period: Span,
    zone: ZoneInfo,
    calendar_of: CalendarOf,
    *,
    by: str = "team",
    mailboxes: Sequence[str] = (),
) -> Report:
    weeks = weeks_of(period, zone)
    per_week = tuple(
        figures(requests, week, (week,), calendar_of, noise=noise, rated_by=week.until)
        for week in weeks
    )
    group_weeks: tuple[tuple[Figures, ...], ...] = ()
    if by == "week":
        groups = per_week
    else:
        key = group_key(by)
        names = sorted({key(r) for r in requests}, key=lambda n: (n == NOBODY[by], n))
        members = [[r for r in requests if key(r) == name] for name in names]
        groups = tuple(
            figures(mine, _named(period, name), weeks, calendar_of)
            for name, mine in zip(names, members, strict=True)
        )
        group_weeks = tuple(
            tuple(figures(mine, w, (w,), calendar_of, rated_by=w.until) for w in weeks)
            for mine in members
        )
    return Report(
        by=by,
        timezone=str(zone),
        total=figures(requests, period, weeks, calendar_of, noise=noise),
        weeks=per_week,
        groups=groups,
        oldest_open=oldest_open(requests, period.until),
        group_weeks=group_weeks,
        mailboxes=tuple(mailboxes),
    )


def oldest_open(requests: Sequence[Request], at: float) -> tuple[OpenRequest, ...]:
    found = [
        OpenRequest(
            r.reference, r.team, r.owner, str(status), (at - r.arrived_at) / DAY, r.requester
        )
        for r in requests
        if (status := r.status_at(at)) in OPEN_STATUSES
    ]
    return tuple(sorted(found, key=lambda o: -o.age_days)[:OLDEST])


def _named(span: Span, name: str) -> Span:
    return Span(name, span.since, span.until)
