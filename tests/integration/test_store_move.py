"""Moving a live SQLite store into PostgreSQL (``mailer store copy``), against the real mail
servers: after the copy, ``mailer run --once`` on PostgreSQL goes on where SQLite stopped."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.postgres import Postgres
from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, receipts, request, write_config


def test_the_copy_goes_on_threads_references_and_timelines(
    sandbox: MailSandbox, postgres: Postgres, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    for n in range(3):
        sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 3, timeout=30)
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 3, timeout=30)
    first = next(m for m in receipts(sandbox, "alice") if "[REQ-1000]" in str(m["Subject"]))

    url = postgres.create_database("moved")
    copied = mailer(config, "store", "copy", "--to", url)
    assert copied.returncode == 0, copied.stderr
    assert "every table checked" in copied.stdout and " NO" not in copied.stdout
    config.write_text(config.read_text().replace('path = "mailer.sqlite3"', f'url = "{url}"'))

    reply = (
        f"From: Alice Johnson <alice@example.test>\r\nTo: {SHARED}\r\n"
        f"Subject: Re: {first['Subject']}\r\nMessage-ID: <follow-up-1@example.test>\r\n"
        f"In-Reply-To: {first['Message-ID']}\r\nReferences: {first['Message-ID']}\r\n"
        "Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n"
        "It is still broken after the restart.\r\n"
    ).encode()
    sandbox.send(reply, mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.send(
        request(9, sender="bob@example.test"), mail_from="bob@example.test", rcpt_to=[SHARED]
    )
    sandbox.wait_for_messages("helpdesk", 5, timeout=30)
    ran = mailer(config, "run", "--once")
    assert ran.returncode == 0, ran.stderr

    story = json.loads(mailer(config, "thread", "REQ-1000", "--json").stdout)
    inbound = [e for e in story["events"] if e["kind"] == "message_in"]
    assert [e["message_id"] for e in inbound][-1] == "<follow-up-1@example.test>"
    assert len(inbound) == 2  # the follow-up joined its old request, after the move
    threads = json.loads(mailer(config, "threads", "--json").stdout)
    assert [t["reference"] for t in threads] == ["REQ-1000", "REQ-1001", "REQ-1002", "REQ-1003"]
    sandbox.wait_for_messages("alice", 3, timeout=10)
    got = [(str(m["Subject"]), str(m["In-Reply-To"])) for m in receipts(sandbox, "alice")]
    assert len(got) == 3, got  # a follow-up gets no second receipt
