"""Looks at a store from outside the daemon, changing nothing: ``mailer doctor``'s probes and
the metrics server's gauges. Each opens its own short-lived connection and returns values;
the callers word them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailer.errors import StoreEmpty, StoreError
from mailer.settings import StoreSettings
from mailer.store import open_store
from mailer.store.rows import TeamLoad
from mailer.store.sqlerrors import sqlite_errors, store_error
from mailer.store.sqlite import refuse_empty


@dataclass(frozen=True)
class FileProbe:
    """What opening the store read-write found.

    ``opened`` False: the file could not be opened at all (``error`` says why). Else the
    schema ``version``, or the ``error`` met reading it or taking the write lock.
    """

    opened: bool
    version: int | None = None
    error: StoreError | None = None
    damage: tuple[str, ...] = ()  # what PRAGMA quick_check found (first lines), () when sound


@dataclass(frozen=True)
class Gauges:
    """The outbox and the quarantine right now."""

    pending: int
    oldest_pending: float | None  # created_at of the oldest mail waiting, None when none
    dead: int
    quarantined: int


def probe_directory(directory: Path) -> str:
    """Create, write (WAL) and remove a throw-away database in ``directory``; the journal
    mode SQLite gave it ("wal" unless the file system cannot do WAL).

    OSError when no file can be created there; a ``StoreError`` when SQLite cannot write it.
    """
    fd, name = tempfile.mkstemp(prefix=".mailer-doctor-", suffix=".sqlite3", dir=directory)
    os.close(fd)
    try:
        with sqlite_errors():
            db = sqlite3.connect(name, isolation_level=None)
            try:
                mode = str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
                db.execute("CREATE TABLE probe (x)")
                db.execute("INSERT INTO probe VALUES (1)")
            finally:
                db.close()
    finally:
        for leftover in (name, f"{name}-wal", f"{name}-shm", f"{name}-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return mode


def probe_file(path: Path, *, timeout: float) -> FileProbe:
    """Open the store read-write, read its schema version, take the write lock and give it
    back (waiting ``timeout`` seconds at most), read every page (``PRAGMA quick_check``):
    nothing is written, no lock file is taken."""
    try:
        refuse_empty(path)
    except StoreEmpty as exc:
        return FileProbe(opened=True, error=exc)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return FileProbe(opened=False, error=store_error(exc))
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.execute("BEGIN IMMEDIATE")  # takes the write lock, changes nothing
        db.execute("ROLLBACK")
        # Every page read once (indexes against tables too): a damaged page that no query of
        # the checks above touched would otherwise pass, and stop the daemon later.
        found = [str(r[0]) for r in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        return FileProbe(opened=True, error=store_error(exc))
    finally:
        db.close()
    damage = () if found == ["ok"] else tuple(found)
    return FileProbe(opened=True, version=version, damage=damage)


def read_gauges(path: Path | StoreSettings, *, timeout: float = 2.0) -> Gauges:
    """The gauges, on a read-only connection of their own; a ``StoreError`` when the store
    cannot be read (absent, busy longer than ``timeout``, damaged, out of reach)."""
    if isinstance(path, StoreSettings):
        if path.url:
            from mailer.store.pgprobe import read_pg_gauges

            return read_pg_gauges(path, timeout=timeout)
        path = path.path
    with sqlite_errors():
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            pending, oldest = db.execute(
                "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'"
            ).fetchone()
            (dead,) = db.execute("SELECT count(*) FROM outbox WHERE status = 'dead'").fetchone()
            (quarantined,) = db.execute(
                "SELECT count(*) FROM failures WHERE quarantined = 1"
            ).fetchone()
        finally:
            db.close()
    return Gauges(
        int(pending), None if oldest is None else float(oldest), int(dead), int(quarantined)
    )


def read_team_load(
    where: Path | StoreSettings, now: float, *, timeout: float = 2.0
) -> list[TeamLoad]:
    """Open, overdue and waiting requests per team (``Store.team_load``), on a read-only open
    of the store of its own (SQLite or PostgreSQL), waiting ``timeout`` seconds at most; a
    ``StoreError`` when it cannot be read."""
    store = open_store(where, read_only=True, timeout=timeout)
    try:
        return store.team_load(now)
    finally:
        store.close()
