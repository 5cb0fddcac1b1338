"""Store queries for requests: reference numbers, threads and their timeline of events.

A mixin of ``SqliteStore``: it only needs ``self.db``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from mailer.model import Event, Promise, Status, ThreadInfo
from mailer.store.base import Connected
from mailer.store.rows import EventRow, ThreadRow

_THREAD = ", ".join(ThreadRow.__dataclass_fields__)
_EVENT = ", ".join(EventRow.__dataclass_fields__)
# The columns a new request is written with (``create_thread``'s values, in this order).
CREATED = (
    "reference", "requester", "requester_name", "subject", "category", "team", "team_address",
    "priority", "rule", "language", "status", "root_message_id", "root_references",
    "root_thread_index", "parent_reference", "created_at", "updated_at",
)  # fmt: skip
_CREATE = (
    f"INSERT INTO threads({', '.join(CREATED)}) VALUES ({', '.join('?' * len(CREATED))})"
    " RETURNING *"
)


class ThreadQueries(Connected):
    # A request's row as its INSERT returned it, until anything else is written to it (or
    # a message's savepoint begins or ends): ``thread`` reads it once instead of the store.
    _fresh: tuple[int, Any] | None

    def next_reference_number(self, start: int) -> int:
        """Take the next reference number (``start`` at least): read and moved on in one
        statement."""
        rows = self.db.execute(
            "INSERT INTO meta(key, value) VALUES ('next_reference', ?) ON CONFLICT(key) DO"
            " UPDATE SET value = max(CAST(value AS INTEGER), ?) + 1 RETURNING value",
            (str(start + 1), start),
        ).fetchall()
        return int(rows[0]["value"]) - 1

    def open_request(self, prefix: str, start: int, **fields: Any) -> int:
        number = self.next_reference_number(start)
        return self.create_thread(reference=f"{prefix}-{number}", **fields)

    def peek_reference_number(self, start: int) -> int:
        """The number ``next_reference_number`` would give now, without taking it."""
        row = self._one("SELECT value FROM meta WHERE key = 'next_reference'")
        return max(int(row["value"]), start) if row else start

    def create_thread(
        self,
        *,
        reference: str,
        requester: str,
        requester_name: str,
        subject: str,
        category: str,
        team: str | None,
        team_address: str | None,
        priority: str,
        rule: str,
        language: str,
        status: Status,
        root_message_id: str | None,
        root_references: str | None,
        root_thread_index: str | None,
        parent_reference: str | None,
        created_at: float,
        updated_at: float,
    ) -> int:
        """A new request; returns its id. Its row comes back from the INSERT, so that reading
        it right after (``thread``) reads nothing."""
        rows = self.db.execute(
            _CREATE,
            (reference, requester, requester_name, subject, category, team, team_address,
             priority, rule, language, status.value, root_message_id, root_references,
             root_thread_index, parent_reference, created_at, updated_at),
        ).fetchall()  # fmt: skip
        self._fresh = (int(rows[0]["id"]), rows[0])
        return self._fresh[0]

    def update_thread(
        self,
        thread_id: int,
        *,
        updated_at: float,
        status: Status | None = None,
        resolved_at: float | None = None,
        owner: str | None = None,
        owner_name: str = "",
        first_response_at: float | None = None,
        rating: str | None = None,
        rating_thanked: bool = False,
        auto_blocked: bool = False,
    ) -> None:
        """Change a request. None (False for the flags, which are only ever set) leaves a
        field as it is. Two go in pairs: a new ``status`` always writes ``resolved_at`` (None
        clears it: a reopened request), a new ``owner`` always writes ``owner_name``."""
        self._fresh = None
        changes: list[tuple[str, object]] = [("updated_at", updated_at)]
        if status is not None:
            changes += [("status", status.value), ("resolved_at", resolved_at)]
        if owner is not None:
            changes += [("owner", owner), ("owner_name", owner_name)]
        if first_response_at is not None:
            changes.append(("first_response_at", first_response_at))
        if rating is not None:
            changes.append(("rating", rating))
        if rating_thanked:
            changes.append(("rating_thanked", 1))
        if auto_blocked:
            changes.append(("auto_blocked", 1))
        sets = ", ".join(f"{column} = ?" for column, _ in changes)  # our names, bound values
        values = [value for _, value in changes]
        self.db.execute(f"UPDATE threads SET {sets} WHERE id = ?", (*values, thread_id))

    def thread(self, thread_id: int) -> ThreadInfo | None:
        fresh, self._fresh = self._fresh, None
        if fresh is not None and fresh[0] == thread_id:  # just written, nothing since
            return thread_info(fresh[1])
        row = self._one("SELECT * FROM threads WHERE id = ?", (thread_id,))
        return thread_info(row) if row else None

    def thread_by_reference(self, reference: str) -> ThreadInfo | None:
        row = self._one("SELECT * FROM threads WHERE reference = ? COLLATE NOCASE", (reference,))
        return thread_info(row) if row else None

    def thread_by_message_ids(self, ids: Iterable[str]) -> ThreadInfo | None:
        """The thread of the newest known message among ``ids`` (ours or theirs)."""
        ids = [i for i in ids if i][-50:]
        if not ids:
            return None
        marks = ",".join("?" for _ in ids)
        row = self._one(
            f"SELECT thread_id FROM messages WHERE key IN ({marks}) AND thread_id IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            ids,
        )
        if row is None:
            return None
        return self.thread(row["thread_id"])

    def threads(self, *, status: str | None = None, team: str | None = None) -> list[ThreadRow]:
        sql = f"SELECT {_THREAD} FROM threads WHERE 1=1"
        args: list[Any] = []
        if status:
            sql += " AND status = ?"
            args.append(status)
        if team:
            sql += " AND team = ?"
            args.append(team)
        return [_thread_row(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def add_event(self, thread_id: int, at: float, event: Event, message_key: str | None) -> None:
        self.db.execute(
            "INSERT INTO events(thread_id, at, actor, kind, keyword, from_status, to_status,"
            " owner, note, internal, message_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                thread_id,
                at,
                event.actor,
                event.kind,
                event.keyword,
                event.from_status.value if event.from_status else None,
                event.to_status.value if event.to_status else None,
                event.owner,
                event.note,
                int(event.internal),
                message_key,
            ),
        )

    def last_status_change(self, thread_id: int) -> float | None:
        row = self._one(
            "SELECT max(at) AS at FROM events WHERE thread_id = ? AND kind IN ('status', 'opened')",
            (thread_id,),
        )
        return float(row["at"]) if row and row["at"] is not None else None

    def events(self, thread_id: int) -> list[EventRow]:
        sql = f"SELECT {_EVENT} FROM events WHERE thread_id = ? ORDER BY id"
        return [event_row(r) for r in self.db.execute(sql, (thread_id,))]


def thread_info(row: sqlite3.Row) -> ThreadInfo:
    return ThreadInfo(
        id=row["id"],
        reference=row["reference"],
        requester=row["requester"],
        requester_name=row["requester_name"] or "",
        subject=row["subject"] or "",
        category=row["category"] or "general",
        team=row["team"],
        status=Status(row["status"]),
        language=row["language"] or "en",
        rule=row["rule"] or "default",
        root_message_id=row["root_message_id"],
        created_at=row["created_at"],
        owner=row["owner"],
        owner_name=row["owner_name"] or "",
        team_address=row["team_address"],
        priority=row["priority"] or "normal",
        resolved_at=row["resolved_at"],
        first_response_at=row["first_response_at"],
        rating=row["rating"],
        rating_thanked=bool(row["rating_thanked"]),
        parent_reference=row["parent_reference"],
        root_references=tuple((row["root_references"] or "").split()),
        root_thread_index=row["root_thread_index"],
        promise=Promise(
            calendar=row["calendar"],
            first_response_target=row["first_response_target"],
            resolution_target=row["resolution_target"],
            first_response_due=row["first_response_due"],
            resolution_due=row["resolution_due"],
            paused_at=row["paused_at"],
        ),
    )


def _thread_row(row: sqlite3.Row) -> ThreadRow:
    flags = {
        "auto_blocked": bool(row["auto_blocked"]),
        "rating_thanked": bool(row["rating_thanked"]),
    }
    return ThreadRow(**{**row, "status": Status(row["status"]), **flags})


def event_row(row: sqlite3.Row) -> EventRow:
    return EventRow(
        **{
            **row,
            "from_status": Status(row["from_status"]) if row["from_status"] else None,
            "to_status": Status(row["to_status"]) if row["to_status"] else None,
            "internal": bool(row["internal"]),
        }
    )
