"""Process fetched mail, one straight line per message: parse -> look up -> judge -> act.

Parse (``core.reading.parse``), look up every store read judging needs (``lookup``), judge
(``core.deciding.judge``, pure: the same function ``rules test`` and ``rules replay`` call),
then act: record the message, open or update the request, render and queue its mail.

This is the one place where a decision becomes effects, and all of them (thread, message
rows, outbox rows, the IMAP watermark, moves to do) are written in ONE SQLite transaction
per batch, with a savepoint per message so that one bad message cannot undo the others.
A crash before COMMIT replays the batch; nothing has been sent yet, so nothing is sent twice.
What the batch did is logged only once it committed (``_Lines``): the metrics count log
events, so a batch rolled back and retried (a full disk) must not be counted at each try.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
import structlog

from mailer.config import templates
from mailer.core.deciding.decide import receipt_address
from mailer.core.deciding.judge import Handled, Judgement, judge
from mailer.core.timing.promises import promise_for
from mailer.core.writing.receipt import request_subject
from mailer.daemon.lookup import look_up, read_ahead, windows
from mailer.daemon.mail_queue import MailQueue
from mailer.daemon.steps import Conversations
from mailer.errors import StoreCorrupt, StoreUnavailable
from mailer.model import Event, InboundMail, ParsedMessage, Status, ThreadInfo
from mailer.settings import Settings
from mailer.store import MailboxState, Store

log = structlog.get_logger("mailer.intake")
# The store's own trouble (full, read-only, busy, damaged) is nobody's message's fault: it
# ends the batch (rolled back, retried or fatal in the service) instead of counting against
# each message until all of them are quarantined.
STORE_TROUBLE = (StoreUnavailable, StoreCorrupt)


@dataclass
class _Lines:
    """A batch's log lines, held back until its transaction has committed."""

    lines: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))

    def error(self, event: str, **fields: Any) -> None:
        self.lines.append(("error", event, fields))

    def write(self) -> None:
        for level, event, fields in self.lines:
            getattr(log, level)(event, **fields)
        self.lines.clear()


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
        self.log = _Lines()

    def process_batch(
        self,
        batch: Iterable[InboundMail],
        state: MailboxState,
        now: float,
        *,
        backfill: bool = False,
        move: bool = False,
    ) -> list[Outcome]:
        """Process a batch in one transaction and advance the watermark past it."""
        outcomes: list[Outcome] = []
        self.log = _Lines()  # a batch rolled back takes its lines with it
        with self.store.transaction():
            for window in windows(batch):
                for item, parsed in read_ahead(self.settings, self.store, window, now):
                    outcome = self._one_safely(item, parsed, state, now, backfill=backfill)
                    outcomes.append(outcome)
                    self.store.advance(item.ref.mailbox, item.ref.uid)
                    # A failed message stays where its retry (or a human) will find it.
                    if move and outcome.reason not in ("failed", "quarantined"):
                        ref = item.ref
                        self.store.queue_move(ref.mailbox, ref.uidvalidity, ref.uid)
        self.log.write()
        return outcomes

    def _one_safely(
        self,
        item: InboundMail,
        parsed: ParsedMessage | Exception,
        state: MailboxState,
        now: float,
        *,
        backfill: bool,
    ) -> Outcome:
        """The fault boundary: any error is counted and the message retried, then quarantined."""
        with self.store.savepoint() as savepoint:
            try:
                if isinstance(parsed, Exception):
                    raise parsed
                outcome = self._one(item, parsed, state, now, backfill=backfill)
                self.store.settle()  # a write held back fails here, as this message's
            except STORE_TROUBLE:
                raise
            except Exception as exc:
                savepoint.rollback()
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
                self.log.error(
                    "message.failed",
                    uid=ref.uid,
                    error=error,
                    quarantined=quarantined,
                    traceback=traceback.format_exc(limit=6),
                )
                return Outcome(ref.uid, "quarantined" if quarantined else "failed")
        self.store.clear_failure(item.ref.mailbox, item.ref.uidvalidity, item.ref.uid)
        return outcome

    # ---- one message: parse -> look up -> judge -> act -----------------------------------

    def _one(
        self,
        item: InboundMail,
        msg: ParsedMessage,
        state: MailboxState,
        now: float,
        *,
        backfill: bool,
    ) -> Outcome:
        s = self.settings
        backlog = not backfill and item.internaldate < state.first_seen - s.imap.backlog
        known = look_up(s, self.store, msg, now, backlog=backlog)
        judgement = judge(msg, known, s, languages=self.languages, words=self.words, now=now)
        return self._act(msg, item, judgement, now)

    def _act(self, msg: ParsedMessage, item: InboundMail, j: Judgement, now: float) -> Outcome:
        """Record the judgement and queue its mail, in the caller's transaction."""
        _log_person(self.log, msg, j.handled)
        if j.handled is not None and j.taken:  # staff keywords, requester replies, others
            thread = j.handled.thread
            self._record(msg, item, j, thread, now)
            queued = self.conversations.apply(j.handled, msg, item, now)
            reference = thread.reference if thread else None
        else:
            reference, queued = self._apply(msg, item, j, now)
        _log_decision(self.log, item, msg, j, reference)
        return Outcome(item.ref.uid, j.decision.reason, reference, queued)

    def _apply(
        self, msg: ParsedMessage, item: InboundMail, j: Judgement, now: float
    ) -> tuple[str | None, int]:
        """The decision table's outcome: open a request (receipt, team notice), add the mail
        to the one it joins, or only record it. Returns the reference and the mails queued."""
        decision = j.decision
        thread = j.thread
        notified = 0
        if decision.action == "open":
            thread = self._open_thread(msg, j, now, min(item.internaldate, now))
        self._record(msg, item, j, thread, now)
        if decision.action == "open" and thread is not None:
            notified = self.mail.notify_team(thread, msg, item, j.classification, now)
        if thread is None:
            return None, 0
        if decision.action == "follow-up":
            self.store.update_thread(thread.id, updated_at=now, auto_blocked=decision.block_thread)
            for mid in j.bounced_ids:
                self.store.mark_bounced(mid, f"bounced: {decision.reason}")
            return thread.reference, 0
        if decision.receipt_to is None:
            return thread.reference, notified
        to = decision.receipt_to
        self.mail.receipt(thread, msg, to, j.classification, j.language, now, j.previous)
        return thread.reference, notified + 1

    def _open_thread(
        self, msg: ParsedMessage, j: Judgement, now: float, arrival: float
    ) -> ThreadInfo:
        """A new request; its due times count from ``arrival`` (the server's INTERNALDATE)."""
        s = self.settings
        classification, previous = j.classification, j.previous
        requester = receipt_address(msg) or msg.sender  # receipt_to, when there is one
        status = Status.ACKNOWLEDGED if j.decision.receipt_to else Status.NEW
        thread_id = self.store.open_request(
            s.service.reference_prefix,
            s.service.reference_start,
            requester=requester.key if requester else (msg.return_path or "").lower(),
            requester_name=requester.name if requester else "",
            subject=request_subject(s, msg, previous),
            category=classification.category,
            team=classification.team,
            team_address=classification.team_address,
            priority=classification.priority,
            rule=classification.rule,
            language=j.language,
            status=status,
            root_message_id=msg.message_id,
            root_references=" ".join(msg.references) or None,
            root_thread_index=msg.thread_index,
            parent_reference=previous,
            created_at=now,
            updated_at=now,
        )
        actor = requester.key if requester else ""
        self.store.add_event(thread_id, now, Event("opened", actor, to_status=status), msg.key)
        rule = next((r for r in s.rules if r.name == classification.rule), None)
        promise = promise_for(s, rule, classification.team, arrival)
        if promise.any:
            self.store.set_promise(thread_id, promise)
        thread = self.store.thread(thread_id)
        assert thread is not None
        return thread

    def _record(
        self,
        msg: ParsedMessage,
        item: InboundMail,
        j: Judgement,
        thread: ThreadInfo | None,
        now: float,
    ) -> None:
        sender, decision = msg.sender, j.decision
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
            automatic=decision.automatic,
            decision=decision.action,
            reason=decision.reason,
            rule=j.classification.rule,
            language=j.language,
            size=item.size,
            defects="; ".join(msg.defects)[:2000] or None,
        )


def _log_person(log: _Lines, msg: ParsedMessage, handled: Handled | None) -> None:
    """What the judging said about a person's mail in a request that the log should know."""
    if handled is None or handled.thread is None:
        return
    check = handled.check
    if handled.staff and check is not None and msg.sender is not None:
        log.info("staff.mail", sender=msg.sender.key, auth=check.reason, step=handled.step.reason)
    if handled.ignored:
        log.warning(
            "staff.command_ignored",
            sender=msg.sender.key if msg.sender else msg.return_path,
            reference=handled.thread.reference,
            why=check.reason if check else "no [staff] configured",
        )


def _log_decision(
    log: _Lines, item: InboundMail, msg: ParsedMessage, j: Judgement, reference: str | None
) -> None:
    decision = j.decision
    fields = {
        "uid": item.ref.uid,
        "message_id": msg.message_id,
        "reference": reference,
        "rule": j.classification.rule,
        "reason": decision.why.code.value,  # a fixed code, which the metrics count
        "detail": str(decision.why.detail),  # a Robot code when suppressed
        "decision": decision.reason,  # the text the store keeps and people read
        "language": j.language,
        "internaldate": item.internaldate,  # receipt latency in the metrics
    }
    if msg.defects:
        fields["defects"] = len(msg.defects)
    log.info("message.processed", **fields)
    if decision.alert:
        log.warning("alert", reference=reference, uid=item.ref.uid, alert=decision.alert)
