"""The daemon: watch the mailbox, process new mail, drain the outbox, survive everything.

Two tasks share one event loop: intake (IMAP in a worker thread: IDLE or polling, then
fetch + process + commit) and the outbox (one reused SMTP connection). Network errors
never end the daemon: the intake reconnects with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import threading
import time
from dataclasses import dataclass

import structlog

from mailer.config import templates
from mailer.daemon.clock import clock_from
from mailer.daemon.lease import Leadership
from mailer.daemon.mailbox_writes import MailboxWrites
from mailer.daemon.outbox import Outbox
from mailer.daemon.pipeline import Pipeline
from mailer.daemon.promises import PromiseKeeper, keep_promises
from mailer.daemon.reload import CHECK_INTERVAL, LiveReload
from mailer.errors import MailboxUnavailable, StoreError, StoreUnavailable
from mailer.model import InboundMail
from mailer.ops.systemd import SystemdLink
from mailer.settings import Settings
from mailer.store import MailboxState, Store
from mailer.transport.imap import NETWORK_ERRORS, Mailbox, RefusedByServer, Selected

log = structlog.get_logger("mailer.service")
# StoreUnavailable: "database is locked" while a CLI command writes, disk hiccups.
REFUSED = RefusedByServer
RECOVERABLE: tuple[type[BaseException], ...] = (
    MailboxUnavailable,
    StoreUnavailable,
    *NETWORK_ERRORS,
)
SHUTDOWN_BUDGET = 4.0  # seconds for the last sends after SIGTERM; exit within 5 s


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter for a server that is down: 2^n s, at most 5 min."""
    return min(300.0, 2.0 ** min(attempt, 9)) * (0.5 + random.random() / 2)


@dataclass
class RunStats:
    processed: int = 0
    queued: int = 0
    sent: int = 0


class Service(MailboxWrites):
    def __init__(self, settings: Settings, store: Store, *, backfill: bool = False) -> None:
        self.settings = settings
        self.store = store
        self.backfill = backfill
        self.env = templates.make_environment(settings)
        self.pipeline = Pipeline(settings, store, self.env)
        self.clock = clock_from()  # promises only; a test may move it (daemon/clock.py)
        self.keeper = PromiseKeeper(settings, store, self.env, self.pipeline.mail)
        self.live = LiveReload(settings)
        self.mailbox = Mailbox(settings.imap, readonly=settings.imap.move_to is None)
        self.outbox = Outbox(
            store, settings.smtp, want_copies=settings.imap.sent_folder is not None
        )
        self.stopping = threading.Event()  # this working period ends (SIGTERM, lease lost)
        self.shutdown = threading.Event()  # the daemon ends (SIGTERM, SIGINT)
        self.leadership = Leadership(store, settings.service.address)
        self.wake_intake = threading.Event()
        self.wake_outbox = asyncio.Event()
        self.stats = RunStats()
        self.connected = False
        self.final_budget: float | None = SHUTDOWN_BUDGET
        self.sd = SystemdLink(store.pending_count, lambda: self.outbox.unreachable)

    # ---- entry points --------------------------------------------------------------------

    async def run_once(self) -> RunStats:
        """Process the mailbox, try each queued mail once, return; idle if another node has it."""
        if not self.leadership.try_once():
            return self.stats
        self.leadership.keeping(self._stand_down)  # renewed while this run lasts
        await self._connect()
        sending = asyncio.create_task(self._outbox_loop())  # sends while we still fetch
        try:
            await self._poll()
            self.stats.queued += self.keeper.tick(self.clock(), time.time())
        finally:
            self.final_budget = None  # --once: every queued mail gets its one try
            self.stopping.set()
            self.wake_outbox.set()
            await sending
        try:
            await self._copies()
        finally:
            await self.outbox.close()
            await self._close()
            self.leadership.release()
        return self.stats

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        log.info(
            "service.started",
            mailbox=self.settings.imap.mailbox,
            address=self.settings.service.address,
        )
        self.sd.start(self.shutdown.is_set)  # READY, STATUS, WATCHDOG: sdnotify.py
        try:  # a shared store: work while this node holds the mailbox's lease (lease.py)
            await self.leadership.take_turns(self.shutdown.is_set, self.sd.standing_by, self._work)
        finally:
            log.info("service.stopped", pending=self.store.pending_count())

    async def _work(self) -> None:
        """While this node holds the lease: intake, outbox, promises, reloads."""
        self.stopping.clear()
        self.final_budget = SHUTDOWN_BUDGET
        self.leadership.keeping(self._stand_down)
        outbox = asyncio.create_task(self._outbox_loop())
        watcher = asyncio.create_task(self._watch_files())
        promises = asyncio.create_task(
            keep_promises(
                lambda: self.keeper, self.clock, self.stopping.is_set, self.wake_outbox.set
            )
        )
        try:
            await self._intake_loop()
        finally:
            watcher.cancel()
            promises.cancel()
            self.leadership.stop_keeping()
            self.wake_outbox.set()
            await outbox
            await self._close()

    def _stand_down(self) -> None:  # the lease is gone: stop at once, send nothing more
        self.final_budget = 0.0
        self.stopping.set()
        self.wake_outbox.set()

    def reload(self) -> bool:
        """SIGHUP or an edited file: take the new rules, templates and settings, or keep the
        old ones if anything is invalid (``reload.py``: what needs a restart, the alert).

        Runs on the event loop between batches, so a batch never sees two rule sets.
        """
        fresh = self.live.reload(self.settings, self.store, self.env)
        if fresh is None:
            self.wake_outbox.set()  # the admin's alert, when one was queued
            return False
        self.settings = fresh
        self.env = templates.make_environment(fresh)
        self.pipeline = Pipeline(fresh, self.store, self.env)
        self.keeper = PromiseKeeper(fresh, self.store, self.env, self.pipeline.mail)
        return True

    async def _watch_files(self) -> None:
        """Every few seconds, a handful of stat calls; a settled change reloads."""
        while not self.stopping.is_set():
            await self._sleep(CHECK_INTERVAL)
            try:
                if not self.stopping.is_set() and self.live.changed():
                    self.reload()
            except Exception as exc:  # the watcher must outlive any surprise
                log.error("reload.error", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("service.stopping")
            self.sd.stopping()
            # A worker thread stuck in a network call must not hold the exit past 5 s;
            # the store is built to survive a hard stop (nothing is lost, see pipeline.py).
            guard = threading.Timer(SHUTDOWN_BUDGET + 0.7, os._exit, (0,))
            guard.daemon = True
            guard.start()
        self.shutdown.set()
        self.stopping.set()
        self.wake_outbox.set()

    # ---- intake --------------------------------------------------------------------------

    async def _intake_loop(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                if not self.connected:
                    await self._connect()
                while await self._poll() and not self.stopping.is_set():
                    pass  # mail that came in while we fetched: take it before waiting
                await self._copies()
                failures = 0
                await self._wait_for_mail()
            except RECOVERABLE as exc:
                failures += 1
                delay = backoff(failures)
                log.warning(
                    "store.error" if isinstance(exc, StoreError) else "imap.error",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=round(delay, 1),
                    failures=failures,
                )
                self.sd.retrying(delay, exc)
                await self._close()
                await self._sleep(delay)

    async def _connect(self) -> Selected:
        selected = await asyncio.to_thread(self.mailbox.connect)
        self.connected = True
        self._check_uidvalidity(selected)
        self.sd.connected()
        log.info(
            "imap.connected",
            uidvalidity=selected.uidvalidity,
            idle=selected.can_idle,
            move_to=self.settings.imap.move_to,  # the server's MOVE support is not the point
        )
        return selected

    def _check_uidvalidity(self, selected: Selected) -> MailboxState:
        name = self.settings.imap.mailbox
        state = self.store.mailbox_state(name)
        with self.store.transaction():
            if state is None:
                state = MailboxState(selected.uidvalidity, 0, time.time())
                self.store.set_mailbox_state(name, state)
            elif state.uidvalidity != selected.uidvalidity:
                log.warning(
                    "imap.uidvalidity_changed",
                    old=state.uidvalidity,
                    new=selected.uidvalidity,
                    action="rescan; known messages are skipped",
                )
                state = MailboxState(selected.uidvalidity, 0, state.first_seen)
                self.store.set_mailbox_state(name, state)
                self.store.drop_moves(name, selected.uidvalidity)
        return state

    async def _poll(self) -> int:
        """Fetch everything after the watermark (plus failed UIDs due a retry) in batches."""
        s = self.settings
        selected = self.mailbox.selected
        assert selected is not None
        state = self.store.mailbox_state(s.imap.mailbox)
        assert state is not None
        if state.uidvalidity != selected.uidvalidity:
            state = self._check_uidvalidity(selected)
        uids = await asyncio.to_thread(self.mailbox.uids_after, state.last_uid)
        retry = self.store.retry_candidates(s.imap.mailbox, selected.uidvalidity)
        todo = sorted(set(uids) | set(retry))
        move = s.imap.move_to is not None
        for start in range(0, len(todo), s.imap.batch_size):
            chunk = todo[start : start + s.imap.batch_size]
            fetched = await asyncio.to_thread(self._fetch, chunk)
            outcomes = self.pipeline.process_batch(
                fetched, state, time.time(), backfill=self.backfill, move=move
            )
            self.stats.processed += len(outcomes)
            queued = sum(o.queued for o in outcomes)
            self.stats.queued += queued
            if queued:
                self.wake_outbox.set()
            if move:
                await self._moves(selected.uidvalidity)
            if self.stopping.is_set():
                break
        if move:
            await self._moves(selected.uidvalidity)
        self.last_check = time.time()  # the mailbox was read: metrics and /healthz
        return len(uids)

    def _fetch(self, uids: list[int]) -> list[InboundMail]:
        self.sd.beat(f"processing {len(uids)} new messages")
        return list(self.mailbox.fetch(uids, self.settings.limits.max_message_size))

    async def _wait_for_mail(self) -> None:
        s = self.settings.imap
        selected = self.mailbox.selected
        timeout = min(s.idle_renew, s.catchup_interval)
        if selected is None or not selected.can_idle:
            timeout = min(timeout, s.poll_interval)
        self.sd.waiting(selected is not None and selected.can_idle, timeout)
        await asyncio.to_thread(
            self.mailbox.wait,
            timeout,
            self.sd.beating(lambda: self.stopping.is_set() or self.wake_intake.is_set()),
        )

    async def _close(self) -> None:
        self.connected = False
        await asyncio.to_thread(self.mailbox.close)

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.5, deadline - time.monotonic()))

    # ---- outbox --------------------------------------------------------------------------

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
