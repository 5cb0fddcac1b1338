"""The daemon: watch the mailbox, process new mail, drain the outbox, survive everything.

Two tasks share one event loop: intake (IMAP in a worker thread: IDLE or polling, then
fetch + process + commit; on PostgreSQL a batch runs in a thread of its own, intake.py)
and the outbox (reused SMTP connections). Network errors never end the daemon: the
intake reconnects with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time

import jinja2
import structlog

from mailer.config import templates
from mailer.daemon import after_commit
from mailer.daemon.clock import clock_from
from mailer.daemon.failure import fatal_errors
from mailer.daemon.intake import IntakeRunner
from mailer.daemon.lease import Leadership
from mailer.daemon.outbox import Outbox
from mailer.daemon.pipeline import Pipeline
from mailer.daemon.promises import PromiseKeeper, keep_promises
from mailer.daemon.reload import CHECK_INTERVAL, LiveReload, reread_password
from mailer.daemon.sending import RunStats, SendingLoop, backoff
from mailer.daemon.watermark import check_uidvalidity, guard_first_start
from mailer.errors import MailboxUnavailable, StoreError, StoreUnavailable
from mailer.model import InboundMail
from mailer.ops.systemd import SystemdLink
from mailer.settings import Settings
from mailer.store import MailboxState, Store
from mailer.transport.imap import NETWORK_ERRORS, LoginRefused, Mailbox, Selected

log = structlog.get_logger("mailer.service")
# StoreUnavailable: "database is locked" while a CLI command writes, disk hiccups.
RECOVERABLE: tuple[type[BaseException], ...] = (
    MailboxUnavailable,
    StoreUnavailable,
    *NETWORK_ERRORS,
)
SHUTDOWN_BUDGET = 4.0  # seconds for the last sends after SIGTERM; exit within 5 s


class Service(SendingLoop):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        backfill: bool = False,
        first_start: bool = False,
        env: jinja2.Environment | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backfill = backfill
        self.first_start = first_start  # --first-start: a store without a watermark is fine
        self.env = env or templates.make_environment(settings)  # the checked one, when given
        self.intake = IntakeRunner(store)  # a batch on the loop, or beside it (intake.py)
        self.pipeline = Pipeline(settings, self.intake.store, self.env)
        self.clock = clock_from()  # promises only; a test may move it (daemon/clock.py)
        self.keeper = PromiseKeeper(settings, store, self.env)
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
        self.failure: str | None = None  # why the intake stopped for good: /healthz says it
        self.final_budget: float | None = SHUTDOWN_BUDGET
        self.sd = SystemdLink(store.pending_count, lambda: self.outbox.unreachable)

    # ---- entry points --------------------------------------------------------------------

    async def run_once(self) -> RunStats:
        """Process the mailbox, try each queued mail once, return; idle if another node has it."""
        if not self.leadership.try_once():
            return self.stats
        self.leadership.keeping(self._stand_down)  # renewed while this run lasts
        with self._fatal():
            await self._connect()
        sending = asyncio.create_task(self._outbox_loop())  # sends while we still fetch
        try:
            with self._fatal():
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
            self.intake.close()
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
            self.intake.close()
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
            with self._fatal():
                await self._intake_loop()  # it rides out whatever it can recover from
        finally:
            self.stopping.set()  # also when the intake failed: the outbox ends too
            watcher.cancel()
            promises.cancel()
            self.leadership.stop_keeping()
            self.wake_outbox.set()
            await outbox
            await self._close()
            with contextlib.suppress(StoreError):  # a damaged store cannot even count
                log.info("service.stopped", pending=self.store.pending_count())

    def _fatal(self) -> contextlib.AbstractContextManager[None]:
        """Errors the intake cannot recover from end the daemon visibly (``failure.py``)."""
        return fatal_errors(RECOVERABLE, self._failed)

    def _failed(self, error: str) -> None:
        self.failure = error  # /healthz: "intake failed: ..."
        self.sd.failed(error)  # STATUS=failed: ..., no more watchdog pings

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
        self.pipeline = Pipeline(fresh, self.intake.store, self.env)
        self.keeper = PromiseKeeper(fresh, self.store, self.env)
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
                if isinstance(exc, LoginRefused):
                    self.settings = reread_password(self.settings, self.mailbox)
                await self._sleep(delay)

    async def _connect(self) -> Selected:
        selected = await asyncio.to_thread(self.mailbox.connect)
        self.connected = True
        await guard_first_start(
            self.store, self.mailbox, self.settings.imap, forced=self.first_start
        )
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
        return check_uidvalidity(self.store, self.settings.imap.mailbox, selected)

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
        retry = self.intake.store.retry_candidates(s.imap.mailbox, selected.uidvalidity)
        todo = sorted(set(uids) | set(retry))
        move = s.imap.move_to is not None
        chunks = [todo[i : i + s.imap.batch_size] for i in range(0, len(todo), s.imap.batch_size)]
        skip_before = None if self.backfill else state.first_seen - s.imap.backlog
        # The next batch is fetched while this one is judged and committed (without moves,
        # which need the connection between batches): the IMAP round trips overlap the CPU.
        ahead = self._fetching(chunks[0], skip_before) if chunks else None
        try:
            for n in range(len(chunks)):
                assert ahead is not None
                fetched = await ahead
                ahead = None
                if n + 1 < len(chunks) and not move and not self.stopping.is_set():
                    ahead = self._fetching(chunks[n + 1], skip_before)
                await self._process(fetched, state, move)
                if move:
                    await self._moves(selected.uidvalidity)
                await asyncio.sleep(0)  # let the outbox start on what was just committed
                if self.stopping.is_set():
                    break
        finally:
            if ahead is not None:  # never leave a FETCH running on the connection
                with contextlib.suppress(Exception):
                    await ahead  # what it fetched is fetched again next time
        if move:
            await self._moves(selected.uidvalidity)
        self.last_check = time.time()  # the mailbox was read: metrics and /healthz
        return len(uids)

    async def _process(self, fetched: list[InboundMail], state: MailboxState, move: bool) -> None:
        process, now = self.pipeline.process_batch, time.time()
        outcomes = await self.intake.run(
            process, fetched, state, now, backfill=self.backfill, move=move
        )
        self.stats.processed += len(outcomes)
        queued = sum(o.queued for o in outcomes)
        self.stats.queued += queued
        if queued:
            self.wake_outbox.set()

    def _fetching(self, uids: list[int], before: float | None) -> asyncio.Future[list[InboundMail]]:
        return asyncio.ensure_future(asyncio.to_thread(self._fetch, uids, before))

    def _fetch(self, uids: list[int], older_than: float | None) -> list[InboundMail]:
        self.sd.beat(f"processing {len(uids)} new messages")
        limit = self.settings.limits.max_message_size
        return list(self.mailbox.fetch(uids, limit, older_than=older_than))

    async def _moves(self, uidvalidity: int) -> None:
        await after_commit.move_processed(self.mailbox, self.store, self.settings.imap, uidvalidity)

    async def _copies(self) -> None:
        """APPEND a \\Seen copy of each sent mail to the Sent folder, when configured."""
        folder = self.settings.imap.sent_folder
        if folder is None or not self.connected:
            return
        self.wake_intake.clear()
        await after_commit.copy_sent(self.mailbox, self.store, folder)

    async def _wait_for_mail(self) -> None:
        s = self.settings.imap
        selected = self.mailbox.selected
        idle = selected is not None and selected.can_idle
        timeout = min(s.idle_renew, s.catchup_interval, s.poll_interval if not idle else 1e9)
        self.sd.waiting(idle, timeout)
        await asyncio.to_thread(
            self.mailbox.wait,
            timeout,
            self.sd.beating(lambda: self.stopping.is_set() or self.wake_intake.is_set()),
        )

    async def _close(self) -> None:
        self.connected = False
        await asyncio.to_thread(self.mailbox.close)
