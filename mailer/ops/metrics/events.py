"""Counters fed by the daemon's own log events (a structlog processor), so that no module
has to know about metrics: what is logged is what is counted. The daemon that serves the
metrics puts ``count_events`` into the log's chain (``mailer.ops.logs.configure``), which
also carries the stdlib's records (imapclient, aiosmtplib, asyncio): their warnings count.

Labels come from small fixed vocabularies (outcome, robot reason word, mail kind, log level
and writer); anything unexpected becomes ``other``. Addresses, subjects, references and rule
names never become labels: they are personal or unbounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram

from mailer.model import SENDER_CAP, ReasonCode, Robot

# *_created series would only double the output
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

EVENTS = CollectorRegistry()  # one per process: the processor has no other way to reach it

OUTCOMES = (*(code.value for code in ReasonCode), "failed", "quarantined", "other")
SUPPRESSED_REASONS = (*(robot.value for robot in Robot), SENDER_CAP, "other")
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
    "report",
    "other",
)
LOG_LEVELS = ("warning", "error", "critical")  # the lines worth counting
LOG_WRITERS = ("mailer", "imapclient", "aiosmtplib", "asyncio", "other")
RELOAD_RESULTS = {"reload.done": "done", "reload.refused": "refused", "reload.error": "error"}
# Delivery to processing: seconds for IDLE, minutes for polling, hours for a backlog.
LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600)
# Events that prove the mailbox was just read: a connect selects it and a poll follows, a
# processed message was fetched, ``imap.checked`` (to be logged by the service) ends a poll.
CHECK_EVENTS = frozenset({"imap.connected", "imap.checked", "message.processed"})
SLA_EVENTS = frozenset({"request.first_response", "request.resolved", "promise.verdict"})

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
LOG_LINES = Counter(
    "mailer_log_lines",
    "Log lines at warning and above, by level and by writer: mailer, or the library whose"
    " stdlib logger wrote it.",
    ["level", "logger"],
    registry=EVENTS,
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
    for level in LOG_LEVELS:
        for writer in LOG_WRITERS:
            LOG_LINES.labels(level, writer)


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


def outcome_of(reason: object, detail: object = "") -> tuple[str, str | None]:
    """``message.processed``'s ``reason`` and ``detail`` -> (outcome, suppressed reason).

    Both are codes (mailer.model.Reason): the reason a ReasonCode, the detail of a
    suppressed message a Robot code or SENDER_CAP; nothing is read back from the text.
    """
    outcome = reason if isinstance(reason, str) and reason in OUTCOMES else "other"
    if outcome != ReasonCode.SUPPRESSED:
        return outcome, None
    return outcome, detail if isinstance(detail, str) and detail in SUPPRESSED_REASONS else "other"


def _kind(value: object) -> str:
    return value if isinstance(value, str) and value in MAIL_KINDS else "other"


def _count(event: str, fields: MutableMapping[str, Any], now: float) -> None:
    if event in CHECK_EVENTS:
        LIVE.update(checked=now)
    if event == "message.processed":
        outcome, reason = outcome_of(fields.get("reason"), fields.get("detail"))
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
    elif event in SLA_EVENTS:
        from mailer.ops.metrics.sla import count_sla  # registers the SLA series on first use

        count_sla(event, fields)


def _count_line(method_name: str, fields: MutableMapping[str, Any]) -> None:
    """A warning or worse: by level, and by writer (a stdlib record names its logger)."""
    level = str(fields.get("level") or method_name)
    level = {"warn": "warning", "exception": "error", "fatal": "critical"}.get(level, level)
    if level not in LOG_LEVELS:
        return
    record = fields.get("_record")  # set by ProcessorFormatter for the stdlib's records
    writer = "mailer" if record is None else str(getattr(record, "name", "")).partition(".")[0]
    LOG_LINES.labels(level, writer if writer in LOG_WRITERS else "other").inc()


def count_events(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: count the event, pass it on unchanged.

    Goes before the renderer (it needs the fields, not the rendered line). The stdlib's
    records count as lines only: their message is text, never one of our event names.
    Counting must never cost a log line, so any surprise here is swallowed.
    """
    try:
        _count_line(method_name, event_dict)
        event = event_dict.get("event")
        if isinstance(event, str) and "_record" not in event_dict:
            _count(event, event_dict, time.time())
    except Exception:
        pass  # metrics are best effort, logging is not
    return event_dict
