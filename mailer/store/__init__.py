"""The store: everything mailer remembers, behind one typed interface.

What lives here: ``Store``, the interface every caller types against (the daemon, the
admin's commands, ops, the command line, the tests), and ``open_store``, the one way to get
one. Behind them, two backends: SQLite, the default (``sqlite.SqliteStore`` with its query
mixins ``threads``, ``queue``, ``retention``, ``promises`` and ``reports``; ``schema`` its
migrations),
and PostgreSQL for many mailboxes and two nodes (``postgres.PostgresStore``: the same
queries and migrations through ``dialect``; ``lease`` says which node works a mailbox).
Rows come back as frozen values (``rows``); failures as ``mailer.errors.StoreError`` and
its kin, never as a database's own exceptions. ``backup`` (``mailer backup``) and ``probe``
(``mailer doctor``, the metrics gauges) look at a store from outside the daemon.

No SQL, and no database module, outside this package. What it may import: the shared
values only (``mailer.model``, ``mailer.errors``, ``mailer.settings``), never the core,
config, transport, daemon, ops, admin or cli (pyproject.toml, import-linter).

"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from mailer.model import Event, Promise, Status, ThreadInfo
from mailer.settings import StoreSettings
from mailer.store.rows import (
    Cutoffs,
    EventRow,
    FailureRow,
    LeaseRow,
    LoggedMessage,
    MailboxState,
    MessageRow,
    Occurrence,
    OutboxEntry,
    OutboxRow,
    PurgeCounts,
    ReportThread,
    TeamLoad,
    ThreadRow,
)
from mailer.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Cutoffs",
    "EventRow",
    "FailureRow",
    "LeaseRow",
    "LoggedMessage",
    "MailboxState",
    "MessageRow",
    "Occurrence",
    "OutboxEntry",
    "OutboxRow",
    "PurgeCounts",
    "ReportThread",
    "Savepoint",
    "Store",
    "TeamLoad",
    "ThreadRow",
    "open_store",
    "open_stores",
]


class Savepoint(Protocol):
    """The handle ``Store.savepoint()`` yields."""

    def rollback(self) -> None:
        """Undo what was written since the savepoint, and end it."""


class Store(Protocol):
    """Everything mailer remembers. Writes made inside ``transaction()`` commit together."""

    # ---- the connection and its transactions
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]:
        """All or nothing: committed at the end, rolled back on any exception."""

    def savepoint(self) -> AbstractContextManager[Savepoint]:
        """Within a transaction: a part that ``rollback()`` (or an exception) can undo alone."""

    # ---- the IMAP watermark and the moves to do after commit
    def mailbox_state(self, mailbox: str) -> MailboxState | None: ...
    def set_mailbox_state(self, mailbox: str, state: MailboxState) -> None: ...
    def awaits_first_start(self) -> bool:
        """True from the store's creation until ``first_start_done``: a store that lacks a
        mailbox's watermark but does not await its first start lost it (issue 11)."""

    def first_start_done(self) -> None:
        """The daemon set its first watermark (in the same transaction)."""

    def advance(self, mailbox: str, uid: int) -> None: ...
    def queue_move(self, mailbox: str, uidvalidity: int, uid: int) -> None: ...
    def pending_moves(self, mailbox: str, uidvalidity: int) -> list[int]: ...
    def moves_done(self, mailbox: str, uids: Iterable[int]) -> None: ...
    def drop_moves(self, mailbox: str, uidvalidity: int) -> None: ...

    # ---- messages in and out
    def arrival_facts(self, key: str, recipient: str | None, since: float) -> tuple[bool, int]:
        """Whether an inbound message with ``key`` is known, and how many receipts went to
        ``recipient`` after ``since`` (0 without one): what judging a new message reads, in
        one statement (one round trip)."""

    def expect_arrivals(self, arrivals: Sequence[tuple[str, str | None]], since: float) -> None:
        """The (key, recipient) of the next messages judged in this transaction, so that a
        store whose reads are round trips reads their ``arrival_facts`` in one (PostgreSQL);
        the answers stay exactly what ``arrival_facts`` would read."""

    def record_message(
        self,
        *,
        key: str,
        direction: str,
        at: float,
        thread_id: int | None = None,
        mailbox: str | None = None,
        uidvalidity: int | None = None,
        uid: int | None = None,
        sender: str | None = None,
        subject: str | None = None,
        internaldate: float | None = None,
        automatic: bool = False,
        decision: str | None = None,
        reason: str | None = None,
        rule: str | None = None,
        language: str | None = None,
        size: int | None = None,
        defects: str | None = None,
    ) -> int:
        """One message; a (key, direction) the store has already is left as it is (an
        inbound one is counted as a duplicate seen)."""

    def message_log(self, *, limit: int = 50) -> list[LoggedMessage]: ...
    def thread_messages(self, thread_id: int) -> list[MessageRow]: ...
    def automatic_in_a_row(self, thread_id: int, since: float) -> int: ...

    # ---- requests and their timeline
    def next_reference_number(self, start: int) -> int: ...
    def open_request(self, prefix: str, start: int, **fields: Any) -> int:
        """``create_thread`` under the next reference ``PREFIX-N`` (``next_reference_number``);
        returns its id (one round trip on PostgreSQL)."""

    def peek_reference_number(self, start: int) -> int: ...
    def create_thread(
        self,
        *,
        reference: str,
        requester: str,
        requester_name: str,
        subject: str,
        category: str,
        team: str | None,
        team_address: str | None,
        priority: str,
        rule: str,
        language: str,
        status: Status,
        root_message_id: str | None,
        root_references: str | None,
        root_thread_index: str | None,
        parent_reference: str | None,
        created_at: float,
        updated_at: float,
    ) -> int: ...
    def update_thread(
        self,
        thread_id: int,
        *,
        updated_at: float,
        status: Status | None = None,
        resolved_at: float | None = None,
        owner: str | None = None,
        owner_name: str = "",
        first_response_at: float | None = None,
        rating: str | None = None,
        rating_thanked: bool = False,
        auto_blocked: bool = False,
    ) -> None:
        """None (False) leaves a field as it is; ``status`` writes ``resolved_at`` with it,
        ``owner`` writes ``owner_name``."""

    def thread(self, thread_id: int) -> ThreadInfo | None: ...
    def thread_by_reference(self, reference: str) -> ThreadInfo | None: ...
    def thread_by_message_ids(self, ids: Iterable[str]) -> ThreadInfo | None: ...
    def threads(self, *, status: str | None = None, team: str | None = None) -> list[ThreadRow]: ...
    def add_event(
        self, thread_id: int, at: float, event: Event, message_key: str | None
    ) -> None: ...
    def last_status_change(self, thread_id: int) -> float | None: ...
    def events(self, thread_id: int) -> list[EventRow]: ...

    # ---- promises: due times, reminders and digests (each recorded once)
    def set_promise(self, thread_id: int, promise: Promise) -> None: ...
    def promised_threads(self) -> list[ThreadInfo]: ...
    def open_threads(self) -> list[ThreadInfo]: ...
    def record_notice(
        self, thread_id: int, kind: str, due: float, recipient: str, now: float
    ) -> bool: ...
    def notice_recorded(self, thread_id: int, kind: str, due: float) -> bool: ...
    def record_digest(self, recipient: str, day: str, now: float) -> bool: ...
    def team_load(self, now: float) -> list[TeamLoad]:
        """Open, overdue and waiting requests per team right now (the metrics' gauges)."""

    # ---- reports: what happened in a period (read only), weekly mails recorded once
    def report_threads(self, *, since: float, until: float) -> list[ReportThread]: ...
    def report_events(self, *, since: float, until: float) -> list[EventRow]: ...
    def suppressed_messages(self, *, since: float, until: float) -> list[Occurrence]: ...
    def duplicates_seen(self, *, since: float, until: float) -> list[Occurrence]: ...
    def report_sent(self, recipient: str, week: str) -> bool: ...
    def record_report(self, recipient: str, week: str, now: float) -> bool: ...

    # ---- the outbox
    def enqueue(
        self,
        *,
        thread_id: int | None,
        message_id: str,
        kind: str,
        recipient: str,
        envelope_sender: str,
        raw: bytes,
        next_attempt: float,
        created_at: float,
    ) -> int:
        """The new row's id; 0 when the store sends it with its next round trip (PostgreSQL,
        inside a transaction: nobody reads it there)."""

    def due(self, now: float, *, after_id: int = 0, limit: int = 100) -> list[OutboxRow]: ...
    def next_due(self) -> float | None: ...
    def pending_count(self) -> int: ...
    def mark_sent(self, row_id: int, now: float, *, copy_wanted: bool) -> None: ...
    def mark_retry(self, row_id: int, when: float, error: str) -> None: ...
    def mark_dead(self, row_id: int, error: str) -> None: ...
    def mark_bounced(self, message_id: str, error: str) -> None: ...
    def copies_pending(self, *, limit: int = 50) -> list[OutboxRow]: ...
    def mark_copied(self, row_id: int, *, status: str = "done") -> None: ...
    def outbox_rows(self, *, status: str | None = None) -> list[OutboxEntry]: ...

    # ---- messages that failed, and quarantine
    def record_failure(
        self, mailbox: str, uidvalidity: int, uid: int, error: str, now: float, max_attempts: int
    ) -> bool: ...
    def clear_failure(self, mailbox: str, uidvalidity: int, uid: int) -> None: ...
    def retry_candidates(self, mailbox: str, uidvalidity: int) -> list[int]: ...
    def quarantined(self) -> list[FailureRow]: ...
    def requeue(self, uid: int, mailbox: str | None = None) -> int: ...

    # ---- which node works the mailbox (a shared store; SQLite's lock file is its own)
    def take_lease(self, ttl: float = ...) -> bool:
        """Hold the mailbox's lease (take, or renew); False while another node holds it."""

    def renew_lease(self, ttl: float = ...) -> bool:
        """False when the lease is no longer ours: stand down, write nothing more."""

    def drop_lease(self) -> None: ...
    def holds_lease(self) -> bool: ...
    def lease_holders(self) -> list[LeaseRow]: ...
    def settle(self) -> None:
        """Send the writes held back for fewer round trips (PostgreSQL holds a message's log
        rows to send them together), so that their errors come now, not later."""

    def claim(self, row_id: int) -> AbstractContextManager[bool]:
        """One outbox row for one send: False when another node has it or it is done;
        the marks written inside are kept with the claim."""

    @property
    def concurrent_writers(self) -> bool:
        """True when a claim and the marks written inside it may run in another thread
        while the intake uses the store (PostgreSQL: a connection per claim); SQLite's one
        connection stays on the thread that opened it."""

    def for_intake(self) -> Store:
        """The store the intake works on: this one, where one connection serves all
        (SQLite); on a shared store, one with a connection and a transaction of its own
        (the same mailbox, lease and fence), so that the intake may run in a thread of
        its own while the outbox and the timers use this one."""

    # ---- retention
    def purge(self, cutoffs: Cutoffs, *, dry_run: bool = False) -> PurgeCounts: ...
    def compact(self) -> bool:
        """Give the space of what was purged back; False when a reader kept part of it."""


def open_store(
    where: StoreSettings | Path | str,
    *,
    lock: bool = False,
    read_only: bool = False,
    timeout: float | None = None,
) -> Store:
    """The store ``[store]`` names (a path, or a PostgreSQL URL), created and migrated if need be.

    ``lock``: the daemon's exclusive hold (``StoreLocked`` when another one has it); on
    PostgreSQL it registers the mailbox (``DeskTaken`` for a second config) and writes only
    under the mailbox's lease (``take_lease``). ``read_only``: look only, never create or
    migrate (``StoreOutdated`` on another schema). ``timeout``: seconds a look waits at most
    (SQLite's busy lock; PostgreSQL's connection and each statement), for a caller that must
    answer in time (the metrics); None: the defaults. Failures are ``StoreError``s (or
    OSError for the directory).
    """
    if isinstance(where, str):
        where = StoreSettings(path=Path(where), url=where) if "://" in where else Path(where)
    if isinstance(where, StoreSettings) and where.url:
        from mailer.store.postgres import PostgresStore

        return PostgresStore(where, lock=lock, read_only=read_only, timeout=timeout)
    from mailer.store.sqlite import SqliteStore

    path = where.path if isinstance(where, StoreSettings) else where
    return SqliteStore(path, lock=lock, read_only=read_only, timeout=timeout or 30.0)


def open_stores(
    settings: StoreSettings, mailbox: str | None = None, *, read_only: bool = False
) -> list[tuple[str, Store]]:
    """The stores of the mailboxes ``--mailbox`` names: this config's (None), one address, or
    every mailbox of a shared store ("all"). A SQLite store holds one mailbox: its own.
    Another mailbox's store is always opened ``read_only`` (its own daemon migrates it)."""
    if not settings.url or mailbox is None or mailbox.lower() == settings.mailbox.lower():
        return [(settings.mailbox, open_store(settings, read_only=read_only))]
    from mailer.store.postgres import stores_of

    return stores_of(settings, mailbox)
