"""Value objects passed between the stages: parse -> classify -> decide -> render.

Everything here is frozen and free of logic, so that every stage takes values and returns
values and a test can build any of them in one line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The header every mail we send carries (naming the service): on inbound mail it means our
# own mail came back. Written by ``core.writing.render``, read by ``core.reading.robots``.
LOOP_HEADER = "X-Mailer-Loop"


class Status(enum.StrEnum):
    """Where a request stands; the allowed moves live in the workflow table."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING)


@dataclass(frozen=True)
class Event:
    """One stored step of a request's timeline (the time is added by the caller)."""

    kind: str  # "status", "owner", "note", "rating", "opened", "reply"
    actor: str
    keyword: str | None = None
    from_status: Status | None = None
    to_status: Status | None = None
    owner: str | None = None
    note: str | None = None
    internal: bool = False


class Robot(enum.StrEnum):
    """Why a message counts as a robot's (robots.CHECKS): no receipt goes to it.

    The values are the words of the log, the store ("suppressed: list") and the metrics.
    """

    OWN_MAIL_LOOPED = "own-mail-looped"
    OWN_ADDRESS = "own-address"
    DSN = "dsn"
    MDN = "mdn"
    ARF = "arf"
    REPORT = "report"
    BOUNCE = "bounce"
    AUTO_SUBMITTED = "auto-submitted"
    NULL_SENDER = "null-sender"
    SYSTEM_SENDER = "system-sender"
    NO_VALID_SENDER = "no-valid-sender"
    NO_REPLY_SENDER = "no-reply-sender"
    LIST = "list"
    LIST_SERVER = "list-server"  # the list software's own notice (loop alert, moderation, ...)
    PRECEDENCE = "precedence"
    X_AUTO_RESPONSE_SUPPRESS = "x-auto-response-suppress"
    LOOP_HEADER = "loop-header"
    AUTO_HEADER = "auto-header"
    SPAM = "spam"
    OUT_OF_OFFICE = "out-of-office"
    CHALLENGE_RESPONSE = "challenge-response"
    CALENDAR = "calendar"
    RECALL = "recall"
    READ_RECEIPT = "read-receipt"
    NOT_ADDRESSED = "not-addressed"


class ReasonCode(enum.StrEnum):
    """What became of an inbound message: the log's ``reason``, the metrics' outcome."""

    RECEIPT = "receipt"
    NO_RECEIPT = "no-receipt"  # a rule says no receipt; detail "rule NAME"
    SUPPRESSED = "suppressed"  # detail: a Robot code, or SENDER_CAP
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"  # older than [imap] backlog
    BOUNCE = "bounce"  # a bounce of our own mail, tied to its request
    FOLLOW_UP = "follow-up"  # detail: a Robot code for automatic mail, else free words
    STAFF = "staff"  # detail: the keywords, or what the staff mail did
    REQUESTER = "requester"  # #status, #close, a rating, a reopening


SENDER_CAP = "sender-cap"  # the detail of a receipt held back by [limits] receipts_per_sender
_HEADS = {ReasonCode.NO_RECEIPT: "no receipt", ReasonCode.BOUNCE: "bounce of our mail"}


@dataclass(frozen=True)
class Reason:
    """Why a message was handled as it was, as a value: a fixed ``code`` (logs, metrics), a
    ``detail`` and the ``text`` people read (the store, ``mailer messages``, explain).

    ``text`` defaults to "code: detail" ("suppressed: list", "no receipt: rule printers").
    """

    code: ReasonCode
    detail: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            head = _HEADS.get(self.code, self.code.value)
            text = f"{head}: {self.detail}" if self.detail else head
            object.__setattr__(self, "text", text)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class MailboxRef:
    """One immutable IMAP message: (mailbox, UIDVALIDITY, UID) never names another."""

    mailbox: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class InboundMail:
    """One message as the mailbox handed it over, before anything read it.

    The IMAP edge produces it; the daemon parses, judges and records it. ``raw`` may be cut
    at the configured size cap; ``size`` is always the full size the server announced.
    """

    ref: MailboxRef
    internaldate: float  # epoch seconds, from the server, never from the Date header
    raw: bytes
    size: int  # RFC822.SIZE: the full size even when ``raw`` was cut at the cap


@dataclass(frozen=True)
class Address:
    """A single mailbox; ``addr`` is the addr-spec as written (case kept)."""

    name: str
    addr: str

    @property
    def key(self) -> str:
        """The address lower-cased, +detail kept: what caps and comparisons use."""
        return self.addr.lower()

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2].lower()

    @property
    def local(self) -> str:
        return self.addr.rpartition("@")[0]


@dataclass(frozen=True)
class Attachment:
    """What we keep of an attachment: never its content, which is never echoed."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class DeliveryReport:
    """What a multipart/report (DSN, MDN, ARF) says, reduced to what we act on."""

    report_type: str  # "delivery-status", "disposition-notification", "feedback-report", ...
    actions: tuple[str, ...] = ()  # per-recipient Action: values (failed, delayed, ...)
    statuses: tuple[str, ...] = ()  # per-recipient Status: values (5.1.1, ...)
    original_message_ids: tuple[str, ...] = ()  # Message-IDs found in the returned message


@dataclass(frozen=True)
class ParsedMessage:
    """An inbound message, decoded once at the boundary; no stage sees bytes after this.

    ``return_path`` is None when the header is absent, "" for the null path ``<>``.
    ``headers`` holds every header as (lower-cased name, unfolded decoded value), in order.
    """

    key: str  # Message-ID, or "sha256:<hex>" of the raw bytes when there is none
    message_id: str | None  # "<...>" exactly as sent, or None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str  # decoded, whitespace-collapsed, control characters removed
    raw_subject: str | None  # the header as it was (None when absent)
    from_: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    return_path: str | None
    recipients: tuple[Address, ...]  # To, Cc, Bcc, Resent-To/Cc/Bcc
    delivered_to: tuple[str, ...]  # Delivered-To, X-Original-To, envelope hints
    headers: tuple[tuple[str, str], ...]
    content_type: str  # of the top-level part, lower-cased, e.g. "multipart/report"
    text: str  # the readable body: text/plain, else text derived from HTML
    html_only: bool
    attachments: tuple[Attachment, ...]
    has_calendar: bool  # a text/calendar part (meeting invitation or response)
    report: DeliveryReport | None
    size: int  # bytes of the raw message
    truncated: bool  # the body was cut at the configured size cap
    defects: tuple[str, ...] = ()
    thread_topic: str | None = None
    thread_index: str | None = None
    date: str | None = None
    # Message-IDs of mail attached or returned inside this one (message/rfc822 parts,
    # text/rfc822-headers): how a non-standard bounce of our mail finds its thread.
    embedded_message_ids: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        name = name.lower()
        return tuple(value for key, value in self.headers if key == name)

    @property
    def sender(self) -> Address | None:
        """The single From address, or None when From is missing, empty or several."""
        return self.from_[0] if len(self.from_) == 1 else None


@dataclass(frozen=True)
class Classification:
    """The outcome of the rules: the first rule that matched, or the built-in default."""

    rule: str
    category: str = "general"
    team: str | None = None  # team key in the config
    team_name: str | None = None
    team_address: str | None = None
    priority: str = "normal"
    template: str = "receipt"
    language: str | None = None  # forced by the rule; None = detect
    receipt: bool = True
    expectation: str | None = None


@dataclass(frozen=True)
class Promise:
    """The targets and due times of one request (epoch seconds; None: nothing promised)."""

    calendar: str | None = None
    first_response_target: str | None = None
    resolution_target: str | None = None
    first_response_due: float | None = None
    resolution_due: float | None = None
    paused_at: float | None = None  # the resolution clock stopped (waiting for the requester)

    @property
    def any(self) -> bool:
        return self.first_response_due is not None or self.resolution_due is not None


NO_PROMISE = Promise()


@dataclass(frozen=True)
class ThreadInfo:
    """A request as the store knows it, enough for deciding and rendering."""

    id: int
    reference: str
    requester: str  # lower-cased address
    requester_name: str
    subject: str
    category: str
    team: str | None
    status: Status
    language: str
    rule: str
    root_message_id: str | None
    created_at: float
    message_ids: tuple[str, ...] = field(default=())
    owner: str | None = None  # lower-cased address of the staff member handling it
    owner_name: str = ""  # their display name, when they took it themselves
    team_address: str | None = None
    priority: str = "normal"
    resolved_at: float | None = None
    first_response_at: float | None = None
    rating: str | None = None
    rating_thanked: bool = False
    parent_reference: str | None = None  # the earlier request this one continues
    root_references: tuple[str, ...] = ()  # the request's own References, to thread under it
    promise: Promise = NO_PROMISE  # its targets and due times
    root_thread_index: str | None = None  # its Thread-Index, for Outlook's conversation view


@dataclass(frozen=True)
class File:
    """An attachment we forward: a staff answer's files to the requester, and so on."""

    filename: str
    content_type: str  # lower-cased type/subtype
    data: bytes
