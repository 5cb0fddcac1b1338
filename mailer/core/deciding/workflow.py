"""The life of a request: the one table of allowed moves, and what a staff mail changes.

Pure: takes the request's state and the parsed commands, returns the new state, the events
to store and the lines of feedback for the staff member. A move the table refuses changes
nothing and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailer.core.deciding.commands import Command
from mailer.model import Event, Status

NEW, ACK, WORKING, WAITING, RESOLVED, CLOSED = (
    Status.NEW,
    Status.ACKNOWLEDGED,
    Status.IN_PROGRESS,
    Status.WAITING,
    Status.RESOLVED,
    Status.CLOSED,
)

# (from, to): every move a request may make. Reopening is RESOLVED/CLOSED -> IN_PROGRESS.
ALLOWED: frozenset[tuple[Status, Status]] = frozenset({
    (NEW, ACK), (NEW, WORKING), (NEW, WAITING), (NEW, RESOLVED), (NEW, CLOSED),
    (ACK, WORKING), (ACK, WAITING), (ACK, RESOLVED), (ACK, CLOSED),
    (WORKING, WAITING), (WORKING, RESOLVED), (WORKING, CLOSED),
    (WAITING, WORKING), (WAITING, RESOLVED), (WAITING, CLOSED),
    (RESOLVED, WORKING), (RESOLVED, CLOSED),
    (CLOSED, WORKING),
})  # fmt: skip

# The status each status action leads to.
TARGET = {
    "in_progress": WORKING,
    "waiting": WAITING,
    "resolved": RESOLVED,
    "closed": CLOSED,
    "close": CLOSED,
    "reopen": WORKING,
}
OPEN = frozenset({NEW, ACK, WORKING, WAITING})


def allowed(current: Status, target: Status) -> bool:
    return (current, target) in ALLOWED


def is_reopening(current: Status, target: Status) -> bool:
    return current in (RESOLVED, CLOSED) and target in OPEN


@dataclass(frozen=True)
class StaffResult:
    """What one staff mail did to a request."""

    status: Status
    owner: str | None
    events: tuple[Event, ...]
    done: tuple[str, ...]  # feedback lines: what was done
    refused: tuple[str, ...]  # feedback lines: what was not, and why
    internal: bool
    status_asked: bool  # "#status": the staff member wants the current state back

    @property
    def status_changed(self) -> bool:
        return any(e.kind == "status" for e in self.events)

    @property
    def owner_changed(self) -> bool:
        return any(e.kind == "owner" for e in self.events)


def apply_staff(
    status: Status,
    owner: str | None,
    commands: tuple[Command, ...],
    actor: str,
    can_own: Callable[[str], bool] = lambda address: True,
) -> StaffResult:
    """Run the commands in order: owner changes, then each status move the table allows.

    ``can_own``: who may be given a request (staff, team addresses; never the shared one).
    """
    events: list[Event] = []
    done: list[str] = []
    refused: list[str] = []
    internal = any(c.action == "internal" for c in commands)
    asked = any(c.action == "status" for c in commands)
    for command in commands:
        if command.action in ("take", "assign"):
            new_owner = actor if command.action == "take" else (command.argument or "")
            if not can_own(new_owner):
                refused.append(f"{command.word} {new_owner}: refused, not on the staff list")
                continue
            if new_owner == owner:
                done.append(f"{command.word}: {new_owner} already owns it")
                continue
            events.append(Event("owner", actor, command.word, owner=new_owner))
            done.append(f"{command.word}: owner is now {new_owner}")
            owner = new_owner
    for command in commands:
        target = TARGET.get(command.action)
        if target is None:
            continue
        if command.action == "reopen" and status in OPEN:
            refused.append(f"{command.word}: refused, the request is open ({status.value})")
        elif target == status:
            done.append(f"{command.word}: already {status.value}, nothing to change")
        elif not allowed(status, target):
            refused.append(f"{command.word}: refused, {_why(status, target)}")
        else:
            events.append(Event("status", actor, command.word, status, target))
            done.append(f"{command.word}: {status.value} -> {target.value}")
            status = target
    if internal:
        done.append("note kept internal: the requester was not sent it")
    return StaffResult(status, owner, tuple(events), tuple(done), tuple(refused), internal, asked)


def _why(current: Status, target: Status) -> str:
    if current in (RESOLVED, CLOSED):
        return f"the request is {current.value}; reopen it first (#reopen)"
    return f"a request cannot go from {current.value} to {target.value}"
