"""The figures of a period, from the requests' steps: one definition for every output.

Each thing counts in the period (and the week) in which it happened:

- **opened**: the request's ``opened`` step; **resolved**: a move from an open status to
  resolved or closed (a request reopened and solved again counts twice); **reopened**: a move
  from resolved or closed back to an open status.
- **acknowledge**: from the arrival (the server's INTERNALDATE) to the SMTP server accepting
  the receipt, clock seconds, counted when the receipt went out.
- **first response**: from the arrival to the first human answer the requester got, in
  working time of the request's calendar; **resolution**: from the start of the cycle (the
  arrival, or the last reopening) to the resolution, in working time (waiting included).
  Median: the middle value (the mean of the two middle ones); p90: the nearest rank, the
  smallest value with at least 90 % of them at or below it.
- **SLA**: the verdicts the clocks gave (``sla`` steps ``met`` / ``missed`` per target) in
  the period; a target still running past its due time counts when it is finally met or
  missed (meanwhile it is in the backlog as overdue).
- **ratings**: each request's latest rating, in the period it was given: scores 1-5 (count,
  average, distribution) and thanks without a score; **rated share**: of the requests
  resolved in the period, those rated (by its end).
- **backlog**: requests open at the end of each week, by age since arrival (calendar days).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mailer.core.reporting.facts import Occurrence, Request
from mailer.core.reporting.weeks import DAY, Span
from mailer.core.timing.calendar import WorkingCalendar
from mailer.model import OPEN_STATUSES, Status

HOUR = 3600.0
Buckets = tuple[tuple[str, float], ...]  # (label, upper limit), in order
AGES: Buckets = (
    ("under 1 day", 1 * DAY),
    ("1-3 days", 3 * DAY),
    ("3-7 days", 7 * DAY),
    ("1-2 weeks", 14 * DAY),
    ("over 2 weeks", math.inf),
)
RESOLUTION_HOURS: Buckets = (
    ("under 1 h", 1 * HOUR),
    ("1-4 h", 4 * HOUR),
    ("4-8 h", 8 * HOUR),
    ("8-16 h", 16 * HOUR),
    ("16-40 h", 40 * HOUR),
    ("over 40 h", math.inf),
)
TARGETS = ("first_response", "resolution")
CalendarOf = Callable[[str | None], WorkingCalendar]


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, the median and the 90th percentile."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Attainment:
    met: int = 0
    missed: int = 0

    @property
    def share(self) -> float | None:
        """Met over decided; None when nothing was decided."""
        decided = self.met + self.missed
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Ratings:
    count: int = 0  # scored ratings
    average: float | None = None
    distribution: tuple[int, ...] = (0, 0, 0, 0, 0)  # how many 1s, 2s ... 5s
    thanks: int = 0  # thanks without a score
    rated_share: float | None = None  # of the requests resolved in the period


@dataclass(frozen=True)
class Backlog:
    week: str
    at: float  # the end of the week (or of the period)
    open: int
    waiting: int  # of those open, waiting for the requester
    ages: tuple[int, ...]  # per AGES bucket


@dataclass(frozen=True)
class Figures:
    name: str
    since: float
    until: float
    opened: int
    resolved: int
    reopened: int
    acknowledge: Spread
    first_response: Spread  # working seconds
    resolution: Spread  # working seconds
    resolution_hours: tuple[int, ...]  # per RESOLUTION_HOURS bucket
    sla: dict[str, Attainment]  # first_response, resolution
    ratings: Ratings
    backlog: tuple[Backlog, ...]
    suppressed: dict[str, int] | None = None  # by reason; None for groups that have no robots
    duplicates: int | None = None


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread()
    rank = math.ceil(0.9 * len(ordered))  # nearest rank, 1-based
    return Spread(len(ordered), float(statistics.median(ordered)), ordered[rank - 1])


def figures(
    requests: Sequence[Request],
    span: Span,
    weeks: Sequence[Span],
    calendar_of: CalendarOf,
    *,
    noise: Sequence[Occurrence] | None = None,
    rated_by: float | None = None,
) -> Figures:
    """The figures of ``requests`` in ``span``; the backlog at the end of each of ``weeks``.

    ``noise``: the robots' and duplicates' mail (None: not counted, e.g. per team);
    ``rated_by``: ratings given until then count for the rated share (default: span's end).
    """
    opened = resolved = reopened = 0
    acknowledge: list[float] = []
    first: list[float] = []
    solving: list[float] = []
    sla = {target: Counter[str]() for target in TARGETS}
    scores: list[int] = []
    thanks = 0
    done: set[str] = set()
    rated: set[str] = set()
    for request in requests:
        calendar = calendar_of(request.calendar)
        arrived = request.arrived_at
        if request.acknowledged_at is not None and request.acknowledged_at in span:
            acknowledge.append(max(0.0, request.acknowledged_at - arrived))
        if request.first_response_at is not None and request.first_response_at in span:
            first.append(_working(calendar, arrived, request.first_response_at))
        cycle = arrived
        ratings = [s for s in request.steps if s.kind == "rating"]
        if any(s.at < (rated_by or span.until) for s in ratings):
            rated.add(request.reference)
        for step in request.steps:
            if step.reopens:
                cycle = step.at
            if step.at not in span:
                continue
            opened += step.kind == "opened"
            reopened += step.reopens
            if step.resolves:
                resolved += 1
                done.add(request.reference)
                solving.append(_working(calendar, cycle, step.at))
            if step.kind == "sla" and step.target in sla and step.keyword in ("met", "missed"):
                sla[step.target][step.keyword] += 1
        if ratings and ratings[-1].at in span:
            if ratings[-1].score is None:
                thanks += 1
            else:
                scores.append(ratings[-1].score)
    return Figures(
        name=span.name,
        since=span.since,
        until=span.until,
        opened=opened,
        resolved=resolved,
        reopened=reopened,
        acknowledge=spread(acknowledge),
        first_response=spread(first),
        resolution=spread(solving),
        resolution_hours=_buckets(solving, RESOLUTION_HOURS),
        sla={t: Attainment(c["met"], c["missed"]) for t, c in sla.items()},
        ratings=_ratings(scores, thanks, len(done & rated), len(done)),
        backlog=tuple(backlog(requests, week) for week in weeks),
        suppressed=None if noise is None else _suppressed(noise, span),
        duplicates=None
        if noise is None
        else sum(o.what == "duplicate" for o in noise if o.at in span),
    )


def backlog(requests: Iterable[Request], week: Span) -> Backlog:
    """The requests open at the end of ``week``, by age since their arrival."""
    at = week.until
    ages: list[float] = []
    waiting = 0
    for request in requests:
        status = request.status_at(at)
        if status in OPEN_STATUSES:
            ages.append(at - request.arrived_at)
            waiting += status == Status.WAITING
    return Backlog(week.name, at, len(ages), waiting, _buckets(ages, AGES))


def _working(calendar: WorkingCalendar, start: float, end: float) -> float:
    begin, finish = (datetime.fromtimestamp(t, UTC) for t in (start, end))
    return calendar.working_between(begin, finish).total_seconds()


def _buckets(values: Iterable[float], limits: Sequence[tuple[str, float]]) -> tuple[int, ...]:
    counts = [0] * len(limits)
    for value in values:
        counts[next(i for i, (_, top) in enumerate(limits) if value < top)] += 1
    return tuple(counts)


def _ratings(scores: list[int], thanks: int, rated: int, resolved: int) -> Ratings:
    return Ratings(
        count=len(scores),
        average=sum(scores) / len(scores) if scores else None,
        distribution=tuple(scores.count(n) for n in range(1, 6)),
        thanks=thanks,
        rated_share=rated / resolved if resolved else None,
    )


def _suppressed(noise: Iterable[Occurrence], span: Span) -> dict[str, int]:
    found = Counter(o.what for o in noise if o.at in span and o.what != "duplicate")
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))
