"""The daemon's sending task: drain the outbox whenever mail is queued or due, back off
while the SMTP server is down, wait while the store cannot record results, and give every
queued mail its last try within the shutdown budget."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from dataclasses import dataclass

import structlog

from mailer.daemon.outbox import Outbox
from mailer.settings import Settings
from mailer.store import Store

log = structlog.get_logger("mailer.service")
STORE_RETRY = 2.0  # seconds between tries of a store that could not record sent mail


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter for a server that is down: 2^n s, at most 5 min."""
    return min(300.0, 2.0 ** min(attempt, 9)) * (0.5 + random.random() / 2)


@dataclass
class RunStats:
    processed: int = 0
    queued: int = 0
    sent: int = 0


class SendingLoop:
    settings: Settings
    store: Store
    outbox: Outbox
    stats: RunStats
    stopping: threading.Event
    wake_intake: threading.Event
    wake_outbox: asyncio.Event
    final_budget: float | None

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.5, deadline - time.monotonic()))

    async def _outbox_loop(self) -> None:
        outages = 0
        while not self.stopping.is_set():
            self.wake_outbox.clear()
            try:
                sent = await self.outbox.drain(stop=self.stopping.is_set)
                self.stats.sent += sent
                if sent and self.settings.imap.sent_folder:
                    self.wake_intake.set()
                outages = outages + 1 if self.outbox.unreachable else 0
                if outages:  # SMTP down: back off with jitter instead of hammering it
                    await self._sleep(backoff(outages))
                elif self.outbox.stalled:  # the store cannot record: look again soon
                    await self._sleep(STORE_RETRY)
                else:
                    await self._outbox_wait()
            except Exception as exc:
                log.error("outbox.error", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
        budget = self.final_budget
        deadline = None if budget is None else time.monotonic() + budget
        try:
            self.stats.sent += await self.outbox.drain(deadline=deadline, everything=True)
        except Exception as exc:
            log.error("outbox.error", error=f"{type(exc).__name__}: {exc}")
        finally:
            await self.outbox.close()

    async def _outbox_wait(self) -> None:
        due = self.store.next_due()
        timeout = 60.0 if due is None else max(0.05, min(60.0, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake_outbox.wait(), timeout)
