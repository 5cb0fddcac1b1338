"""The receipt loop end to end: real Dovecot, real Postfix, mailer as a separate process."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import time
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import (
    SHARED,
    mailer,
    parse,
    receipts,
    request,
    start_daemon,
    stop_daemon,
    text_of,
    write_config,
)


def test_one_request_gets_one_threaded_receipt_and_a_second_run_sends_nothing(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    raw = request(1)
    sandbox.send(raw, mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    result = mailer(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    [receipt] = [parse(m) for m in sandbox.wait_for_messages("alice", 1)]
    original = parse(raw)
    assert receipt["In-Reply-To"] == original["Message-ID"]
    assert receipt["References"] == original["Message-ID"]
    assert receipt["Subject"] == "Re: VPN problem number 1 [REQ-1000]"
    assert receipt["Auto-Submitted"] == "auto-replied"
    assert receipt["X-Auto-Response-Suppress"] == "All"
    assert receipt["To"] == "Alice Johnson <alice@example.test>"
    assert "Hello Alice," in text_of(receipt)
    again = mailer(config, "run", "--once")
    assert again.returncode == 0, again.stderr
    time.sleep(1)
    assert len(sandbox.messages("alice")) == 1


def test_people_reading_and_flagging_the_mailbox_change_nothing(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    with sandbox.imap("helpdesk") as client:  # a colleague reads and flags it first
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL"), [b"\\Seen", b"\\Flagged"])
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 1)
    with sandbox.imap("helpdesk") as client:
        client.select_folder("INBOX")
        assert len(client.search("ALL")) == 1  # never deleted
    assert mailer(config, "run", "--once").returncode == 0
    time.sleep(0.5)
    assert len(sandbox.messages("alice")) == 1


def test_italian_and_english_requests_get_receipts_in_their_language(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    italian = request(
        1,
        sender="bob@example.test",
        subject="Stampante bloccata",
        body="Buongiorno, la stampante del secondo piano non stampa più e "
        "segnala un errore. Potete aiutarmi? Grazie",
    )
    latin1 = (
        b"From: Carla Verdi <carol@example.test>\r\nTo: helpdesk@example.test\r\n"
        b"Subject: =?iso-8859-1?q?Il_riscaldamento_non_funziona_pi=F9?=\r\n"
        b"Message-ID: <latin1@example.test>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "Ciao, in sala riunioni il riscaldamento è spento e fa freddo.\r\n".encode("latin-1")
    english = request(2, sender="alice@example.test")
    for raw, who in ((italian, "bob"), (latin1, "carol"), (english, "alice")):
        sandbox.send(raw, mail_from=f"{who}@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 3)
    assert mailer(config, "run", "--once").returncode == 0
    bob = parse(sandbox.wait_for_messages("bob", 1)[0])
    carol = parse(sandbox.wait_for_messages("carol", 1)[0])
    alice = parse(sandbox.wait_for_messages("alice", 1)[0])
    assert text_of(bob).startswith("Gentile Roberto") or "Abbiamo ricevuto" in text_of(bob)
    assert "Abbiamo ricevuto" in text_of(carol)
    assert re.fullmatch(r"Re: Il riscaldamento non funziona più \[REQ-\d+\]", carol["Subject"])
    assert "We have received" in text_of(alice)


def test_robots_get_nothing_and_a_follow_up_joins_its_thread(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    assert mailer(config, "run", "--once").returncode == 0
    receipt = parse(sandbox.wait_for_messages("alice", 1)[0])
    follow = request(
        2, subject=f"Re: {receipt['Subject']}", extra=f"In-Reply-To: {receipt['Message-ID']}\r\n"
    )
    oof = request(
        3,
        sender="bob@example.test",
        subject="Automatic reply: VPN",
        extra="Auto-Submitted: auto-replied\r\n",
    )
    sandbox.send(follow, mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.send(oof, mail_from="bob@example.test", rcpt_to=[SHARED])
    sandbox.send(request(4, sender="mailer-daemon@example.test"), mail_from="", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 4)
    assert mailer(config, "run", "--once").returncode == 0
    time.sleep(1)
    assert len(receipts(sandbox, "alice")) == 1
    assert receipts(sandbox, "bob") == []
    threads = json.loads(mailer(config, "threads", "--json").stdout)
    assert [t["reference"] for t in threads] == ["REQ-1000"]


def test_backlog_is_skipped_at_first_start_unless_backfilling(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    sandbox.append("helpdesk", request(1), internaldate=old)
    sandbox.send(request(2), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 2)
    config = write_config(tmp_path, sandbox)
    assert mailer(config, "run", "--once").returncode == 0
    assert len(sandbox.wait_for_messages("alice", 1)) == 1
    db = sqlite3.connect(tmp_path / "mailer.sqlite3")
    reasons = sorted(r for (r,) in db.execute("SELECT reason FROM messages WHERE direction='in'"))
    assert reasons == ["receipt", "skipped: backlog"]
    fresh = tmp_path / "second"
    fresh.mkdir()
    config2 = write_config(fresh, sandbox)
    assert mailer(config2, "run", "--once", "--backfill").returncode == 0
    assert len(sandbox.wait_for_messages("alice", 3)) == 3


def test_daemon_answers_on_idle_and_stops_on_sigterm(sandbox: MailSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, sandbox)
    daemon = start_daemon(config)
    try:
        time.sleep(1.5)
        for n in range(5):
            sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED])
        sandbox.wait_for_messages("alice", 5, timeout=15)
    finally:
        code, took = stop_daemon(daemon)
    assert code == 0
    assert took < 5


def test_a_second_daemon_on_the_same_store_refuses_to_start(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    daemon = start_daemon(config)
    try:
        time.sleep(1.5)
        second = mailer(config, "run", "--once")
        assert second.returncode == 2
        assert "in use" in second.stderr
    finally:
        stop_daemon(daemon)


def test_processed_mail_can_be_moved_and_sent_mail_copied(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, sandbox, imap_extra='move_to = "Processed"\nsent_folder = "Sent"'
    )
    for n in range(3):
        sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 3)
    assert mailer(config, "run", "--once").returncode == 0
    assert len(sandbox.wait_for_messages("alice", 3)) == 3
    assert sandbox.messages("helpdesk") == []
    assert len(sandbox.messages("helpdesk", "Processed")) == 3
    with sandbox.imap("helpdesk") as client:
        client.select_folder("Sent", readonly=True)
        flags = client.get_flags(client.search("ALL"))
    assert len(flags) == 3 and all(b"\\Seen" in f for f in flags.values())


def test_sighup_reloads_rules_and_keeps_the_old_ones_when_invalid(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    import signal

    printers = '[[rules]]\nname = "printers"\ncategory = "hardware"\n'
    broken = '[[rules]]\nname = "broken"\n[rules.match]\nsubject_regex = ["(unclosed"]\n'
    printers_v2 = '[[rules]]\nname = "printers-v2"\ncategory = "printing"\n'
    match = '[rules.match]\nsubject = ["printer"]\n'
    rules = tmp_path / "rules.toml"
    rules.write_text(printers + match)
    config = write_config(tmp_path, sandbox, service_extra='rules_file = "rules.toml"')
    daemon = start_daemon(config)
    try:
        time.sleep(1.5)
        for n, new_rules in enumerate((None, broken, printers_v2), start=1):
            if new_rules is not None:  # change the file, then SIGHUP
                rules.write_text(new_rules if new_rules is broken else new_rules + match)
                daemon.send_signal(signal.SIGHUP)
                time.sleep(1)
            sandbox.send(
                request(n, subject=f"printer trouble {n}"),
                mail_from="alice@example.test",
                rcpt_to=[SHARED],
            )
            sandbox.wait_for_messages("alice", n, timeout=15)
    finally:
        code, _ = stop_daemon(daemon)
    assert code == 0
    threads = json.loads(mailer(config, "threads", "--json").stdout)
    assert [(t["rule"], t["category"]) for t in threads] == [
        ("printers", "hardware"),
        ("printers", "hardware"),
        ("printers-v2", "printing"),
    ]
    log = config.with_suffix(".log").read_text()
    assert "reload.refused" in log and "reload.done" in log


def test_a_zero_length_store_is_refused_not_taken_for_a_first_start(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    """Issue 11: the store became a zero-length file; run --once took it for a first start,
    the 3 requests already acknowledged got a second receipt, and it exited 0."""
    config = write_config(tmp_path, sandbox)
    for n in range(3):
        sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 3)
    store = tmp_path / "mailer.sqlite3"
    store.write_bytes(b"")
    again = mailer(config, "run", "--once")
    assert again.returncode == 1
    assert "is empty (0 bytes)" in again.stderr and "mailer backup" in again.stderr
    time.sleep(1)
    assert len(receipts(sandbox, "alice")) == 3
    assert store.stat().st_size == 0  # left as it was found
    threads = mailer(config, "threads")  # no command takes it for a new store
    assert threads.returncode == 1 and "is empty" in threads.stderr


def test_a_lost_watermark_stops_rather_than_acknowledging_again(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    """A store that is not new has no watermark for the mailbox, and the mailbox holds mail
    older than the backlog window: that is no first start."""
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    sandbox.append("helpdesk", request(1), internaldate=old)
    sandbox.send(request(2), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    config = write_config(tmp_path, sandbox)
    assert mailer(config, "run", "--once").returncode == 0  # the first start: one receipt
    sandbox.wait_for_messages("alice", 1)
    db = sqlite3.connect(tmp_path / "mailer.sqlite3")
    with db:
        db.execute("DELETE FROM mailboxes")  # the watermark is lost
    db.close()
    again = mailer(config, "run", "--once")
    assert again.returncode == 1, again.stderr
    assert "no watermark for mailbox 'INBOX'" in again.stderr and "--first-start" in again.stderr
    time.sleep(1)
    assert len(receipts(sandbox, "alice")) == 1
    # The admin who changed [imap] mailbox on purpose says so: the backlog rule applies, and
    # what the store knows (request 2, by its Message-ID) is not answered again.
    sandbox.send(request(3), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    forced = mailer(config, "run", "--once", "--first-start")
    assert forced.returncode == 0, forced.stderr
    sandbox.wait_for_messages("alice", 2)
    time.sleep(1)
    assert len(receipts(sandbox, "alice")) == 2
