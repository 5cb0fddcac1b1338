"""Two nodes, one worker per mailbox: wait for the mailbox's lease, keep it, stand down.

A shared (PostgreSQL) store keeps one lease per mailbox (``store.lease``): the node that
holds it works the mailbox (IMAP, the outbox, promises), the other waits and takes over
when the lease expires: its holder died, hangs, or lost the database. The holder renews
it every ``RENEW_EVERY`` seconds; when a renewal says the lease is gone, or none succeeded
for most of its life, the holder stands down at once and waits again. Its writes are fenced
by the lease's token in the store, so a paused holder that wakes up writes nothing.

With ``LEASE_TTL`` 8 s, a poll every second and a renewal every 2 s, a takeover comes
within about 9 s of the holder's last sign of life (the target is 15 s). A SQLite store's
lease is its lock file: always held, nothing logged.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import structlog

from mailer.errors import StoreError
from mailer.store import Store

log = structlog.get_logger("mailer.lease")
LEASE_TTL = 8.0  # seconds a lease lives without a renewal
RENEW_EVERY = 2.0
POLL = 1.0  # a standby node asks this often


class Leadership:
    def __init__(self, store: Store, mailbox: str) -> None:
        self.store = store
        self.mailbox = mailbox
        self.node = str(getattr(store, "node", "") or f"{os.uname().nodename}:{os.getpid()}")
        self.active = False
        self.shared = bool(getattr(store, "fence", None))  # a PostgreSQL daemon's store
        self.holder: str | None = None  # the other node, while we stand by
        self._heartbeat: asyncio.Task[None] | None = None

    def try_once(self) -> bool:
        """``run --once``: the lease now, or not at all (another node works the mailbox)."""
        if self._take():
            return True
        self.holder = self._holder()
        return False

    def keeping(self, lost: Callable[[], None]) -> None:
        """Renew the lease in the background (``keep``) until ``stop_keeping``/``release``."""
        self.stop_keeping()
        self._heartbeat = asyncio.get_running_loop().create_task(self.keep(lost))

    def stop_keeping(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def release(self) -> None:
        self.stop_keeping()
        if self.active and self.shared:
            try:
                self.store.drop_lease()
            except StoreError as exc:
                log.warning("lease.release_failed", mailbox=self.mailbox, error=str(exc))
            log.info("lease.released", mailbox=self.mailbox, node=self.node)
        self.active = False

    async def take_turns(
        self,
        shutdown: Callable[[], bool],
        standing_by: Callable[[str], None],
        work: Callable[[], Awaitable[None]],
    ) -> None:
        """Work while this node holds the lease, stand by while another does, until the
        daemon stops; ``work`` ends when the lease is lost (``keep``) or at shutdown."""
        try:
            while await self.wait(shutdown, standing_by):
                await work()
                if not shutdown():
                    log.warning("lease.stood_down", mailbox=self.mailbox, node=self.node)
        finally:
            self.release()

    async def wait(self, shutdown: Callable[[], bool], standing_by: Callable[[str], None]) -> bool:
        """Until this node holds the lease (True) or the daemon stops (False)."""
        told = None
        while not shutdown():
            if self._take():
                return True
            holder = self._holder()
            self.holder = holder
            if holder != told:
                told = holder
                log.info("lease.standby", mailbox=self.mailbox, node=self.node, holder=holder)
                standing_by(f"standby: {holder or 'another node'} works {self.mailbox}")
            deadline = time.monotonic() + POLL
            while not shutdown() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        return False

    async def keep(self, lost: Callable[[], None]) -> None:
        """Renew the lease while the node works; ``lost()`` when it must stand down."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                ok = await self._renew()
                if ok:
                    renewed = time.monotonic()
                    continue
                reason = "another node holds the lease"
            except (StoreError, TimeoutError) as exc:
                if time.monotonic() - renewed < LEASE_TTL - RENEW_EVERY:
                    continue  # a restart, a blip: the lease still has time
                reason = f"cannot renew the lease: {type(exc).__name__}: {exc}"
            self.active = False
            log.warning("lease.lost", mailbox=self.mailbox, node=self.node, reason=reason)
            lost()
            return

    async def _renew(self) -> bool:
        """One renewal, tried again at once on a fresh connection (the first call after a
        server restart meets the connection it cut)."""
        for attempt in (1, 2):
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(self.store.renew_lease, LEASE_TTL), LEASE_TTL / 4
                )
            except StoreError:
                if attempt == 2:
                    raise
        return False

    def _take(self) -> bool:
        try:
            taken = self.store.take_lease(LEASE_TTL)
        except StoreError as exc:
            log.warning("lease.error", mailbox=self.mailbox, node=self.node, error=str(exc))
            return False
        if taken and not self.active and self.shared:
            log.info("lease.active", mailbox=self.mailbox, node=self.node)
        self.active = self.active or taken
        return taken

    def _holder(self) -> str | None:
        try:
            rows = self.store.lease_holders()
        except StoreError:
            return None
        return next((r.node for r in rows if r.mailbox == self.mailbox), None)
