"""The mail sandbox itself: routing, IDLE, APPEND, restart, acceptance delivery, clean-up."""

from __future__ import annotations

import os
import smtplib
import time
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import pytest
from imapclient import IMAPClient

import sandbox.setup
from sandbox.mail import parse_deliveries, prepare_acceptance, split_lines
from sandbox.processes import alive, read_pid, session_members
from sandbox.servers import MailSandbox, SandboxError
from tests.integration.conftest import ScriptedSmtp

CORPUS = Path(__file__).parents[1] / "data" / "corpus"


def mail(msgid: str, subject: str = "printer on fire", body: str = "help") -> bytes:
    return (
        f"From: Alice <alice@example.org>\nSubject: {subject}\nMessage-ID: <{msgid}>\n\n{body}\n"
    ).encode()


def test_send_arrives_in_inbox_and_delivery_log(sandbox: MailSandbox) -> None:
    sandbox.send(mail("s1@x"), mail_from="alice@example.org", rcpt_to=["helpdesk@example.org"])
    [got] = sandbox.wait_for_messages("helpdesk", 1)
    assert got.endswith(b"Message-ID: <s1@x>\r\n\r\nhelp\r\n")
    [(stamp, user, msgid, mailbox)] = sandbox.deliveries()
    assert (user, msgid, mailbox) == ("helpdesk", "<s1@x>", "INBOX")
    assert abs(stamp - time.time()) < 30


def test_send_with_wait_keeps_the_order(sandbox: MailSandbox) -> None:
    for n in range(5):
        sandbox.send(mail(f"o{n}@x"), mail_from="a@x.org", rcpt_to=["carol@x.org"], wait=True)
    got = sandbox.messages("carol")  # all there already: wait=True returned after delivery
    assert [m.count(f"<o{n}@x>".encode()) for n, m in enumerate(got)] == [1] * 5


def test_domain_and_detail_are_ignored(sandbox: MailSandbox) -> None:
    rcpts = ["bob@example.org", "Bob+urgent@elsewhere.test", "bob"]
    sandbox.send(mail("d1@x"), mail_from="alice@example.org", rcpt_to=rcpts)
    assert len(sandbox.wait_for_messages("bob", 3)) == 3


def test_unknown_local_part_goes_to_catchall(sandbox: MailSandbox) -> None:
    sandbox.send(mail("c1@x"), mail_from="alice@example.org", rcpt_to=["nobody@example.org"])
    assert sandbox.wait_for_messages("catchall", 1)
    assert sandbox.messages("helpdesk") == []


def test_unknown_local_part_refused_without_catchall() -> None:
    with MailSandbox(users=("helpdesk",), catchall=False) as sb:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            sb.send(mail("u1@x"), mail_from="a@example.org", rcpt_to=["nobody@example.org"])
        assert refused.value.recipients["nobody@example.org"][0] == 550
        sb.send(mail("u2@x"), mail_from="a@example.org", rcpt_to=["helpdesk@example.org"])
        assert sb.wait_for_messages("helpdesk", 1)


def test_idle_sees_new_mail_quickly(sandbox: MailSandbox) -> None:
    with sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX")
        client.idle()
        sent = time.monotonic()
        sandbox.send(mail("i1@x"), mail_from="alice@example.org", rcpt_to=["helpdesk@x.org"])
        seen: list[tuple[object, ...]] = []
        while time.monotonic() - sent < 5 and not any(b"EXISTS" in r for r in seen):
            seen += client.idle_check(timeout=0.2)
        elapsed = time.monotonic() - sent
        client.idle_done()
    assert any(b"EXISTS" in r for r in seen), seen
    assert elapsed < 2.5  # Dovecot 2.3 notifies ~0.5 s after the save


def test_append_keeps_internaldate_flags_and_folder(sandbox: MailSandbox) -> None:
    old = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    uid = sandbox.append("helpdesk", mail("a1@x"), internaldate=old, flags=[r"\Seen"])
    sandbox.append("helpdesk", mail("a2@x"), mailbox="Archive/2020")
    with sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX", readonly=True)
        [(got_uid, data)] = client.fetch(client.search(), ["INTERNALDATE", "FLAGS"]).items()
    assert got_uid == uid
    assert data[b"INTERNALDATE"].astimezone(UTC) == old
    assert b"\\Seen" in data[b"FLAGS"]
    assert len(sandbox.messages("helpdesk", "Archive/2020")) == 1


def test_restart_imap_keeps_mail_and_drops_clients(sandbox: MailSandbox) -> None:
    sandbox.send(mail("r1@x"), mail_from="alice@example.org", rcpt_to=["helpdesk@x.org"])
    before = sandbox.wait_for_messages("helpdesk", 1)
    port = sandbox.imap_port
    with sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX")
        sandbox.restart_imap()
        with pytest.raises((IMAPClient.Error, OSError)):
            client.noop()
    assert sandbox.imap_port == port
    assert sandbox.messages("helpdesk") == before
    sandbox.send(mail("r2@x"), mail_from="alice@example.org", rcpt_to=["helpdesk@x.org"])
    assert len(sandbox.wait_for_messages("helpdesk", 2)) == 2


def test_acceptance_delivery_rewrites_recipients_and_envelope(sandbox: MailSandbox) -> None:
    cases = {  # recipient: (raw, expected Return-Path)
        "alice": (
            b"Return-Path: <bounces@lists.example>\nFrom: A <a@x.example>\n"
            b"To: someone@else.example,\n  folded@else.example\nCC: c@x.example\n"
            b"Delivered-To: old@x.example\nSubject: s\n\nbody\n",
            b"<bounces@lists.example>",
        ),
        "bob": (
            b"Return-Path: <>\r\nFrom: MAILER-DAEMON@x.example\r\nSubject: bounce\r\n\r\nx\r\n",
            b"<>",
        ),
        "carol": (
            b'From "ann" Mon Jan  1 00:00:00 2001\nFrom: "Ann, B." <ann@x.example>\n'
            b"Subject: mbox\n\nbody\n",
            b"<ann@x.example>",
        ),
        "staff": (b"Subject: no sender at all\n\nbody\n", b"<>"),
    }
    for user, (raw, _) in cases.items():
        sandbox.deliver_as_acceptance(raw, f"{user}@example.org")
    for user, (raw, return_path) in cases.items():
        [got] = sandbox.wait_for_messages(user, 1)
        assert got.startswith(b"Return-Path: " + return_path + b"\r\n")
        msg = message_from_bytes(got)
        assert msg.get_all("To") == [f"{user}@example.org"]
        assert msg["Cc"] is None and msg.get_all("Delivered-To") == [f"{user}@example.org"]
        assert got.endswith(prepare_acceptance(raw, f"{user}@example.org")[1])


def test_acceptance_delivers_every_human_corpus_file(sandbox: MailSandbox) -> None:
    files = sorted((CORPUS / "human").glob("*.eml"))
    if not files:
        pytest.skip("tests/data/corpus/human not present")
    expected = []
    for path in files:
        raw = path.read_bytes()
        sandbox.deliver_as_acceptance(raw, "helpdesk@example.org")
        expected.append((path.name, _without_content_length(raw)))
    got = sandbox.wait_for_messages("helpdesk", len(files), timeout=60)
    assert len(got) == len(files)
    for name, data in expected:  # every byte kept, line endings aside
        assert any(m.endswith(data) for m in got), f"{name} not delivered byte for byte"


def _without_content_length(raw: bytes) -> bytes:
    """The acceptance form of ``raw``, minus what Postfix's cleanup always drops."""
    data = prepare_acceptance(raw, "helpdesk@example.org")[1]
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
    return b"\r\n".join(lines) + sep + body


def test_message_helpers_handle_line_endings() -> None:
    assert split_lines(b"a\r\nb\nc\rd\n") == [b"a", b"b", b"c\rd"]  # stray CR kept
    assert split_lines(b"a\rb\r") == [b"a", b"b"]  # classic Mac file
    sender, data = prepare_acceptance(b"To: x\n\tmore\nFrom: <b@x.example>\nBcc: y\n\nhi", "h@x")
    assert (sender, data) == ("b@x.example", b"From: <b@x.example>\r\nTo: h@x\r\n\r\nhi\r\n")
    # a stray line of spaces first: Postfix would make the whole header body; Python skips it
    assert prepare_acceptance(b"   \nFrom: c@x.example\n\nhi\n", "h@x")[1].startswith(b"From:")
    log = (
        "2026-11-23 19:36:30.492269 lmtp(alice)<17084><KKLt+aV:T2>: Info: msgid=<m@x> "
        "size=867: saved mail to INBOX\n2026-11-23 19:36:30.5 lmtp(bob)<1><x>: Info: other\n"
    )
    [(stamp, user, msgid, box)] = parse_deliveries(log)
    assert (user, msgid, box) == ("alice", "<m@x>", "INBOX") and stamp % 1 == pytest.approx(
        0.492269, abs=1e-6
    )


def test_reset_empties_everything(sandbox: MailSandbox) -> None:
    sandbox.send(mail("x1@x"), mail_from="alice@example.org", rcpt_to=["alice@x.org"])
    sandbox.append("bob", mail("x2@x"), mailbox="Done")
    sandbox.wait_for_messages("alice", 1)
    sandbox.reset()
    assert sandbox.messages("alice") == [] and sandbox.messages("bob", "Done") == []
    assert sandbox.deliveries() == []


def test_smtp_script_answers_per_data(smtp_script: ScriptedSmtp) -> None:
    smtp_script.set_script([451, 250])
    with smtplib.SMTP(smtp_script.host, smtp_script.port) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as err:
            smtp.sendmail("a@x", ["b@y"], b"Subject: 1\r\n\r\none\r\n")
        assert err.value.smtp_code == 451
        smtp.sendmail("a@x", ["b@y", "c@y"], b"Subject: 2\r\n\r\ntwo\r\n")
    first, second = smtp_script.wait_for(2)
    assert (first.code, second.code) == (451, 250)
    assert second.rcpt_tos == ("b@y", "c@y") and second.data.endswith(b"two\r\n")
    assert smtp_script.accepted == [second]


def test_stop_leaves_no_process_and_no_directory() -> None:
    sb = MailSandbox(users=("helpdesk",)).start()
    root = sb.dir
    masters = [read_pid(root / "spool/pid/master.pid"), read_pid(root / "run/master.pid")]
    assert all(alive(p) for p in masters)
    sb.stop()
    assert not any(session_members(p) for p in masters if p)
    assert not root.exists()


def test_busy_port_is_reported() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SandboxError, match="already in use"):
            MailSandbox(imap_port=busy.getsockname()[1]).start()


def test_missing_servers_and_root_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.setup, "_NEEDS", {"/nonexistent/dovecot": "dovecot-core"})
    with pytest.raises(SandboxError, match=r"dovecot-core.*scripts/setup\.sh"):
        MailSandbox().start()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="root"):
        MailSandbox().start()
