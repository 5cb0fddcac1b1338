"""Process fetched mail: parse -> match thread -> classify -> decide -> render -> store.

This is the one place where a decision becomes effects, and all of them (thread, message
rows, outbox rows, the IMAP watermark, moves to do) are written in ONE SQLite transaction
per batch, with a savepoint per message so that one bad message cannot undo the others.
A crash before COMMIT replays the batch; nothing has been sent yet, so nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
import secrets
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

import jinja2
import structlog

from mailer import language as lang
from mailer import robots, rules, threading
from mailer.decide import Decision, Facts, decide, receipt_address
from mailer.facts import gather_facts
from mailer.imap import Fetched
from mailer.model import Classification, ParsedMessage, Status, ThreadInfo
from mailer.parse import parse_message
from mailer.receipt import compose_receipt
from mailer.render import Envelope
from mailer.settings import Settings
from mailer.store import MailboxState, Store

log = structlog.get_logger("mailer.intake")


@dataclass(frozen=True)
class Outcome:
    uid: int
    reason: str
    reference: str | None = None
    queued: int = 0  # mails put in the outbox


class Pipeline:
    """Turns fetched messages into stored decisions and queued mail."""

    def __init__(self, settings: Settings, store: Store, env: jinja2.Environment) -> None:
        self.settings = settings
        self.store = store
        self.env = env
        self.languages = tuple(
            sorted({n.split("/", 1)[0] for n in env.list_templates(extensions=["j2"]) if "/" in n})
        ) or (settings.service.default_language,)

    def process_batch(
        self,
        batch: Iterable[Fetched],
        state: MailboxState,
        now: float,
        *,
        backfill: bool = False,
        move: bool = False,
    ) -> list[Outcome]:
        """Process a batch in one transaction and advance the watermark past it."""
        outcomes: list[Outcome] = []
        with self.store.transaction():
            for item in batch:
                outcome = self._one_safely(item, state, now, backfill=backfill)
                outcomes.append(outcome)
                self.store.advance(item.ref.mailbox, item.ref.uid)
                # A failed message stays where its retry (or a human) will find it.
                if move and outcome.reason not in ("failed", "quarantined"):
                    self.store.queue_move(item.ref.mailbox, item.ref.uidvalidity, item.ref.uid)
        return outcomes

    def _one_safely(
        self, item: Fetched, state: MailboxState, now: float, *, backfill: bool
    ) -> Outcome:
        """The fault boundary: any error is counted and the message retried, then quarantined."""
        db = self.store.db
        db.execute("SAVEPOINT message")
        try:
            outcome = self._one(item, state, now, backfill=backfill)
        except Exception as exc:
            db.execute("ROLLBACK TO message")
            db.execute("RELEASE message")
            ref = item.ref
            error = f"{type(exc).__name__}: {exc}"
            quarantined = self.store.record_failure(
                ref.mailbox,
                ref.uidvalidity,
                ref.uid,
                error,
                now,
                self.settings.limits.max_attempts,
            )
            log.error(
                "message.failed",
                uid=ref.uid,
                error=error,
                quarantined=quarantined,
                traceback=traceback.format_exc(limit=6),
            )
            return Outcome(ref.uid, "quarantined" if quarantined else "failed")
        db.execute("RELEASE message")
        self.store.clear_failure(item.ref.mailbox, item.ref.uidvalidity, item.ref.uid)
        return outcome

    # ---- one message ---------------------------------------------------------------------

    def _one(self, item: Fetched, state: MailboxState, now: float, *, backfill: bool) -> Outcome:
        s = self.settings
        msg = parse_message(item.raw, max_size=s.limits.max_message_size)
        if item.size > len(item.raw):
            msg = _with_defect(msg, f"message of {item.size} bytes cut at {len(item.raw)}")
        detected = lang.detect_language(f"{msg.subject}\n{msg.text[:2000]}", self.languages)
        classification = rules.classify(
            msg,
            s.rules,
            s.teams,
            language=detected,
            default_expectation=s.default_expectation,
            default_expectations=dict(s.default_expectations),
        )
        facts = gather_facts(
            s,
            self.store,
            msg,
            now,
            backlog=not backfill and item.internaldate < state.first_seen - s.imap.backlog,
        )
        decision = decide(msg, classification, facts, s.limits)
        language = classification.language or detected or s.service.default_language
        if language not in self.languages:
            language = s.service.default_language
        reference, queued = self._apply(msg, item, decision, facts, classification, language, now)
        _log_decision(item, msg, decision, classification, reference, language)
        return Outcome(item.ref.uid, decision.reason, reference, queued)

    def _apply(
        self,
        msg: ParsedMessage,
        item: Fetched,
        decision: Decision,
        facts: Facts,
        classification: Classification,
        language: str,
        now: float,
    ) -> tuple[str | None, int]:
        thread = facts.bounced_thread or facts.thread
        if decision.action == "open":
            thread = self._open_thread(msg, decision, classification, language, now)
        self._record(msg, item, decision, classification, thread, language, now)
        if thread is None:
            return None, 0
        if decision.action == "follow-up":
            fields: dict[str, object] = {"updated_at": now}
            if decision.block_thread:
                fields["auto_blocked"] = 1
            self.store.update_thread(thread.id, **fields)
            if facts.bounced_thread is not None:
                for mid in robots.bounce_message_ids(msg):
                    self.store.mark_bounced(mid, f"bounced: {decision.reason}")
            return thread.reference, 0
        if decision.receipt_to is None:
            return thread.reference, 0
        self._queue_receipt(msg, decision, classification, thread, language, now)
        return thread.reference, 1

    def _open_thread(
        self,
        msg: ParsedMessage,
        decision: Decision,
        classification: Classification,
        language: str,
        now: float,
    ) -> ThreadInfo:
        s = self.settings
        number = self.store.next_reference_number(s.service.reference_start)
        reference = f"{s.service.reference_prefix}-{number}"
        requester = receipt_address(msg) or msg.sender  # receipt_to, when there is one
        status = Status.ACKNOWLEDGED if decision.receipt_to else Status.NEW
        thread_id = self.store.create_thread(
            reference=reference,
            requester=requester.key if requester else (msg.return_path or "").lower(),
            requester_name=requester.name if requester else "",
            subject=threading.strip_reply_prefixes(msg.subject),
            category=classification.category,
            team=classification.team,
            team_address=classification.team_address,
            priority=classification.priority,
            rule=classification.rule,
            language=language,
            status=status.value,
            root_message_id=msg.message_id,
            created_at=now,
            updated_at=now,
        )
        thread = self.store.thread(thread_id)
        assert thread is not None
        return thread

    def _record(
        self,
        msg: ParsedMessage,
        item: Fetched,
        decision: Decision,
        classification: Classification,
        thread: ThreadInfo | None,
        language: str,
        now: float,
    ) -> None:
        sender = msg.sender
        self.store.record_message(
            key=msg.key,
            direction="in",
            thread_id=thread.id if thread else None,
            mailbox=item.ref.mailbox,
            uidvalidity=item.ref.uidvalidity,
            uid=item.ref.uid,
            sender=sender.key if sender else (msg.return_path or ""),
            subject=msg.subject[:500],
            at=now,
            internaldate=item.internaldate,
            automatic=int(decision.automatic),
            decision=decision.action,
            reason=decision.reason,
            rule=classification.rule,
            language=language,
            size=item.size,
            defects="; ".join(msg.defects)[:2000] or None,
        )

    def _queue_receipt(
        self,
        msg: ParsedMessage,
        decision: Decision,
        classification: Classification,
        thread: ThreadInfo,
        language: str,
        now: float,
    ) -> None:
        s = self.settings
        assert decision.receipt_to is not None
        envelope = Envelope(
            to=decision.receipt_to,
            envelope_sender=envelope_sender(s),
            message_id=threading.new_message_id(
                thread.reference, s.service.domain, secrets.token_bytes(16)
            ),
            now=now,
            thread_guid=secrets.token_bytes(16),
        )
        out = compose_receipt(
            self.env, s, msg, classification, envelope, thread.reference, language
        )
        self.store.enqueue(
            thread_id=thread.id,
            message_id=out.message_id,
            kind="receipt",
            recipient=decision.receipt_to.key,
            envelope_sender=out.envelope_sender,
            raw=out.raw,
            status="pending",
            next_attempt=now,
            created_at=now,
        )
        self.store.record_message(
            key=out.message_id,
            direction="out",
            thread_id=thread.id,
            sender=s.service.address.lower(),
            subject=out.subject,
            at=now,
            automatic=1,
            decision="receipt",
            reason="receipt",
            rule=classification.rule,
            language=language,
        )


def envelope_sender(settings: Settings) -> str:
    """``[smtp] envelope_sender``: "service" (the default), "null" (<>), or an address."""
    value = settings.smtp.envelope_sender
    if value == "service":
        return settings.service.address
    if value == "null":
        return ""
    return value


def _with_defect(msg: ParsedMessage, defect: str) -> ParsedMessage:
    return dataclasses.replace(msg, truncated=True, defects=(*msg.defects, defect))


def _log_decision(
    item: Fetched,
    msg: ParsedMessage,
    decision: Decision,
    classification: Classification,
    reference: str | None,
    language: str,
) -> None:
    fields = {
        "uid": item.ref.uid,
        "message_id": msg.message_id,
        "reference": reference,
        "rule": classification.rule,
        "decision": decision.reason,
        "language": language,
    }
    if msg.defects:
        fields["defects"] = len(msg.defects)
    log.info("message.processed", **fields)
    if decision.alert:
        log.warning("alert", reference=reference, uid=item.ref.uid, alert=decision.alert)
