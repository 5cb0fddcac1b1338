"""One node per store: what a SQLite store says to the questions of a shared one.

The SQLite store's lock file is its lease: the daemon that opened it with ``lock=True`` is
the only one, so it always holds the lease, and its outbox rows need no claim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Self

from mailer.store.rows import LeaseRow


class SingleNode:
    concurrent_writers = False  # one connection, used by the thread that opened it

    def for_intake(self) -> Self:
        return self  # its one connection serves the intake too, on the same thread

    def take_lease(self, ttl: float = 0.0) -> bool:
        return True

    def renew_lease(self, ttl: float = 0.0) -> bool:
        return True

    def drop_lease(self) -> None:
        return None

    def holds_lease(self) -> bool:
        return True

    def lease_holders(self) -> list[LeaseRow]:
        return []

    @contextlib.contextmanager
    def claim(self, row_id: int) -> Iterator[bool]:
        """Every row is this daemon's: the lock file keeps a second one away."""
        yield True
