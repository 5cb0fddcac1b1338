"""Which reminders, escalations and digests are due: working hours only, once per key."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.core.timing.digests import digests_due
from mailer.core.timing.notices import notices_due
from mailer.core.timing.promises import calendar_for, calendar_named, promise_for
from mailer.model import Status, ThreadInfo
from mailer.settings import PromiseSettings, Settings, Team
from tests.unit.test_promises import promising

ROME = ZoneInfo("Europe/Rome")


def at(*args: int) -> float:
    return datetime(*args, tzinfo=ROME).timestamp()  # type: ignore[misc]


def settings(tmp_path: Path, **promises: object) -> Settings:
    team = Team("it", "IT", "it-team@example.test", escalate_to=("lead@example.test",))
    base = promising(tmp_path, teams=(team,))
    return dataclasses.replace(base, promises=PromiseSettings(**promises))  # type: ignore[arg-type]


def request(s: Settings, arrival: float, **changes: object) -> ThreadInfo:
    fields: dict[str, object] = {
        "id": 1, "reference": "REQ-1000", "requester": "alice@example.test",
        "requester_name": "Alice", "subject": "VPN", "category": "network", "team": "it",
        "status": Status.ACKNOWLEDGED, "language": "en", "rule": "vpn",
        "root_message_id": "<r@x>", "created_at": arrival, "team_address": "it-team@example.test",
        "promise": promise_for(s, None, "it", arrival),
    }  # fmt: skip
    return ThreadInfo(**{**fields, **changes})  # type: ignore[arg-type]


def due(s: Settings, thread: ThreadInfo, now: float) -> list[tuple[str, str, str]]:
    found = notices_due([thread], s, lambda t: calendar_named(s, t.promise.calendar), now)
    return [(n.kind, n.target, n.recipient) for n in found]


def test_the_team_is_reminded_within_remind_before_and_the_lead_told_at_the_breach(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, tell_requester_when_late=True)
    thread = request(s, at(2026, 12, 4, 16, 0))  # first response due Wed 9 Dec 11:00
    assert due(s, thread, at(2026, 12, 9, 9, 59)) == []
    assert due(s, thread, at(2026, 12, 9, 10, 0)) == [
        ("reminder", "first_response", "it-team@example.test")
    ]
    assert due(s, thread, at(2026, 12, 9, 11, 0)) == [
        ("escalation", "first_response", "lead@example.test"),
        ("late", "first_response", "alice@example.test"),
    ]


def test_nothing_is_sent_outside_working_hours_and_night_reminders_wait_for_the_morning(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, remind_before="2h")
    thread = request(s, at(2026, 12, 9, 15, 30))  # due Thursday 10 Dec 10:30
    assert due(s, thread, at(2026, 12, 9, 23, 0)) == []  # at night: nothing
    assert due(s, thread, at(2026, 12, 10, 8, 30)) == [
        ("reminder", "first_response", "it-team@example.test")
    ]
    assert due(s, thread, at(2026, 12, 13, 12, 0)) == []  # a Sunday, although overdue


def test_the_owner_is_reminded_and_answered_or_paused_clocks_are_not(tmp_path: Path) -> None:
    s = settings(tmp_path)
    thread = request(s, at(2026, 12, 4, 16, 0), owner="sam@example.test")
    assert due(s, thread, at(2026, 12, 9, 10, 30)) == [
        ("reminder", "first_response", "sam@example.test")
    ]
    answered = dataclasses.replace(thread, first_response_at=at(2026, 12, 9, 9, 0))
    assert due(s, answered, at(2026, 12, 9, 10, 30)) == []
    paused = dataclasses.replace(
        answered, promise=dataclasses.replace(answered.promise, paused_at=at(2026, 12, 9, 9))
    )
    assert due(s, paused, at(2026, 12, 10, 16, 0)) == []


def test_the_digest_comes_on_working_days_at_its_time_and_never_empty(tmp_path: Path) -> None:
    s = settings(tmp_path, digest_at=time(8, 45))
    thread = request(s, at(2026, 12, 4, 16, 0))

    def digests(threads: list[ThreadInfo], now: float) -> list[tuple[str, str, int, int]]:
        found = digests_due(threads, s, lambda team: calendar_for(s, team), now)
        return [(d.recipient, d.day, len(d.unowned), len(d.overdue)) for d in found]

    assert digests([thread], at(2026, 12, 9, 8, 44)) == []  # not yet
    assert digests([thread], at(2026, 12, 9, 8, 45)) == [
        ("it-team@example.test", "2026-12-09", 1, 0)
    ]
    assert digests([thread], at(2026, 12, 7, 9, 0)) == []  # Sant'Ambrogio in Milan
    assert digests([thread], at(2026, 12, 12, 9, 0)) == []  # a Saturday
    assert digests([], at(2026, 12, 10, 9, 0)) == []  # nothing to say
    done = dataclasses.replace(thread, status=Status.RESOLVED)
    assert digests([done], at(2026, 12, 10, 9, 0)) == []
