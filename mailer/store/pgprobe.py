"""Looks at a PostgreSQL store from outside the daemon: the metrics gauges, ``mailer doctor``.

Each opens one short connection of its own and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from mailer.settings import StoreSettings
from mailer.store.pgdb import pg_errors
from mailer.store.postgres import desk_schema
from mailer.store.probe import Gauges


def _connect(settings: StoreSettings, timeout: float) -> psycopg.Connection[Any]:
    extra: dict[str, Any] = {"password": settings.password} if settings.password else {}
    return psycopg.connect(
        settings.url or "",
        autocommit=True,
        connect_timeout=max(1, int(timeout + 0.99)),
        application_name="mailer-probe",
        options=f"-c search_path={desk_schema(settings.mailbox)} -c statement_timeout="
        f"{int(timeout * 1000)}",
        **extra,
    )


def read_pg_gauges(settings: StoreSettings, *, timeout: float = 2.0) -> Gauges:
    with pg_errors(), _connect(settings, timeout) as conn:
        pending, oldest = conn.execute(
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'"
        ).fetchone() or (0, None)
        (dead,) = conn.execute("SELECT count(*) FROM outbox WHERE status = 'dead'").fetchone() or (
            0,
        )
        (quarantined,) = conn.execute(
            "SELECT count(*) FROM failures WHERE quarantined = 1"
        ).fetchone() or (0,)
    return Gauges(
        int(pending), None if oldest is None else float(oldest), int(dead), int(quarantined)
    )


@dataclass(frozen=True)
class PgProbe:
    """What ``mailer doctor`` found: the server, this mailbox's schema, what we may do."""

    server_version: str
    version_number: int
    user: str
    database: str
    schema: str
    schema_version: int | None  # None: no store for this mailbox yet
    can_create: bool  # CREATE on the database: the first start makes the schemas
    can_write: bool  # INSERT/UPDATE/DELETE on this mailbox's tables (when they exist)
    read_write: bool  # a primary, not a read-only standby
    holder: str | None  # the node that works the mailbox now


def probe_pg(settings: StoreSettings, *, timeout: float = 5.0) -> PgProbe:
    """Connect, and read what the doctor checks; a ``StoreError`` when it cannot connect."""
    schema = desk_schema(settings.mailbox)
    with pg_errors(), _connect(settings, timeout) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
            " current_user, current_database(),"
            " has_database_privilege(current_database(), 'CREATE'),"
            " NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"
        ).fetchone()
        assert row is not None
        version: int | None = None
        can_write = bool(row[4])
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'schema_version'",
            (schema,),
        ).fetchone()
        holder = None
        if exists:
            found = conn.execute(f'SELECT max(version) FROM "{schema}".schema_version').fetchone()
            version = int(found[0]) if found and found[0] is not None else 0
            can_write = all(
                bool(conn.execute(
                    "SELECT has_table_privilege(%s, 'INSERT, UPDATE, DELETE')", (f"{schema}.{t}",)
                ).fetchone()[0])  # type: ignore[index]
                for t in ("threads", "messages", "outbox", "failures")
            )  # fmt: skip
            lease = conn.execute(
                "SELECT node FROM mailer.leases WHERE desk = %s AND expires_at > clock_timestamp()",
                (settings.mailbox,),
            ).fetchone()
            holder = lease[0] if lease else None
    return PgProbe(
        server_version=str(row[0]),
        version_number=int(row[1]),
        user=str(row[2]),
        database=str(row[3]),
        schema=schema,
        schema_version=version,
        can_create=bool(row[4]),
        can_write=can_write,
        read_write=bool(row[5]),
        holder=holder,
    )
