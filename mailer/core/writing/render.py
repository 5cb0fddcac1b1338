"""Render mail we send: templates + values -> an RFC 5322 message with our headers.

Pure apart from the Jinja environment, which the caller builds once and passes in. Every
header value taken from inbound mail is cleaned of CR/LF first (no header injection).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import format_datetime

import jinja2

from mailer.core.writing import mime, thread_headers
from mailer.model import LOOP_HEADER as LOOP_HEADER  # re-exported: doctor's test mail
from mailer.model import Address, File, ParsedMessage
from mailer.settings import ServiceSettings

NO_SUBJECT = {"en": "your request", "it": "la tua richiesta"}
_QUOTE_START = re.compile(
    r"^(>|-{2,}\s*(original message|messaggio originale)|_{5,}|on .+ wrote:$|il .+ ha scritto:$"
    r"|from:\s|da:\s|sent from my|inviato da)",
    re.IGNORECASE,
)


_ROLES = {
    "it",
    "hr",
    "help",
    "helpdesk",
    "support",
    "admin",
    "info",
    "office",
    "team",
    "sales",
    "service",
    "noreply",
    "no",
    "mail",
    "contact",
    "ufficio",
    "segreteria",
    "amministrazione",
}


@dataclass(frozen=True)
class Outgoing:
    """A rendered mail, ready for the outbox."""

    message_id: str
    recipient: str
    envelope_sender: str
    subject: str
    raw: bytes


@dataclass(frozen=True)
class Envelope:
    """Where a mail goes and under which identity; chosen by the service from the config."""

    to: Address
    envelope_sender: str  # "" for the null sender
    message_id: str
    now: float
    thread_guid: bytes  # 16 random bytes for Outlook's Thread-Index


def greeting_name(addr: Address) -> str:
    """The name to greet: the first name from the display name, else from the local part.

    "Rossi, Mario" and "Mario Rossi" give "Mario"; "mario.rossi@" gives "Mario"; a local
    part that does not look like a name ("it-support", "j123") gives "" and a neutral greeting.
    """
    name = " ".join(addr.name.replace('"', " ").split())
    if "," in name:
        name = name.split(",", 1)[1].strip()
    if name and "@" not in name:
        return name.split()[0].capitalize() if name.split()[0].isupper() else name.split()[0]
    parts = re.split(r"[._]", addr.local.split("+", 1)[0])
    first = parts[0]
    if len(parts) >= 2 and len(first) >= 2 and first.isalpha() and first.lower() not in _ROLES:
        return first.capitalize()
    return ""


def excerpt(text: str, *, max_lines: int = 4, max_chars: int = 320) -> str:
    """The opening of what they wrote, before quoted history or a signature, for the receipt."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") or _QUOTE_START.match(stripped):
            break
        if stripped:
            lines.append(stripped)
        if len(lines) >= max_lines:
            break
    out = " ".join(lines)
    return out if len(out) <= max_chars else out[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def render_pair(
    env: jinja2.Environment, template: str, language: str, context: Mapping[str, object]
) -> tuple[str, str | None]:
    """The text body and, when the template has one, its HTML alternative."""
    text = env.get_template(f"{language}/{template}.txt.j2").render(context)
    try:
        html_template = env.get_template(f"{language}/{template}.html.j2")
    except jinja2.TemplateNotFound:
        return text, None
    return text, html_template.render(context)


@dataclass(frozen=True)
class Parent:
    """What a mail is threaded under: the message it answers, or a request's first message."""

    message_id: str | None
    references: tuple[str, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    topic: str = ""  # Thread-Topic (Outlook), else the subject
    index: str | None = None  # the parent's Thread-Index

    @classmethod
    def of(cls, msg: ParsedMessage) -> Parent:
        topic = thread_headers.thread_topic(msg.thread_topic, msg.subject)
        return cls(msg.message_id, msg.references, msg.in_reply_to, topic, msg.thread_index)


def build_reply(
    service: ServiceSettings,
    parent: ParsedMessage,
    envelope: Envelope,
    *,
    subject: str,
    text: str,
    html: str | None,
    auto_submitted: str,
) -> Outgoing:
    """A mail threaded under ``parent``: In-Reply-To, References, Thread-Topic/Index."""
    return build_mail(
        service,
        Parent.of(parent),
        envelope,
        subject=subject,
        text=text,
        html=html,
        auto_submitted=auto_submitted,
    )


def build_mail(
    service: ServiceSettings,
    parent: Parent | None,
    envelope: Envelope,
    *,
    subject: str,
    text: str,
    html: str | None,
    auto_submitted: str,
    reply_to: bool = False,
    attachments: Sequence[File] = (),
) -> Outgoing:
    """Any mail we send: From the shared address, our loop and auto-reply marks, threaded
    under ``parent`` when there is one. ``reply_to`` adds Reply-To: the shared address."""
    lines = [
        mime.header_line("From", mime.address(service.name, service.address), structured=True),
        mime.header_line("To", mime.address(envelope.to.name, envelope.to.addr), structured=True),
    ]
    if reply_to:
        lines.append(
            mime.header_line(
                "Reply-To", mime.address(service.name, service.address), structured=True
            )
        )
    lines += [
        mime.header_line("Subject", subject),
        mime.header_line("Date", format_datetime(dt.datetime.fromtimestamp(envelope.now, dt.UTC))),
        mime.header_line("Message-ID", envelope.message_id, structured=True),
    ]
    if parent is not None:
        in_reply_to, refs = thread_headers.reply_references(
            parent.message_id, parent.references, parent.in_reply_to
        )
        if in_reply_to:
            lines.append(mime.header_line("In-Reply-To", in_reply_to, structured=True))
        if refs:
            lines.append(mime.header_line("References", " ".join(refs), structured=True))
    topic = thread_headers.thread_topic(parent.topic if parent else None, subject)
    index = thread_headers.thread_index(
        parent.index if parent else None, envelope.now, envelope.thread_guid
    )
    lines += [
        mime.header_line("Thread-Topic", topic),
        mime.header_line("Thread-Index", index, structured=True),
        mime.header_line("Auto-Submitted", auto_submitted, structured=True),
        mime.header_line("X-Auto-Response-Suppress", "All", structured=True),
        mime.header_line(LOOP_HEADER, service.address, structured=True),
    ]
    boundary = envelope.message_id.strip("<>").split("@")[0]
    raw = mime.compose(lines, text, html, boundary, attachments)
    return Outgoing(
        message_id=envelope.message_id,
        recipient=envelope.to.addr,
        envelope_sender=envelope.envelope_sender,
        subject=subject,
        raw=raw,
    )
