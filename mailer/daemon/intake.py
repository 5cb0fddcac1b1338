"""Where a batch is processed: on the event loop, or beside it on a shared store.

SQLite's one connection stays on the thread that opened it, and its intake is CPU work:
a batch runs on the event loop, and the outbox sends between batches. PostgreSQL's intake
mostly waits for the server's answers (a round trip or two per message): it runs in a
thread of its own, on a store of its own (``Store.for_intake``: its own connection and
transaction, the same lease and fence), so that the outbox sends while a batch is judged
instead of waiting for it to end. One thread, always the same: a batch's transaction
never changes threads, and batches stay in order.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mailer.store import Store

T = TypeVar("T")


class IntakeRunner:
    def __init__(self, store: Store) -> None:
        self.store = store.for_intake()
        self._beside = self.store is not store
        self._thread: ThreadPoolExecutor | None = None

    async def run(self, work: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """``work(*args, **kwargs)``, on the event loop or in the intake's thread."""
        if not self._beside:
            return work(*args, **kwargs)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="mailer-intake")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(work, *args, **kwargs))

    def close(self) -> None:
        """After the last batch: the thread ends, the intake's own store is closed."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
        if self._beside:
            self.store.close()
