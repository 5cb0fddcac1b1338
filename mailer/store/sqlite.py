"""SQLite store: mailbox watermarks, threads, every message in and out, the outbox.

One file, WAL mode, versioned migrations, and an exclusive lock file so that a second
daemon on the same store refuses to start. Every inbound batch is written in ONE
transaction together with its outbox rows and the watermark: that is what makes
processing exactly-once across crashes (see ``daemon/pipeline.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mailer.errors import StoreEmpty, StoreLocked, StoreOutdated
from mailer.store.promises import PromiseQueries
from mailer.store.queue import QueueQueries
from mailer.store.reports import ReportQueries
from mailer.store.retention import RetentionQueries
from mailer.store.rows import LoggedMessage, MailboxState, MessageRow
from mailer.store.schema import FIRST_START_KEY, FIRST_START_PENDING, SCHEMA_VERSION, migrate
from mailer.store.single import SingleNode
from mailer.store.sqlerrors import speaks_store_errors, sqlite_errors
from mailer.store.threads import ThreadQueries

__all__ = ["RECORDED", "SqliteStore", "refuse_empty"]

_MESSAGE = ", ".join(MessageRow.__dataclass_fields__)
RECORDED = tuple(name for name in MessageRow.__dataclass_fields__ if name != "id")  # written


@speaks_store_errors
class SqliteStore(
    ThreadQueries, QueueQueries, RetentionQueries, PromiseQueries, ReportQueries, SingleNode
):
    """``Store`` on one SQLite file: the only place that speaks SQL (with its mixins).

    Build it with ``mailer.store.open_store``; every SQLite error leaves it as a store error.
    """

    def __init__(
        self, path: Path, *, lock: bool = False, read_only: bool = False, timeout: float = 30.0
    ) -> None:
        self.path = path
        self._lock_file: int | None = None
        self._start_state()
        refuse_empty(path)
        if read_only:  # ``mailer rules test``: read what is there, never create or migrate
            where = f"{path.resolve().as_uri()}?mode=ro"
            self.db = sqlite3.connect(where, uri=True, timeout=timeout)
            self.db.row_factory = sqlite3.Row
            version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                self.db.close()
                raise StoreOutdated(
                    f"the store {path} has schema version {version}, this mailer expects "
                    f"{SCHEMA_VERSION}: start the daemon once to upgrade it"
                )
            return
        if lock:
            self._acquire_lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        refuse_empty(path)  # made empty while we waited for the lock
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=timeout)
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

    def _start_state(self) -> None:
        """What the queries remember between calls (a PostgreSQL store starts it too)."""
        self._advances: dict[str, int] | None = None  # the watermarks a transaction moved
        self._may_fail: dict[tuple[str, int], set[int]] = {}
        self._fresh: tuple[int, Any] | None = None

    def settle(self) -> None:
        """Every write is done when it returns: nothing is held (Store.settle)."""

    def close(self) -> None:
        self.db.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        with sqlite_errors():
            self.db.execute("BEGIN IMMEDIATE")
        self._advances = {}
        try:
            yield
            for mailbox, uid in self._advances.items():
                self._advance(mailbox, uid)
        except BaseException:
            self._advances = None
            with sqlite_errors():
                self.db.execute("ROLLBACK")
            raise
        self._advances = None
        try:
            with sqlite_errors():
                self.db.execute("COMMIT")
        finally:  # a COMMIT that failed (full, I/O) must not leave the transaction open
            if self.db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[_Savepoint]:
        """SAVEPOINT ... RELEASE inside a transaction. ``rollback()`` in the block undoes what
        the block wrote so far and ends the savepoint; an exception out of the block undoes
        it too (unless already done) and goes on."""
        savepoint = _Savepoint(self.db)
        with sqlite_errors():
            self.db.execute("SAVEPOINT message")
        self._fresh = None
        try:
            yield savepoint
        except BaseException:
            self._fresh = None
            if savepoint.active:
                savepoint.rollback()
            raise
        self._fresh = None
        if savepoint.active:
            with sqlite_errors():
                self.db.execute("RELEASE message")
            savepoint.active = False

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

    def awaits_first_start(self) -> bool:
        """True from the store's creation until the daemon's first watermark."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (FIRST_START_KEY,))
        return row is not None and row["value"] == FIRST_START_PENDING

    def first_start_done(self) -> None:
        self.db.execute("DELETE FROM meta WHERE key = ?", (FIRST_START_KEY,))

    def advance(self, mailbox: str, uid: int) -> None:
        """Move the watermark; inside a transaction once, at its end (a batch of messages
        writes it once, not once per message), with the same effect at its COMMIT."""
        if self._advances is not None:
            self._advances[mailbox] = max(uid, self._advances.get(mailbox, 0))
            return
        self._advance(mailbox, uid)

    def _advance(self, mailbox: str, uid: int) -> None:
        self.db.execute(
            "UPDATE mailboxes SET last_uid = max(last_uid, ?) WHERE name = ?", (uid, mailbox)
        )

    # ---- messages ------------------------------------------------------------------------

    def expect_arrivals(self, arrivals: Sequence[tuple[str, str | None]], since: float) -> None:
        """Nothing to read ahead: SQLite answers ``arrival_facts`` in-process."""

    def arrival_facts(self, key: str, recipient: str | None, since: float) -> tuple[bool, int]:
        row = self._one(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE key = ? AND direction = 'in') AS known,"
            " (SELECT count(*) FROM outbox WHERE kind = 'receipt' AND recipient = ?"
            " AND created_at > ?) AS receipts",
            (key, (recipient or "").lower(), since),
        )
        assert row is not None
        return bool(row["known"]), int(row["receipts"]) if recipient else 0

    def record_message(
        self,
        *,
        key: str,
        direction: str,
        at: float,
        thread_id: int | None = None,
        mailbox: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
        sender: str | None = None,
        subject: str | None = None,
        internaldate: float | None = None,
        automatic: bool = False,
        decision: str | None = None,
        reason: str | None = None,
        rule: str | None = None,
        language: str | None = None,
        size: int | None = None,
        defects: str | None = None,
    ) -> int:
        """One message in or out; a (key, direction) already there is left as it is (0), and an
        inbound one is counted as a duplicate seen (``repeats``: the time only)."""
        cursor = self.db.execute(
            f"INSERT OR IGNORE INTO messages({', '.join(RECORDED)})"
            f" VALUES ({', '.join('?' * len(RECORDED))})",
            (key, direction, thread_id, mailbox, uidvalidity, uid, sender, subject, at,
             internaldate, int(automatic), decision, reason, rule, language, size, defects),
        )  # fmt: skip
        if cursor.rowcount == 0:  # known: SQLite's lastrowid would name an older row
            if direction == "in":  # a duplicate: counted, by its time only
                self.db.execute("INSERT INTO repeats(at) VALUES (?)", (at,))
            return 0
        return int(cursor.lastrowid or 0)

    def message_log(self, *, limit: int = 50) -> list[LoggedMessage]:
        """The newest inbound messages with what was decided, oldest first."""
        columns = ", ".join(f"m.{name}" for name in MessageRow.__dataclass_fields__)
        rows = self.db.execute(
            f"SELECT {columns}, t.reference FROM messages m LEFT JOIN threads t"
            " ON t.id = m.thread_id WHERE m.direction = 'in' ORDER BY m.id DESC LIMIT ?",
            (limit,),
        )
        return [LoggedMessage(**_message(r)) for r in rows][::-1]

    def thread_messages(self, thread_id: int) -> list[MessageRow]:
        sql = f"SELECT {_MESSAGE} FROM messages WHERE thread_id = ? ORDER BY at, id"
        return [MessageRow(**_message(r)) for r in self.db.execute(sql, (thread_id,))]

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


def refuse_empty(path: Path) -> None:
    """A zero-length file where the store should be: never taken for a new store."""
    try:
        empty = path.stat().st_size == 0
    except OSError:
        return  # absent (created next, or refused by the caller) or unreadable (SQLite says)
    if empty:
        raise StoreEmpty(f"the store {path} is empty (0 bytes)")


def _create(path: Path) -> None:
    """A new store, made whole (schema, WAL mode, "awaits its first start") in a file beside
    ``path`` and then hard-linked into place: a crash leaves no store or a whole one, never an
    empty one. Another process that made it first wins."""
    temporary = path.with_name(f".{path.name}.new-{os.getpid()}")
    _remove(temporary)
    try:
        db = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # made meanwhile by another mailer process
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        _remove(temporary)


def _remove(database: Path) -> None:
    for name in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


class _Savepoint:
    """The handle ``SqliteStore.savepoint`` yields."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.active = True

    def rollback(self) -> None:
        """Undo what was written since the savepoint, and end it."""
        self.active = False
        with sqlite_errors():
            self.db.execute("ROLLBACK TO message")
            self.db.execute("RELEASE message")


def _message(row: sqlite3.Row) -> dict[str, Any]:
    return {**row, "automatic": bool(row["automatic"])}
