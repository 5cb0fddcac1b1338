"""Compose the mail of a request's life after the receipt: team notifications, forwards,
progress mail, answers, ratings, status replies and feedback to staff.

Pure apart from the Jinja environment passed in. Every such mail comes From the shared
address, carries ``Auto-Submitted: auto-generated`` and ``X-Auto-Response-Suppress: All``,
and is threaded under the request's first message (feedback: under the staff mail).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import jinja2

from mailer.core.writing import thread_headers
from mailer.core.writing.render import (
    NO_SUBJECT,
    Envelope,
    Outgoing,
    Parent,
    build_mail,
    greeting_name,
    render_pair,
)
from mailer.model import Address, Attachment, Classification, File, ParsedMessage, ThreadInfo
from mailer.settings import Settings

# Subject words of the mail to staff; a language without an entry uses English.
STAFF_SUBJECTS = {
    "en": {"notify": "New request", "forward": "Update", "feedback": "Result"},
    "it": {"notify": "Nuova richiesta", "forward": "Aggiornamento", "feedback": "Esito"},
}
REQUESTER_KINDS = frozenset({"progress", "answer", "rating", "status", "confirm"})
MAX_TEXT = 20_000  # characters of a request shown to the team


def when(at: float, *, minutes: bool = True) -> str:
    stamp = dt.datetime.fromtimestamp(at, dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC" if minutes else "%Y-%m-%d")


def common_context(settings: Settings, thread: ThreadInfo, language: str) -> dict[str, object]:
    """The values every workflow template gets (see ``template_samples``)."""
    service = settings.service
    team = settings.team(thread.team)
    return {
        "service": service.name,
        "service_address": service.address,
        "signature": service.signature or service.name,
        "contacts": list(service.contacts),
        "language": language,
        "reference": thread.reference,
        "subject": thread.subject,
        "has_subject": bool(thread.subject),
        "category": thread.category,
        "priority": thread.priority,
        "team": team.name if team else None,
        "status": thread.status.value,
        "owner": thread.owner,
        "owner_name": thread.owner_name,
        "requester": thread.requester,
        "requester_name": thread.requester_name,
        "name": greeting_name(Address(thread.requester_name, thread.requester)),
        "reopen_days": settings.workflow.reopen_days,
        "keywords": {action: list(words) for action, words in settings.workflow.keywords},
        "status_headers": list(settings.workflow.status_headers),
        "opened_on": when(thread.created_at, minutes=False),
    }


def notify_context(
    settings: Settings,
    thread: ThreadInfo,
    msg: ParsedMessage,
    classification: Classification,
    received: float,
    *,
    attached: bool,
) -> dict[str, object]:
    """The team's notification of a new request (``mailer rules test`` shows the same)."""
    context = common_context(settings, thread, settings.service.default_language)
    context.update(
        text=msg.text[:MAX_TEXT],
        truncated=msg.truncated or len(msg.text) > MAX_TEXT,
        files=file_list(msg.attachments),
        attached=attached,
        expectation=classification.expectation or settings.default_expectation,
        rule=classification.rule,
        received=when(received),
        previous_reference=thread.parent_reference,
    )
    return context


def file_list(attachments: Sequence[Attachment]) -> list[dict[str, str]]:
    return [
        {"name": a.filename or "(no name)", "type": a.content_type, "size": _size(a.size)}
        for a in attachments
    ]


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def thread_parent(thread: ThreadInfo) -> Parent:
    topic = thread_headers.thread_topic(None, thread.subject)
    return Parent(
        thread.root_message_id, thread.root_references, (), topic, thread.root_thread_index
    )


def subject_for(settings: Settings, thread: ThreadInfo, kind: str, language: str) -> str:
    """Requesters see ``Re: <their subject> [REF]``; staff see ``[REF] New request: ...``."""
    service = settings.service
    fallback = NO_SUBJECT.get(language, NO_SUBJECT["en"]).capitalize()
    if kind in REQUESTER_KINDS:
        return thread_headers.reply_subject(
            thread.subject, thread.reference, service.subject_tag, fallback
        )
    words = STAFF_SUBJECTS.get(language, STAFF_SUBJECTS["en"]).get(kind, kind.capitalize())
    return f"{thread_headers.reference_tag(thread.reference)} {words}: {thread.subject or fallback}"


def compose(
    env: jinja2.Environment,
    settings: Settings,
    template: str,
    language: str,
    context: dict[str, object],
    *,
    parent: Parent | None,
    envelope: Envelope,
    subject: str,
    files: Sequence[File] = (),
    staff: bool = False,
) -> Outgoing:
    """Render ``template`` and build the mail; staff mail gets Reply-To: the shared address."""
    text, html = render_pair(env, template, language, context)
    return build_mail(
        settings.service,
        parent,
        envelope,
        subject=subject,
        text=text,
        html=html,
        auto_submitted="auto-generated",
        reply_to=staff,
        attachments=files,
    )


def orphan_context(settings: Settings, msg: ParsedMessage, language: str) -> dict[str, object]:
    """The common values for feedback on a staff mail that names no known request."""
    service = settings.service
    return {
        "service": service.name,
        "service_address": service.address,
        "signature": service.signature or service.name,
        "contacts": list(service.contacts),
        "language": language,
        "reference": "",
        "subject": msg.subject,
        "has_subject": bool(msg.subject),
        "category": "",
        "priority": "normal",
        "team": None,
        "status": "new",
        "owner": None,
        "owner_name": "",
        "requester": "",
        "requester_name": "",
        "name": greeting_name(msg.sender) if msg.sender else "",
        "reopen_days": settings.workflow.reopen_days,
        "keywords": {action: list(words) for action, words in settings.workflow.keywords},
        "status_headers": list(settings.workflow.status_headers),
        "opened_on": "",
    }
