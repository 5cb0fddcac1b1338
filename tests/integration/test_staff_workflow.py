"""Staff keywords end to end: real Dovecot and Postfix, mailer run --once as a process.

Checked from the mailboxes people read: the requester's (alice), the team's (it-team) and
the staff member's (staff), plus ``mailer thread REF --json``.
"""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, parse, receipts, request, text_of
from tests.integration.helpers import write_config as base_config

STAFF = "staff@example.test"
TEAM = "it-team@example.test"
RULES = f"""
[teams.it]
name = "IT Support"
address = "{TEAM}"

[[rules]]
name = "vpn"
category = "network"
team = "it"
  [rules.match]
  subject = ["vpn"]
"""


def write_config(tmp_path: Path, sandbox: MailSandbox, staff: str = "") -> Path:
    section = staff or f'[staff]\naddresses = ["{STAFF}"]\ndomains = []\n'
    return base_config(tmp_path, sandbox, extra=section + RULES)


def run(config: Path) -> None:
    result = mailer(config, "run", "--once")
    assert result.returncode == 0, result.stderr


def reply(
    parent: EmailMessage,
    body: str,
    *,
    sender: str = STAFF,
    name: str = "Sam Staff",
    extra: str = "",
    n: list[int] = [0],  # noqa: B006 - a counter for unique Message-IDs
) -> bytes:
    n[0] += 1
    refs = f"{parent.get('References', '')} {parent['Message-ID']}".strip()
    return (
        f"From: {name} <{sender}>\r\nTo: {SHARED}\r\n"
        f"Subject: Re: {parent['Subject']}\r\n"
        f"Message-ID: <reply-{n[0]}-{time.time_ns()}@example.test>\r\n"
        f"In-Reply-To: {parent['Message-ID']}\r\nReferences: {refs}\r\n"
        f"Date: Tue, 24 Nov 2026 11:00:00 +0000\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def send(sandbox: MailSandbox, raw: bytes, sender: str) -> None:
    sandbox.send(raw, mail_from=sender, rcpt_to=[SHARED], wait=True)


def inbox(sandbox: MailSandbox, user: str) -> list[EmailMessage]:
    return [parse(m) for m in sandbox.messages(user)]


def story(config: Path, ref: str = "REQ-1000") -> dict[str, object]:
    result = mailer(config, "thread", ref, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def quoted(msg: EmailMessage) -> str:
    return "\n".join("> " + line for line in text_of(msg).splitlines())


@pytest.fixture
def opened(sandbox: MailSandbox, tmp_path: Path) -> tuple[Path, EmailMessage]:
    """A VPN request from alice, acknowledged, with the IT team notified."""
    config = write_config(tmp_path, sandbox)
    send(sandbox, request(1, subject="VPN down"), "alice@example.test")
    run(config)
    [notification] = [parse(m) for m in sandbox.wait_for_messages("it-team", 1)]
    sandbox.wait_for_messages("alice", 1)
    return config, notification


def test_whole_conversation_from_request_to_rating(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    [receipt] = receipts(sandbox, "alice")
    original_id = receipt["In-Reply-To"]
    # The team's notification: from the shared address, answerable, marked automatic.
    assert SHARED in notification["From"] and SHARED in notification["Reply-To"]
    assert notification["Auto-Submitted"] == "auto-generated"
    assert notification["X-Auto-Response-Suppress"] == "All"
    body = text_of(notification)
    assert "alice@example.test" in body and "REQ-1000" in body
    assert "VPN cannot reach" in body or "cannot reach the VPN" in body
    assert "#take" in body and "#resolved" in body

    note = "I am restarting the VPN gateway now."
    send(
        sandbox, reply(notification, f"#take #in-progress\n{note}\n\n{quoted(notification)}"), STAFF
    )
    run(config)
    progress = receipts(sandbox, "alice")[1:]
    assert len(progress) == 1
    assert note in text_of(progress[0])
    assert progress[0]["In-Reply-To"] == original_id
    assert progress[0]["Auto-Submitted"] == "auto-generated"
    assert progress[0]["X-Auto-Response-Suppress"] == "All"
    assert "[REQ-1000]" in progress[0]["Subject"]

    done = "The gateway was restarted; please try again."
    send(sandbox, reply(notification, f"#resolved\n{done}"), STAFF)
    run(config)
    mails = receipts(sandbox, "alice")
    assert len(mails) == 3
    resolved = text_of(mails[2])
    assert done in resolved and "14" in resolved and "5" in resolved
    state = story(config)
    assert state["status"] == "resolved" and state["owner"] == STAFF
    assert state["requester"] == "alice@example.test"
    events = state["events"]
    assert isinstance(events, list)
    kinds = [e["kind"] for e in events]
    assert kinds.index("owner") < kinds.index("status")
    assert [e["to"] for e in events if e["kind"] == "status"] == ["in_progress", "resolved"]

    send(
        sandbox,
        reply(mails[2], "5/5 thanks!", sender="alice@example.test", name="Alice"),
        "alice@example.test",
    )
    run(config)
    send(
        sandbox,
        reply(mails[2], "★★★★★", sender="alice@example.test", name="Alice"),
        "alice@example.test",
    )
    run(config)
    mails = receipts(sandbox, "alice")
    assert len(mails) == 4  # one thank-you, only once
    state = story(config)
    assert state["status"] == "resolved" and state["rating"] == "★★★★★"  # the latest counts
    # The team got the notification and nothing for the rating.
    assert len(inbox(sandbox, "it-team")) == 1
    assert inbox(sandbox, "staff") == []  # nothing went wrong: no result mail


def test_non_staff_keyword_changes_nothing_and_gets_no_answer(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    spoof = reply(notification, "#resolved\nclosing this", sender="bob@example.test", name="Bob")
    send(sandbox, spoof, "bob@example.test")
    run(config)
    assert story(config)["status"] == "acknowledged"
    assert inbox(sandbox, "bob") == []
    assert len(receipts(sandbox, "alice")) == 1
    forwarded = inbox(sandbox, "it-team")[1:]
    assert len(forwarded) == 1 and "bob@example.test" in text_of(forwarded[0])


def test_keyword_only_in_quoted_history_is_not_run(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    body = "Looking into it.\n\nOn Tue, 24 Nov 2026, Help Desk wrote:\n> #resolved\n> done"
    send(sandbox, reply(notification, body), STAFF)
    run(config)
    assert story(config)["status"] == "acknowledged"
    [_, answer] = receipts(sandbox, "alice")  # a reply without keywords is an answer
    assert "Looking into it." in text_of(answer) and "#resolved" not in text_of(answer)


def test_staff_out_of_office_runs_nothing_and_sends_nothing(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    auto = "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n"
    body = f"#resolved\nI am out of office until Monday.\n\n{quoted(notification)}"
    send(sandbox, reply(notification, body, extra=auto), STAFF)
    run(config)
    assert story(config)["status"] == "acknowledged"
    assert len(receipts(sandbox, "alice")) == 1
    assert inbox(sandbox, "staff") == []


def test_staff_with_failing_authentication_results_is_ignored(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    staff = f'[staff]\naddresses = ["{STAFF}"]\nauthserv_id = "mx.example.test"\n'
    config = write_config(tmp_path, sandbox, staff)
    send(sandbox, request(1, subject="VPN down"), "alice@example.test")
    run(config)
    [notification] = [parse(m) for m in sandbox.wait_for_messages("it-team", 1)]
    failing = (
        "Authentication-Results: mx.example.test; dkim=fail header.d=example.test;"
        " dmarc=fail header.from=example.test\r\n"
    )
    send(sandbox, reply(notification, "#resolved\nfixed", extra=failing), STAFF)
    run(config)
    assert story(config)["status"] == "acknowledged"
    assert inbox(sandbox, "staff") == []
    passing = "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n"
    send(sandbox, reply(notification, "#resolved\nfixed", extra=passing), STAFF)
    run(config)
    assert story(config)["status"] == "resolved"


def test_unknown_keyword_gets_a_result_mail_with_a_suggestion(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    send(sandbox, reply(notification, "#resolvd\nfixed it"), STAFF)
    run(config)
    [result] = [parse(m) for m in sandbox.wait_for_messages("staff", 1)]
    assert "#resolvd" in text_of(result) and "#resolved" in text_of(result)
    assert story(config)["status"] == "acknowledged"
    assert len(receipts(sandbox, "alice")) == 1


def test_requester_reply_reopens_a_resolved_request_and_tells_the_team(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, notification = opened
    send(sandbox, reply(notification, "Stato: risolto\nRiavviato il gateway."), STAFF)
    run(config)
    assert story(config)["status"] == "resolved"
    last = receipts(sandbox, "alice")[-1]
    send(
        sandbox,
        reply(last, "It broke again this morning.", sender="alice@example.test", name="Alice"),
        "alice@example.test",
    )
    run(config)
    assert story(config)["status"] == "in_progress"
    team = inbox(sandbox, "it-team")
    assert "It broke again this morning." in text_of(team[-1])


def test_requester_asks_for_the_status_and_closes_the_request(
    sandbox: MailSandbox, opened: tuple[Path, EmailMessage]
) -> None:
    config, _ = opened
    [receipt] = receipts(sandbox, "alice")
    alice = {"sender": "alice@example.test", "name": "Alice"}
    send(sandbox, reply(receipt, "#status", **alice), "alice@example.test")
    run(config)
    status = receipts(sandbox, "alice")[-1]
    assert "REQ-1000" in text_of(status)
    send(sandbox, reply(receipt, "#chiudi\nnon serve più", **alice), "alice@example.test")
    run(config)
    assert story(config)["status"] == "closed"


def test_acceptance_with_the_receipt_loop_config_and_no_teams(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    """No team to notify: staff answer the request itself, or name it in the subject."""
    section = f'[staff]\naddresses = ["{STAFF}"]\ndomains = []\n'
    config = base_config(tmp_path, sandbox, extra=section)
    raw = request(1)
    send(sandbox, raw, "alice@example.test")
    run(config)
    assert len(receipts(sandbox, "alice")) == 1
    original = parse(raw)
    send(sandbox, reply(original, "#in-progress\nChecking the VPN concentrator."), STAFF)
    run(config)
    [_, progress] = receipts(sandbox, "alice")
    assert "Checking the VPN concentrator." in text_of(progress)
    by_subject = (
        f"From: Sam <{STAFF}>\r\nTo: {SHARED}\r\nSubject: [REQ-1000] done\r\n"
        f"Message-ID: <s-{time.time_ns()}@example.test>\r\n\r\n"
        "Status: resolved\r\nThe concentrator was restarted.\r\n"
    ).encode()
    send(sandbox, by_subject, STAFF)
    run(config)
    [_, _, resolved] = receipts(sandbox, "alice")
    assert "The concentrator was restarted." in text_of(resolved)
    assert story(config)["status"] == "resolved"
    assert inbox(sandbox, "staff") == []


def test_a_forged_close_is_refused_while_the_requesters_own_reply_closes(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    """Issue 11: with [staff] authserv_id set, a mail from an outside envelope with From: set to
    the requester, no Authentication-Results, no In-Reply-To, subject 'Re: ... [REQ-1000]' and
    #close closed the request. Now a requester's state-changing command must reply to our mail
    (and, with authserv_id, authenticate like a staff mail); otherwise nothing changes and the
    request's recorded requester is told how to confirm."""
    staff = f'[staff]\naddresses = ["{STAFF}"]\nauthserv_id = "mx.example.test"\n'
    config = write_config(tmp_path, sandbox, staff)
    send(sandbox, request(1, subject="VPN down"), "alice@example.test")
    run(config)
    sandbox.wait_for_messages("it-team", 1)
    [receipt] = [parse(m) for m in sandbox.wait_for_messages("alice", 1)]
    forged = (
        f"From: Alice Johnson <alice@example.test>\r\nTo: {SHARED}\r\n"
        f"Reply-To: mallory@example.test\r\nSubject: Re: VPN down [REQ-1000]\r\n"
        f"Message-ID: <forged-{time.time_ns()}@evil.test>\r\n"
        "Date: Tue, 24 Nov 2026 12:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n#close\r\n"
    ).encode()
    sandbox.send(forged, mail_from="mallory@evil.test", rcpt_to=[SHARED], wait=True)
    run(config)
    assert story(config)["status"] == "acknowledged"
    [_, confirm] = [parse(m) for m in sandbox.wait_for_messages("alice", 2)]
    assert "REQ-1000" in confirm["Subject"] and confirm["In-Reply-To"] == receipt["In-Reply-To"]
    body = text_of(confirm)
    assert "#close" in body and "nothing has changed" in body.lower()
    assert sandbox.messages("catchall") == []  # nothing for the forger (Reply-To: mallory)
    assert len(inbox(sandbox, "it-team")) == 1  # the forgery is not passed on either
    # Her own client's reply to the receipt, authenticated by our border MTA, closes it.
    passing = "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n"
    own = reply(receipt, "#close", sender="alice@example.test", name="Alice", extra=passing)
    send(sandbox, own, "alice@example.test")
    run(config)
    assert story(config)["status"] == "closed"
