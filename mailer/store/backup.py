"""``mailer backup``: a consistent copy of the store while the daemon runs.

SQLite's online backup API copies one read snapshot of a WAL store without stopping writers;
the copy is checked before it replaces anything.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mailer.store.sqlerrors import sqlite_errors


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    seconds: float
    problems: tuple[str, ...]  # from PRAGMA integrity_check; empty when "ok"


def backup_store(source: Path, dest: Path) -> Backup:
    """Copy ``source`` to ``dest`` with the online backup API, check the copy, then rename.

    The copy is written next to ``dest`` as ``.partial`` (mode 0600: it holds personal
    data), made a single self-contained file (journal_mode DELETE, no -wal beside it),
    and only an intact copy replaces ``dest``, so a cron job never rotates a broken one in.
    OSError or a ``StoreError`` when it cannot be made.
    """
    started = time.monotonic()
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with sqlite_errors():
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            copy = sqlite3.connect(partial, isolation_level=None)
            try:
                src.backup(copy)  # one step: one read snapshot; writers go on in WAL mode
                copy.execute("PRAGMA journal_mode=DELETE")
                rows = [str(r[0]) for r in copy.execute("PRAGMA integrity_check")]
            finally:
                copy.close()
        finally:
            src.close()
    problems = () if rows == ["ok"] else tuple(rows)
    if not problems:
        os.replace(partial, dest)
    final = partial if problems else dest
    return Backup(final, final.stat().st_size, time.monotonic() - started, problems)
