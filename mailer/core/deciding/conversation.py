"""What a person's mail in an existing request does: commands -> workflow -> mails to send.

Pure: the pipeline passes the request, the parsed commands and who wrote; these functions
return a ``Step`` (the new state, the events to store, the mails to send) and never touch
the store or the clock (``now`` is passed in). Three writers: staff (authenticated, on the
staff list), the requester, and anybody else, whose mail is only passed on to the team.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.core.deciding.commands import Commands
from mailer.core.deciding.rating import read_rating
from mailer.core.deciding.workflow import OPEN, apply_staff, is_reopening
from mailer.model import Event, Reason, ReasonCode, Status, ThreadInfo

DAY = 86400.0
STAFF, REQUESTER, FOLLOW_UP = ReasonCode.STAFF, ReasonCode.REQUESTER, ReasonCode.FOLLOW_UP
NOT_A_REPLY = "not a reply to our mail"  # why a requester's command did not count
MAX_NOTE = 20_000  # characters of a note relayed and stored; the mail itself stays in IMAP


def _cap(text: str) -> str:
    if len(text) <= MAX_NOTE:
        return text
    return text[:MAX_NOTE].rsplit(" ", 1)[0] + " […]"


@dataclass(frozen=True)
class Mail:
    """A mail to send, as the core decided it; the pipeline renders and queues it."""

    kind: str  # outbox kind: progress, answer, feedback, forward, rating, status
    to: str  # "requester", "sender" (the staff member who wrote) or "team" (owner, else team)
    template: str
    values: dict[str, object] = field(default_factory=dict)  # template values of this kind
    attach: bool = False  # pass on the files of the inbound mail


@dataclass(frozen=True)
class Step:
    why: Reason  # its code (the log, the metrics) and text: "staff: #take #in-progress"
    status: Status | None = None  # the new status, None when unchanged
    owner: str | None = None  # the new owner, None when unchanged
    owner_name: str = ""  # the new owner's display name, when known
    events: tuple[Event, ...] = ()
    mails: tuple[Mail, ...] = ()
    rating: str | None = None
    rating_thanked: bool = False
    first_response: bool = False
    open_new: bool = False  # a reply too late to reopen: a new request that refers to this one

    @property
    def reason(self) -> str:
        """What the store and the log say: "staff: #take #in-progress", "reopened"."""
        return self.why.text


def staff_step(
    thread: ThreadInfo,
    commands: Commands,
    actor: str,
    *,
    actor_name: str = "",
    requester_saw: bool,
    files: bool,
    can_own: Callable[[str], bool] = lambda address: True,
) -> Step:
    """A staff member's mail: commands, else a public answer to pass on to the requester.

    ``requester_saw``: the requester was in To/Cc, so they already have the text.
    """
    if commands.unknown or commands.problems:
        return Step(
            Reason(STAFF, "unknown keyword"), mails=(_feedback(commands, nothing_changed=True),)
        )
    if not commands.commands:
        return _answer(thread, _cap(commands.note), actor, requester_saw=requester_saw, files=files)
    result = apply_staff(thread.status, thread.owner, commands.commands, actor, can_own)
    note = _cap(commands.note)
    held = bool(note) and bool(result.refused) and not result.internal
    private = result.internal or held  # a refused move keeps its note back: resend it
    events = list(result.events)
    last_move = max((i for i, e in enumerate(events) if e.kind == "status"), default=None)
    if note and last_move is not None:  # the transition is stored with its note
        events[last_move] = dataclasses.replace(events[last_move], note=note, internal=private)
    elif note:
        events.append(Event("note", actor, note=note, internal=private))
    public_note = "" if private or requester_saw else note
    told = result.status_changed or result.owner_changed or bool(public_note)
    mails: list[Mail] = []
    if told:
        values: dict[str, object] = {
            "previous_status": thread.status.value,
            "status_changed": result.status_changed,
            "owner_changed": result.owner_changed,
            "note": public_note,
            "reopened_by_requester": False,
        }
        template = _progress_template(thread.status, result.status, result.status_changed)
        attach = bool(public_note) and files
        mails.append(Mail("progress", "requester", template, values, attach=attach))
    if result.refused or result.status_asked:
        done = (
            *result.done,
            *(("note: kept back from the requester; send it again",) if held else ()),
        )
        mails.append(_feedback(commands, done=done, refused=result.refused, told=told))
    words = " ".join(c.word for c in commands.commands)
    owner = result.owner if result.owner_changed else None
    return Step(
        Reason(STAFF, words),
        status=result.status if result.status_changed else None,
        owner=owner,
        owner_name=actor_name if owner == actor else "",
        events=tuple(events),
        mails=tuple(mails),
        first_response=told or (bool(note) and requester_saw and not private),
    )


def missing_thread(commands: Commands) -> Step:
    """Keywords in a staff mail that belongs to no request: say so, change nothing."""
    mail = _feedback(commands, nothing_changed=True, missing_thread=True)
    return Step(Reason(STAFF, "no request found"), mails=(mail,))


def requester_step(
    thread: ThreadInfo,
    commands: Commands,
    visible: str,
    actor: str,
    now: float,
    *,
    reopen_days: int,
    team_saw: bool,
    files: bool = False,
    unproven: str = "",
    confirmations: int = 0,
) -> Step:
    """The requester wrote again: #status, #close, a rating, a reopening or a follow-up.

    ``unproven`` (why the mail cannot be the requester's own, see ``judge``): a close, a
    reopening or a rating changes nothing; the requester (the request's recorded address,
    whoever wrote) is told how to confirm, once a day at most (``confirmations``)."""
    if not visible.strip() and not files:  # only quoted history or a tagline: nothing said
        return Step(Reason(FOLLOW_UP, "nothing new"))
    if commands.has("status"):
        extra = (_forward("follow_up"),) if commands.note and not team_saw else ()
        return Step(
            Reason(REQUESTER, "#status"), mails=(Mail("status", "requester", "status"), *extra)
        )
    if commands.has("close") and thread.status == Status.CLOSED:
        return Step(
            Reason(REQUESTER, "#close (already closed)"),
            mails=(Mail("status", "requester", "status"),),
        )
    if commands.has("close") and unproven:
        return _unconfirmed(_word(commands), "close", unproven, confirmations)
    if commands.has("close"):
        note = _cap(commands.note) or None
        event = Event("status", actor, _word(commands), thread.status, Status.CLOSED, note=note)
        closing = Mail("progress", "requester", "progress_closed", _progress(thread, "", True))
        mails = (closing, *(() if team_saw else (_forward("closed_by_requester"),)))
        return Step(Reason(REQUESTER, "#close"), Status.CLOSED, events=(event,), mails=mails)
    if thread.status in (Status.RESOLVED, Status.CLOSED):
        step = _after_resolution(thread, visible, actor, now, reopen_days, team_saw)
        if unproven and (step.rating is not None or step.status is not None):
            asked = "rating" if step.rating is not None else "reopen"
            return _unconfirmed(asked, asked, unproven, confirmations, rating=step.rating)
        return step
    forward = () if team_saw else (_forward("follow_up"),)
    if thread.status == Status.WAITING:
        event = Event(
            "status", actor, "reply", Status.WAITING, Status.IN_PROGRESS, note=_cap(visible)
        )
        forward = () if team_saw else (_forward("waiting_answered"),)
        return Step(
            Reason(FOLLOW_UP, "answered"), Status.IN_PROGRESS, events=(event,), mails=forward
        )
    return Step(Reason(FOLLOW_UP), mails=forward)


def other_step(commands: Commands, *, listed: bool, team_saw: bool) -> Step:
    """Anybody else in the thread (or staff whose mail did not authenticate): pass it on.

    A staff address that failed authentication is flagged to the team even without keywords:
    its answer did not reach the requester, and the team should know why.
    """
    if listed:
        event, detail = "not_authenticated", "staff address not authenticated"
    elif commands.any:
        event, detail = "not_staff", "keywords ignored (not staff)"
    else:
        event, detail = "follow_up", ""
    return Step(Reason(FOLLOW_UP, detail), mails=() if team_saw else (_forward(event),))


def _after_resolution(
    thread: ThreadInfo, visible: str, actor: str, now: float, reopen_days: int, team_saw: bool
) -> Step:
    rating = read_rating(visible, _names(thread))
    if rating is not None:
        event = Event("rating", actor, note=visible[:1000])
        shown = f"{rating.value}/5" if rating.value is not None else rating.text
        value: dict[str, object] = {"rating": shown, "rating_value": rating.value}
        thanks = (
            () if thread.rating_thanked else (Mail("rating", "requester", "rating_thanks", value),)
        )
        return Step(
            Reason(REQUESTER, "rating", "rating"),
            events=(event,),
            mails=thanks,
            rating=rating.text,
            rating_thanked=True,
        )
    resolved_at = thread.resolved_at or thread.created_at
    if thread.status == Status.RESOLVED and now - resolved_at <= reopen_days * DAY:
        event = Event(
            "status", actor, "reply", Status.RESOLVED, Status.IN_PROGRESS, note=_cap(visible)
        )
        values = {**_progress(thread, "", True), "reopened_by_requester": True}
        told = Mail("progress", "requester", "progress_reopened", values)
        mails = (told, *(() if team_saw else (_forward("reopened"),)))
        return Step(
            Reason(REQUESTER, "reopened", "reopened"),
            Status.IN_PROGRESS,
            events=(event,),
            mails=mails,
        )
    return Step(Reason(REQUESTER, "late reply", "late reply: new request"), open_new=True)


def _unconfirmed(
    word: str, asked: str, why: str, confirmations: int, *, rating: str | None = None
) -> Step:
    """A close, reopening or rating that did not prove to be the requester's: nothing changes,
    nothing is passed on; the requester hears how to confirm (not again the same day)."""
    values = {"asked": asked, "rating": rating or "", "not_a_reply": why == NOT_A_REPLY}
    mails = () if confirmations else (Mail("confirm", "requester", "confirm", values),)
    return Step(Reason(REQUESTER, f"{word} not confirmed ({why})"), mails=mails)


def _names(thread: ThreadInfo) -> list[str]:
    """Words that name the people of a request: "thanks Sam" is still only thanks."""
    words = [*thread.requester_name.split(), *thread.owner_name.split()]
    for address in (thread.requester, thread.owner or ""):
        words += re.split(r"[._+\-]", address.partition("@")[0])
    return [w for w in words if len(w) >= 2]


def _answer(thread: ThreadInfo, note: str, actor: str, *, requester_saw: bool, files: bool) -> Step:
    if not note and not files:
        return Step(Reason(STAFF, "empty reply"))
    event = Event("note", actor, note=note or None)
    if requester_saw:
        return Step(
            Reason(STAFF, "answer (requester in copy)"), events=(event,), first_response=True
        )
    values = _progress(thread, note, False)
    mail = Mail("answer", "requester", "answer", values, attach=files)
    return Step(Reason(STAFF, "answer"), events=(event,), mails=(mail,), first_response=True)


def _progress(thread: ThreadInfo, note: str, changed: bool) -> dict[str, object]:
    return {
        "previous_status": thread.status.value,
        "status_changed": changed,
        "owner_changed": False,
        "note": note,
        "reopened_by_requester": False,
    }


def _progress_template(before: Status, after: Status, changed: bool) -> str:
    if not changed:
        return "progress_update"
    if is_reopening(before, after):
        return "progress_reopened"
    if after in OPEN and after not in (Status.IN_PROGRESS, Status.WAITING):
        return "progress_update"
    return f"progress_{after.value}"


def _forward(event: str) -> Mail:
    return Mail("forward", "team", "forward", {"event": event}, attach=True)


def _word(commands: Commands) -> str:
    return next((c.word for c in commands.commands if c.action == "close"), "#close")


def _feedback(
    commands: Commands,
    *,
    done: tuple[str, ...] = (),
    refused: tuple[str, ...] = (),
    told: bool = False,
    nothing_changed: bool = False,
    missing_thread: bool = False,
) -> Mail:
    values: dict[str, object] = {
        "done": list(done),
        "refused": list(refused),
        "unknown": [{"word": u.word, "suggestion": u.suggestion} for u in commands.unknown],
        "problems": list(commands.problems),
        "missing_thread": missing_thread,
        "nothing_changed": nothing_changed,
        "requester_told": told,
    }
    return Mail("feedback", "sender", "feedback", values)
