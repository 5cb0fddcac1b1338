"""PostgreSQL store: many mailboxes in one database, and two nodes per mailbox.

The queries are the SQLite store's own (``PostgresStore`` inherits them; ``dialect`` turns
their SQL into PostgreSQL's and ``pgdb`` runs it), so both engines keep one behaviour: the
same schema, migrations, exactly-once rules and tests (every store test runs on both).

Layout in the database:

- ``mailer.desks``: one row per mailbox (its shared address), with its reference prefix and
  its IMAP mailbox; a second config for a mailbox, a prefix or an IMAP mailbox that another
  config has is refused (``DeskTaken``), so no two configs ever write each other's rows.
- ``mailer.leases``: which node works which mailbox (``lease``).
- one schema per mailbox (``desk_<address>``) holding the tables of ``schema.MIGRATIONS``:
  its requests, references, watermarks, outbox and quarantine are its own, and each is
  migrated on its own (``schema_version``) under an advisory lock, so two nodes starting at
  once migrate it once.

Connections come from a psycopg-pool; a connection lost to a server restart or a failover
(``target_session_attrs=read-write`` with several hosts follows the primary) is replaced
on the next call, and the failed call is a ``StoreUnavailable`` the daemon retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool

from mailer.errors import DeskTaken, StoreOutdated, StoreUnavailable
from mailer.settings import StoreSettings
from mailer.store import dialect
from mailer.store.claims import ClaimQueries
from mailer.store.lease import LeaseQueries
from mailer.store.pgdb import Fence, PgDatabase, Row, pg_errors, row_factory
from mailer.store.roundtrips import RoundTrips
from mailer.store.schema import AWAIT_FIRST_START, MIGRATIONS, SCHEMA_VERSION
from mailer.store.sqlite import SqliteStore

__all__ = ["PostgresStore", "desk_schema", "node_name"]

INTAKE_IDLE_TIMEOUT = "5s"  # a writer that stops mid-transaction gives its locks back
CLAIM_IDLE_TIMEOUT = "120s"  # an outbox claim is held across one SMTP conversation
_REGISTRY = (
    "CREATE SCHEMA IF NOT EXISTS mailer",
    "CREATE TABLE IF NOT EXISTS mailer.desks(address TEXT PRIMARY KEY,"
    " schema_name TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, imap TEXT NOT NULL,"
    " registered_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mailer.leases(desk TEXT PRIMARY KEY, node TEXT,"
    " token BIGINT NOT NULL DEFAULT 0, acquired_at TIMESTAMPTZ, renewed_at TIMESTAMPTZ,"
    " expires_at TIMESTAMPTZ)",
)
_LOCK = 0x6D61696C6572  # "mailer": serialises creating and migrating schemas


def desk_schema(mailbox: str) -> str:
    """The schema of a mailbox's tables: ``desk_`` and its address in lower-case words."""
    base = re.sub(r"[^a-z0-9]+", "_", mailbox.lower()).strip("_") or "default"
    name = f"desk_{base}"
    if len(name) > 60:  # PostgreSQL names stop at 63 bytes
        name = f"{name[:51]}_{hashlib.sha256(mailbox.encode()).hexdigest()[:8]}"
    return name


def node_name() -> str:
    """This process as ``mailer status`` names it: host and pid."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def make_pool(
    url: str, password: str | None, *, size: int, schema: str, timeout: float | None = None
) -> psycopg_pool.ConnectionPool[Any]:
    """``timeout``: a bound on each wait (connecting, a connection, a statement), for a
    look that must answer in time (a metrics scrape); None: the daemon's patient defaults."""
    limits = f" -c statement_timeout={int(timeout * 1000)}" if timeout else ""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "row_factory": row_factory,
        "connect_timeout": max(1, math.ceil(timeout)) if timeout else 5,
        "application_name": "mailer",
        "options": f"-c search_path={schema} -c idle_in_transaction_session_timeout="
        f"{CLAIM_IDLE_TIMEOUT}{limits}",
    }
    if password is not None:
        kwargs["password"] = password
    pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
        url,
        kwargs=kwargs,
        min_size=1,
        max_size=size,
        open=False,
        check=psycopg_pool.ConnectionPool.check_connection,
        timeout=timeout or 5.0,  # a call waits this long for a connection (a server restart)
        name="mailer-store",
    )
    with pg_errors():
        pool.open(wait=True, timeout=timeout or 15.0)
    return pool


class PostgresStore(ClaimQueries, LeaseQueries, RoundTrips, SqliteStore):
    """``Store`` on PostgreSQL, for one mailbox (``settings.mailbox``) of a shared database.

    ``lock``: this is a daemon: it registers its mailbox (``DeskTaken`` for a second config)
    and writes only while it holds the mailbox's lease (``take_lease``; else ``LeaseLost``).
    """

    def __init__(
        self,
        settings: StoreSettings,
        *,
        lock: bool = False,
        read_only: bool = False,
        pool: psycopg_pool.ConnectionPool[Any] | None = None,
        pool_size: int = 10,
        node: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.url or ""
        self.path = Path(settings.where)
        self._lock_file = None
        self.mailbox = settings.mailbox
        self.schema = desk_schema(settings.mailbox)
        self.node = node or node_name()
        self.owns_pool = pool is None
        self.sibling = False  # for_intake's: its lease is the other's, not its to give up
        self.pool = pool or make_pool(
            self.url, settings.password, size=pool_size, schema=self.schema, timeout=timeout
        )
        self.fence = Fence(self.mailbox, self.node) if lock else None
        self.pg = PgDatabase(self.pool, self.fence, on_connect=self._intake_session)
        self.db = self.pg  # type: ignore[assignment]  # the queries' connection: SQLite's SQL
        self._claims: dict[int, tuple[psycopg.Connection[Row], list[Callable[[], None]]]] = {}
        self._lease_conn: psycopg.Connection[Row] | None = None
        self._idle_claims: list[psycopg.Connection[Row]] = []
        self._start_state()
        self._expected: dict[tuple[str, str], tuple[bool, int]] = {}
        self._expected_since = 0.0
        self._opening = None
        try:
            if read_only:
                self._check_version()
            else:
                self._prepare(register=lock)
        except BaseException:
            self.close()
            raise

    def _intake_session(self, conn: psycopg.Connection[Row]) -> None:
        if self.fence is not None:
            conn.execute(f"SET idle_in_transaction_session_timeout = '{INTAKE_IDLE_TIMEOUT}'")

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Row]]:
        """A pool connection in one transaction, under the schema lock."""
        with pg_errors(), self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            yield conn

    def _version(self, conn: psycopg.Connection[Row]) -> int | None:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'schema_version'",
            (self.schema,),
        ).fetchone()
        if found is None:
            return None
        row = conn.execute(f'SELECT max(version) AS v FROM "{self.schema}".schema_version')
        value = row.fetchone()
        return int(value["v"]) if value and value["v"] is not None else 0

    def _check_version(self) -> None:
        with pg_errors(), self.pool.connection() as conn:
            version = self._version(conn)
        if version is None:
            raise StoreUnavailable(
                f"{self.settings.where} has no store for {self.mailbox or 'this mailbox'} yet:"
                " start the daemon once to create it"
            )
        if version != SCHEMA_VERSION:
            raise StoreOutdated(
                f"the store {self.settings.where} ({self.schema}) has schema version {version},"
                f" this mailer expects {SCHEMA_VERSION}: start the daemon once to upgrade it"
            )

    def _prepare(self, *, register: bool) -> None:
        """The registry, this mailbox's schema and its migrations, in one transaction; a
        schema made from nothing awaits its first start (``schema.AWAIT_FIRST_START``)."""
        with self._admin() as conn:
            for statement in _REGISTRY:
                conn.execute(statement)
            if register:
                self._register(conn)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            versions = f'"{self.schema}".schema_version'
            conn.execute(f"CREATE TABLE IF NOT EXISTS {versions}(version BIGINT NOT NULL)")
            version = self._version(conn) or 0
            if version > len(MIGRATIONS):
                raise StoreOutdated(
                    f"this store has schema version {version}, newer than this mailer knows "
                    f"({len(MIGRATIONS)}): upgrade mailer or point [store] url elsewhere"
                )
            conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            for number in range(version, len(MIGRATIONS)):
                for statement in dialect.schema(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version VALUES (%s)", (number + 1,))
            if version == 0:  # created from nothing: the first start is to come, as on SQLite
                conn.execute(AWAIT_FIRST_START)
            conn.execute(
                "INSERT INTO mailer.leases(desk) VALUES (%s) ON CONFLICT DO NOTHING",
                (self.mailbox,),
            )

    def register(self) -> None:
        """Claim this config's mailbox, prefix and IMAP mailbox (``DeskTaken`` if another
        config has one): what a daemon does at start, and ``mailer store copy`` first."""
        with self._admin() as conn:
            self._register(conn)

    def _register(self, conn: psycopg.Connection[Row]) -> None:
        """This config's mailbox, prefix and IMAP mailbox; refuse another config's."""
        s = self.settings
        rows = conn.execute("SELECT * FROM mailer.desks").fetchall()
        mine = next((r for r in rows if r["address"] == s.mailbox), None)
        for row in rows:
            if row is mine:
                continue
            if row["prefix"].lower() == s.prefix.lower():
                raise DeskTaken(
                    f"the reference prefix {s.prefix!r} is already used by {row['address']} in "
                    f"{s.where}: give [service] reference_prefix a prefix of its own"
                )
            if row["imap"] == s.imap:
                raise DeskTaken(
                    f"the IMAP mailbox {s.imap} is already worked by the config of "
                    f"{row['address']} in {s.where}: one config per mailbox (run the same "
                    "config file on each node)"
                )
        if mine is None:
            conn.execute(
                "INSERT INTO mailer.desks VALUES (%s, %s, %s, %s, %s)",
                (s.mailbox, self.schema, s.prefix, s.imap, time.time()),
            )
        elif (mine["prefix"], mine["imap"]) != (s.prefix, s.imap):
            raise DeskTaken(
                f"{s.mailbox} is already worked in {s.where} by a config with prefix "
                f"{mine['prefix']!r} and IMAP mailbox {mine['imap']}, not {s.prefix!r} and "
                f"{s.imap}: a second config for the same mailbox is refused (run the same "
                "config file on each node)"
            )

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def for_intake(self) -> PostgresStore:
        """This mailbox on a connection of its own, writing under this node's lease."""
        sibling = PostgresStore(self.settings, read_only=True, pool=self.pool, node=self.node)
        sibling.fence = sibling.pg.fence = self.fence
        sibling.sibling = True
        return sibling

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if not self.sibling:
                self.drop_lease()
        for conn in (self._lease_conn, *self._idle_claims):
            if conn is not None:
                with contextlib.suppress(Exception):
                    self.pool.putconn(conn)
        self._lease_conn = None
        self._idle_claims = []
        self.db.close()
        if self.owns_pool:
            with contextlib.suppress(Exception):
                self.pool.close()

    # ---- what differs from SQLite ------------------------------------------------------

    def compact(self) -> bool:
        """VACUUM this mailbox's tables: PostgreSQL's own autovacuum does it too."""
        for table in ("messages", "threads", "events", "outbox", "failures"):
            self.db.execute(f'VACUUM "{self.schema}".{table}')
        return True


def stores_of(settings: StoreSettings, mailbox: str) -> list[tuple[str, Any]]:
    """The stores of every registered mailbox ("all") or of one address, for commands that
    span mailboxes (``mailer threads --mailbox``); each is read through its own schema."""
    from dataclasses import replace

    with PostgresStore(settings, pool_size=2) as first:
        addresses = [r.mailbox for r in first.lease_holders()]
    wanted = addresses if mailbox.lower() == "all" else [mailbox.lower()]
    unknown = [a for a in wanted if a not in addresses]
    if unknown:
        raise StoreUnavailable(
            f"{settings.where} has no mailbox {unknown[0]};"
            f" it has: {', '.join(addresses) or 'none'}"
        )
    return [
        (address, PostgresStore(replace(settings, mailbox=address), read_only=True, pool_size=2))
        for address in wanted
    ]
