"""The mail of promises: reminders and escalations to staff, a late notice to the requester,
the team's daily digest.

Staff mail is written in the default language and lists every request it is about, so a
person who has several due at once gets one mail, not a storm; when it is about one request
it is threaded under it, and staff answer it with keywords as they answer a notification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jinja2

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.digests import Digest
from mailer.core.timing.notices import ESCALATION, Notice
from mailer.core.writing import outgoing, thread_headers
from mailer.core.writing.due import when
from mailer.core.writing.render import Envelope, Outgoing
from mailer.model import ThreadInfo
from mailer.settings import Settings

SUBJECTS = {
    "en": {
        "reminder": "Due soon",
        "escalation": "Overdue",
        "several": "{} requests need you",
        "digest": "Today's requests",
    },
    "it": {
        "reminder": "In scadenza",
        "escalation": "In ritardo",
        "several": "{} richieste da seguire",
        "digest": "Le richieste di oggi",
    },
}
CalendarOf = Callable[[ThreadInfo], WorkingCalendar]


def staff_context(settings: Settings, language: str) -> dict[str, object]:
    service = settings.service
    return {
        "service": service.name,
        "service_address": service.address,
        "signature": service.signature or service.name,
        "language": language,
        "keywords": {action: list(words) for action, words in settings.workflow.keywords},
    }


def item(thread: ThreadInfo, now: float) -> dict[str, object]:
    """One request as staff mail lists it."""
    team = thread.team or ""
    return {
        "reference": thread.reference,
        "subject": thread.subject,
        "status": thread.status.value,
        "owner": thread.owner,
        "requester": thread.requester,
        "requester_name": thread.requester_name,
        "team": team,
        "age_days": max(0, int((now - thread.created_at) // 86400)),
    }


def due_notice_context(
    settings: Settings, notices: Sequence[Notice], calendar_of: CalendarOf, now: float
) -> dict[str, object]:
    language = settings.service.default_language
    items = []
    for notice in notices:
        calendar = calendar_of(notice.thread)
        entry = item(notice.thread, now)
        entry |= {
            "kind": notice.kind,
            "target": notice.target,
            "due": when(notice.due, calendar, language),
            "overdue": notice.kind == ESCALATION,
        }
        items.append(entry)
    return {**staff_context(settings, language), "items": items}


def compose_due_notice(
    env: jinja2.Environment,
    settings: Settings,
    notices: Sequence[Notice],
    calendar_of: CalendarOf,
    envelope: Envelope,
    now: float,
) -> Outgoing:
    """One mail to one person about every request of theirs that is due soon or overdue."""
    language = settings.service.default_language
    context = due_notice_context(settings, notices, calendar_of, now)
    words = SUBJECTS.get(language, SUBJECTS["en"])
    threads = {n.thread.id: n.thread for n in notices}
    if len(threads) == 1:
        (thread,) = threads.values()
        kind = "escalation" if any(n.kind == ESCALATION for n in notices) else "reminder"
        tag = thread_headers.reference_tag(thread.reference)
        subject = f"{tag} {words[kind]}: {thread.subject}"
        parent = outgoing.thread_parent(thread)
    else:
        subject, parent = words["several"].format(len(threads)), None
    return outgoing.compose(
        env,
        settings,
        "due_notice",
        language,
        context,
        parent=parent,
        envelope=envelope,
        subject=subject,
        staff=True,
    )


def compose_late_notice(
    env: jinja2.Environment,
    settings: Settings,
    notice: Notice,
    calendar: WorkingCalendar,
    envelope: Envelope,
) -> Outgoing:
    """The requester's one honest mail: we are late, here is where your request stands."""
    thread = notice.thread
    language = thread.language
    context = outgoing.common_context(settings, thread, language)
    context |= {"target": notice.target, "due": when(notice.due, calendar, thread.language)}
    subject = outgoing.subject_for(settings, thread, "status", language)
    return outgoing.compose(
        env,
        settings,
        "late_notice",
        language,
        context,
        parent=outgoing.thread_parent(thread),
        envelope=envelope,
        subject=subject,
    )


def digest_context(settings: Settings, digest: Digest, now: float) -> dict[str, object]:
    language = settings.service.default_language

    def listed(threads: Sequence[ThreadInfo]) -> list[dict[str, object]]:
        return [item(t, now) for t in threads]

    return {
        **staff_context(settings, language),
        "team": digest.team.name,
        "day": digest.day,
        "due_today": listed(digest.due_today),
        "overdue": listed(digest.overdue),
        "unowned": listed(digest.unowned),
        "waiting": listed(digest.waiting),
    }


def compose_digest(
    env: jinja2.Environment,
    settings: Settings,
    digest: Digest,
    envelope: Envelope,
    now: float,
) -> Outgoing:
    language = settings.service.default_language
    context = digest_context(settings, digest, now)
    words = SUBJECTS.get(language, SUBJECTS["en"])
    subject = f"{words['digest']}: {digest.team.name}, {digest.day}"
    return outgoing.compose(
        env,
        settings,
        "digest",
        language,
        context,
        parent=None,
        envelope=envelope,
        subject=subject,
        staff=True,
    )
