"""Store queries for reports (``mailer report``, the weekly report mail): what happened to
the requests of a period, read only; and the weekly mails' keys, recorded once.

A mixin of ``SqliteStore``: it only needs ``self.db``. A report reads the requests that can
have anything to count in the period: opened before its end and still open, or touched
during it; their steps (opened, status, rating, sla: every one, for the status a request
had at any moment); the robots' mail suppressed and the duplicates seen in the period.
"""

from __future__ import annotations

from mailer.model import OPEN_STATUSES, Status
from mailer.store.base import Connected
from mailer.store.rows import EventRow, Occurrence, ReportThread
from mailer.store.threads import event_row

_THREADS = (
    "FROM threads t WHERE t.created_at < :until"
    f" AND (t.status IN ({', '.join(repr(s.value) for s in OPEN_STATUSES)})"
    " OR t.updated_at >= :since)"
)
REPORTED_KINDS = ("opened", "status", "rating", "sla")
SUPPRESSED = "suppressed: "  # how the store writes a robot's (or the sender cap's) reason


class ReportQueries(Connected):
    def report_threads(self, *, since: float, until: float) -> list[ReportThread]:
        """The requests a report over [since, until) reads, oldest first."""
        rows = self.db.execute(
            "SELECT t.id, t.reference, t.requester, t.team, t.category, t.owner, t.priority,"
            " t.status, t.calendar, t.created_at, t.first_response_at,"
            " min(t.created_at, coalesce((SELECT min(m.internaldate) FROM messages m"
            "   WHERE m.thread_id = t.id AND m.direction = 'in'), t.created_at)) AS arrived_at,"
            " (SELECT min(o.sent_at) FROM outbox o WHERE o.thread_id = t.id"
            "   AND o.kind = 'receipt' AND o.status = 'sent') AS acknowledged_at"
            f" {_THREADS} ORDER BY t.id",
            {"since": since, "until": until},
        )
        return [ReportThread(**{**r, "status": Status(r["status"])}) for r in rows]

    def report_events(self, *, since: float, until: float) -> list[EventRow]:
        """The counted steps (opened, status, rating, sla) of those requests, in order."""
        kinds = ", ".join(f"'{k}'" for k in REPORTED_KINDS)
        rows = self.db.execute(
            f"SELECT * FROM events WHERE kind IN ({kinds}) AND at < :until AND thread_id IN"
            f" (SELECT t.id {_THREADS}) ORDER BY thread_id, at, id",
            {"since": since, "until": until},
        )
        return [event_row(r) for r in rows]

    def suppressed_messages(self, *, since: float, until: float) -> list[Occurrence]:
        """Inbound mail that got no receipt as a robot's (or over the sender cap), by reason."""
        rows = self.db.execute(
            "SELECT at, substr(reason, ?) AS what FROM messages WHERE direction = 'in'"
            " AND at >= ? AND at < ? AND reason LIKE ? ORDER BY at",
            (len(SUPPRESSED) + 1, since, until, SUPPRESSED + "%"),
        )
        return [Occurrence(float(r["at"]), str(r["what"])) for r in rows]

    def duplicates_seen(self, *, since: float, until: float) -> list[Occurrence]:
        """Mail the store already had (a re-delivery, a rescan): recorded once, never again."""
        rows = self.db.execute(
            "SELECT at FROM repeats WHERE at >= ? AND at < ? ORDER BY at", (since, until)
        )
        return [Occurrence(float(r["at"]), "duplicate") for r in rows]

    def report_sent(self, recipient: str, week: str) -> bool:
        row = self._one("SELECT 1 FROM reports WHERE recipient = ? AND week = ?", (recipient, week))
        return row is not None

    def record_report(self, recipient: str, week: str, now: float) -> bool:
        """True the first time the report of ``week`` for ``recipient`` is recorded (then
        queue it, in the same transaction), False ever after."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO reports(recipient, week, queued_at) VALUES (?, ?, ?)",
            (recipient, week, now),
        )
        return cursor.rowcount == 1
