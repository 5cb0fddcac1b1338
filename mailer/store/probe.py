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

from mailer.errors import StoreError
from mailer.settings import StoreSettings
from mailer.store.sqlerrors import sqlite_errors, store_error


@dataclass(frozen=True)
class FileProbe:
    """What opening the store read-write found.

    ``opened`` False: the file could not be opened at all (``error`` says why). Else the
    schema ``version``, or the ``error`` met reading it or taking the write lock.
    """

    opened: bool
    version: int | None = None
    error: StoreError | None = None


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
    back (waiting ``timeout`` seconds at most): nothing is written, no lock file is taken."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return FileProbe(opened=False, error=store_error(exc))
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        db.execute("BEGIN IMMEDIATE")  # takes the write lock, changes nothing
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return FileProbe(opened=True, error=store_error(exc))
    finally:
        db.close()
    return FileProbe(opened=True, version=version)


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
