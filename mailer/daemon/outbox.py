"""Drain the outbox: due rows -> SMTP -> sent | retry later | dead letter.

Rendered mail waits in the store (written with the decision that caused it); this module
only moves it to the SMTP server and records what the server said.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import structlog

from mailer.errors import PermanentDelivery, ServerUnreachable, TemporaryDelivery
from mailer.settings import SmtpSettings
from mailer.store import OutboxRow, Store
from mailer.transport.smtp import Sender

log = structlog.get_logger("mailer.outbox")


def retry_delay(attempts: int, settings: SmtpSettings, rand: float) -> float:
    """Exponential backoff with jitter: initial * 2^(n-1), capped, +/- 20 %."""
    base = min(settings.retry_max, settings.retry_initial * 2.0 ** max(0, attempts - 1))
    return float(base * (0.8 + 0.4 * rand))


class Outbox:
    """Sends through ``connections`` SMTP connections in parallel, each kept open."""

    def __init__(
        self,
        store: Store,
        settings: SmtpSettings,
        *,
        want_copies: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.senders = [Sender(settings) for _ in range(max(1, settings.connections))]
        self.want_copies = want_copies
        self.clock = clock
        self.unreachable = False  # the last attempt could not even talk to the server

    async def drain(
        self,
        *,
        deadline: float | None = None,
        everything: bool = False,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Try every due row once; returns how many were accepted by the server.

        ``everything`` also tries rows still waiting for their retry time (shutdown and
        ``run --once``); ``deadline`` (monotonic) stops early, leaving the rest queued.
        """
        self.unreachable = False
        queue: asyncio.Queue[OutboxRow] = asyncio.Queue()
        after = 0
        sent = 0
        while True:
            horizon = float("inf") if everything else self.clock()
            rows = self.store.due(horizon, after_id=after, limit=500)
            if not rows:
                return sent
            after = rows[-1].id
            for row in rows:
                queue.put_nowait(row)
            workers = self.senders[: len(rows)]
            counts = await asyncio.gather(*(self._work(s, queue, deadline, stop) for s in workers))
            sent += sum(counts)
            if self.unreachable or stop():
                return sent
            if deadline is not None and time.monotonic() > deadline:
                return sent

    async def _work(
        self,
        sender: Sender,
        queue: asyncio.Queue[OutboxRow],
        deadline: float | None,
        stop: Callable[[], bool],
    ) -> int:
        sent = 0
        while not queue.empty():
            if stop() or (deadline is not None and time.monotonic() > deadline):
                break
            if self.unreachable:  # the server is down: the rest waits for the next round
                break
            sent += await self.send_one(queue.get_nowait(), sender)
        return sent

    async def close(self) -> None:
        for sender in self.senders:
            await sender.close()

    async def send_one(self, row: OutboxRow, sender: Sender | None = None) -> int:
        # The claim: on a shared store, the row locked for this send (FOR UPDATE SKIP
        # LOCKED), so no other node sends it; False when another node has it or sent it.
        with self.store.claim(row.id) as mine:
            return await self._send(row, sender) if mine else 0

    async def _send(self, row: OutboxRow, sender: Sender | None) -> int:
        try:
            reply = await (sender or self.senders[0]).send(
                row.raw, row.envelope_sender, row.recipient
            )
        except TemporaryDelivery as exc:
            self.unreachable = isinstance(exc, ServerUnreachable)
            self._temporary(row, str(exc))
            return 0
        except PermanentDelivery as exc:
            self._dead(row, str(exc), attempts=row.attempts + 1)
            return 0
        self.unreachable = False
        # DUPLICATE WINDOW: the server has accepted the mail and the row still says
        # "pending". A crash right here, before mark_sent commits, sends this mail again
        # on restart. It is the only such window; one autocommitted UPDATE (on a shared
        # store: the claim's COMMIT) keeps it short.
        self.store.mark_sent(row.id, self.clock(), copy_wanted=self.want_copies)
        log.info(
            "mail.sent",
            message_id=row.message_id,
            kind=row.kind,
            recipient=row.recipient,
            reply=reply.strip()[:120],
        )
        return 1

    def _dead(self, row: OutboxRow, error: str, *, attempts: int) -> None:
        """Dead letter: never retried, the server's reply kept for the admin."""
        self.store.mark_dead(row.id, error)
        log.error(
            "mail.dead_letter",
            message_id=row.message_id,
            kind=row.kind,
            recipient=row.recipient,
            reply=error,
            attempts=attempts,
        )

    def _temporary(self, row: OutboxRow, error: str) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        if now - row.created_at >= self.settings.retry_for:
            self._dead(row, f"gave up after {attempts} attempts: {error}", attempts=attempts)
            return
        when = now + retry_delay(attempts, self.settings, random.random())
        self.store.mark_retry(row.id, when, error)
        log.warning(
            "mail.deferred",
            message_id=row.message_id,
            recipient=row.recipient,
            reply=error,
            attempts=attempts,
            retry_in=round(when - now, 1),
        )
