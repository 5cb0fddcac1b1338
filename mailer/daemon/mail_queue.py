"""Render the mail the core asked for and put it in the outbox, in the caller's transaction.

Every mail queued here is also recorded as an outbound message of its request, so that a
reply to it (whose References name it) finds the request again.
"""

from __future__ import annotations

import secrets

import jinja2

from mailer.core.deciding.conversation import Mail
from mailer.core.reading.attachments import attached_files
from mailer.core.reading.visible import visible_text
from mailer.core.timing.promises import calendar_named
from mailer.core.writing import outgoing, thread_headers
from mailer.core.writing.due import due_context, promise_lines
from mailer.core.writing.receipt import compose_receipt
from mailer.core.writing.render import Envelope, Outgoing, Parent
from mailer.model import Address, Classification, File, InboundMail, ParsedMessage, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store


def envelope_sender(settings: Settings) -> str:
    """``[smtp] envelope_sender``: "service" (the default), "null" (<>), or an address."""
    value = settings.smtp.envelope_sender
    if value == "service":
        return settings.service.address
    if value == "null":
        return ""
    return value


class MailQueue:
    def __init__(self, settings: Settings, store: Store, env: jinja2.Environment) -> None:
        self.settings = settings
        self.store = store
        self.env = env

    def envelope(self, to: Address, reference: str | None, now: float) -> Envelope:
        s = self.settings
        token = secrets.token_bytes(16)
        return Envelope(
            to=to,
            envelope_sender=envelope_sender(s),
            message_id=thread_headers.new_message_id(reference, s.service.domain, token),
            now=now,
            thread_guid=secrets.token_bytes(16),
        )

    def receipt(
        self,
        thread: ThreadInfo,
        msg: ParsedMessage,
        to: Address,
        classification: Classification,
        language: str,
        now: float,
        previous: str | None,
    ) -> None:
        """The requester's receipt; ``previous``: the earlier request this one continues."""
        envelope = self.envelope(to, thread.reference, now)
        calendar = calendar_named(self.settings, thread.promise.calendar)
        due = due_context(thread.promise, calendar, language, thread.created_at)
        out = compose_receipt(
            self.env,
            self.settings,
            msg,
            classification,
            envelope,
            thread.reference,
            language,
            previous,
            due=due,
        )
        self._enqueue(thread, "receipt", out, now, rule=classification.rule, language=language)

    def notify_team(
        self,
        thread: ThreadInfo,
        msg: ParsedMessage,
        item: InboundMail,
        classification: Classification,
        now: float,
    ) -> int:
        """The team's notification of a new request: who, what, the text, the keywords."""
        s = self.settings
        address = thread.team_address
        if not address or s.service.is_own(address):
            return 0
        attach = s.workflow.forward_attachments and bool(msg.attachments)
        files = self._files(item) if attach else ()
        context = outgoing.notify_context(
            s, thread, msg, classification, item.internaldate, attached=bool(files)
        )
        mail = Mail("notify", "team", "notify")
        self._send(thread, mail, Address("", address), context, msg, now, files)
        return 1

    def queue(
        self,
        thread: ThreadInfo | None,
        mail: Mail,
        to: Address,
        msg: ParsedMessage,
        item: InboundMail,
        now: float,
    ) -> None:
        """One mail of a step; files of ``msg`` go along when the mail asks for them."""
        s = self.settings
        attach = mail.attach and (mail.to == "requester" or s.workflow.forward_attachments)
        files = self._files(item) if attach and msg.attachments else ()
        staff = mail.to != "requester"
        language = thread.language if thread and not staff else s.service.default_language
        if thread is None:  # feedback on a staff mail that belongs to no request
            context = outgoing.orphan_context(s, msg, language)
        else:
            context = outgoing.common_context(s, thread, language)
        context.update(self._extra(mail, msg, item, attached=bool(files)))
        if mail.kind == "status" and thread is not None:
            changed = self.store.last_status_change(thread.id)
            context["status_changed_on"] = outgoing.when(changed, minutes=False) if changed else ""
            context["promise"] = promise_lines(s, thread, language, now)
        self._send(thread, mail, to, context, msg, now, files)

    def _send(
        self,
        thread: ThreadInfo | None,
        mail: Mail,
        to: Address,
        context: dict[str, object],
        msg: ParsedMessage,
        now: float,
        files: tuple[File, ...],
    ) -> None:
        s = self.settings
        staff = mail.to != "requester"
        language = str(context["language"])
        if thread is None or mail.kind == "feedback":
            parent = Parent.of(msg)
            subject = thread_headers.reply_subject(msg.subject, "", "none", "Re:")
        else:
            parent = outgoing.thread_parent(thread)
            subject = outgoing.subject_for(s, thread, mail.kind, language)
        envelope = self.envelope(to, thread.reference if thread else None, now)
        out = outgoing.compose(
            self.env,
            s,
            mail.template,
            language,
            context,
            parent=parent,
            envelope=envelope,
            subject=subject,
            files=files,
            staff=staff,
        )
        self._enqueue(thread, mail.kind, out, now)

    def _files(self, item: InboundMail) -> tuple[File, ...]:
        files, _ = attached_files(item.raw, max_total=self.settings.limits.max_message_size)
        return files

    def _extra(
        self, mail: Mail, msg: ParsedMessage, item: InboundMail, *, attached: bool
    ) -> dict[str, object]:
        """The values of one kind of mail that the core cannot know (names, texts, files)."""
        sender = msg.sender
        extra: dict[str, object] = dict(mail.values)
        name = sender.name if sender else ""
        if mail.kind in ("progress", "answer"):
            extra.setdefault("staff_name", name)
            shown = [a.filename or "attachment" for a in msg.attachments] if attached else []
            extra["attachments"] = shown
        elif mail.kind == "forward":
            extra.update(
                sender=sender.key if sender else (msg.return_path or ""),
                sender_name=name,
                text=(visible_text(msg.text) or msg.text)[: outgoing.MAX_TEXT],
                files=outgoing.file_list(msg.attachments),
                attached=attached,
                received=outgoing.when(item.internaldate),
            )
        elif mail.kind == "feedback":
            extra["sender"] = sender.key if sender else ""
        elif mail.kind == "status":
            extra["status_changed_on"] = ""
        return extra

    def prepared(self, thread: ThreadInfo | None, kind: str, out: Outgoing, now: float) -> None:
        """A mail composed elsewhere (reminders, digests) into the outbox, like every other."""
        self._enqueue(thread, kind, out, now)

    def _enqueue(
        self,
        thread: ThreadInfo | None,
        kind: str,
        out: Outgoing,
        now: float,
        *,
        rule: str | None = None,
        language: str | None = None,
    ) -> None:
        thread_id = thread.id if thread else None
        self.store.enqueue(
            thread_id=thread_id,
            message_id=out.message_id,
            kind=kind,
            recipient=out.recipient.lower(),
            envelope_sender=out.envelope_sender,
            raw=out.raw,
            next_attempt=now,
            created_at=now,
        )
        self.store.record_message(
            key=out.message_id,
            direction="out",
            thread_id=thread_id,
            sender=self.settings.service.address.lower(),
            subject=out.subject,
            at=now,
            automatic=True,
            decision=kind,
            reason=kind,
            rule=rule,
            language=language,
        )
