"""What ``pgdb`` hands back and raises: rows by name or position, results (fetched at once),
and psycopg's errors as store errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg.rows import RowMaker

from mailer.errors import (
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)


def store_error(exc: BaseException) -> StoreError:
    """The store error that says what a psycopg (or pool) error means for the caller."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return StoreUnavailable(f"cannot connect to PostgreSQL: {text}")
    state = getattr(exc, "sqlstate", None) or ""
    if state in ("40001", "40P01", "55P03", "57014"):  # serialization, deadlock, lock, timeout
        return StoreBusy(text)
    if state == "53100":
        return StoreFull(text)
    if state == "25006":  # a read-only transaction: a standby after a failover
        return StoreReadOnly(text)
    if state.startswith("XX"):
        return StoreCorrupt(text)
    if state[:2] in ("08", "53", "57", "28", "3D") or state == "25P03":
        return StoreUnavailable(text)  # connection, resources, shutdown, auth, no database
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and not state:
        return StoreUnavailable(text)  # the connection is gone (server restart, network)
    return StoreError(text)  # a constraint, a misuse: a bug, never retried as such


@contextlib.contextmanager
def pg_errors() -> Iterator[None]:
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        raise store_error(exc) from exc


class Row(dict[str, Any]):
    """A row by column name (``row["id"]``, ``**row``) or by position (``row[0]``)."""

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    result = cursor.pgresult  # the names straight from libpq: no Column objects per query
    encoding = cursor.connection.info.encoding
    count = result.nfields if result is not None else 0
    names = [(result.fname(i) or b"").decode(encoding) for i in range(count)] if result else []

    def make(values: Sequence[Any]) -> Row:
        return Row(zip(names, values, strict=True))

    return make


def control_word(sql: str) -> bool:
    """BEGIN [IMMEDIATE], COMMIT or ROLLBACK (not ROLLBACK TO a savepoint)."""
    words = sql.split()
    return bool(words) and (
        words[0].upper() in ("BEGIN", "COMMIT") or [w.upper() for w in words] == ["ROLLBACK"]
    )


class Result:
    """What ``execute`` returns: the rows (fetched), ``lastrowid``, ``rowcount``."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)
