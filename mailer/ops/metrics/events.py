"""Counters fed by the daemon's own log events (a structlog processor), so that no module
has to know about metrics: what is logged is what is counted.

Labels come from small fixed vocabularies (outcome, robot reason word, mail kind); anything
unexpected becomes ``other``. Addresses, subjects, references and rule names never become
labels: they are personal or unbounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram

from mailer.core.reading.robots import CHECKS

# *_created series would only double the output
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

EVENTS = CollectorRegistry()  # one per process: the processor has no other way to reach it

OUTCOMES = (
    "receipt",
    "no-receipt",
    "suppressed",
    "duplicate",
    "skipped",
    "bounce",
    "follow-up",
    "staff",
    "requester",
    "failed",
    "quarantined",
    "other",
)
SUPPRESSED_REASONS = (
    *dict.fromkeys(name for name, _ in CHECKS),
    "sender-cap",
    "other",
)
MAIL_KINDS = (
    "receipt",
    "notify",
    "progress",
    "answer",
    "feedback",
    "forward",
    "rating",
    "status",
    "confirm",
    "admin",
    "other",
)
RELOAD_RESULTS = {"reload.done": "done", "reload.refused": "refused", "reload.error": "error"}
# Delivery to processing: seconds for IDLE, minutes for polling, hours for a backlog.
LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600)
# Events that prove the mailbox was just read: a connect selects it and a poll follows, a
# processed message was fetched, ``imap.checked`` (to be logged by the service) ends a poll.
CHECK_EVENTS = frozenset({"imap.connected", "imap.checked", "message.processed"})

PROCESSED = Counter(
    "mailer_messages_processed",
    "Inbound messages processed, by outcome.",
    ["outcome"],
    registry=EVENTS,
)
SUPPRESSED = Counter(
    "mailer_suppressed",
    "New messages that got no receipt because a robot (or the sender cap) was detected.",
    ["reason"],
    registry=EVENTS,
)
SENT = Counter(
    "mailer_mail_sent", "Mails accepted by the SMTP server, by kind.", ["kind"], registry=EVENTS
)
DEAD = Counter(
    "mailer_dead_letters", "Mails given up on (never retried), by kind.", ["kind"], registry=EVENTS
)
DEFERRED = Counter(
    "mailer_mail_deferred", "Temporary SMTP failures (the mail is retried).", registry=EVENTS
)
RECEIPT_LATENCY = Histogram(
    "mailer_receipt_latency_seconds",
    "From the message's IMAP INTERNALDATE to its receipt being queued.",
    buckets=LATENCY_BUCKETS,
    registry=EVENTS,
)
IMAP_CONNECTS = Counter("mailer_imap_connects", "IMAP connections opened.", registry=EVENTS)
IMAP_ERRORS = Counter(
    "mailer_imap_errors", "IMAP failures that caused a reconnect with backoff.", registry=EVENTS
)
RELOADS = Counter(
    "mailer_reloads", "Configuration reloads, by result.", ["result"], registry=EVENTS
)
IGNORED = Counter(
    "mailer_staff_commands_ignored",
    "Keyword mails from senders who are not (authenticated) staff.",
    registry=EVENTS,
)
OUTBOX_ERRORS = Counter(
    "mailer_outbox_errors", "Unexpected errors of the outbox loop.", registry=EVENTS
)


def _zero_series() -> None:
    """Every labelled series exists from the start: rate() and alerts need the zero."""
    for outcome in OUTCOMES:
        PROCESSED.labels(outcome)
    for reason in SUPPRESSED_REASONS:
        SUPPRESSED.labels(reason)
    for kind in MAIL_KINDS:
        SENT.labels(kind)
        DEAD.labels(kind)
    for result in RELOAD_RESULTS.values():
        RELOADS.labels(result)


_zero_series()


class Live:
    """What the events say about the IMAP connection right now (read at scrape time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connected: bool | None = None  # None: no connect attempt seen yet
        self.last_check: float | None = None  # epoch seconds

    def update(self, *, connected: bool | None = None, checked: float | None = None) -> None:
        with self._lock:
            if connected is not None:
                self.connected = connected
            if checked is not None:
                self.last_check = checked

    def snapshot(self) -> tuple[bool | None, float | None]:
        with self._lock:
            return self.connected, self.last_check


LIVE = Live()


def outcome_of(decision: str) -> tuple[str, str | None]:
    """``message.processed``'s decision -> (outcome, suppressed reason or None).

    ``decision`` is the reason text of decide.py and conversation.py: "receipt",
    "suppressed: list", "no receipt: rule printers", "staff: #take #resolved", ...
    """
    head, _, rest = decision.partition(":")
    head, rest = head.strip(), rest.strip()
    if head == "suppressed":
        word = rest.replace(" ", "-")
        return "suppressed", word if word in SUPPRESSED_REASONS else "other"
    if head == "no receipt":
        return "no-receipt", None
    if head in ("requester", "rating", "reopened"):
        return "requester", None
    if decision == "bounce of our mail":
        return "bounce", None
    return (head if head in OUTCOMES else "other"), None


def _kind(value: object) -> str:
    return value if isinstance(value, str) and value in MAIL_KINDS else "other"


def _count(event: str, fields: MutableMapping[str, Any], now: float) -> None:
    if event in CHECK_EVENTS:
        LIVE.update(checked=now)
    if event == "message.processed":
        outcome, reason = outcome_of(str(fields.get("decision", "")))
        PROCESSED.labels(outcome).inc()
        if reason is not None:
            SUPPRESSED.labels(reason).inc()
        received = fields.get("internaldate")
        if outcome == "receipt" and isinstance(received, int | float) and received <= now:
            RECEIPT_LATENCY.observe(now - received)
    elif event == "message.failed":
        PROCESSED.labels("quarantined" if fields.get("quarantined") else "failed").inc()
    elif event == "mail.sent":
        SENT.labels(_kind(fields.get("kind"))).inc()
    elif event == "mail.dead_letter":
        DEAD.labels(_kind(fields.get("kind"))).inc()
    elif event == "mail.deferred":
        DEFERRED.inc()
    elif event == "imap.connected":
        IMAP_CONNECTS.inc()
        LIVE.update(connected=True)
    elif event == "imap.error":
        IMAP_ERRORS.inc()
        LIVE.update(connected=False)
    elif event == "service.stopped":
        LIVE.update(connected=False)
    elif event in RELOAD_RESULTS:
        RELOADS.labels(RELOAD_RESULTS[event]).inc()
    elif event == "staff.command_ignored":
        IGNORED.inc()
    elif event == "outbox.error":
        OUTBOX_ERRORS.inc()


def count_events(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: count the event, pass it on unchanged.

    Goes before the renderer (it needs the fields, not the rendered line). Counting must
    never cost a log line, so any surprise here is swallowed.
    """
    try:
        event = event_dict.get("event")
        if isinstance(event, str):
            _count(event, event_dict, time.time())
    except Exception:
        pass  # metrics are best effort, logging is not
    return event_dict
