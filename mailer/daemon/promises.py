"""Keep the promises: at each tick, queue the reminders, escalations, late notices and
digests that are due, each exactly once.

Each notice's key goes into the store in the same transaction as its mail (see
``store.promises``): a crash before the commit leaves neither, after it both; a restart,
a second tick or a second node finds the key and queues nothing. What fell due while the
daemon was down goes out at the first tick in working hours, one mail per person.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable

import jinja2
import structlog

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.digests import digests_due
from mailer.core.timing.notices import LATE, Notice, notices_due
from mailer.core.timing.promises import calendar_for, calendar_named
from mailer.core.writing.notices import compose_digest, compose_due_notice, compose_late_notice
from mailer.daemon.clock import Clock
from mailer.daemon.mail_queue import MailQueue
from mailer.daemon.reports import WeeklyReports
from mailer.model import Address, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store

log = structlog.get_logger("mailer.promises")
TICK = 15.0  # seconds between looks at the due times


class PromiseKeeper:
    def __init__(self, settings: Settings, store: Store, env: jinja2.Environment) -> None:
        self.settings = settings
        self.store = store
        self.env = env
        self.mail = mail = MailQueue(settings, store, env)  # on the timers' store
        self.reports = WeeklyReports(settings, store, mail)

    def tick(self, now: float, sent_at: float | None = None) -> int:
        """Queue what is due at ``now``, in one transaction; returns the mails queued.

        ``sent_at`` (default ``now``) dates the mail and the outbox rows: the wall clock,
        also when ``now`` is a test's moved clock."""
        sent_at = now if sent_at is None else sent_at
        reports = self.reports.tick(now, sent_at)  # the weekly report mail, its own keys
        if not (_any_targets(self.settings) or self.settings.promises.digest_at):
            return reports
        with self.store.transaction():
            threads = self.store.open_threads()
            queued = self._notices([t for t in threads if t.promise.any], now, sent_at)
            queued += self._digests(threads, now, sent_at)
        return queued + reports

    def _calendar(self, thread: ThreadInfo) -> WorkingCalendar:
        return calendar_named(self.settings, thread.promise.calendar)

    def _notices(self, threads: list[ThreadInfo], now: float, sent_at: float) -> int:
        due = notices_due(threads, self.settings, self._calendar, now)
        fresh = [n for n in due if self.store.record_notice(*n.key, now)]
        by_person: dict[str, list[Notice]] = defaultdict(list)
        queued = 0
        for notice in fresh:
            if notice.kind == LATE:
                self._late(notice, sent_at)
                queued += 1
            else:
                by_person[notice.recipient].append(notice)
        for person, notices in by_person.items():
            threads_of = {n.thread.id: n.thread for n in notices}
            only = next(iter(threads_of.values())) if len(threads_of) == 1 else None
            reference = only.reference if only is not None else None
            envelope = self.mail.envelope(Address("", person), reference, sent_at)
            out = compose_due_notice(
                self.env, self.settings, notices, self._calendar, envelope, now
            )
            self.mail.prepared(only, "due_notice", out, sent_at)
            queued += 1
        for notice in fresh:
            log.info(
                "promise.notice",
                reference=notice.thread.reference,
                kind=notice.kind,
                target=notice.target,
                due=notice.due,
                to=notice.recipient,
            )
        return queued

    def _late(self, notice: Notice, sent_at: float) -> None:
        thread = notice.thread
        to = Address(thread.requester_name, thread.requester)
        envelope = self.mail.envelope(to, thread.reference, sent_at)
        out = compose_late_notice(self.env, self.settings, notice, self._calendar(thread), envelope)
        self.mail.prepared(thread, "late_notice", out, sent_at)

    def _digests(self, threads: list[ThreadInfo], now: float, sent_at: float) -> int:
        queued = 0
        for digest in digests_due(threads, self.settings, self._team_calendar, now):
            if not self.store.record_digest(digest.recipient, digest.day, now):
                continue
            to = Address(digest.team.name, digest.recipient)
            envelope = self.mail.envelope(to, None, sent_at)
            out = compose_digest(self.env, self.settings, digest, envelope, now)
            self.mail.prepared(None, "digest", out, sent_at)
            log.info("promise.digest", team=digest.team.key, day=digest.day, to=digest.recipient)
            queued += 1
        return queued

    def _team_calendar(self, team: str | None) -> WorkingCalendar:
        return calendar_for(self.settings, team)


def _any_targets(settings: Settings) -> bool:
    layers = [settings.targets, *(t for _, t in settings.priority_targets)]
    layers += [team.targets for team in settings.teams] + [rule.targets for rule in settings.rules]
    return any(t.first_response or t.resolution for t in layers)


async def keep_promises(
    keeper: Callable[[], PromiseKeeper],
    clock: Clock,
    stopping: Callable[[], bool],
    wake_outbox: Callable[[], None],
) -> None:
    """The daemon's task: a tick every ``TICK`` seconds, and at once when a test moves the
    clock; a failing tick is logged and tried again, it never stops the daemon."""
    moved = getattr(clock, "stamp", lambda: 0.0)
    seen = None
    while not stopping():
        seen = moved()
        try:
            if keeper().tick(clock(), time.time()):
                wake_outbox()
        except Exception as exc:  # the intake and the outbox must outlive any surprise here
            log.error("promise.error", error=f"{type(exc).__name__}: {exc}")
        deadline = time.monotonic() + TICK
        while not stopping() and time.monotonic() < deadline and moved() == seen:
            await asyncio.sleep(0.25)
