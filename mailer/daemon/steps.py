"""Apply what a person's mail does to a request: store the step, queue its mails.

The edge between the pure core (``conversation``, ``workflow``, ``commands``) and the store:
it finds out who wrote (staff, requester, anybody else), asks the core for a ``Step``, and
writes the step and its mails in the pipeline's transaction. Team notifications of new
requests are queued here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from mailer.core.deciding import conversation as core
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.deciding.decide import Facts, receipt_address
from mailer.core.reading.staff_auth import check_staff
from mailer.core.reading.visible import visible_text
from mailer.core.writing import thread_headers
from mailer.daemon.mail_queue import MailQueue
from mailer.model import Address, InboundMail, ParsedMessage, Status, ThreadInfo
from mailer.settings import Settings
from mailer.store.sqlite import Store

log = structlog.get_logger("mailer.intake")


@dataclass(frozen=True)
class Handled:
    step: core.Step
    thread: ThreadInfo | None


# Requester keywords: a staff member's own request still takes their staff keywords.
REQUESTER_ACTIONS = frozenset({"status", "close"})


class Conversations:
    def __init__(self, settings: Settings, store: Store, mail: MailQueue) -> None:
        self.settings = settings
        self.store = store
        self.mail = mail
        workflow = settings.workflow
        self.keywords = Keywords(workflow.keywords, workflow.status_headers)

    # ---- a person's mail in a request ------------------------------------------------------

    def step(self, msg: ParsedMessage, facts: Facts, now: float) -> Handled | None:
        """What a person's mail does to a request (or its staff keywords without one); None
        when it belongs to no request, and the receipt loop takes it. Reads the store only."""
        s = self.settings
        check = check_staff(msg, s.staff) if s.staff.configured else None
        trusted = check is not None and check.trusted
        thread = facts.thread
        if trusted and thread is None:
            ref = thread_headers.find_reference(msg.subject, s.service.reference_prefix)
            thread = self.store.thread_by_reference(ref) if ref else None
        if thread is None and not trusted:
            return None
        visible = visible_text(msg.text)
        commands = parse_commands(visible, self.keywords)
        own_request = thread is not None and thread.requester in self._requester_keys(msg)
        staff_words = any(c.action not in REQUESTER_ACTIONS for c in commands.commands)
        if trusted and (not own_request or staff_words):
            assert check is not None and msg.sender is not None
            if thread is None:
                if not commands.commands:
                    return None  # a staff member's own new request, "#urgent" and all
                return Handled(core.missing_thread(commands), None)
            step = core.staff_step(
                thread,
                commands,
                msg.sender.key,
                actor_name=msg.sender.name,
                requester_saw=thread.requester in {a.key for a in msg.recipients},
                files=bool(msg.attachments),
                can_own=self._can_own,
            )
            log.info("staff.mail", sender=msg.sender.key, auth=check.reason, step=step.reason)
            return Handled(step, thread)
        assert thread is not None
        team_saw = self._team_saw(thread, msg)
        if own_request:
            days = s.workflow.reopen_days
            step = core.requester_step(
                thread,
                commands,
                visible,
                thread.requester,
                now,
                reopen_days=days,
                team_saw=team_saw,
                files=bool(msg.attachments),
            )
            return Handled(step, thread)
        listed = check is not None and check.listed
        if commands.any:
            log.warning(
                "staff.command_ignored",
                sender=msg.sender.key if msg.sender else msg.return_path,
                reference=thread.reference,
                why=check.reason if check else "no [staff] configured",
            )
        return Handled(core.other_step(commands, listed=listed, team_saw=team_saw), thread)

    def apply(self, handled: Handled, msg: ParsedMessage, item: InboundMail, now: float) -> int:
        """Store the step and queue its mail (after the inbound mail was recorded)."""
        if handled.thread is None:
            return self._queue_all(None, handled.step, msg, item, now)
        return self._apply(handled.thread, handled.step, msg, item, now)

    def _can_own(self, address: str) -> bool:
        s = self.settings
        if s.service.is_own(address):
            return False
        teams = {t.address.lower() for t in s.teams if t.address}
        return s.staff.lists(address) or address.lower() in teams

    def _requester_keys(self, msg: ParsedMessage) -> set[str]:
        to = receipt_address(msg)
        return {a.key for a in msg.from_} | ({to.key} if to else set())

    def _team_saw(self, thread: ThreadInfo, msg: ParsedMessage) -> bool:
        """The owner (or team) was in To/Cc: it has the mail already."""
        target = thread.owner or thread.team_address
        return target is not None and target.lower() in {a.key for a in msg.recipients}

    def _apply(
        self, thread: ThreadInfo, step: core.Step, msg: ParsedMessage, item: InboundMail, now: float
    ) -> int:
        fields: dict[str, object] = {"updated_at": now}
        if step.status is not None:
            fields["status"] = step.status.value
            # resolved_at starts the reopen window; a reopened request has none
            fields["resolved_at"] = now if step.status == Status.RESOLVED else None
        if step.owner is not None:
            fields["owner"] = step.owner
            fields["owner_name"] = step.owner_name
        if step.first_response and thread.first_response_at is None:
            fields["first_response_at"] = now
        if step.rating is not None:
            fields["rating"] = step.rating
        if step.rating_thanked:
            fields["rating_thanked"] = 1
        self.store.update_thread(thread.id, **fields)
        for event in step.events:
            self.store.add_event(thread.id, now, event, msg.key)
        updated = self.store.thread(thread.id)
        assert updated is not None
        return self._queue_all(updated, step, msg, item, now)

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
