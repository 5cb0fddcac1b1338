"""The weekly report mail: once a week, each ``[reports]`` recipient gets one mail with the
week's figures, the main charts inline and the whole report attached; each exactly once.

The key (recipient, week and scope: a team or all) is recorded in the same transaction as
the mail's outbox row, like the promises' notices: a restart, a crash or a second tick never
queues it again. The week covered is the last whole week (Monday to Monday, in the scope's
calendar) before the moment ``weekday`` ``hour`` of this week; when that moment passed while
the daemon was down, the mail goes at the next tick, once. Weeks that ended before the store
first saw the mailbox are not reported (a new install sends no empty report of the past).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import structlog

from mailer.core.reporting.weeks import Span, full_week_before, midnight, monday_of
from mailer.daemon.mail_queue import MailQueue
from mailer.model import Address
from mailer.reports.gather import make_report, team_zone
from mailer.settings import Settings
from mailer.store import Store

log = structlog.get_logger("mailer.reports")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TREND_WEEKS = 4  # the charts show the week covered and the ones before it
ALL = "all"


def covered_week(now: float, zone: ZoneInfo, weekday: str, hour: int) -> Span:
    """The week whose report is due at ``now``: the whole week before the latest moment
    (``weekday`` at ``hour``, local) that is not after ``now``."""
    monday = monday_of(now, zone)
    moment = midnight(monday + timedelta(days=WEEKDAYS.index(weekday)), zone) + hour * 3600
    if now < moment:
        monday -= timedelta(days=7)
    return full_week_before(midnight(monday, zone), zone)


class WeeklyReports:
    def __init__(self, settings: Settings, store: Store, mail: MailQueue) -> None:
        self.settings = settings
        self.store = store
        self.mail = mail

    def scopes(self) -> list[tuple[str | None, tuple[str, ...]]]:
        wanted = self.settings.reports
        scopes: list[tuple[str | None, tuple[str, ...]]] = [(None, wanted.to)] if wanted.to else []
        return scopes + [(team, found) for team, found in wanted.teams if found]

    def tick(self, now: float, sent_at: float) -> int:
        """Queue the reports due at ``now`` that were not queued yet; the mails queued."""
        if not self.settings.reports.wanted:
            return 0
        state = self.store.mailbox_state(self.settings.imap.mailbox)
        if state is None:
            return 0  # nothing was ever read: nothing to report
        queued = 0
        for team, recipients in self.scopes():
            try:
                queued += self._scope(team, recipients, now, sent_at, state.first_seen)
            except Exception as exc:  # reminders and intake must outlive a broken report
                log.error("report.error", scope=team or ALL, error=f"{type(exc).__name__}: {exc}")
        return queued

    def _scope(
        self, team: str | None, recipients: tuple[str, ...], now: float, sent_at: float, born: float
    ) -> int:
        s = self.settings
        zone = team_zone(s, team)
        week = covered_week(now, zone, s.reports.weekday, s.reports.hour)
        key = f"{week.name}/{team or ALL}"
        todo = [r for r in recipients if not self.store.report_sent(r, key)]
        if week.until <= born or not todo:
            return 0
        from mailer.reports.charts import draw  # matplotlib, only when a report is due
        from mailer.reports.mail import compose_weekly
        from mailer.reports.page import render_page

        trend = Span("period", week.until - TREND_WEEKS * 7 * 86400.0, week.until)
        report = make_report([(s.store.mailbox, self.store)], s, trend, zone=zone, team=team)
        found = s.team(team)
        scope = found.name if found else "all teams"
        title = f"{s.service.name}: weekly report {week.name}, {scope}"
        charts = draw(report, svg=True, png=True)
        page = render_page(report, title=title, charts=charts)
        queued = 0
        with self.store.transaction():
            for recipient in todo:
                if not self.store.record_report(recipient, key, now):
                    continue
                envelope = self.mail.envelope(Address("", recipient), None, sent_at)
                out = compose_weekly(
                    s.service, envelope, title=title, week=report.weeks[-1], zone=zone,
                    charts=charts, page=page,
                )  # fmt: skip
                self.mail.prepared(None, "report", out, sent_at)
                queued += 1
        log.info("report.queued", week=week.name, scope=team or ALL, mails=queued)
        return queued
