"""Outbox claims on a shared store: each row is sent by one node, and marked once.

A mixin of ``PostgresStore``. A send runs inside a claim: the row locked ``FOR UPDATE SKIP
LOCKED`` on a connection of its own (another node skips it, never waits for it), checked
against this node's lease; what the send says (``mark_sent``, ``mark_retry``, ``mark_dead``)
is written on that connection and committed as the lock ends. A paused node keeps its lock
(up to ``CLAIM_IDLE_TIMEOUT``): it finishes its one send when it wakes, and nobody else sent
it meanwhile. When the connection dies first (a server restart, a failover), the marks are
written again once the server answers, so a mail the SMTP server took is not sent twice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import psycopg
import psycopg_pool
from psycopg.pq import TransactionStatus

from mailer.errors import LeaseLost, StoreUnavailable
from mailer.store.pgdb import Fence, PgDatabase, Row, pg_errors, together
from mailer.store.sqlite import SqliteStore

RECONNECT_FOR = 60.0  # seconds a sent mail's mark waits for the server to come back
KEEP_CLAIMS = 4  # connections kept for claims (the outbox sends on 3 SMTP connections)
Marks = list[Callable[[], None]]


class ClaimQueries:
    concurrent_writers = True  # a claim and its marks may run in a thread of their own
    pool: psycopg_pool.ConnectionPool[Any]
    fence: Fence | None
    pg: PgDatabase
    _claims: dict[int, tuple[psycopg.Connection[Row], Marks]]
    _idle_claims: list[psycopg.Connection[Row]]

    @contextlib.contextmanager
    def claim(self, row_id: int) -> Iterator[bool]:
        """Lock the outbox row ``FOR UPDATE SKIP LOCKED`` for one send: False when another
        node has it, it is no longer pending, or this node lost its lease. The marks written
        inside commit with the lock's end; when the connection dies first (a server
        restart), they are written again once the server is back, so a mail the SMTP
        server took is never sent a second time."""
        sql = "SELECT o.id FROM outbox o WHERE o.id = %s AND o.status = 'pending'"
        args: tuple[Any, ...] = (row_id,)
        if self.fence is not None:
            sql += (
                " AND EXISTS (SELECT 1 FROM mailer.leases l WHERE l.desk = %s AND l.node = %s"
                " AND l.token = %s AND l.expires_at > clock_timestamp())"
            )
            args += (self.fence.desk, self.fence.node, self.fence.token)
        conn = self._claim_connection()
        try:
            with pg_errors():  # BEGIN and the lock in one round trip
                lock = (sql + " FOR UPDATE OF o SKIP LOCKED", args)
                cursor = together(conn, [("BEGIN", None), lock])
                if cursor.fetchone() is None:
                    conn.execute("ROLLBACK")
                    yield False
                    return
            self._claims[row_id] = (conn, [])
            try:
                yield True
            finally:
                if self._claims.pop(row_id, None) is not None:  # no mark: nothing happened
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
        finally:
            self._give_back(conn)

    def _commit_marks(self, conn: psycopg.Connection[Row], marks: Marks) -> None:
        """What the send said, and COMMIT, in one round trip (the statements are collected
        with their values, then sent together)."""
        self.pg.borrowed = conn
        self.pg.collected = []
        try:
            with pg_errors():
                for write in marks:
                    write()
                together(conn, [*self.pg.collected, ("COMMIT", None)])
        finally:
            self.pg.borrowed = None
            self.pg.collected = None
        if marks and conn.closed:  # psycopg skips the COMMIT of a lost connection
            raise StoreUnavailable("the connection to PostgreSQL was lost before COMMIT")

    def _claim_connection(self) -> psycopg.Connection[Row]:
        while self._idle_claims:
            conn = self._idle_claims.pop()
            if not conn.closed:
                return conn
            with contextlib.suppress(Exception):
                self.pool.putconn(conn)
        with pg_errors():
            fresh: psycopg.Connection[Row] = self.pool.getconn()
        return fresh

    def _give_back(self, conn: psycopg.Connection[Row]) -> None:
        """Kept for the next claim while healthy (no pool round trip); else to the pool."""
        healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        if healthy and len(self._idle_claims) < KEEP_CLAIMS:
            self._idle_claims.append(conn)
            return
        with contextlib.suppress(Exception):
            self.pool.putconn(conn)

    def _mark(self, row_id: int, write: Callable[[], None]) -> None:
        """What the send said, committed at once with the claim's end (the shortest window
        between the SMTP server's answer and the row saying so)."""
        claimed = self._claims.pop(row_id, None)
        if claimed is None:
            write()
            return
        conn, marks = claimed
        marks.append(write)
        try:
            self._commit_marks(conn, marks)
        except LeaseLost:
            raise
        except StoreUnavailable:  # the connection died (a restart): write it again later
            self._write_again(marks)

    def _write_again(self, marks: list[Callable[[], None]]) -> None:
        if threading.get_ident() != self.pg.owner:
            # The held connection is the intake's: the outbox keeps the mail as accepted and
            # records it from the intake's thread before it sends anything else.
            raise StoreUnavailable("the connection to PostgreSQL was lost before COMMIT")
        deadline = time.monotonic() + RECONNECT_FOR
        while True:
            try:
                with cast(Any, self).transaction():  # SqliteStore's, through PgDatabase
                    for write in marks:
                        write()
                return
            except LeaseLost:
                raise
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def mark_sent(self, row_id: int, now: float, *, copy_wanted: bool) -> None:
        self._mark(
            row_id,
            lambda: SqliteStore.mark_sent(
                self,  # type: ignore[arg-type]
                row_id,
                now,
                copy_wanted=copy_wanted,
            ),
        )

    def mark_retry(self, row_id: int, when: float, error: str) -> None:
        self._mark(
            row_id,
            lambda: SqliteStore.mark_retry(
                self,  # type: ignore[arg-type]
                row_id,
                when,
                error,
            ),
        )

    def mark_dead(self, row_id: int, error: str) -> None:
        self._mark(
            row_id,
            lambda: SqliteStore.mark_dead(
                self,  # type: ignore[arg-type]
                row_id,
                error,
            ),
        )
