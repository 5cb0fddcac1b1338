"""What the SQLite query mixins share: the connection, and reading one row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any


class Connected:
    db: sqlite3.Connection

    def _one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, tuple(args)).fetchone()
        return row
