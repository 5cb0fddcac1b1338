"""The PostgreSQL connection as the store's queries expect one: ``execute`` with SQLite's SQL.

``PgDatabase`` speaks like ``sqlite3.Connection`` in autocommit mode (``isolation_level=None``):
``execute(sql, args)`` returns rows that read by name or position, ``lastrowid`` and
``rowcount``; ``BEGIN IMMEDIATE`` / ``COMMIT`` / ``ROLLBACK`` / ``SAVEPOINT`` are statements.
The text goes through ``dialect``; psycopg's errors leave as store errors (``pg_errors``).

Fencing: a daemon's store is only written under its lease. Every write transaction starts
by reading the lease row ``FOR KEY SHARE`` with this node's token: a lost lease raises
``LeaseLost`` before anything is written, and a takeover (which locks the row ``FOR UPDATE``)
waits until the transaction is over. A write outside a transaction is wrapped in one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool

from mailer.errors import (
    LeaseLost,
    StoreUnavailable,
)
from mailer.store import dialect
from mailer.store.pgresult import (
    Result,
    Row,
    control_word,
    pg_errors,
    row_factory,
    store_error,
)

__all__ = ["Fence", "PgDatabase", "Row", "pg_errors", "row_factory", "store_error"]

_WRITES = ("INSERT", "UPDATE", "DELETE")
Statement = tuple[str, Any]  # PostgreSQL's text and its values
FENCE = (
    "SELECT 1 FROM mailer.leases WHERE desk = %s AND node = %s AND token = %s"
    " AND expires_at > clock_timestamp() FOR KEY SHARE"
)


class Fence:
    """Whose lease this store writes under: the desk, this node, the token it holds."""

    def __init__(self, desk: str, node: str) -> None:
        self.desk = desk
        self.node = node
        self.token: int | None = None

    def check(self, conn: psycopg.Connection[Row]) -> None:
        if self.token is None:
            raise LeaseLost(f"this node ({self.node}) does not hold the lease of {self.desk}")
        row = conn.execute(FENCE, (self.desk, self.node, self.token)).fetchone()
        if row is None:
            self.token = None
            raise LeaseLost(
                f"this node ({self.node}) lost the lease of {self.desk}: another node works it"
            )


class PgDatabase:
    """One held connection from ``pool`` (re-made after a failure) that runs SQLite's SQL."""

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool[Any],
        fence: Fence | None,
        on_connect: Callable[[psycopg.Connection[Row]], None] | None = None,
    ) -> None:
        self.pool = pool
        self.fence = fence
        self.on_connect = on_connect
        self._conn: psycopg.Connection[Row] | None = None
        self.in_transaction = False
        self.lost = False  # the connection died mid-transaction: only ROLLBACK ends it
        # An outbox claim's marks, per thread (the outbox runs claims in worker threads
        # while the intake uses the held connection): ``borrowed``, the claim's connection,
        # and ``collected``, the statements kept to send with its COMMIT.
        self._claiming = threading.local()
        self.owner = threading.get_ident()  # the thread that uses the held connection
        # Writes of a transaction that need no answer, sent with its next round trip
        # (``hold``): a message's SAVEPOINT and its log rows cost no trip of their own.
        self.held: list[Statement] = []
        self._holding = False  # ``holding()``: INSERTs are held, their results unread

    @property
    def borrowed(self) -> psycopg.Connection[Row] | None:
        return getattr(self._claiming, "conn", None)

    @borrowed.setter
    def borrowed(self, conn: psycopg.Connection[Row] | None) -> None:
        self._claiming.conn = conn

    @property
    def collected(self) -> list[Statement] | None:
        return getattr(self._claiming, "statements", None)

    @collected.setter
    def collected(self, statements: list[Statement] | None) -> None:
        self._claiming.statements = statements

    @property
    def conn(self) -> psycopg.Connection[Row]:
        if self.borrowed is not None:
            return self.borrowed
        conn = self._conn
        if conn is None or conn.closed:
            self.drop()
            with pg_errors():
                conn = self.pool.getconn()
                if self.on_connect is not None:
                    self.on_connect(conn)
            self._conn = conn
        return conn

    def drop(self) -> None:
        """Give the held connection back (the pool throws a broken one away)."""
        conn, self._conn = self._conn, None
        self.in_transaction = False
        if conn is not None:
            with contextlib.suppress(Exception):
                if not conn.closed and conn.info.transaction_status != 0:
                    conn.rollback()
            with contextlib.suppress(Exception):
                self.pool.putconn(conn)

    def execute(self, sql: str, args: Iterable[Any] | dict[str, Any] = ()) -> Result:
        word = sql.lstrip()[:9].upper()
        if word.startswith("PRAGMA"):
            return Result([], -1, None)
        control = word.startswith(("BEGIN", "COMMIT", "ROLLBACK"))
        if control and self.borrowed is None and control_word(sql):
            return self._control(word, sql)
        if word.startswith("RELEASE") and self.in_transaction and self.borrowed is None:
            self.flush()  # what this savepoint held fails here, inside it
            return Result([], -1, None)  # COMMIT releases every savepoint: a round trip saved
        if self.lost and self.borrowed is None:  # SAVEPOINT, ROLLBACK TO: the rest of it
            raise StoreUnavailable("the connection to PostgreSQL was lost mid-transaction")
        text, returning = dialect.statement(sql)
        params = args if isinstance(args, dict) else tuple(args)
        mine = self.in_transaction and self.borrowed is None
        held = self._holding and word.startswith("INSERT")
        if mine and (word.startswith("SAVEPOINT") or held):
            return self.hold(text, params)
        if mine and word.startswith("ROLLBACK"):  # TO a savepoint: what it held is undone
            self.held = [h for h in self.held if h[0].startswith("SAVEPOINT")]
        if self.collected is not None and self.borrowed is not None:
            self.collected.append((text, params))
            return Result([], -1, None)
        wrap = (
            self.fence is not None
            and not self.in_transaction
            and self.borrowed is None
            and word.startswith(_WRITES)
        )
        try:
            if wrap:
                with self.conn.transaction():
                    assert self.fence is not None
                    self.fence.check(self.conn)
                    return self._run(text, params, returning)
            return self._run(text, params, returning)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._after_error()
            raise store_error(exc) from exc
        except LeaseLost:
            raise

    def hold(self, text: str, params: Any) -> Result:
        """Keep one statement (PostgreSQL's text) to send with the next round trip."""
        self.held.append((text, params))
        return Result([], -1, None)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """INSERTs inside are held (in a transaction): for writes whose answer nobody reads."""
        before, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = before

    def flush(self) -> None:
        """Send what is held now (a message's end: its errors are its own)."""
        if not self.held:
            return
        statements, self.held = self.held, []
        try:
            together(self.conn, statements)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._after_error()
            raise store_error(exc) from exc

    def _run(self, text: str, params: Any, returning: bool) -> Result:
        if self.held:  # what is held goes in the same round trip
            statements, self.held = [*self.held, (text, params)], []
            cursor = together(self.conn, statements)
        else:
            cursor = self.conn.execute(text, params)
        result = cursor.pgresult
        rows = cursor.fetchall() if result is not None and result.nfields else []
        lastrowid = int(rows[0]["id"]) if returning and rows else None
        return Result(rows, cursor.rowcount, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Result:
        text, _ = dialect.statement(sql)
        try:
            with self.conn.cursor() as cursor:
                cursor.executemany(text, list(seq))
                return Result([], cursor.rowcount, None)
        except psycopg.Error as exc:
            self._after_error()
            raise store_error(exc) from exc

    def _control(self, word: str, sql: str) -> Result:
        verb = sql.split()[0].upper()
        try:
            if verb == "BEGIN":
                self.held = []
                self.conn.execute("BEGIN")
                self.in_transaction = True
                if self.fence is not None:
                    self.fence.check(self.conn)
            elif verb == "COMMIT":
                self.in_transaction = False
                if self.lost or self._conn is None or self._conn.closed:
                    self.lost = False
                    raise StoreUnavailable("the connection to PostgreSQL was lost before COMMIT")
                statements, self.held = [*self.held, ("COMMIT", None)], []
                try:
                    together(self._conn, statements)
                except psycopg.Error:  # a held write failed: the COMMIT after it never ran
                    with contextlib.suppress(psycopg.Error):
                        self._conn.execute("ROLLBACK")
                    raise
            else:  # ROLLBACK: on a lost connection the server has rolled back already
                self.in_transaction = self.lost = False
                self.held = []
                if self._conn is not None and not self._conn.closed:
                    self._conn.execute("ROLLBACK")
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._after_error()
            raise store_error(exc) from exc
        except LeaseLost:
            self.in_transaction = False
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("ROLLBACK")
            raise
        return Result([], -1, None)

    def _after_error(self) -> None:
        """A lost connection is dropped (the next call takes a fresh one); a transaction it
        was in is over, and says so until its ROLLBACK."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            lost = self.in_transaction
            self.drop()
            self.lost = lost

    def close(self) -> None:
        self.drop()


def together(conn: psycopg.Connection[Row], statements: Sequence[Statement]) -> psycopg.Cursor[Row]:
    """Send ``statements`` in one round trip (libpq's pipeline mode) and return the last
    one's cursor, its result read. Each is a prepared statement on the server after a few
    uses (psycopg's ``prepare_threshold``), so the server parses and plans it once per
    connection, not once per message. The first error raises; what came after it did not
    run (PostgreSQL skips the rest of a pipeline after an error)."""
    with conn.pipeline():
        cursors = [conn.execute(text, params) for text, params in statements]
    return cursors[-1]
