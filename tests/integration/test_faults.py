"""Faults: SIGKILL mid-batch, IMAP restarts, SMTP 451 and 550, UIDVALIDITY changes."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.servers import MailSandbox, SandboxTimeoutError
from tests.integration.helpers import (
    SHARED,
    mailer,
    parse,
    request,
    start_daemon,
    stop_daemon,
    write_config,
)


def receipts_by_request(sandbox: MailSandbox, user: str) -> Counter[str]:
    return Counter(str(parse(m)["In-Reply-To"]) for m in sandbox.messages(user))


def test_sigkill_during_batches_loses_nothing_and_sends_nothing_twice(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    ids: list[str] = []
    daemon = start_daemon(config)
    kills = 0
    try:
        for n in range(150):
            sender = f"alice+{n}@example.test"  # one sender each: the daily cap is not tested here
            raw = request(n, sender=sender)
            ids.append(str(parse(raw)["Message-ID"]))
            sandbox.send(raw, mail_from=sender, rcpt_to=[SHARED])
            time.sleep(0.04)
            if n % 30 == 15:
                daemon.send_signal(signal.SIGKILL)
                daemon.wait()
                kills += 1
                daemon = start_daemon(config)
    finally:
        time.sleep(0.5)
    try:
        sandbox.wait_for_messages("alice", 150, timeout=60)
        time.sleep(2)
    except SandboxTimeoutError as exc:  # say where the receipts stopped: daemon, Postfix or Dovecot
        sent = mailer(config, "outbox", "--status", "sent", "--json").stdout.count('"id"')
        log = config.with_suffix(".log").read_text(errors="replace").splitlines()[-15:]
        raise AssertionError(
            f"{exc}\n{sent} receipts marked sent; daemon log:\n" + "\n".join(log)
        ) from exc
    finally:
        code, _ = stop_daemon(daemon)
    assert kills == 5 and code == 0
    got = receipts_by_request(sandbox, "alice")
    missing = [i for i in ids if got[i] == 0]
    assert missing == []
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    # Only the named window (SMTP accepted, commit not done) may duplicate: at most one per kill.
    assert duplicates <= kills


def test_imap_server_restart_mid_run_is_survived(sandbox: MailSandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, sandbox)
    daemon = start_daemon(config)
    try:
        time.sleep(1.5)
        sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
        sandbox.wait_for_messages("alice", 1, timeout=15)
        sandbox.restart_imap()
        sandbox.send(request(2), mail_from="alice@example.test", rcpt_to=[SHARED])
        sandbox.wait_for_messages("alice", 2, timeout=30)
    finally:
        code, _ = stop_daemon(daemon)
    assert code == 0
    assert daemon.returncode == 0


def outbox(config: Path) -> list[dict[str, Any]]:
    result = mailer(config, "outbox", "--json")
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_smtp_451_then_250_sends_exactly_one_receipt(
    sandbox: MailSandbox, smtp_script: Any, tmp_path: Path
) -> None:
    smtp_script.set_script([451, 250])
    config = write_config(tmp_path, sandbox, smtp_port=smtp_script.port)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    assert mailer(config, "run", "--once").returncode == 0
    [row] = outbox(config)
    assert row["status"] == "pending" and row["last_error"].startswith("451")
    assert mailer(config, "run", "--once").returncode == 0  # --once tries queued mail again
    [row] = outbox(config)
    assert row["status"] == "sent"
    assert [m.code for m in smtp_script.messages] == [451, 250]


def test_smtp_550_goes_to_dead_letter_and_is_never_retried(
    sandbox: MailSandbox, smtp_script: Any, tmp_path: Path
) -> None:
    smtp_script.set_script([550, 550, 550])
    config = write_config(tmp_path, sandbox, smtp_port=smtp_script.port)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    assert mailer(config, "run", "--once").returncode == 0
    assert mailer(config, "run", "--once").returncode == 0
    [row] = outbox(config)
    assert row["status"] == "dead" and row["last_error"].startswith("550")
    assert row["attempts"] == 1


def test_unreachable_smtp_keeps_mail_queued_and_exits_non_zero(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    config = write_config(tmp_path, sandbox, smtp_port=dead_port)
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 1)
    result = mailer(config, "run", "--once")
    assert result.returncode == 3, result.stderr
    [row] = outbox(config)
    assert row["status"] == "pending"


def test_uidvalidity_change_rescans_without_sending_twice(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox, mailbox="Requests")
    first = [request(n) for n in range(3)]
    for raw in first:
        sandbox.append("helpdesk", raw, mailbox="Requests")
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 3)
    with sandbox.imap("helpdesk") as client:  # the folder is rebuilt: new UIDVALIDITY
        client.delete_folder("Requests")
    for raw in [*first, request(9)]:
        sandbox.append("helpdesk", raw, mailbox="Requests")
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 4)
    time.sleep(1)
    assert len(sandbox.messages("alice")) == 4
    db = sqlite3.connect(tmp_path / "mailer.sqlite3")
    assert db.execute("SELECT count(*) FROM threads").fetchone()[0] == 4
