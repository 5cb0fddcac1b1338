"""The table of allowed moves and what a staff mail's commands change."""

from __future__ import annotations

import pytest

from mailer.core.deciding.commands import Command
from mailer.core.deciding.workflow import ALLOWED, allowed, apply_staff
from mailer.model import Status

S = Status
STAFF = "mario@example.org"


@pytest.mark.parametrize("current", list(Status))
def test_every_state_can_be_closed_except_closed_itself(current: Status) -> None:
    assert allowed(current, S.CLOSED) == (current != S.CLOSED)


def test_resolved_and_closed_only_reopen_to_in_progress() -> None:
    for done in (S.RESOLVED, S.CLOSED):
        targets = {to for frm, to in ALLOWED if frm == done}
        assert S.IN_PROGRESS in targets
        assert not targets & {S.NEW, S.ACKNOWLEDGED, S.WAITING}


def test_nothing_goes_back_to_new() -> None:
    assert all(to != S.NEW for _, to in ALLOWED)


def test_take_and_in_progress_change_owner_and_status() -> None:
    result = apply_staff(
        S.ACKNOWLEDGED,
        None,
        (Command("take", "#take"), Command("in_progress", "#in-progress")),
        STAFF,
    )
    assert result.status == S.IN_PROGRESS and result.owner == STAFF
    assert [e.kind for e in result.events] == ["owner", "status"]
    assert result.status_changed and result.owner_changed and not result.refused


def test_assign_sets_the_given_owner() -> None:
    result = apply_staff(S.NEW, None, (Command("assign", "#assign", "luca@example.org"),), STAFF)
    assert result.owner == "luca@example.org"


def test_a_refused_move_changes_nothing_and_says_why() -> None:
    result = apply_staff(S.RESOLVED, "x@example.org", (Command("waiting", "#waiting"),), STAFF)
    assert result.status == S.RESOLVED and result.events == ()
    assert "reopen it first" in result.refused[0]


def test_reopen_of_an_open_request_is_refused() -> None:
    result = apply_staff(S.IN_PROGRESS, None, (Command("reopen", "#riapri"),), STAFF)
    assert result.status == S.IN_PROGRESS and result.refused


def test_reopen_of_resolved_goes_to_in_progress() -> None:
    result = apply_staff(S.RESOLVED, None, (Command("reopen", "#reopen"),), STAFF)
    assert result.status == S.IN_PROGRESS and result.status_changed


def test_same_status_again_is_not_a_change() -> None:
    result = apply_staff(S.WAITING, None, (Command("waiting", "#waiting"),), STAFF)
    assert not result.status_changed and not result.refused
    assert "already waiting" in result.done[0]


def test_internal_is_reported_and_changes_no_state() -> None:
    result = apply_staff(S.IN_PROGRESS, None, (Command("internal", "#internal"),), STAFF)
    assert result.internal and result.events == ()


def test_commands_apply_in_order_and_the_last_status_wins() -> None:
    commands = (Command("in_progress", "#in-corso"), Command("resolved", "#risolto"))
    result = apply_staff(S.ACKNOWLEDGED, None, commands, STAFF)
    assert result.status == S.RESOLVED
    assert [(e.from_status, e.to_status) for e in result.events] == [
        (S.ACKNOWLEDGED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.RESOLVED),
    ]
