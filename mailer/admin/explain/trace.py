"""Explain one message: what mailer would do with it, and why (``mailer rules test``).

The same stages as the pipeline (parse → robots → thread → rules → decide → render) with
nothing sent and nothing written: the store, when there is one, is only read to find the
thread a reply would join. The result is a value the command prints as text or JSON.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import secrets
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import jinja2

from mailer.config import templates
from mailer.core.deciding import rules
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.deciding.decide import Decision, Facts, decide, receipt_address
from mailer.core.reading import language as lang
from mailer.core.reading import robots
from mailer.core.reading.visible import visible_text
from mailer.core.writing import outgoing, thread_headers
from mailer.core.writing.receipt import compose_receipt
from mailer.core.writing.render import LOOP_HEADER, Envelope, Outgoing, Parent
from mailer.daemon.facts import gather_facts
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


def explain_message(
    settings: Settings,
    env: jinja2.Environment,
    msg: ParsedMessage,
    store: Store | None,
    now: float,
    languages: tuple[str, ...],
) -> Explanation:
    s = settings
    detected = lang.detect_language(
        f"{msg.subject}\n{msg.text[:2000]}", languages, templates.language_words(env)
    )
    classification = rules.classify(
        msg,
        s.rules,
        s.teams,
        language=detected,
        default_expectation=s.default_expectation,
        default_expectations=dict(s.default_expectations),
    )
    notes: list[str] = []
    facts = _facts(s, store, msg, now, notes)
    step, reopen_as_new = _step(s, env, store, msg, facts, now)
    if reopen_as_new:  # too late to reopen: a new request, as the pipeline does
        facts = dataclasses.replace(facts, thread=None)
    decision = decide(msg, classification, facts, s.limits)
    language = classification.language or detected or s.service.default_language
    language = language if language in languages else s.service.default_language
    keywords = Keywords(s.workflow.keywords, s.workflow.status_headers)
    found = parse_commands(visible_text(msg.text), keywords)
    explanation = Explanation(
        receipt="would be sent" if decision.receipt_to else "suppressed",
        reason=_reason(decision, facts),
        rule=classification,
        trials=_trials(msg, s, detected, classification.rule),
        thread=facts.bounced_thread or facts.thread,
        language=language,
        detected=detected,
        keywords=tuple(c.word for c in found.commands),
        step=step,
        notes=tuple(notes),
    )
    if decision.action != "open":
        return explanation
    return _with_mail(explanation, s, env, msg, decision, store, now)


def _facts(
    s: Settings, store: Store | None, msg: ParsedMessage, now: float, notes: list[str]
) -> Facts:
    if store is not None:
        return gather_facts(s, store, msg, now, backlog=False)
    notes.append("no store yet: thread, duplicate and per-sender counts not looked up")
    robot = robots.robot_reason(
        msg,
        own_addresses=s.service.own_addresses,
        own_domain=s.service.domain,
        loop_header=LOOP_HEADER,
        no_reply_patterns=s.service.no_reply_senders,
        require_addressed=s.service.require_addressed,
    )
    return Facts(robot, None, False, False, 0, 0)


def _step(
    s: Settings,
    env: jinja2.Environment,
    store: Store | None,
    msg: ParsedMessage,
    facts: Facts,
    now: float,
) -> tuple[str | None, bool]:
    """The conversation's step for a person's mail in a request (it only reads the store),
    and whether it is a late reply that opens a new request."""
    if store is None or facts.duplicate or facts.robot is not None or facts.bounced_thread:
        return None, False
    from mailer.daemon.mail_queue import MailQueue
    from mailer.daemon.steps import Conversations

    handled = Conversations(s, store, MailQueue(s, store, env)).step(msg, facts, now)
    if handled is None:
        return None, False
    mails = ", ".join(f"{m.kind} to {m.to}" for m in handled.step.mails) or "no mail"
    return f"{handled.step.reason} ({mails})", handled.step.open_new


def _reason(decision: Decision, facts: Facts) -> str:
    thread = facts.bounced_thread or facts.thread
    if decision.action == "follow-up" and thread is not None:
        return f"{decision.reason}: joins {thread.reference}, which already had its receipt"
    return decision.reason


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
    )
    receipt = None
    if decision.receipt_to is not None:
        envelope = _envelope(s, decision.receipt_to, reference, now)
        out = compose_receipt(env, s, msg, e.rule, envelope, reference, e.language)
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
    return Explanation(**{**e.__dict__, "receipt_mail": receipt, "notification": notification})


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
