"""The admin's mail about a refused change: what is wrong, where, and that nothing changed.

One mail per distinct broken version (``problems_key``); it goes through the outbox like
every mail we send: From the shared address, with our loop and auto-reply marks.
"""

from __future__ import annotations

import hashlib
import shlex
import socket
from collections.abc import Sequence
from pathlib import Path

import jinja2

from mailer.config import templates
from mailer.core.writing import outgoing
from mailer.core.writing.render import Outgoing
from mailer.daemon.mail_queue import MailQueue
from mailer.errors import Problem
from mailer.model import Address
from mailer.settings import Settings
from mailer.store import Store

TEMPLATE = "admin_alert"
# The subject's words; a language without an entry uses English.
SUBJECTS = {
    "en": {
        "rules": "rules change refused",
        "config": "config change refused",
        "templates": "template change refused",
        "line": "line",
        "more": "more",
    },
    "it": {
        "rules": "modifica alle regole rifiutata",
        "config": "modifica alla configurazione rifiutata",
        "templates": "modifica ai template rifiutata",
        "line": "riga",
        "more": "altri",
    },
}


def problems_key(problems: Sequence[Problem]) -> str:
    """The same problems (file, line, message) are the same broken version."""
    text = "\n".join(sorted(str(p) for p in problems))
    return hashlib.sha256(text.encode()).hexdigest()


def _language(settings: Settings, env: jinja2.Environment) -> str:
    """The service's default language when there is an alert template for it, else English."""
    language = settings.service.default_language
    try:
        env.get_template(f"{language}/{TEMPLATE}.txt.j2")
    except jinja2.TemplateError:
        return "en"
    return language


def _what(settings: Settings, problem: Problem) -> str:
    """Which file the admin broke, in the words of the subject."""
    if problem.section == "templates":
        return "templates"
    rules = settings.rules_path
    if rules is not None and Path(problem.path).absolute() == rules.absolute():
        return "rules"
    return "rules" if problem.section in ("rules", "teams") else "config"


def alert_subject(settings: Settings, problems: Sequence[Problem], language: str) -> str:
    """``[mailer] rules change refused: rules.toml line 12 (+1 more)``."""
    words = SUBJECTS.get(language, SUBJECTS["en"])
    first = problems[0]
    subject = f"[mailer] {words[_what(settings, first)]}: {Path(first.path).name}"
    if first.line:
        subject += f" {words['line']} {first.line}"
    if len(problems) > 1:
        subject += f" (+{len(problems) - 1} {words['more']})"
    return subject


def alert_context(settings: Settings, problems: Sequence[Problem], now: float) -> dict[str, object]:
    """The values ``admin_alert.txt.j2`` gets."""
    config = settings.config_path
    command = f"mailer --config {shlex.quote(str(config))} check" if config else "mailer check"
    return {
        "service": settings.service.name,
        "service_address": settings.service.address,
        "host": socket.gethostname(),
        "when": outgoing.when(now),
        "problems": [str(p) for p in problems],
        "rules": len(settings.rules),
        "teams": len(settings.teams),
        "check_command": command,
    }


def alert_mail(
    settings: Settings,
    env: jinja2.Environment,
    queue: MailQueue,
    admin: str,
    problems: Sequence[Problem],
    now: float,
) -> Outgoing:
    """The rendered mail; the shipped template stands in if the admin's own one fails."""
    context = alert_context(settings, problems, now)
    envelope = queue.envelope(Address("", admin), None, now)

    def compose(with_env: jinja2.Environment) -> Outgoing:
        language = _language(settings, with_env)
        return outgoing.compose(
            with_env,
            settings,
            TEMPLATE,
            language,
            {**context, "language": language},
            parent=None,
            envelope=envelope,
            subject=alert_subject(settings, problems, language),
        )

    try:
        return compose(env)
    except jinja2.TemplateError:
        return compose(templates.make_environment(None))


def queue_alert(
    settings: Settings,
    store: Store,
    env: jinja2.Environment,
    admin: str,
    problems: Sequence[Problem],
    now: float,
) -> str:
    """Put the alert in the outbox, in one transaction with its record; its Message-ID."""
    out = alert_mail(settings, env, MailQueue(settings, store, env), admin, problems, now)
    with store.transaction():
        store.enqueue(
            thread_id=None,
            message_id=out.message_id,
            kind="admin",
            recipient=out.recipient.lower(),
            envelope_sender=out.envelope_sender,
            raw=out.raw,
            next_attempt=now,
            created_at=now,
        )
        store.record_message(
            key=out.message_id,
            direction="out",
            thread_id=None,
            sender=settings.service.address.lower(),
            subject=out.subject,
            at=now,
            automatic=True,
            decision="admin",
            reason="reload refused",
        )
    return out.message_id
