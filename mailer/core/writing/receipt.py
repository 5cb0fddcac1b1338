"""Compose the receipt: the first answer a requester gets, written for a person."""

from __future__ import annotations

import jinja2

from mailer.core.writing import thread_headers
from mailer.core.writing.due import NOTHING_DUE
from mailer.core.writing.render import (
    NO_SUBJECT,
    Envelope,
    Outgoing,
    build_reply,
    excerpt,
    greeting_name,
    render_pair,
)
from mailer.model import Classification, ParsedMessage
from mailer.settings import Settings


def receipt_context(
    settings: Settings,
    msg: ParsedMessage,
    classification: Classification,
    envelope: Envelope,
    reference: str,
    language: str,
    previous_reference: str | None = None,
    due: dict[str, object] | None = None,
) -> dict[str, object]:
    """Everything a receipt template may use; ``mailer check`` renders with the same keys.

    ``previous_reference``: the earlier request this one continues (a late reply to it);
    ``due``: the promise's due times as ``core.writing.due.due_context`` writes them."""
    service = settings.service
    subject = request_subject(settings, msg, previous_reference)
    return {
        "name": greeting_name(envelope.to),
        "display_name": envelope.to.name,
        "address": envelope.to.addr,
        "subject": subject,
        "has_subject": bool(subject),
        "excerpt": excerpt(msg.text),
        "attachments": [a.filename for a in msg.attachments if a.filename],
        "reference": reference,
        "service": service.name,
        "service_address": service.address,
        "team": classification.team_name,
        "category": classification.category,
        "priority": classification.priority,
        "expectation": classification.expectation or settings.default_expectation,
        "contacts": list(service.contacts),
        "signature": service.signature or service.name,
        "language": language,
        "previous_reference": previous_reference,
        "due": due if due is not None else dict(NOTHING_DUE),
    }


def compose_receipt(
    env: jinja2.Environment,
    settings: Settings,
    msg: ParsedMessage,
    classification: Classification,
    envelope: Envelope,
    reference: str,
    language: str,
    previous_reference: str | None = None,
    *,
    due: dict[str, object] | None = None,
) -> Outgoing:
    context = receipt_context(
        settings, msg, classification, envelope, reference, language, previous_reference, due
    )
    text, html = render_pair(env, classification.template, language, context)
    subject = thread_headers.reply_subject(
        request_subject(settings, msg, previous_reference),
        reference,
        settings.service.subject_tag,
        fallback=NO_SUBJECT.get(language, NO_SUBJECT["en"]).capitalize(),
    )
    return build_reply(
        settings.service,
        msg,
        envelope,
        subject=subject,
        text=text,
        html=html,
        auto_submitted="auto-replied",
    )


def request_subject(settings: Settings, msg: ParsedMessage, previous: str | None) -> str:
    """The request's subject; a late reply's old ``[REF]`` tag goes, or replies would go there."""
    subject = thread_headers.strip_reply_prefixes(msg.subject)
    if previous is None:
        return subject
    return thread_headers.without_references(subject, settings.service.reference_prefix)
