"""Which node works a mailbox: a lease row per mailbox in ``mailer.leases``, with a heartbeat
and a fencing token (a mixin of ``PostgresStore``).

Time is the database server's (``clock_timestamp()``), never a node's, so two nodes with
skewed clocks still agree. The holder renews its lease every few seconds; a node takes a
lease that has expired (its holder died, hangs, or lost the database) and bumps the token.
Every write of the holder carries the token (``pgdb.Fence``): a paused or partitioned old
holder that wakes up finds another token and writes nothing. A takeover locks the row
``FOR UPDATE``, which waits for the old holder's write transactions (``FOR KEY SHARE``) to
end; one that stopped midway is cut by ``idle_in_transaction_session_timeout`` (5 s).
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import psycopg_pool

from mailer.store.pgdb import Fence, Row, pg_errors
from mailer.store.rows import LeaseRow

LEASE_TTL = 8.0  # seconds a lease lasts without a renewal


class LeaseQueries:
    pool: psycopg_pool.ConnectionPool[Any]
    fence: Fence | None
    mailbox: str
    node: str
    _lease_conn: psycopg.Connection[Row] | None

    def _lease_db(self) -> psycopg.Connection[Row]:
        conn = self._lease_conn
        if conn is None or conn.closed:
            if conn is not None:
                with contextlib.suppress(Exception):
                    self.pool.putconn(conn)
            self._lease_conn = None
            with pg_errors():
                conn = self.pool.getconn()
            self._lease_conn = conn
        return conn

    def _lease_failed(self) -> None:
        conn, self._lease_conn = self._lease_conn, None
        if conn is not None and (conn.closed or conn.broken):
            with contextlib.suppress(Exception):
                self.pool.putconn(conn)
        elif conn is not None:
            self._lease_conn = conn

    def take_lease(self, ttl: float = LEASE_TTL) -> bool:
        """Hold this mailbox's lease (take it when free or expired, renew it when ours);
        False while another node's lease is live."""
        fence = self.fence
        if fence is None:
            return True
        if fence.token is not None and self.renew_lease(ttl):
            return True
        try:
            conn = self._lease_db()
            with pg_errors():
                live = conn.execute(
                    "SELECT 1 FROM mailer.leases WHERE desk = %s AND node IS NOT NULL"
                    " AND expires_at > clock_timestamp()",
                    (self.mailbox,),
                ).fetchone()
                if live is not None:
                    return False
                with conn.transaction():
                    row = conn.execute(
                        "SELECT node FROM mailer.leases WHERE desk = %s AND (node IS NULL OR"
                        " expires_at IS NULL OR expires_at <= clock_timestamp()) FOR UPDATE",
                        (self.mailbox,),
                    ).fetchone()
                    if row is None:
                        return False
                    taken = conn.execute(
                        "UPDATE mailer.leases SET node = %s, token = token + 1,"
                        " acquired_at = clock_timestamp(), renewed_at = clock_timestamp(),"
                        " expires_at = clock_timestamp() + make_interval(secs => %s)"
                        " WHERE desk = %s RETURNING token",
                        (self.node, ttl, self.mailbox),
                    ).fetchone()
        except Exception:
            self._lease_failed()
            raise
        fence.token = int(taken["token"]) if taken else None
        return fence.token is not None

    def renew_lease(self, ttl: float = LEASE_TTL) -> bool:
        """Extend our lease; False when it is no longer ours (then we must stand down)."""
        fence = self.fence
        if fence is None:
            return True
        if fence.token is None:
            return False
        try:
            with pg_errors():
                done = (
                    self._lease_db()
                    .execute(
                        "UPDATE mailer.leases SET renewed_at = clock_timestamp(),"
                        " expires_at = clock_timestamp() + make_interval(secs => %s)"
                        " WHERE desk = %s AND node = %s AND token = %s",
                        (ttl, self.mailbox, self.node, fence.token),
                    )
                    .rowcount
                )
        except Exception:
            self._lease_failed()
            raise
        if done != 1:
            fence.token = None
        return done == 1

    def drop_lease(self) -> None:
        """Give the lease up at once (a clean stop): the other node need not wait."""
        fence = self.fence
        if fence is None or fence.token is None:
            return
        token, fence.token = fence.token, None
        with pg_errors():
            self._lease_db().execute(
                "UPDATE mailer.leases SET expires_at = clock_timestamp()"
                " WHERE desk = %s AND node = %s AND token = %s",
                (self.mailbox, self.node, token),
            )

    def holds_lease(self) -> bool:
        return self.fence is None or self.fence.token is not None

    def lease_holders(self) -> list[LeaseRow]:
        """Every mailbox of the store, who works it and until when (``mailer status``)."""
        with pg_errors(), self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT d.address, d.prefix, l.node, l.token,"
                " extract(epoch FROM l.acquired_at)::float8 AS since,"
                " extract(epoch FROM l.expires_at - clock_timestamp())::float8 AS left"
                " FROM mailer.desks d LEFT JOIN mailer.leases l ON l.desk = d.address"
                " ORDER BY d.address"
            ).fetchall()
        return [
            LeaseRow(
                mailbox=r["address"],
                prefix=r["prefix"],
                node=r["node"] if r["left"] is not None and r["left"] > 0 else None,
                token=int(r["token"] or 0),
                since=r["since"],
                expires_in=max(0.0, r["left"]) if r["left"] is not None else None,
            )
            for r in rows
        ]
