"""Drain the outbox: due rows -> SMTP -> sent | retry later | dead letter.

Rendered mail waits in the store (written with the decision that caused it); this module
only moves it to the SMTP server and records what the server said.

A mail the server accepted is never sent again because the store could not record it (a
full disk, a read-only store): the outbox remembers it in memory (``unrecorded``), stops
sending (``paused``: one error logged for the whole episode), and records it before it sends
anything else once the store writes again. Only a restart while the store still cannot write
forgets what was remembered; the stop logs those mails by Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import structlog

from mailer.errors import PermanentDelivery, ServerUnreachable, StoreError, TemporaryDelivery
from mailer.settings import SmtpSettings
from mailer.store import OutboxRow, Store
from mailer.transport.smtp import Sender

log = structlog.get_logger("mailer.outbox")
T = TypeVar("T")


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
        # Accepted by the server, "sent" not yet recorded: row id -> (when, Message-ID).
        self.unrecorded: dict[int, tuple[float, str]] = {}
        self.paused_by: str | None = None  # the store error of this episode, logged once
        self.stalled = False  # this drain met a store that cannot write: it sends no more

    @property
    def paused(self) -> bool:
        """The store could not record the last results; sending waits until it can."""
        return self.paused_by is not None

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
        self.stalled = False
        if not self.record_unrecorded():
            return 0  # the store still cannot write: send nothing, so nothing twice
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
            if self.unreachable or self.stalled or stop():
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
            if self.stalled:  # the store cannot record what is sent: send no more
                break
            sent += await self.send_one(queue.get_nowait(), sender)
        return sent

    async def close(self) -> None:
        for sender in self.senders:
            await sender.close()
        if self.unrecorded:  # the one way left to send them twice: say which they are
            log.error(
                "outbox.unrecorded_at_exit",
                message_ids=[message_id for _, message_id in self.unrecorded.values()],
                action="accepted by the SMTP server but still pending in the store, which "
                "could not record them: the next start sends them again",
            )

    async def send_one(self, row: OutboxRow, sender: Sender | None = None) -> int:
        # The claim: on a shared store, the row locked for this send (FOR UPDATE SKIP
        # LOCKED), so no other node sends it; False when another node has it or sent it.
        claim = self.store.claim(row.id)
        mine = await self._store(claim.__enter__)
        try:
            sent = await self._send(row, sender) if mine else 0
        except BaseException as exc:
            claim.__exit__(type(exc), exc, exc.__traceback__)
            raise
        claim.__exit__(None, None, None)  # the marks committed: no round trip left
        return sent

    async def _store(self, call: Callable[[], T]) -> T:
        """A claim's round trip: on a shared store in a worker thread (a connection of its
        own), so that the other SMTP connections and the intake go on meanwhile."""
        if self.store.concurrent_writers:
            return await asyncio.to_thread(call)
        return call()

    async def _send(self, row: OutboxRow, sender: Sender | None) -> int:
        try:
            reply = await (sender or self.senders[0]).send(
                row.raw, row.envelope_sender, row.recipient
            )
        except TemporaryDelivery as exc:
            self.unreachable = isinstance(exc, ServerUnreachable)
            error = str(exc)
            await self._written(lambda: self._temporary(row, error))
            return 0
        except PermanentDelivery as exc:
            error = str(exc)
            await self._written(lambda: self._dead(row, error, attempts=row.attempts + 1))
            return 0
        self.unreachable = False
        # DUPLICATE WINDOW: the server has accepted the mail and the row still says
        # "pending". A crash right here, before mark_sent commits, sends this mail again
        # on restart. It is the only such window; one autocommitted UPDATE (on a shared
        # store: the claim's COMMIT) keeps it short.
        now = self.clock()
        log.info(
            "mail.sent",
            message_id=row.message_id,
            kind=row.kind,
            recipient=row.recipient,
            reply=reply.strip()[:120],
        )
        # Accepted: if the store cannot say so now, remember it and never send it again.
        self.unrecorded[row.id] = (now, row.message_id)
        await self._written(lambda: self._mark_sent(row.id, now))
        return 1

    def _mark_sent(self, row_id: int, when: float) -> None:
        self.store.mark_sent(row_id, when, copy_wanted=self.want_copies)
        del self.unrecorded[row_id]

    async def _written(self, write: Callable[[], None]) -> None:
        with self._writing():
            await self._store(write)

    def record_unrecorded(self) -> bool:
        """Record the mail accepted while the store could not write; True when none is left
        (sending may go on), False while the store still refuses."""
        for row_id, (when, _) in sorted(self.unrecorded.items()):
            with self._writing():
                self.store.mark_sent(row_id, when, copy_wanted=self.want_copies)
                del self.unrecorded[row_id]
            if self.stalled:
                return False
        return True

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write of a result: a store error pauses the sending (logged once per episode)
        instead of ending the drain, whose caller would try the same rows again."""
        try:
            yield
        except StoreError as exc:
            self.stalled = True
            if self.paused_by is None:
                self.paused_by = f"{type(exc).__name__}: {exc}"
                log.error(
                    "outbox.paused",
                    error=self.paused_by,
                    unrecorded=len(self.unrecorded),
                    action="the store cannot record what the SMTP server answered: no mail is "
                    "sent until it writes again (free the disk, fix its permissions); mail "
                    "already accepted is never sent again",
                )
            return
        if self.paused_by is not None:
            self.paused_by = None
            log.info("outbox.resumed", action="the store writes again; sending goes on")

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
