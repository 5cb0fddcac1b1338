"""Promises kept in the store: due times per request, reminders and digests sent once,
and each team's load against them (the metrics' gauges).

A reminder, an escalation or a digest is queued in the same transaction as its row here;
the row's key (request, kind, due time, recipient; or recipient and day) is the primary key,
so a restart, a crash or a second run can never queue it twice.
"""

from __future__ import annotations

from typing import Any

from mailer.model import OPEN_STATUSES, Promise, ThreadInfo
from mailer.store.base import Connected
from mailer.store.rows import TeamLoad
from mailer.store.threads import thread_info


class PromiseQueries(Connected):
    _fresh: tuple[int, Any] | None  # ThreadQueries': a promise changes the row

    def set_promise(self, thread_id: int, promise: Promise) -> None:
        self._fresh = None
        self.db.execute(
            "UPDATE threads SET calendar = ?, first_response_target = ?, resolution_target = ?,"
            " first_response_due = ?, resolution_due = ?, paused_at = ? WHERE id = ?",
            (
                promise.calendar,
                promise.first_response_target,
                promise.resolution_target,
                promise.first_response_due,
                promise.resolution_due,
                promise.paused_at,
                thread_id,
            ),
        )

    def promised_threads(self) -> list[ThreadInfo]:
        """Open requests that were promised something, oldest first."""
        return self._open(" AND (first_response_due IS NOT NULL OR resolution_due IS NOT NULL)")

    def open_threads(self) -> list[ThreadInfo]:
        """Every open request (new, acknowledged, in progress, waiting), oldest first."""
        return self._open("")

    def team_load(self, now: float) -> list[TeamLoad]:
        """Open, overdue and waiting requests per team (no team first, then by name).

        Overdue: a first response not given by its due time, or a resolution clock (not
        paused) past its due time. CASE, not SQLite's sum of a comparison: PostgreSQL has no
        sum of booleans."""
        statuses = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
        rows = self.db.execute(
            "SELECT team, count(*) AS n,"
            " sum(CASE WHEN (first_response_at IS NULL AND first_response_due < :now)"
            "  OR (paused_at IS NULL AND resolution_due < :now) THEN 1 ELSE 0 END) AS late,"
            " sum(CASE WHEN status = 'waiting' THEN 1 ELSE 0 END) AS waiting"
            f" FROM threads WHERE status IN ({statuses})"
            " GROUP BY team ORDER BY coalesce(team, '')",
            {"now": now},
        )
        return [
            TeamLoad(r["team"], int(r["n"]), int(r["late"] or 0), int(r["waiting"] or 0))
            for r in rows
        ]

    def _open(self, condition: str) -> list[ThreadInfo]:
        marks = ", ".join("?" * len(OPEN_STATUSES))
        rows = self.db.execute(
            f"SELECT * FROM threads WHERE status IN ({marks}){condition} ORDER BY id",
            [s.value for s in OPEN_STATUSES],
        )
        return [thread_info(r) for r in rows]

    def record_notice(
        self, thread_id: int, kind: str, due: float, recipient: str, now: float
    ) -> bool:
        """True the first time this notice is recorded (then queue it), False ever after."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO notices(thread_id, kind, due, recipient, queued_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (thread_id, kind, due, recipient, now),
        )
        return cursor.rowcount == 1

    def notice_recorded(self, thread_id: int, kind: str, due: float) -> bool:
        row = self._one(
            "SELECT 1 FROM notices WHERE thread_id = ? AND kind = ? AND due = ?",
            (thread_id, kind, due),
        )
        return row is not None

    def record_digest(self, recipient: str, day: str, now: float) -> bool:
        """True the first time a digest for ``recipient`` on ``day`` is recorded."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO digests(recipient, day, queued_at) VALUES (?, ?, ?)",
            (recipient, day, now),
        )
        return cursor.rowcount == 1
