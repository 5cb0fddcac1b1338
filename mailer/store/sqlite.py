"""SQLite store: mailbox watermarks, threads, every message in and out, the outbox.

One file, WAL mode, versioned migrations, and an exclusive lock file so that a second
daemon on the same store refuses to start. Every inbound batch is written in ONE
transaction together with its outbox rows and the watermark: that is what makes
processing exactly-once across crashes (see ``service.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailer.core.deciding.workflow import Event
from mailer.errors import MailerError, StoreLocked
from mailer.model import Status, ThreadInfo
from mailer.store.queue import OutboxRow, QueueQueries
from mailer.store.retention import RetentionQueries
from mailer.store.schema import MIGRATIONS, migrate

__all__ = ["MailboxState", "OutboxRow", "Store", "StoreOutdated"]


class StoreOutdated(MailerError):
    """A read-only look at a store another mailer version wrote."""


@dataclass(frozen=True)
class MailboxState:
    uidvalidity: int
    last_uid: int
    first_seen: float


class Store(QueueQueries, RetentionQueries):
    """The only place that speaks SQL (with ``store_queue``); callers get values back."""

    def __init__(self, path: Path, *, lock: bool = False, read_only: bool = False) -> None:
        self.path = path
        self._lock_file: int | None = None
        if read_only:  # ``mailer rules test``: read what is there, never create or migrate
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
            self.db.row_factory = sqlite3.Row
            version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            if version != len(MIGRATIONS):
                self.db.close()
                raise StoreOutdated(
                    f"the store {path} has schema version {version}, this mailer expects "
                    f"{len(MIGRATIONS)}: start the daemon once to upgrade it"
                )
            return
        if lock:
            self._acquire_lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process kill (SIGKILL) without an fsync per commit.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrate(self.db)

    def _acquire_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_path.read_text().strip() or "another process"
            raise StoreLocked(
                f"the store {self.path} is in use by mailer (pid {holder}); "
                "stop that daemon first, or give this one its own [store] path"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_file = fd

    def close(self) -> None:
        self.db.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- mailbox watermark -------------------------------------------------------------

    def mailbox_state(self, mailbox: str) -> MailboxState | None:
        row = self._one("SELECT * FROM mailboxes WHERE name = ?", (mailbox,))
        if row is None:
            return None
        return MailboxState(row["uidvalidity"], row["last_uid"], row["first_seen"])

    def set_mailbox_state(self, mailbox: str, state: MailboxState) -> None:
        self.db.execute(
            "INSERT INTO mailboxes(name, uidvalidity, last_uid, first_seen) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET uidvalidity=excluded.uidvalidity,"
            " last_uid=excluded.last_uid, first_seen=excluded.first_seen",
            (mailbox, state.uidvalidity, state.last_uid, state.first_seen),
        )

    def advance(self, mailbox: str, uid: int) -> None:
        self.db.execute(
            "UPDATE mailboxes SET last_uid = max(last_uid, ?) WHERE name = ?", (uid, mailbox)
        )

    # ---- messages ------------------------------------------------------------------------

    def knows_inbound(self, key: str) -> bool:
        return (
            self._one("SELECT 1 FROM messages WHERE key = ? AND direction = 'in'", (key,))
            is not None
        )

    def record_message(self, **fields: Any) -> int:
        return self._insert("messages", fields, verb="INSERT OR IGNORE")

    def message_log(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest inbound messages with what was decided, oldest first."""
        rows = self.db.execute(
            "SELECT m.*, t.reference FROM messages m LEFT JOIN threads t ON t.id = m.thread_id"
            " WHERE m.direction = 'in' ORDER BY m.id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows][::-1]

    # ---- threads -------------------------------------------------------------------------

    def next_reference_number(self, start: int) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'next_reference'")
        number = max(int(row["value"]) if row else start, start)
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES ('next_reference', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(number + 1),),
        )
        return number

    def create_thread(self, **fields: Any) -> int:
        return self._insert("threads", fields)

    def update_thread(self, thread_id: int, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE threads SET {sets} WHERE id = ?", (*fields.values(), thread_id))

    def thread(self, thread_id: int) -> ThreadInfo | None:
        row = self._one("SELECT * FROM threads WHERE id = ?", (thread_id,))
        return _thread(row) if row else None

    def thread_by_reference(self, reference: str) -> ThreadInfo | None:
        row = self._one("SELECT * FROM threads WHERE reference = ? COLLATE NOCASE", (reference,))
        return _thread(row) if row else None

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

    def threads(
        self, *, status: str | None = None, team: str | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM threads WHERE 1=1"
        args: list[Any] = []
        if status:
            sql += " AND status = ?"
            args.append(status)
        if team:
            sql += " AND team = ?"
            args.append(team)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def add_event(self, thread_id: int, at: float, event: Event, message_key: str | None) -> None:
        self._insert(
            "events",
            {
                "thread_id": thread_id,
                "at": at,
                "actor": event.actor,
                "kind": event.kind,
                "keyword": event.keyword,
                "from_status": event.from_status.value if event.from_status else None,
                "to_status": event.to_status.value if event.to_status else None,
                "owner": event.owner,
                "note": event.note,
                "internal": int(event.internal),
                "message_key": message_key,
            },
        )

    def last_status_change(self, thread_id: int) -> float | None:
        row = self._one(
            "SELECT max(at) AS at FROM events WHERE thread_id = ? AND kind IN ('status', 'opened')",
            (thread_id,),
        )
        return float(row["at"]) if row and row["at"] is not None else None

    def events(self, thread_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM events WHERE thread_id = ? ORDER BY id", (thread_id,))
        return [dict(r) for r in rows]

    def thread_messages(self, thread_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM messages WHERE thread_id = ? ORDER BY at, id", (thread_id,)
        )
        return [dict(r) for r in rows]

    def automatic_in_a_row(self, thread_id: int, since: float) -> int:
        """Inbound automatic messages in the thread since ``since`` with no human one after them."""
        last_human = self._one(
            "SELECT max(at) AS at FROM messages WHERE thread_id = ? AND direction = 'in'"
            " AND automatic = 0",
            (thread_id,),
        )
        floor = max(since, (last_human["at"] or 0.0) if last_human else 0.0)
        row = self._one(
            "SELECT count(*) AS n FROM messages WHERE thread_id = ? AND direction = 'in'"
            " AND automatic = 1 AND at > ?",
            (thread_id, floor),
        )
        return int(row["n"]) if row else 0


def _thread(row: sqlite3.Row) -> ThreadInfo:
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
    )
