"""Act on what a person's mail does to a request: store the step, queue its mails.

The judging (``core.deciding.judge``: who wrote, staff, requester or anybody else, and the
``Step`` that follows) is pure and done before; this writes the step and its mails in the
pipeline's transaction, after the inbound mail was recorded.
"""

from __future__ import annotations

import structlog

from mailer.core.deciding import conversation as core
from mailer.core.deciding.judge import Handled
from mailer.core.timing.clocks import after_step
from mailer.core.timing.promises import calendar_named
from mailer.daemon.mail_queue import MailQueue
from mailer.daemon.measures import say_measures
from mailer.model import Address, InboundMail, ParsedMessage, Status, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store

log = structlog.get_logger("mailer.intake")


class Conversations:
    def __init__(self, settings: Settings, store: Store, mail: MailQueue) -> None:
        self.settings = settings
        self.store = store
        self.mail = mail

    def apply(self, handled: Handled, msg: ParsedMessage, item: InboundMail, now: float) -> int:
        """Store the step and queue its mail (after the inbound mail was recorded)."""
        if handled.thread is None:
            return self._queue_all(None, handled.step, msg, item, now)
        return self._apply(handled.thread, handled.step, msg, item, now)

    def _apply(
        self, thread: ThreadInfo, step: core.Step, msg: ParsedMessage, item: InboundMail, now: float
    ) -> int:
        first_response = step.first_response and thread.first_response_at is None
        self.store.update_thread(
            thread.id,
            updated_at=now,
            status=step.status,
            # resolved_at starts the reopen window; a reopened request has none
            resolved_at=now if step.status == Status.RESOLVED else None,
            owner=step.owner,
            owner_name=step.owner_name,
            first_response_at=now if first_response else None,
            rating=step.rating,
            rating_thanked=step.rating_thanked,
        )
        for event in step.events:
            self.store.add_event(thread.id, now, event, msg.key)
        self._keep_time(thread, step, first_response, msg, now)
        updated = self.store.thread(thread.id)
        assert updated is not None
        return self._queue_all(updated, step, msg, item, now)

    def _keep_time(
        self, thread: ThreadInfo, step: core.Step, first: bool, msg: ParsedMessage, now: float
    ) -> None:
        """The promise's clocks after this step: met or missed, paused, resumed, new cycle."""
        calendar = calendar_named(self.settings, thread.promise.calendar)
        change = after_step(
            thread.promise,
            calendar,
            before=thread.status,
            after=step.status,
            first_response=first,
            now=now,
        )
        if change.promise != thread.promise:
            self.store.set_promise(thread.id, change.promise)
        for event in change.events:
            self.store.add_event(thread.id, now, event, msg.key)
        say_measures(
            self.store, thread, calendar, after=step.status, first_response=first,
            clock_events=change.events, now=now,
        )  # fmt: skip

    def _queue_all(
        self,
        thread: ThreadInfo | None,
        step: core.Step,
        msg: ParsedMessage,
        item: InboundMail,
        now: float,
    ) -> int:
        queued = 0
        for mail in step.mails:
            to = self._recipient(thread, mail, msg)
            if to is not None:
                self.mail.queue(thread, mail, to, msg, item, now)
                queued += 1
        return queued

    def _recipient(
        self, thread: ThreadInfo | None, mail: core.Mail, msg: ParsedMessage
    ) -> Address | None:
        found: Address | None
        if mail.to == "sender":
            found = msg.sender
        elif thread is None:
            return None
        elif mail.to == "requester":
            found = Address(thread.requester_name, thread.requester)
        else:
            target = thread.owner or thread.team_address
            found = Address("", target) if target else None
        if found is not None and self.settings.service.is_own(found.key):
            log.warning("mail.to_own_address_dropped", kind=mail.kind, to=found.key)
            return None  # never mail the shared address itself
        return found
