"""Decide what an inbound message means: a new request, a follow-up, or something to record.

Pure: the service looks up the thread and the counters in the store and passes them in;
this module returns a Decision and never sends, writes or reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailer.model import (
    SENDER_CAP,
    Address,
    Classification,
    ParsedMessage,
    Reason,
    ReasonCode,
    Robot,
    ThreadInfo,
)
from mailer.settings import LimitsSettings

Action = Literal["open", "follow-up", "record"]


@dataclass(frozen=True)
class Facts:
    """What the store and the mailbox know about a message, gathered by the service."""

    robot: Robot | None  # robots.robot_reason(); None = a person wrote it
    thread: ThreadInfo | None  # matched by our Message-IDs or by [REF] + sender
    backlog: bool  # older than [imap] backlog when the mailbox was first seen
    duplicate: bool  # the same Message-ID (or bytes) was processed before
    receipts_to_sender: int  # receipts sent to the requester's address in the last day
    automatic_in_thread: int  # inbound automatic messages in a row in the matched thread
    bounced_thread: ThreadInfo | None = None  # a bounce of our own mail, tied to its thread


@dataclass(frozen=True)
class Decision:
    action: Action
    why: Reason  # its code and detail (the log, the metrics) and its text
    receipt_to: Address | None = None  # send a receipt to this one address
    automatic: bool = False
    alert: str | None = None  # goes to the log at warning level
    block_thread: bool = False  # the thread hit the automatic-mail cap

    @property
    def reason(self) -> str:
        """What the store and people read: "receipt", "suppressed: list", ..."""
        return self.why.text


def receipt_address(msg: ParsedMessage) -> Address | None:
    """The one address a receipt goes to (RFC 3834 §4; standards A2 rules 17-21).

    A service desk answers the person who asked: the From mailbox when it is exactly one
    valid address (RFC 3834 §4 lets a Service Responder say so). A list or ESP bounce
    address in Return-Path is where robots collect failures, not where a person reads.
    Without a usable From, the Return-Path. A null Return-Path (``<>``) means nobody, and
    Reply-To is never used.
    """
    rp = msg.return_path
    if rp == "":
        return None
    if msg.sender is not None:
        return msg.sender
    if rp is None or "@" not in rp:
        return None
    return Address(name="", addr=rp)


def decide(
    msg: ParsedMessage,
    classification: Classification,
    facts: Facts,
    limits: LimitsSettings,
) -> Decision:
    """The decision table, read top to bottom; the first row that applies wins."""
    if facts.duplicate:
        return Decision("record", Reason(ReasonCode.DUPLICATE, "already processed"))
    if facts.bounced_thread is not None:
        return Decision("follow-up", Reason(ReasonCode.BOUNCE), automatic=True)
    if facts.thread is not None:
        return _follow_up(facts, limits)
    if facts.robot is not None:
        return Decision("record", Reason(ReasonCode.SUPPRESSED, facts.robot), automatic=True)
    if facts.backlog:
        return Decision("record", Reason(ReasonCode.SKIPPED, "backlog"))
    to = receipt_address(msg)
    if to is None:
        nobody = Reason(ReasonCode.SUPPRESSED, Robot.NO_VALID_SENDER, "suppressed: no valid sender")
        return Decision("record", nobody)
    if not classification.receipt:
        return Decision("open", Reason(ReasonCode.NO_RECEIPT, f"rule {classification.rule}"))
    if facts.receipts_to_sender >= limits.receipts_per_sender:
        return Decision(
            "open",
            Reason(ReasonCode.SUPPRESSED, SENDER_CAP, "suppressed: sender cap"),
            alert=f"{to.key} reached {limits.receipts_per_sender} receipts today",
        )
    return Decision("open", Reason(ReasonCode.RECEIPT), receipt_to=to)


def _follow_up(facts: Facts, limits: LimitsSettings) -> Decision:
    if facts.robot is None:
        return Decision("follow-up", Reason(ReasonCode.FOLLOW_UP))
    why = Reason(ReasonCode.FOLLOW_UP, facts.robot)
    count = facts.automatic_in_thread + 1
    if count >= limits.auto_per_thread:
        return Decision(
            "follow-up",
            why,
            automatic=True,
            block_thread=True,
            alert=f"{count} automatic messages in a row in this thread: automatic mail stopped",
        )
    return Decision("follow-up", why, automatic=True)
