"""Judge one inbound message: what it is and what it does. One straight line, pure.

The daemon, ``mailer rules test`` and ``mailer rules replay`` all call ``judge``, so they
cannot disagree. Each passes what the store knows (``Known``): the daemon and ``rules test``
look it all up before judging (``daemon.lookup``), a replay knows nothing. Read top to
bottom: the language, the rules, the robot checks, what a person's mail does to a request
(staff keywords, the requester's reply, anybody else's), then the decision table. Nothing
here reads the store or the clock (``now`` is passed in); acting on the ``Judgement``
(store writes, queued mail) is the caller's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from mailer.core.deciding import conversation as steps
from mailer.core.deciding import rules
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.deciding.decide import Decision, Facts, decide, receipt_address
from mailer.core.reading import authres, robots
from mailer.core.reading import language as lang
from mailer.core.reading.staff_auth import StaffCheck, check_staff
from mailer.core.reading.visible import visible_text
from mailer.model import Classification, ParsedMessage, ThreadInfo
from mailer.settings import Settings

# Requester keywords: a staff member's own request still takes their staff keywords.
REQUESTER_ACTIONS = frozenset({"status", "close"})


@dataclass(frozen=True)
class Known:
    """What the store knows about a message: every read judging needs, made before it."""

    duplicate: bool = False  # the same Message-ID (or bytes) was processed before
    backlog: bool = False  # older than [imap] backlog when the mailbox was first seen
    thread: ThreadInfo | None = None  # by our Message-IDs, else by [REF] from the requester
    named: ThreadInfo | None = None  # no reply matched: the one a [REF] names, whoever wrote
    returned: ThreadInfo | None = None  # the request whose mail the message returns, if any
    returned_ids: tuple[str, ...] = ()  # the Message-IDs it returns (when it is a bounce)
    receipts_to_sender: int = 0  # receipts sent to its receipt address in the last day
    automatic_in_thread: int = 0  # automatic messages in a row in ``thread``
    # In-Reply-To/References name a mail we sent the requester of ``thread``: a mail client's
    # reply, which a requester's close, reopening or rating must be (issue 11).
    replies_to_requester_mail: bool = False
    confirmations_today: int = 0  # "confirm" mails sent in ``thread`` in the last day


# A replay, or ``rules test`` without a store: no thread, no duplicate, no backlog, no caps.
NOTHING_KNOWN = Known()


@dataclass(frozen=True)
class Handled:
    """What a person's mail does to a request (or a staff member's keywords without one)."""

    step: steps.Step
    thread: ThreadInfo | None
    check: StaffCheck | None = None  # the staff list's verdict, when [staff] is configured
    staff: bool = False  # a staff member's keywords or answer ran
    ignored: bool = False  # keywords from somebody who may not use them: only passed on


@dataclass(frozen=True)
class Judgement:
    """What an inbound message is and what it does; the caller records it and acts on it."""

    decision: Decision
    classification: Classification
    language: str  # of the mail we send: the rule's, else the detected one, else the default
    detected: str | None  # what language detection said (None: unsure)
    facts: Facts  # what the decision table saw (a late reply's old request already dropped)
    handled: Handled | None = None  # a person's mail in a request (see ``taken``)
    previous: str | None = None  # a reply too late to reopen: the request the new one continues
    bounced_ids: tuple[str, ...] = ()  # a bounce of our mail: the Message-IDs it returns

    @property
    def taken(self) -> bool:
        """The conversation took the mail: its step is what happens, not the receipt loop."""
        return self.handled is not None and not self.handled.step.open_new

    @property
    def thread(self) -> ThreadInfo | None:
        """The request the mail joins; None for a new one (acting may open it)."""
        if self.handled is not None and self.taken:
            return self.handled.thread
        return self.facts.bounced_thread or self.facts.thread


def judge(
    msg: ParsedMessage,
    known: Known,
    settings: Settings,
    *,
    languages: tuple[str, ...],
    words: Mapping[str, frozenset[str]],
    now: float,
) -> Judgement:
    """The one judging path. ``languages``: those with templates; ``words``: the admin's
    ``<lang>/words.txt``; ``now`` only matters to a request's reopen window."""
    s = settings
    detected = lang.detect_language(f"{msg.subject}\n{msg.text[:2000]}", languages, words)
    classification = rules.classify(
        msg,
        s.rules,
        s.teams,
        language=detected,
        default_expectation=s.default_expectation,
        default_expectations=dict(s.default_expectations),
    )
    language = classification.language or detected or s.service.default_language
    if language not in languages:
        language = s.service.default_language
    robot = robots.robot_reason(
        msg,
        own_addresses=s.service.own_addresses,
        own_domain=s.service.domain,
        no_reply_patterns=s.service.no_reply_senders,
        require_addressed=s.service.require_addressed,
    )
    bounced = known.returned if robot in robots.BOUNCE_REASONS else None
    thread = None if bounced else known.thread
    facts = Facts(
        robot=robot,
        thread=thread,
        backlog=known.backlog,
        duplicate=known.duplicate,
        receipts_to_sender=known.receipts_to_sender,
        automatic_in_thread=known.automatic_in_thread if thread else 0,
        bounced_thread=bounced,
    )
    found = functools.partial(
        Judgement, classification=classification, language=language, detected=detected
    )
    handled = None
    if robot is None and not known.duplicate and not known.backlog:  # a person wrote
        handled = person_step(msg, thread, known.named, s, now, known=known)
    if handled is not None and not handled.step.open_new:
        return found(Decision("follow-up", handled.step.why), facts=facts, handled=handled)
    previous = None
    if handled is not None and handled.thread is not None:  # too late to reopen it
        previous = handled.thread.reference
        facts = dataclasses.replace(facts, thread=None)
    decision = decide(msg, classification, facts, s.limits)
    returned = known.returned_ids if bounced else ()
    return found(decision, facts=facts, handled=handled, previous=previous, bounced_ids=returned)


def person_step(
    msg: ParsedMessage,
    thread: ThreadInfo | None,
    named: ThreadInfo | None,
    settings: Settings,
    now: float,
    *,
    known: Known = NOTHING_KNOWN,
) -> Handled | None:
    """What a person's mail does to a request (or its staff keywords without one); None
    when it belongs to no request, and the receipt loop takes it.

    ``thread``: the request it was matched to; ``named``: the one a [REF] in its subject
    names, which a trusted staff member may use without replying to our mail. ``known``:
    whether it replies to our mail, which a requester's state-changing command must.
    """
    s = settings
    check = check_staff(msg, s.staff) if s.staff.configured else None
    trusted = check is not None and check.trusted
    if trusted and thread is None:
        thread = named
    if thread is None and not trusted:
        return None
    visible = visible_text(msg.text)
    commands = parse_commands(visible, _keywords(s.workflow.keywords, s.workflow.status_headers))
    own_request = thread is not None and thread.requester in _requester_keys(msg)
    staff_words = any(c.action not in REQUESTER_ACTIONS for c in commands.commands)
    if trusted and (not own_request or staff_words):
        assert msg.sender is not None
        if thread is None:
            if not commands.commands:
                return None  # a staff member's own new request, "#urgent" and all
            return Handled(steps.missing_thread(commands), None, check, staff=True)
        step = steps.staff_step(
            thread,
            commands,
            msg.sender.key,
            actor_name=msg.sender.name,
            requester_saw=thread.requester in {a.key for a in msg.recipients},
            files=bool(msg.attachments),
            can_own=functools.partial(_can_own, s),
        )
        return Handled(step, thread, check, staff=True)
    assert thread is not None
    team_saw = _team_saw(thread, msg)
    if own_request:
        step = steps.requester_step(
            thread,
            commands,
            visible,
            thread.requester,
            now,
            reopen_days=s.workflow.reopen_days,
            team_saw=team_saw,
            files=bool(msg.attachments),
            unproven=requester_unproven(msg, thread, s, known.replies_to_requester_mail),
            confirmations=known.confirmations_today,
        )
        return Handled(step, thread, check)
    listed = check is not None and check.listed
    step = steps.other_step(commands, listed=listed, team_saw=team_saw)
    return Handled(step, thread, check, ignored=commands.any)


def requester_unproven(
    msg: ParsedMessage, thread: ThreadInfo, settings: Settings, replied: bool
) -> str:
    """Why a mail from a request's requester cannot change the request ("" when it can).

    Anybody can put the requester's address in From and [REF] in a subject. A mail client's
    reply names our mail to the requester in In-Reply-To/References (``replied``); with
    ``[staff] authserv_id`` the From domain must also pass DMARC or aligned DKIM in our own
    server's Authentication-Results, exactly as a staff mail's must.
    """
    if not replied:
        return steps.NOT_A_REPLY
    authserv_id = settings.staff.authserv_id
    if authserv_id is None:
        return ""
    sender = msg.sender
    if sender is None or sender.key != thread.requester:
        return "From is not the requester's address"
    verdict = authres.authenticate(msg.headers, sender.domain, authserv_id)
    return "" if verdict.passed else f"not authenticated: {verdict.reason}"


@functools.lru_cache(maxsize=8)
def _keywords(
    table: tuple[tuple[str, tuple[str, ...]], ...], status_headers: tuple[str, ...]
) -> Keywords:
    """The keyword table, indexed once per settings."""
    return Keywords(table, status_headers)


def _can_own(s: Settings, address: str) -> bool:
    """Who may be given a request: staff and team addresses, never the shared one."""
    if s.service.is_own(address):
        return False
    teams = {t.address.lower() for t in s.teams if t.address}
    return s.staff.lists(address) or address.lower() in teams


def _requester_keys(msg: ParsedMessage) -> set[str]:
    to = receipt_address(msg)
    return {a.key for a in msg.from_} | ({to.key} if to else set())


def _team_saw(thread: ThreadInfo, msg: ParsedMessage) -> bool:
    """The owner (or team) was in To/Cc: it has the mail already."""
    target = thread.owner or thread.team_address
    return target is not None and target.lower() in {a.key for a in msg.recipients}
