"""Promises kept: due times in the receipt, in the store, and the clocks after each step."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.config import templates
from mailer.config.calendars import weekly_hours
from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.clocks import ClockChange, after_step
from mailer.core.timing.promises import calendar_named, promise_for, targets_for
from mailer.daemon.pipeline import Pipeline
from mailer.model import Promise, Status
from mailer.settings import CalendarSettings, Rule, Settings, Targets, Team
from mailer.store import MailboxState, Store, open_store
from tests.factories import settings as make_settings
from tests.unit.test_pipeline import fetched, raw

ROME = ZoneInfo("Europe/Rome")
FRIDAY_16 = datetime(2026, 12, 4, 16, 0, tzinfo=ROME).timestamp()
OFFICE = CalendarSettings(
    "office",
    "Europe/Rome",
    weekly_hours(["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]),
    "IT-MI",
)


def promising(tmp_path: Path, **changes: object) -> Settings:
    base = make_settings(tmp_path)
    fields = {
        "calendars": (OFFICE,),
        "default_calendar": "office",
        "targets": Targets("4h", "2d"),
        **changes,
    }
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture(name="store")
def _store(store_where: Path | str) -> Store:
    store = open_store(store_where)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, FRIDAY_16))
    return store


def receipt_text(store: Store) -> str:
    [row] = [r for r in store.due(FRIDAY_16 + 86400 * 30) if r.kind == "receipt"]
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("it", "Riceverai una risposta entro mercoledì 9 dicembre, 11:00 (cioè entro 4 ore"),
        ("en", "You will hear from us by Wednesday 9 December, 11:00 (within 4 working hours)"),
    ],
)
def test_a_friday_afternoon_request_is_promised_wednesday_in_its_language(
    tmp_path: Path, store: Store, language: str, says: str
) -> None:
    settings = promising(tmp_path)
    rule = Rule("all", language=language)
    settings = dataclasses.replace(settings, rules=(rule,))
    pipeline = Pipeline(settings, store, templates.make_environment(settings))
    run(pipeline, store, FRIDAY_16)
    text = " ".join(receipt_text(store).split())
    assert says in text
    thread = store.thread_by_reference("REQ-1000")
    assert thread is not None
    first = datetime.fromtimestamp(thread.promise.first_response_due or 0, ROME)
    assert first.isoformat() == "2026-12-09T11:00:00+01:00"
    resolution = datetime.fromtimestamp(thread.promise.resolution_due or 0, ROME)
    assert resolution.isoformat() == "2026-12-10T16:00:00+01:00"


def test_a_request_outside_working_hours_says_when_the_team_is_back(
    tmp_path: Path, store: Store
) -> None:
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=ROME).timestamp()
    settings = promising(tmp_path)
    pipeline = Pipeline(settings, store, templates.make_environment(settings))
    run(pipeline, store, saturday)
    text = " ".join(receipt_text(store).split())
    assert "outside our working hours: we are back Wednesday 9 December, 08:30" in text


def test_without_targets_the_receipt_keeps_the_admins_sentence(
    tmp_path: Path, store: Store
) -> None:
    settings = dataclasses.replace(make_settings(tmp_path), default_expectation="Soon.")
    pipeline = Pipeline(settings, store, templates.make_environment(settings))
    run(pipeline, store, FRIDAY_16)
    text = receipt_text(store)
    assert "Soon." in text and "hear from us by" not in text


def test_the_most_specific_target_wins_key_by_key(tmp_path: Path) -> None:
    team = Team("it", "IT", calendar="office", targets=Targets(None, "1d"))
    settings = promising(
        tmp_path, teams=(team,), priority_targets=(("urgent", Targets("30m", None)),)
    )
    assert targets_for(settings, None, None) == Targets("4h", "2d")
    assert targets_for(settings, None, "it") == Targets("4h", "1d")
    urgent = Rule("outage", priority="urgent", team="it")
    assert targets_for(settings, urgent, "it") == Targets("30m", "1d")
    own = Rule("vpn", priority="urgent", targets=Targets("2h", None))
    assert targets_for(settings, own, "it") == Targets("2h", "1d")


def clock(settings: Settings) -> tuple[Promise, WorkingCalendar]:
    promise = promise_for(settings, None, None, FRIDAY_16)
    return promise, calendar_named(settings, promise.calendar)


def step(
    promise: Promise, calendar: WorkingCalendar, before: Status, after: Status, now: float,
    *, first_response: bool = False,
) -> ClockChange:  # fmt: skip
    return after_step(
        promise, calendar, before=before, after=after, first_response=first_response, now=now
    )


def run(pipeline: Pipeline, store: Store, arrival: float) -> None:
    state = store.mailbox_state("INBOX")
    assert state is not None
    pipeline.process_batch([fetched(1, raw(1), arrival)], state, arrival)


def at(*args: int) -> float:
    return datetime(*args, tzinfo=ROME).timestamp()  # type: ignore[misc]


def test_waiting_then_the_requesters_reply_moves_the_due_time_by_the_working_time_paused(
    tmp_path: Path,
) -> None:
    promise, calendar = clock(promising(tmp_path))
    assert promise.resolution_due == at(2026, 12, 10, 16, 0)
    paused = step(promise, calendar, Status.IN_PROGRESS, Status.WAITING, at(2026, 12, 9, 10, 0))
    assert paused.promise.paused_at == at(2026, 12, 9, 10, 0)
    assert [e.keyword for e in paused.events] == ["paused"]
    # waiting from Wednesday 10:00 to 15:00: 4 working hours (lunch does not count)
    resumed = step(
        paused.promise, calendar, Status.WAITING, Status.IN_PROGRESS, at(2026, 12, 9, 15, 0)
    )
    assert resumed.promise.paused_at is None
    assert resumed.promise.resolution_due == at(2026, 12, 11, 11, 0)
    [event] = resumed.events
    assert event.keyword == "resumed" and "paused 240 working minutes" in (event.note or "")
    assert "2026-12-11T10:00:00+00:00" in (event.note or "")


def test_first_response_and_resolution_are_met_or_missed(tmp_path: Path) -> None:
    promise, calendar = clock(promising(tmp_path))
    answered = step(
        promise, calendar, Status.ACKNOWLEDGED, Status.IN_PROGRESS, at(2026, 12, 9, 10, 59),
        first_response=True,
    )  # fmt: skip
    assert [(e.keyword, e.note) for e in answered.events] == [
        ("met", "first_response due 2026-12-09T10:00:00+00:00")
    ]
    late = step(promise, calendar, Status.IN_PROGRESS, Status.RESOLVED, at(2026, 12, 10, 16, 1))
    assert [e.keyword for e in late.events] == ["missed"]


def test_reopening_starts_a_new_resolution_cycle(tmp_path: Path) -> None:
    promise, calendar = clock(promising(tmp_path))
    reopened = step(promise, calendar, Status.RESOLVED, Status.IN_PROGRESS, at(2026, 12, 14, 9))
    assert reopened.promise.resolution_due == at(2026, 12, 16, 9, 0)
    assert [e.keyword for e in reopened.events] == ["new_cycle"]


CONFIG = """
[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
calendar = "office"
[imap]
host = "127.0.0.1"
username = "helpdesk"
password = "secret"
[smtp]
host = "127.0.0.1"
[store]
path = "mailer.sqlite3"
[calendars.office]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
holidays = "IT-MI"
[targets]
first_response = "4h"
resolution = "2d"
"""


def test_thread_and_threads_show_due_times_and_what_is_overdue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.cli import views
    from mailer.cli.main import build_parser
    from mailer.config.load import load_settings

    (tmp_path / "mailer.toml").write_text(CONFIG)
    settings = load_settings(tmp_path / "mailer.toml")
    store = open_store(settings.store)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, FRIDAY_16))
    run(Pipeline(settings, store, templates.make_environment(settings)), store, FRIDAY_16)
    capsys.readouterr()  # the pipeline's log lines

    def show(*words: str, now: float) -> str:
        args = build_parser().parse_args(list(words))
        assert views.show(store, settings, args, now=now) == 0
        return capsys.readouterr().out

    story = json.loads(show("thread", "REQ-1000", "--json", now=at(2026, 12, 9, 9, 0)))
    assert story["promise"]["first_response"] == {
        "target": "4h", "due": "2026-12-09T11:00:00+01:00", "state": "running",
    }  # fmt: skip
    assert story["promise"]["resolution"]["due"] == "2026-12-10T16:00:00+01:00"
    assert show("threads", "--overdue", now=at(2026, 12, 9, 9, 0)).strip() == "(none)"
    late = show("threads", "--overdue", "--json", now=at(2026, 12, 9, 11, 1))
    assert [(r["reference"], r["due"]) for r in json.loads(late)] == [
        ("REQ-1000", "2026-12-09T10:00:00+00:00")
    ]
    assert "REQ-1000" in show("threads", "--due-before", "2026-12-10", now=FRIDAY_16)
    assert "REQ-1000" not in show(
        "threads", "--due-before", "2026-12-09T10:00+01:00", now=FRIDAY_16
    )
    text = show("thread", "REQ-1000", now=at(2026, 12, 9, 11, 1))
    assert "first response: 4h, due 2026-12-09T11:00:00+01:00 (overdue)" in text


def test_rules_test_prints_the_due_times_as_if_the_message_arrived_now(tmp_path: Path) -> None:
    from mailer.admin.explain.command import as_json, as_text
    from mailer.admin.explain.trace import explain_message
    from mailer.admin.rules.listing import table
    from mailer.config.load import load_settings
    from mailer.core.reading.parse import parse_message

    (tmp_path / "mailer.toml").write_text(CONFIG + '[[rules]]\nname = "all"\nlanguage = "it"\n')
    settings = load_settings(tmp_path / "mailer.toml")
    env = templates.make_environment(settings)
    explained = explain_message(
        settings, env, parse_message(raw(1), max_size=1 << 20), None, FRIDAY_16, ("en", "it")
    )
    text = as_text(explained)
    assert "first response due: 2026-12-09T11:00:00+01:00" in text
    assert "resolution due: 2026-12-10T16:00:00+01:00" in text
    assert "entro mercoledì 9 dicembre, 11:00" in " ".join(text.split())
    assert as_json(explained)["due"] == {
        "first_response": "2026-12-09T11:00:00+01:00",
        "resolution": "2026-12-10T16:00:00+01:00",
    }
    header, row = table(settings)[1:3]
    assert "TARGETS" in header and " 4h/2d " in row


def test_waiting_and_the_reply_move_the_due_time_in_the_daemon_and_the_timeline(
    tmp_path: Path,
) -> None:
    from mailer.admin.timeline import timeline
    from tests.unit.test_conversation import Desk, mail, staff

    desk = Desk(tmp_path)
    desk.settings = dataclasses.replace(
        desk.settings, calendars=(OFFICE,), default_calendar="office", targets=Targets("4h", "2d")
    )
    desk.pipeline = Pipeline(desk.settings, desk.store, templates.make_environment(desk.settings))
    with desk.store.transaction():
        desk.store.set_mailbox_state("INBOX", MailboxState(7, 0, FRIDAY_16))
    desk.deliver(mail(1, "My VPN does not connect."), at=FRIDAY_16)
    notification, receipt = (m for _, _, m in desk.new_mail())
    desk.deliver(staff(2, "#waiting\nWhich VPN client do you use?", notification),
                 at=at(2026, 12, 9, 10, 0))  # fmt: skip
    reply = mail(3, "Cisco AnyConnect 4.10", reply_to=receipt["Message-ID"])
    desk.deliver(reply, at=at(2026, 12, 9, 15, 0))
    thread = desk.store.thread_by_reference("REQ-1000")
    assert thread is not None and thread.status == Status.IN_PROGRESS
    # due Thursday 16:00, paused Wednesday 10:00-15:00 = 4 working hours: now Friday 11:00
    assert thread.promise.resolution_due == at(2026, 12, 11, 11, 0)
    story = timeline(desk.store, "REQ-1000", settings=desk.settings, now=at(2026, 12, 9, 16, 0))
    assert story is not None
    promise_events = [(e["keyword"], e.get("note")) for e in story["events"] if e["kind"] == "sla"]
    assert [k for k, _ in promise_events] == ["met", "paused", "resumed"]
    assert "paused 240 working minutes; resolution due 2026-12-11T10:00:00+00:00" in str(
        promise_events[2][1]
    )
    assert story["promise"]["resolution"] == {
        "target": "2d", "due": "2026-12-11T11:00:00+01:00", "state": "running",
    }  # fmt: skip


def test_mailer_check_shows_each_rules_effective_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailer.cli.main import main

    config = tmp_path / "mailer.toml"
    config.write_text(CONFIG + '[[rules]]\nname = "vpn"\nfirst_response = "2h"\n'
                      '  [rules.match]\n  subject = ["vpn"]\n')  # fmt: skip
    assert main(["--config", str(config), "check"]) == 0
    out = capsys.readouterr().out
    assert "  vpn: 2h/2d (office calendar)" in out
    assert "  default: 4h/2d (office calendar)" in out
