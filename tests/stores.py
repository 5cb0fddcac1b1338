"""Looking at a test store's rows in SQL, whichever backend holds them (SQLite or PostgreSQL)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from mailer.store.postgres import PostgresStore


def sql(where: Path | str, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of one query (written with ``?``) on the store at ``where``; a write commits."""
    if isinstance(where, str):  # a PostgreSQL URL: the tables of the default mailbox
        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("SET search_path TO desk_default")
            cursor = conn.execute(query.replace("?", "%s"), args)
            return list(cursor.fetchall()) if cursor.description else []
    db = sqlite3.connect(where)
    try:
        with db:
            return list(db.execute(query, args).fetchall())
    finally:
        db.close()


def set_schema_version(where: Path | str, version: int) -> None:
    """Make the store at ``where`` say it has schema ``version`` (its tables stay as they are)."""
    if isinstance(where, str):
        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("UPDATE desk_default.schema_version SET version = %s", (version,))
        return
    db = sqlite3.connect(where)
    try:
        db.execute(f"PRAGMA user_version = {version}")
    finally:
        db.close()


@contextlib.contextmanager
def statements_sent(store: PostgresStore) -> Iterator[list[str]]:
    """The statements ``store`` asks its connection to run inside the block, in SQLite's
    SQL as the store writes them (held ones count where they are written)."""
    sent: list[str] = []
    execute = store.pg.execute

    def counted(sql: str, args: Any = ()) -> Any:
        sent.append(sql)
        return execute(sql, args)

    store.pg.execute = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        store.pg.execute = execute  # type: ignore[method-assign]
