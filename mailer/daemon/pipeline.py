"""Process fetched mail: parse -> match thread -> classify -> decide -> render -> store.

This is the one place where a decision becomes effects, and all of them (thread, message
rows, outbox rows, the IMAP watermark, moves to do) are written in ONE SQLite transaction
per batch, with a savepoint per message so that one bad message cannot undo the others.
A crash before COMMIT replays the batch; nothing has been sent yet, so nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

import jinja2
import structlog

from mailer.config import templates
from mailer.core.deciding import rules
from mailer.core.deciding.decide import Decision, Facts, decide, receipt_address
from mailer.core.deciding.workflow import Event
from mailer.core.reading import language as lang
from mailer.core.reading import robots
from mailer.core.reading.parse import parse_message
from mailer.core.writing.receipt import request_subject
from mailer.daemon.facts import gather_facts
from mailer.daemon.mail_queue import MailQueue
from mailer.daemon.steps import Conversations, Handled
from mailer.model import Classification, ParsedMessage, Status, ThreadInfo
from mailer.settings import Settings
from mailer.store.sqlite import MailboxState, Store
from mailer.transport.imap import Fetched

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
        self.mail = MailQueue(settings, store, env)
        self.words = templates.language_words(env)
        self.conversations = Conversations(settings, store, self.mail)
        self.languages = templates.serving_languages(env, settings)

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
        detected = lang.detect_language(
            f"{msg.subject}\n{msg.text[:2000]}", self.languages, self.words
        )
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
        language = classification.language or detected or s.service.default_language
        if language not in self.languages:
            language = s.service.default_language
        previous = None
        person = facts.robot is None and facts.bounced_thread is None
        if person and not facts.duplicate and not facts.backlog:
            handled = self.conversations.step(msg, facts, now)
            if handled is not None and not handled.step.open_new:
                return self._handled(msg, item, handled, classification, language, now)
            if handled is not None and handled.thread is not None:  # too late to reopen it
                previous = handled.thread.reference
                facts = dataclasses.replace(facts, thread=None)
        decision = decide(msg, classification, facts, s.limits)
        reference, queued = self._apply(
            msg, item, decision, facts, classification, language, now, previous
        )
        _log_decision(item, msg, decision, classification, reference, language)
        return Outcome(item.ref.uid, decision.reason, reference, queued)

    def _handled(
        self,
        msg: ParsedMessage,
        item: Fetched,
        handled: Handled,
        classification: Classification,
        language: str,
        now: float,
    ) -> Outcome:
        """Record a mail the conversation took (staff keywords, requester replies, others)."""
        decision = Decision("follow-up", handled.step.why)
        thread = handled.thread
        self._record(msg, item, decision, classification, thread, language, now)
        queued = self.conversations.apply(handled, msg, item, now)
        reference = thread.reference if thread else None
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
        previous: str | None = None,
    ) -> tuple[str | None, int]:
        thread = facts.bounced_thread or facts.thread
        notified = 0
        if decision.action == "open":
            thread = self._open_thread(msg, decision, classification, language, now, previous)
        self._record(msg, item, decision, classification, thread, language, now)
        if decision.action == "open" and thread is not None:
            notified = self.mail.notify_team(thread, msg, item, classification, now)
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
            return thread.reference, notified
        to = decision.receipt_to
        self.mail.receipt(thread, msg, to, classification, language, now, previous)
        return thread.reference, notified + 1

    def _open_thread(
        self,
        msg: ParsedMessage,
        decision: Decision,
        classification: Classification,
        language: str,
        now: float,
        previous: str | None,
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
            subject=request_subject(s, msg, previous),
            category=classification.category,
            team=classification.team,
            team_address=classification.team_address,
            priority=classification.priority,
            rule=classification.rule,
            language=language,
            status=status.value,
            root_message_id=msg.message_id,
            root_references=" ".join(msg.references) or None,
            root_thread_index=msg.thread_index,
            parent_reference=previous,
            created_at=now,
            updated_at=now,
        )
        actor = requester.key if requester else ""
        self.store.add_event(thread_id, now, Event("opened", actor, to_status=status), msg.key)
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
        "reason": decision.why.code.value,  # a fixed code, which the metrics count
        "detail": str(decision.why.detail),  # a Robot code when suppressed
        "decision": decision.reason,  # the text the store keeps and people read
        "language": language,
        "internaldate": item.internaldate,  # receipt latency in the metrics
    }
    if msg.defects:
        fields["defects"] = len(msg.defects)
    log.info("message.processed", **fields)
    if decision.alert:
        log.warning("alert", reference=reference, uid=item.ref.uid, alert=decision.alert)
