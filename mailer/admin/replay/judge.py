"""Judge one past message the way the pipeline would if it arrived now, as a new message.

Pure: the pipeline's own ``core.deciding.judge`` on the parsed message, with what the store
knows fixed to ``NOTHING_KNOWN`` (no thread, no duplicate, no backlog, no caps), so a replay
shows what the rules and the robot checks alone decide.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mailer.core.deciding.judge import NOTHING_KNOWN, Judgement, judge
from mailer.core.reading.parse import parse_message
from mailer.model import Address, ParsedMessage
from mailer.settings import Settings

UNREADABLE = "unreadable"
SUBJECT_KEPT = 300  # characters of a subject a row keeps: rows stay small on long runs


@dataclass(frozen=True)
class Verdict:
    """What would happen to a message: the outcome and the rule behind it."""

    outcome: str  # "receipt", "no receipt (rule R)", "suppressed: REASON" or "unreadable"
    rule: str = ""
    category: str = ""
    team: str = ""
    language: str = ""

    @property
    def suppressed(self) -> bool:
        return self.outcome.startswith("suppressed")

    @property
    def request(self) -> bool:
        """Whether the message would open a request (with or without a receipt)."""
        return self.outcome == "receipt" or self.outcome.startswith("no receipt")


@dataclass(frozen=True)
class Row:
    """One replayed message: where it came from, who sent it, and the verdict(s)."""

    source: str  # file path relative to PATH, or "#N" in an mbox
    message_id: str
    sender: str
    subject: str
    new: Verdict
    old: Verdict | None = None  # with --compare: the verdict of the old rules
    note: str = ""  # why it is unreadable

    @property
    def changed(self) -> bool:
        return self.old is not None and self.old != self.new


@dataclass(frozen=True)
class Judge:
    """The settings a replay judges with, and the languages there are templates for."""

    settings: Settings
    languages: tuple[str, ...]
    addressed: bool = False  # judge every message as if its To named the service
    words: tuple[tuple[str, frozenset[str]], ...] = ()  # the admin's <lang>/words.txt

    def verdict(self, msg: ParsedMessage) -> Verdict:
        return verdict_of(self.judgement(msg))

    def judgement(self, msg: ParsedMessage) -> Judgement:
        """The daemon's own judging, with nothing known: every message arrives as new."""
        s = self.settings
        if self.addressed:
            service = Address("", s.service.address)
            msg = dataclasses.replace(msg, recipients=(*msg.recipients, service))
        words = dict(self.words)
        # No request is known, so the clock (a request's reopen window) never matters.
        return judge(msg, NOTHING_KNOWN, s, languages=self.languages, words=words, now=0.0)


def verdict_of(j: Judgement) -> Verdict:
    """A replay's row of a judgement: the outcome and the rule behind it."""
    found = j.classification
    outcome = j.decision.reason
    if j.decision.action == "open" and not found.receipt:  # decide says "no receipt: rule R"
        outcome = f"no receipt (rule {found.rule})"
    return Verdict(outcome, found.rule, found.category, found.team or "", j.language)


def unreadable_why(msg: ParsedMessage) -> str | None:
    """Why ``msg`` cannot count as mail at all, or None: a parse failure, or no header."""
    failed = next((d for d in msg.defects if d.startswith("parse failed")), None)
    if failed is not None:
        return failed
    return None if msg.headers else "no header at all: not a mail message"


def judge_raw(
    source: str, raw: bytes | None, error: str, new: Judge, old: Judge | None = None
) -> Row:
    """Parse once, judge with the current (and the old) rules; never raises on bad mail."""
    if raw is None:
        return _unreadable(source, error, old)
    msg = parse_message(raw, max_size=new.settings.limits.max_message_size)
    why = unreadable_why(msg)
    if why is not None:
        return _unreadable(source, why, old)
    try:
        verdicts = new.verdict(msg), old.verdict(msg) if old is not None else None
    except Exception as exc:  # a bug of ours: the pipeline would quarantine the message
        return _unreadable(source, f"mailer failed on it: {type(exc).__name__}: {exc}", old)
    return Row(
        source=source,
        message_id=msg.message_id or "",
        sender=_sender(msg),
        subject=msg.subject[:SUBJECT_KEPT],
        new=verdicts[0],
        old=verdicts[1],
    )


def _unreadable(source: str, why: str, old: Judge | None) -> Row:
    verdict = Verdict(UNREADABLE)
    return Row(source, "", "", "", verdict, verdict if old is not None else None, why)


def _sender(msg: ParsedMessage) -> str:
    found = ", ".join(a.addr for a in msg.from_)
    return found or (f"<{msg.return_path}>" if msg.return_path is not None else "")
