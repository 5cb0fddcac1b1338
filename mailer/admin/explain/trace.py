"""Explain one message: what mailer would do with it, and why (``mailer rules test``).

The pipeline's own line (parse → look up → judge, then render what acting would send) with
nothing sent and nothing written: the store, when there is one, is read through the same
``look_up`` as the daemon's, and the same ``judge`` decides. The result is a value the
command prints as text or JSON.
"""

from __future__ import annotations

import email
import email.policy
import secrets
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import jinja2

from mailer.config import templates
from mailer.core.deciding import rules
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.deciding.decide import Decision, receipt_address
from mailer.core.deciding.judge import NOTHING_KNOWN, Handled, Judgement, judge
from mailer.core.reading.visible import visible_text
from mailer.core.timing.promises import calendar_named, promise_for
from mailer.core.writing import outgoing, thread_headers
from mailer.core.writing.due import due_context, iso_local
from mailer.core.writing.receipt import compose_receipt
from mailer.core.writing.render import Envelope, Outgoing, Parent
from mailer.daemon.lookup import look_up
from mailer.model import Address, Classification, ParsedMessage, Status, ThreadInfo
from mailer.settings import Settings
from mailer.store import Store


@dataclass(frozen=True)
class RuleTrial:
    name: str
    matched: bool
    conditions: tuple[tuple[str, bool], ...]  # (condition as written, held?)


@dataclass(frozen=True)
class Rendered:
    to: str
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class Explanation:
    receipt: str  # "would be sent" or "suppressed"
    reason: str  # the decision as the store would record it
    rule: Classification
    trials: tuple[RuleTrial, ...]  # the rules tried, in order, up to the one that matched
    thread: ThreadInfo | None
    language: str
    detected: str | None
    keywords: tuple[str, ...] = ()  # status keywords at the top of the new text
    step: str | None = None  # what the mail does to the request it joins (staff keywords, ...)
    receipt_mail: Rendered | None = None
    notification: Rendered | None = None
    notes: tuple[str, ...] = field(default=())  # what the explanation could not look at
    due: tuple[tuple[str, str], ...] = ()  # (target, ISO due time) as if it arrived now


def explain_message(
    settings: Settings,
    env: jinja2.Environment,
    msg: ParsedMessage,
    store: Store | None,
    now: float,
    languages: tuple[str, ...],
) -> Explanation:
    s = settings
    notes: list[str] = []
    if store is not None:
        known = look_up(s, store, msg, now, backlog=False)
    else:
        notes.append("no store yet: thread, duplicate and per-sender counts not looked up")
        known = NOTHING_KNOWN
    words = templates.language_words(env)
    j = judge(msg, known, s, languages=languages, words=words, now=now)
    keywords = Keywords(s.workflow.keywords, s.workflow.status_headers)
    found = parse_commands(visible_text(msg.text), keywords)
    explanation = Explanation(
        receipt="would be sent" if j.decision.receipt_to else "suppressed",
        reason=_reason(j),
        rule=j.classification,
        trials=_trials(msg, s, j.detected, j.classification.rule),
        thread=j.thread,
        language=j.language,
        detected=j.detected,
        keywords=tuple(c.word for c in found.commands),
        step=_step(j.handled),
        notes=tuple(notes),
    )
    if j.decision.action != "open":
        return explanation
    return _with_mail(explanation, s, env, msg, j.decision, store, now)


def _step(handled: Handled | None) -> str | None:
    """What the mail does to the request it joins (staff keywords, a reply, a late reply)."""
    if handled is None:
        return None
    mails = ", ".join(f"{m.kind} to {m.to}" for m in handled.step.mails) or "no mail"
    return f"{handled.step.reason} ({mails})"


def _reason(j: Judgement) -> str:
    thread = j.thread
    if j.decision.action == "follow-up" and thread is not None:
        return f"{j.decision.reason}: joins {thread.reference}, which already had its receipt"
    return j.decision.reason


def _trials(
    msg: ParsedMessage, s: Settings, detected: str | None, chosen: str
) -> tuple[RuleTrial, ...]:
    out: list[RuleTrial] = []
    for name, matched, results in rules.explain(msg, s.rules, s.teams, detected):
        out.append(RuleTrial(name, matched, tuple(results)))
        if name == chosen:
            break
    return tuple(out)


def _with_mail(
    e: Explanation,
    s: Settings,
    env: jinja2.Environment,
    msg: ParsedMessage,
    decision: Decision,
    store: Store | None,
    now: float,
) -> Explanation:
    """The receipt and the team's notification, rendered as the new request would get them."""
    number = _next_number(s, store)
    reference = f"{s.service.reference_prefix}-{number}"
    requester = receipt_address(msg) or msg.sender or Address("", msg.return_path or "")
    chosen = next((r for r in s.rules if r.name == e.rule.rule), None)
    promise = promise_for(s, chosen, e.rule.team, now)
    calendar = calendar_named(s, promise.calendar)
    thread = ThreadInfo(
        id=0,
        reference=reference,
        requester=requester.key,
        requester_name=requester.name,
        subject=thread_headers.strip_reply_prefixes(msg.subject),
        category=e.rule.category,
        team=e.rule.team,
        status=Status.ACKNOWLEDGED if decision.receipt_to else Status.NEW,
        language=e.language,
        rule=e.rule.rule,
        root_message_id=msg.message_id,
        created_at=now,
        team_address=e.rule.team_address,
        priority=e.rule.priority,
        promise=promise,
    )
    due = tuple(
        (target, iso_local(when, calendar))
        for target, when in (
            ("first_response", promise.first_response_due),
            ("resolution", promise.resolution_due),
        )
        if when is not None
    )
    receipt = None
    if decision.receipt_to is not None:
        envelope = _envelope(s, decision.receipt_to, reference, now)
        due_values = due_context(promise, calendar, e.language, now)
        out = compose_receipt(env, s, msg, e.rule, envelope, reference, e.language, due=due_values)
        receipt = _rendered(out, decision.receipt_to.addr)
    notification = None
    if thread.team_address and not s.service.is_own(thread.team_address):
        received = _date(msg) or now
        context = outgoing.notify_context(s, thread, msg, e.rule, received, attached=False)
        to = Address("", thread.team_address)
        out = outgoing.compose(
            env,
            s,
            "notify",
            s.service.default_language,
            context,
            parent=Parent.of(msg),
            envelope=_envelope(s, to, reference, now),
            subject=outgoing.subject_for(s, thread, "notify", s.service.default_language),
            staff=True,
        )
        notification = _rendered(out, to.addr)
    changes = {"receipt_mail": receipt, "notification": notification, "due": due}
    return Explanation(**{**e.__dict__, **changes})


def _next_number(s: Settings, store: Store | None) -> int:
    start = s.service.reference_start
    if store is None:
        return start
    return store.peek_reference_number(start)


def _envelope(s: Settings, to: Address, reference: str, now: float) -> Envelope:
    message_id = thread_headers.new_message_id(reference, s.service.domain, secrets.token_bytes(16))
    return Envelope(to, s.service.address, message_id, now, secrets.token_bytes(16))


def _rendered(out: Outgoing, to: str) -> Rendered:
    parsed = email.message_from_bytes(out.raw, policy=email.policy.default)
    text = html = None
    for part in parsed.walk():
        if part.get_content_type() == "text/plain" and text is None:
            text = str(part.get_content())
        elif part.get_content_type() == "text/html" and html is None:
            html = str(part.get_content())
    text = (text or "").replace("\r\n", "\n")
    return Rendered(to, out.subject, text, html.replace("\r\n", "\n") if html else None)


def _date(msg: ParsedMessage) -> float | None:
    try:
        return parsedate_to_datetime(msg.date).timestamp() if msg.date else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
