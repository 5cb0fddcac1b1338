"""The daily digest: each team's open requests that need a look, once per working day.

At ``[promises] digest_at`` (the calendar's local time) on a day the team's calendar has
working time, the team gets one mail listing its open requests that are due today, overdue,
owned by nobody, or waiting for the requester. Nothing is sent when that list is empty, on
holidays and closed days, or twice for the same day (the caller records (recipient, day)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.notices import running
from mailer.model import Status, ThreadInfo
from mailer.settings import Settings, Team


@dataclass(frozen=True)
class Digest:
    team: Team
    recipient: str
    day: str  # the local date, ISO: the digest's key with the recipient
    due_today: tuple[ThreadInfo, ...]
    overdue: tuple[ThreadInfo, ...]
    unowned: tuple[ThreadInfo, ...]
    waiting: tuple[ThreadInfo, ...]

    @property
    def empty(self) -> bool:
        return not (self.due_today or self.overdue or self.unowned or self.waiting)


def digests_due(
    threads: Iterable[ThreadInfo],
    settings: Settings,
    calendar_of_team: Callable[[str | None], WorkingCalendar],
    now: float,
) -> list[Digest]:
    """The non-empty digests whose time has come today (sent ones included: the key drops them)."""
    at = settings.promises.digest_at
    if at is None:
        return []
    found: list[Digest] = []
    open_threads = [t for t in threads if t.status not in (Status.RESOLVED, Status.CLOSED)]
    for team in settings.teams:
        calendar = calendar_of_team(team.key)
        local = datetime.fromtimestamp(now, UTC).astimezone(calendar.zone)
        if team.address is None or local.time() < at or not calendar.intervals(local.date()):
            continue
        end_of_day = (
            datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), calendar.zone)
        ).timestamp()
        mine = [t for t in open_threads if t.team == team.key]
        dues = {t.id: [due for _, due in running(t)] for t in mine}
        digest = Digest(
            team=team,
            recipient=team.address.lower(),
            day=local.date().isoformat(),
            due_today=tuple(t for t in mine if any(now <= d < end_of_day for d in dues[t.id])),
            overdue=tuple(t for t in mine if any(d < now for d in dues[t.id])),
            unowned=tuple(t for t in mine if t.owner is None),
            waiting=tuple(t for t in mine if t.status == Status.WAITING),
        )
        if not digest.empty:
            found.append(digest)
    return found
