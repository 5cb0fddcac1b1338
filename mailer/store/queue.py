"""Store queries for what waits: the outbox, failed messages, moves to do after commit.

A mixin of ``SqliteStore``: it only needs ``self.db``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from mailer.store.base import Connected
from mailer.store.rows import FailureRow, OutboxEntry, OutboxRow

_ENTRY = ", ".join(OutboxEntry.__dataclass_fields__)
_FAILURE = ", ".join(FailureRow.__dataclass_fields__)


class QueueQueries(Connected):
    # The messages of a mailbox that may have a failure record: its retry candidates when
    # last asked, and the failures counted since (absent: not asked yet, any may).
    _may_fail: dict[tuple[str, int], set[int]]

    # ---- outbox --------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        thread_id: int | None,
        message_id: str,
        kind: str,
        recipient: str,
        envelope_sender: str,
        raw: bytes,
        next_attempt: float,
        created_at: float,
    ) -> int:
        """A rendered mail, pending from ``next_attempt`` on; returns its row id."""
        cursor = self.db.execute(
            "INSERT INTO outbox(thread_id, message_id, kind, recipient, envelope_sender, raw,"
            " status, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (thread_id, message_id, kind, recipient, envelope_sender, raw, next_attempt,
             created_at),
        )  # fmt: skip
        return int(cursor.lastrowid or 0)

    def due(self, now: float, *, after_id: int = 0, limit: int = 100) -> list[OutboxRow]:
        """Pending rows due by ``now``, in id order after ``after_id`` (a drain's cursor)."""
        rows = self.db.execute(
            "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt <= ? AND id > ?"
            " ORDER BY id LIMIT ?",
            (now, after_id, limit),
        )
        return [_outbox(r) for r in rows]

    def next_due(self) -> float | None:
        row = self._one("SELECT min(next_attempt) AS t FROM outbox WHERE status = 'pending'")
        return float(row["t"]) if row and row["t"] is not None else None

    def pending_count(self) -> int:
        row = self._one("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")
        return int(row["n"]) if row else 0

    def mark_sent(self, row_id: int, now: float, *, copy_wanted: bool) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
            " copy_status = ? WHERE id = ?",
            (now, "pending" if copy_wanted else None, row_id),
        )

    def mark_retry(self, row_id: int, when: float, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
            " WHERE id = ?",
            (when, error, row_id),
        )

    def mark_dead(self, row_id: int, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?"
            " WHERE id = ?",
            (error, row_id),
        )

    def mark_bounced(self, message_id: str, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET bounced = 1, last_error = ? WHERE message_id = ?",
            (error, message_id),
        )

    def copies_pending(self, *, limit: int = 50) -> list[OutboxRow]:
        rows = self.db.execute(
            "SELECT * FROM outbox WHERE copy_status = 'pending' ORDER BY id LIMIT ?", (limit,)
        )
        return [_outbox(r) for r in rows]

    def mark_copied(self, row_id: int, *, status: str = "done") -> None:
        self.db.execute("UPDATE outbox SET copy_status = ? WHERE id = ?", (status, row_id))

    def outbox_rows(self, *, status: str | None = None) -> list[OutboxEntry]:
        sql = f"SELECT {_ENTRY} FROM outbox"
        args: tuple[Any, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        return [OutboxEntry(**r) for r in self.db.execute(sql + " ORDER BY id", args)]

    # ---- failures and quarantine --------------------------------------------------------

    def record_failure(
        self, mailbox: str, uidvalidity: int, uid: int, error: str, now: float, max_attempts: int
    ) -> bool:
        """Count one failed attempt; True when the message is now quarantined."""
        self._may_fail.setdefault((mailbox, uidvalidity), set()).add(uid)
        self.db.execute(
            "INSERT INTO failures(mailbox, uidvalidity, uid, attempts, last_error, quarantined,"
            " updated_at) VALUES (?,?,?,1,?,0,?) ON CONFLICT(mailbox, uidvalidity, uid) DO UPDATE"
            " SET attempts = attempts + 1, last_error = excluded.last_error,"
            " updated_at = excluded.updated_at",
            (mailbox, uidvalidity, uid, error, now),
        )
        row = self._one(
            "SELECT attempts FROM failures WHERE mailbox=? AND uidvalidity=? AND uid=?",
            (mailbox, uidvalidity, uid),
        )
        attempts = int(row["attempts"]) if row else 1
        if attempts >= max_attempts:
            self.db.execute(
                "UPDATE failures SET quarantined = 1 WHERE mailbox=? AND uidvalidity=? AND uid=?",
                (mailbox, uidvalidity, uid),
            )
            return True
        return False

    def clear_failure(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Forget a message's failures once it went through. Only where it may have some (a
        retry candidate, or a failure counted since): new mail has none, and costs no DELETE."""
        known = self._may_fail.get((mailbox, uidvalidity))
        if known is not None and uid not in known:
            return
        self.db.execute(
            "DELETE FROM failures WHERE mailbox=? AND uidvalidity=? AND uid=?",
            (mailbox, uidvalidity, uid),
        )
        if known is not None:
            known.discard(uid)

    def retry_candidates(self, mailbox: str, uidvalidity: int) -> list[int]:
        rows = self.db.execute(
            "SELECT uid FROM failures WHERE mailbox=? AND uidvalidity=? AND quarantined=0"
            " ORDER BY uid",
            (mailbox, uidvalidity),
        )
        found = [int(r["uid"]) for r in rows]
        self._may_fail[(mailbox, uidvalidity)] = set(found)
        return found

    def quarantined(self) -> list[FailureRow]:
        rows = self.db.execute(
            f"SELECT {_FAILURE} FROM failures WHERE quarantined = 1 ORDER BY uid"
        )
        return [FailureRow(**{**r, "quarantined": bool(r["quarantined"])}) for r in rows]

    def requeue(self, uid: int, mailbox: str | None = None) -> int:
        """Give a quarantined message fresh attempts; returns how many rows changed."""
        sql = "UPDATE failures SET quarantined = 0, attempts = 0 WHERE uid = ?"
        args: tuple[Any, ...] = (uid,)
        if mailbox:
            sql += " AND mailbox = ?"
            args += (mailbox,)
        return self.db.execute(sql, args).rowcount

    # ---- moves after commit --------------------------------------------------------------

    def queue_move(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO pending_moves(mailbox, uidvalidity, uid) VALUES (?,?,?)",
            (mailbox, uidvalidity, uid),
        )

    def pending_moves(self, mailbox: str, uidvalidity: int) -> list[int]:
        rows = self.db.execute(
            "SELECT uid FROM pending_moves WHERE mailbox=? AND uidvalidity=? ORDER BY uid",
            (mailbox, uidvalidity),
        )
        return [int(r["uid"]) for r in rows]

    def moves_done(self, mailbox: str, uids: Iterable[int]) -> None:
        self.db.executemany(
            "DELETE FROM pending_moves WHERE mailbox = ? AND uid = ?",
            [(mailbox, uid) for uid in uids],
        )

    def drop_moves(self, mailbox: str, uidvalidity: int) -> None:
        self.db.execute(
            "DELETE FROM pending_moves WHERE mailbox = ? AND uidvalidity != ?",
            (mailbox, uidvalidity),
        )


def _outbox(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        thread_id=row["thread_id"],
        message_id=row["message_id"],
        kind=row["kind"],
        recipient=row["recipient"],
        envelope_sender=row["envelope_sender"],
        raw=bytes(row["raw"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
    )
