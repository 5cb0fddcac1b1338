"""Store queries for retention: what ``mailer purge`` removes, and compacting the file after.

A mixin of ``SqliteStore``: it only needs ``self.db``. The rules (why each one, see README "Data
care"): a closed request, or a resolved one past the reopen window, untouched for N days
goes with its events, its outbox rows and its outbound message rows; its inbound messages
stay as bare keys (no thread, sender, subject) so that a re-delivered copy is still a
duplicate, not a new request with a new receipt. Sent and dead outbox rows older than N
days lose their bytes and keep their metadata; messages in no request lose sender and
subject. Open requests, and any request with mail still waiting (pending, or a Sent-folder
copy to make), are never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mailer.store.base import Connected
from mailer.store.rows import Cutoffs, PurgeCounts

_IDLE = (
    "t.status IN ('closed', 'resolved') AND max(t.updated_at,"
    " coalesce((SELECT max(at) FROM messages m WHERE m.thread_id = t.id), 0),"
    " coalesce((SELECT max(at) FROM events e WHERE e.thread_id = t.id), 0))"
    " < CASE t.status WHEN 'closed' THEN :closed ELSE :resolved END"
)
_WAITING = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = t.id"
    " AND (o.status = 'pending' OR o.copy_status = 'pending'))"
)
_GONE = "thread_id IN (SELECT id FROM temp.purge_ids)"
_NO_PERSON = "sender = NULL, subject = NULL, defects = NULL, language = NULL"

# (count field, table, rows, change): disjoint row sets, so counting all of them first
# (a dry run) gives the same numbers as counting each just before it runs.
_STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("request_outbox_rows", "outbox", _GONE, "DELETE"),
    ("request_events", "events", _GONE, "DELETE"),
    ("request_mails_out", "messages", f"direction = 'out' AND {_GONE}", "DELETE"),
    (
        "request_mails_in_kept_as_keys",
        "messages",
        f"direction = 'in' AND {_GONE}",
        f"SET thread_id = NULL, {_NO_PERSON}",
    ),
    ("requests", "threads", "id IN (SELECT id FROM temp.purge_ids)", "DELETE"),
    (
        "outbox_bodies_emptied",
        "outbox",
        "status IN ('sent', 'dead') AND coalesce(copy_status, '') != 'pending'"
        " AND coalesce(sent_at, created_at) < :closed AND length(raw) > 0"
        f" AND (thread_id IS NULL OR NOT {_GONE})",
        "SET raw = x''",
    ),
    (
        "unthreaded_messages_anonymised",
        "messages",
        "thread_id IS NULL AND at < :closed"
        " AND (sender IS NOT NULL OR subject IS NOT NULL OR defects IS NOT NULL)",
        f"SET {_NO_PERSON}",
    ),
)


class RetentionQueries(Connected):
    def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False) -> PurgeCounts:
        """Remove what is past retention in ONE write transaction, or only count it.

        ``secure_delete`` zeroes the freed bytes as they go, so they leave the pages even
        before ``compact``; a dry run reads one snapshot and writes nothing.
        """
        args = {"closed": cutoffs.closed, "resolved": cutoffs.resolved}
        self.db.execute("PRAGMA secure_delete = ON")
        with self._purge_transaction(dry_run):
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS purge_ids(id INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM temp.purge_ids")
            old = f"SELECT t.id FROM threads t WHERE {_IDLE}"
            kept = self._count(f"SELECT count(*) FROM threads t WHERE {_IDLE} AND {_WAITING}", args)
            self.db.execute(f"INSERT INTO temp.purge_ids {old} AND NOT {_WAITING}", args)
            counts: dict[str, int] = {"requests_kept_mail_waiting": kept}
            for name, table, rows, change in _STEPS:
                counts[name] = self._count(f"SELECT count(*) FROM {table} WHERE {rows}", args)
                if not dry_run:
                    verb = "DELETE FROM" if change == "DELETE" else "UPDATE"
                    tail = "" if change == "DELETE" else f" {change}"
                    self.db.execute(f"{verb} {table}{tail} WHERE {rows}", args)
            self.db.execute("DELETE FROM temp.purge_ids")
        return PurgeCounts(**counts)

    def compact(self) -> bool:
        """VACUUM, then checkpoint and truncate the WAL: the file really shrinks and no old
        page stays behind in it. False when a reader kept the WAL from being truncated."""
        self.db.execute("VACUUM")
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def _count(self, sql: str, args: dict[str, float]) -> int:
        return int(self.db.execute(sql, args).fetchone()[0])

    @contextlib.contextmanager
    def _purge_transaction(self, dry_run: bool) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; a dry run: a read snapshot, always rolled back."""
        self.db.execute("BEGIN" if dry_run else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("ROLLBACK" if dry_run else "COMMIT")
