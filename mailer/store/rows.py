"""What the store hands back and takes in: frozen values, one per kind of row.

Field names and order are the columns' (``mailer threads --json`` and friends print them as
they are); flags are bools, statuses are ``Status``. Nothing here knows SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from mailer.model import Status


@dataclass(frozen=True)
class MailboxState:
    """The IMAP watermark: the UIDVALIDITY we know, the last UID taken, when first seen."""

    uidvalidity: int
    last_uid: int
    first_seen: float


@dataclass(frozen=True)
class ThreadRow:
    """A request as stored (``mailer threads``); ``ThreadInfo`` is what the core decides on."""

    id: int
    reference: str
    requester: str
    requester_name: str | None
    subject: str | None
    category: str | None
    team: str | None
    team_address: str | None
    priority: str | None
    rule: str | None
    language: str | None
    status: Status
    root_message_id: str | None
    auto_blocked: bool
    created_at: float
    updated_at: float
    owner: str | None
    owner_name: str | None
    first_response_at: float | None
    resolved_at: float | None
    rating: str | None
    rating_thanked: bool
    parent_reference: str | None
    root_references: str | None  # the request's own References, space-separated
    root_thread_index: str | None
    calendar: str | None = None
    first_response_target: str | None = None
    resolution_target: str | None = None
    first_response_due: float | None = None
    resolution_due: float | None = None
    paused_at: float | None = None


@dataclass(frozen=True)
class MessageRow:
    """One message in or out. A purge keeps an inbound one as a bare key (sender, subject,
    defects and language gone) so that a re-delivered copy is still a duplicate."""

    id: int
    key: str  # Message-ID, or "sha256:<hex>" of the raw bytes
    direction: str  # "in" or "out"
    thread_id: int | None
    mailbox: str | None
    uidvalidity: int | None
    uid: int | None
    sender: str | None
    subject: str | None
    at: float
    internaldate: float | None
    automatic: bool
    decision: str | None
    reason: str | None
    rule: str | None
    language: str | None
    size: int | None
    defects: str | None


@dataclass(frozen=True)
class LoggedMessage(MessageRow):
    """An inbound message with its request's reference (``mailer messages``)."""

    reference: str | None


@dataclass(frozen=True)
class EventRow:
    """One stored step of a request's timeline."""

    id: int
    thread_id: int
    at: float
    actor: str
    kind: str
    keyword: str | None
    from_status: Status | None
    to_status: Status | None
    owner: str | None
    note: str | None
    internal: bool
    message_key: str | None  # the mail that caused it


@dataclass(frozen=True)
class ReportThread:
    """A request as reports read it: who handles it, and when it arrived, was acknowledged
    (its receipt accepted by SMTP) and first answered. No subject, no text."""

    id: int
    reference: str
    requester: str
    team: str | None
    category: str | None
    owner: str | None
    priority: str | None
    status: Status
    calendar: str | None
    created_at: float
    arrived_at: float  # the first inbound mail's INTERNALDATE (never after created_at)
    acknowledged_at: float | None  # when SMTP accepted its receipt
    first_response_at: float | None


@dataclass(frozen=True)
class Occurrence:
    """Something reports count by time: a robot's mail suppressed (``what``: its reason),
    a duplicate not processed again (``what``: "duplicate")."""

    at: float
    what: str


@dataclass(frozen=True)
class TeamLoad:
    """One team's open requests right now: all, past a due time, waiting for the requester."""

    team: str | None
    open: int
    overdue: int
    waiting: int


@dataclass(frozen=True)
class OutboxRow:
    """A mail to send, with its bytes (the outbox drain, the Sent-folder copies)."""

    id: int
    thread_id: int | None
    message_id: str
    kind: str
    recipient: str
    envelope_sender: str
    raw: bytes
    attempts: int
    created_at: float


@dataclass(frozen=True)
class OutboxEntry:
    """A mail in the outbox as ``mailer outbox`` lists it: no bytes."""

    id: int
    thread_id: int | None
    message_id: str
    kind: str
    recipient: str
    status: str  # "pending", "sent" or "dead"
    attempts: int
    last_error: str | None
    created_at: float
    sent_at: float | None


@dataclass(frozen=True)
class FailureRow:
    """An inbound message whose processing failed (``mailer quarantine``)."""

    mailbox: str
    uidvalidity: int
    uid: int
    attempts: int
    last_error: str | None
    quarantined: bool
    updated_at: float


@dataclass(frozen=True)
class Cutoffs:
    """Times (epoch seconds): what was last touched before them is past retention."""

    closed: float  # closed requests, outbox bodies, messages in no request
    resolved: float  # resolved requests: past retention AND past the reopen window


@dataclass(frozen=True)
class PurgeCounts:
    """Rows removed (or that would be) per kind; field order is the report's."""

    requests: int = 0
    request_events: int = 0
    request_outbox_rows: int = 0
    request_mails_out: int = 0
    request_mails_in_kept_as_keys: int = 0
    outbox_bodies_emptied: int = 0
    unthreaded_messages_anonymised: int = 0
    requests_kept_mail_waiting: int = 0  # past retention, but their mail is not out yet

    @property
    def changed(self) -> int:
        values = [int(getattr(self, f.name)) for f in fields(self)]
        return sum(values) - self.requests_kept_mail_waiting


@dataclass(frozen=True)
class LeaseRow:
    """A mailbox of a shared store and the node that works it (``mailer status``)."""

    mailbox: str
    prefix: str
    node: str | None  # None: nobody holds a live lease
    token: int  # the fencing token: one more at each takeover
    since: float | None  # when the holder took it
    expires_in: float | None  # seconds left before another node may take it
