"""The decision table: who gets a receipt, who is only recorded, and why."""

from __future__ import annotations

import pytest

from mailer.core.deciding import conversation
from mailer.core.deciding.commands import Keywords, parse_commands
from mailer.core.deciding.decide import Facts, decide, receipt_address
from mailer.model import SENDER_CAP, Address, Classification, ReasonCode, Robot, Status
from mailer.settings import LimitsSettings, WorkflowSettings
from tests.factories import message, thread

LIMITS = LimitsSettings()
DEFAULT = Classification(rule="default")
NOW = 1_800_000_000.0


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "robot": None,
        "thread": None,
        "backlog": False,
        "duplicate": False,
        "receipts_to_sender": 0,
        "automatic_in_thread": 0,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def test_a_new_human_request_opens_a_thread_with_a_receipt_to_the_sender() -> None:
    d = decide(message(), DEFAULT, facts(), LIMITS)
    assert (d.action, d.reason) == ("open", "receipt")
    assert d.receipt_to == Address("Maria Rossi", "maria.rossi@example.org")


def test_a_robot_is_recorded_with_its_reason_and_never_answered() -> None:
    d = decide(message(), DEFAULT, facts(robot="out-of-office"), LIMITS)
    assert (d.action, d.reason, d.receipt_to) == ("record", "suppressed: out-of-office", None)
    assert d.automatic


def test_backlog_mail_is_skipped() -> None:
    d = decide(message(), DEFAULT, facts(backlog=True), LIMITS)
    assert (d.action, d.reason) == ("record", "skipped: backlog")


def test_a_duplicate_is_recorded_once_and_nothing_else() -> None:
    d = decide(message(), DEFAULT, facts(duplicate=True, thread=thread()), LIMITS)
    assert d.action == "record" and d.receipt_to is None


def test_a_follow_up_joins_its_thread_without_a_new_receipt() -> None:
    d = decide(message(), DEFAULT, facts(thread=thread()), LIMITS)
    assert (d.action, d.receipt_to) == ("follow-up", None)


def test_the_third_automatic_message_in_a_row_blocks_the_thread_and_alerts() -> None:
    ok = decide(
        message(),
        DEFAULT,
        facts(thread=thread(), robot="out-of-office", automatic_in_thread=1),
        LIMITS,
    )
    assert not ok.block_thread
    d = decide(
        message(),
        DEFAULT,
        facts(thread=thread(), robot="out-of-office", automatic_in_thread=2),
        LIMITS,
    )
    assert d.block_thread and d.alert


def test_the_sender_cap_opens_the_request_but_sends_no_receipt() -> None:
    d = decide(message(), DEFAULT, facts(receipts_to_sender=20), LIMITS)
    assert (d.action, d.reason, d.receipt_to) == ("open", "suppressed: sender cap", None)
    assert d.alert


def test_a_rule_can_turn_the_receipt_off() -> None:
    d = decide(message(), Classification(rule="quiet", receipt=False), facts(), LIMITS)
    assert (d.action, d.receipt_to) == ("open", None)


def test_a_null_return_path_gets_nothing() -> None:
    d = decide(message(return_path=""), DEFAULT, facts(), LIMITS)
    assert d.receipt_to is None


@pytest.mark.parametrize(
    ("from_", "return_path", "expected"),
    [
        ((Address("A", "a@x.com"),), "a@x.com", "a@x.com"),
        ((Address("A", "a@x.com"),), None, "a@x.com"),  # copied in by a client
        ((Address("A", "a@x.com"),), "bounces+123@mail.x.com", "a@x.com"),  # same organisation
        ((Address("A", "a@x.com"),), "list-bounces@lists.y.org", "a@x.com"),
        ((), "a@x.com", "a@x.com"),
        ((Address("A", "a@x.com"), Address("B", "b@x.com")), "a@x.com", "a@x.com"),
        ((Address("A", "a@x.com"), Address("B", "b@x.com")), None, None),
        ((Address("A", "a@x.com"),), "", None),
    ],
)
def test_receipt_goes_to_exactly_one_address(
    from_: tuple[Address, ...], return_path: str | None, expected: str | None
) -> None:
    to = receipt_address(message(from_=from_, return_path=return_path))
    assert (to.addr if to else None) == expected


def test_reply_to_is_never_used() -> None:
    msg = message(reply_to=(Address("", "other@y.com"),))
    to = receipt_address(msg)
    assert to is not None and to.addr == "maria.rossi@example.org"


@pytest.mark.parametrize(
    ("msg", "classification", "given", "code", "detail", "text"),
    [
        ({}, DEFAULT, {}, ReasonCode.RECEIPT, "", "receipt"),
        (
            {},
            DEFAULT,
            {"duplicate": True},
            ReasonCode.DUPLICATE,
            "already processed",
            "duplicate: already processed",
        ),
        ({}, DEFAULT, {"robot": Robot.LIST}, ReasonCode.SUPPRESSED, Robot.LIST, "suppressed: list"),
        ({}, DEFAULT, {"backlog": True}, ReasonCode.SKIPPED, "backlog", "skipped: backlog"),
        (
            {"return_path": ""},
            DEFAULT,
            {},
            ReasonCode.SUPPRESSED,
            Robot.NO_VALID_SENDER,
            "suppressed: no valid sender",
        ),
        (
            {},
            Classification(rule="quiet", receipt=False),
            {},
            ReasonCode.NO_RECEIPT,
            "rule quiet",
            "no receipt: rule quiet",
        ),
        (
            {},
            DEFAULT,
            {"receipts_to_sender": 20},
            ReasonCode.SUPPRESSED,
            SENDER_CAP,
            "suppressed: sender cap",
        ),
        ({}, DEFAULT, {"thread": thread()}, ReasonCode.FOLLOW_UP, "", "follow-up"),
        (
            {},
            DEFAULT,
            {"thread": thread(), "robot": Robot.AUTO_SUBMITTED},
            ReasonCode.FOLLOW_UP,
            Robot.AUTO_SUBMITTED,
            "follow-up: auto-submitted",
        ),
        ({}, DEFAULT, {"bounced_thread": thread()}, ReasonCode.BOUNCE, "", "bounce of our mail"),
    ],
)
def test_every_row_gives_a_fixed_code_a_detail_and_the_text_people_read(
    msg: dict[str, object],
    classification: Classification,
    given: dict[str, object],
    code: ReasonCode,
    detail: str,
    text: str,
) -> None:
    d = decide(message(**msg), classification, facts(**given), LIMITS)
    assert (d.why.code, d.why.detail) == (code, detail)
    assert d.reason == d.why.text == text


def test_conversation_steps_carry_the_code_of_who_wrote() -> None:
    """staff, requester or follow-up: the code, not the first word of the text, says which."""
    keywords = Keywords(WorkflowSettings().keywords, WorkflowSettings().status_headers)
    nothing = parse_commands("", keywords)
    done = thread(status=Status.RESOLVED, resolved_at=NOW - 3600)
    steps = [
        conversation.missing_thread(parse_commands("#take", keywords)),
        conversation.staff_step(
            thread(),
            parse_commands("#take", keywords),
            "sam@x.test",
            requester_saw=False,
            files=False,
        ),
        conversation.requester_step(
            done, nothing, "Thanks, 5/5", "maria@x.test", NOW, reopen_days=7, team_saw=True
        ),
        conversation.requester_step(
            done, nothing, "It broke again.", "maria@x.test", NOW, reopen_days=7, team_saw=True
        ),
        conversation.requester_step(
            thread(), nothing, "One more detail.", "maria@x.test", NOW, reopen_days=7, team_saw=True
        ),
        conversation.other_step(nothing, listed=True, team_saw=True),
    ]
    assert [(s.why.code, s.reason) for s in steps] == [
        (ReasonCode.STAFF, "staff: no request found"),
        (ReasonCode.STAFF, "staff: #take"),
        (ReasonCode.REQUESTER, "rating"),
        (ReasonCode.REQUESTER, "reopened"),
        (ReasonCode.FOLLOW_UP, "follow-up"),
        (ReasonCode.FOLLOW_UP, "follow-up: staff address not authenticated"),
    ]
