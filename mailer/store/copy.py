"""``mailer store copy``: a SQLite store into an empty PostgreSQL one, checked table by table.

The daemon must be stopped (the SQLite store's lock file is taken for the copy). The target
is this config's mailbox in the PostgreSQL database: its tables must be empty (other
mailboxes there are left alone, so several SQLite stores can move into one database, one
config at a time). Every row goes over in ONE transaction, with its id (identity sequences
are moved past them), and then each table is compared: the number of rows and a digest of
every row (SHA-256 over the sorted hashes of the rows' values, so the order and the
engines' collations do not matter).

A new PostgreSQL store holds one row already: the mark that it awaits its first start
(``schema.AWAIT_FIRST_START``). That mark alone does not make a target non-empty; it is
removed before the copy, so the copied store awaits a first start exactly when its source
did (a store that served its mailbox must never take the next start for a first one).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailer.errors import StoreError
from mailer.settings import StoreSettings
from mailer.store.dialect import ID_TABLES
from mailer.store.pgdb import pg_errors
from mailer.store.postgres import PostgresStore
from mailer.store.schema import FIRST_START_KEY, FIRST_START_PENDING
from mailer.store.sqlerrors import sqlite_errors
from mailer.store.sqlite import SqliteStore

# Parents before children (foreign keys); tables of later migrations follow in name order.
ORDER = (
    "meta", "mailboxes", "threads", "messages", "outbox", "failures", "pending_moves",
    "events", "notices", "digests",
)  # fmt: skip


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    copied: int  # the rows the target has after the copy
    digest: str  # of the source's rows
    same: bool  # count and digest equal on both sides


@dataclass(frozen=True)
class CopyReport:
    target: str
    schema: str
    tables: tuple[TableCopy, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(t.same for t in self.tables)


def copy_store(source: Path, target: StoreSettings) -> CopyReport:
    """Copy the SQLite store at ``source`` into ``target`` (a PostgreSQL URL and mailbox).

    ``StoreLocked`` while a daemon has the SQLite store; ``DeskTaken`` when another config
    has the mailbox or prefix; ``StoreError`` when the target already holds rows."""
    started = time.monotonic()
    src = SqliteStore(source, lock=True)
    try:
        with PostgresStore(target, pool_size=2) as dest:
            dest.register()
            tables = _tables(src)
            with pg_errors(), dest.pool.connection() as conn, conn.transaction():
                _refuse_rows(conn, tables, target)
                conn.execute("DELETE FROM meta WHERE key = %s", (FIRST_START_KEY,))
                for table in tables:
                    columns = _columns(src, table)
                    names = ", ".join(columns)
                    with sqlite_errors():
                        rows = src.db.execute(f"SELECT {names} FROM {table}")
                    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(tuple(row))
                    if table in ID_TABLES:
                        conn.execute(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT max(id) FROM {table}))"
                            f" WHERE EXISTS (SELECT 1 FROM {table})"
                        )
            checked = []
            with pg_errors(), dest.pool.connection() as conn:
                for table in tables:
                    names = ", ".join(_columns(src, table))
                    with sqlite_errors():
                        mine = _digest(src.db.execute(f"SELECT {names} FROM {table}"))
                    theirs = _digest(conn.execute(f"SELECT {names} FROM {table}").fetchall())
                    checked.append(TableCopy(table, mine[0], theirs[0], mine[1], mine == theirs))
            return CopyReport(target.where, dest.schema, tuple(checked), time.monotonic() - started)
    finally:
        src.close()


def _tables(src: SqliteStore) -> list[str]:
    with sqlite_errors():
        found = [
            str(r[0])
            for r in src.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    return [t for t in ORDER if t in found] + sorted(t for t in found if t not in ORDER)


def _columns(src: SqliteStore, table: str) -> list[str]:
    with sqlite_errors():
        return [str(r[1]) for r in src.db.execute(f"PRAGMA table_info({table})")]


def _refuse_rows(conn: Any, tables: list[str], target: StoreSettings) -> None:
    """A ``StoreError`` when the target has a row, its mark of a first start to come aside
    (every new store has that one)."""
    for table in tables:
        query = f"SELECT EXISTS (SELECT 1 FROM {table})"
        args: tuple[str, ...] = ()
        if table == "meta":
            query = "SELECT EXISTS (SELECT 1 FROM meta WHERE NOT (key = %s AND value = %s))"
            args = (FIRST_START_KEY, FIRST_START_PENDING)
        if conn.execute(query, args).fetchone()[0]:
            raise StoreError(
                f"{target.where} already holds rows of {target.mailbox or 'this mailbox'} "
                f"(table {table}): mailer store copy only fills an empty store; nothing was copied"
            )


def _value(value: Any) -> str:
    if value is None:
        return "n"
    if isinstance(value, bool | int):
        return f"i{int(value)}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"b{bytes(value).hex()}"
    return f"s{value}"


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _digest(rows: Iterable[Any]) -> tuple[int, str]:
    """(rows, digest): SHA-256 over the sorted SHA-256s of the rows."""
    hashes = sorted(
        hashlib.sha256("\x1f".join(_value(v) for v in _values(row)).encode()).digest()
        for row in rows
    )
    total = hashlib.sha256()
    for one in hashes:
        total.update(one)
    return len(hashes), total.hexdigest()
