"""A store that cannot grow (a full disk) gives a clear error, loses no mail, sends none twice.

The first test simulates the full disk with RLIMIT_FSIZE in the daemon's process: every write
that would grow a file fails with EFBIG, which SQLite reports like ENOSPC ("disk I/O error").
The others put the store on a real 2 MB tmpfs and fill it up.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.processes import free_port
from sandbox.servers import MailSandbox
from tests.integration.helpers import (
    SHARED,
    fill_disk,
    log_events,
    mailer,
    receipts,
    request,
    small_disk,
    start_daemon,
    stop_daemon,
    write_config,
)


def _no_growth() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def test_a_full_disk_is_reported_clearly_and_the_mail_waits(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    assert mailer(config, "run", "--once").returncode == 0  # the store exists
    for n in range(3):
        sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    full = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_no_growth,
    )
    assert full.returncode != 0
    assert "Traceback" not in full.stderr
    assert "store" in full.stderr + full.stdout
    time.sleep(0.5)
    assert receipts(sandbox, "alice") == []  # nothing half-done was sent
    again = mailer(config, "run", "--once")  # space again: every request is answered once
    assert again.returncode == 0, again.stderr
    sandbox.wait_for_messages("alice", 3)
    time.sleep(0.5)
    assert len(receipts(sandbox, "alice")) == 3


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def test_a_mail_accepted_while_the_store_cannot_record_it_is_never_sent_again(
    sandbox: MailSandbox, smtp_script: Any, tmp_path: Path
) -> None:
    """Issue 11: SMTP accepted the receipt, then the UPDATE marking it sent failed ('database
    or disk is full'); the outbox sent the same row again every second while the disk stayed
    full. And the metrics counted the messages of every rolled-back batch as processed."""
    port = free_port()
    log = tmp_path / "daemon.log"
    with small_disk(tmp_path / "disk") as disk:
        config = write_config(
            disk,
            sandbox,
            smtp_port=smtp_script.port,
            extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n',
        )
        filler: list[Path] = []
        # The disk fills at the very moment the server accepts the first receipt.
        smtp_script.before_reply = lambda: filler.append(fill_disk(disk)) if not filler else None
        daemon = start_daemon(config, log=log)
        try:
            sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
            smtp_script.wait_for(1, timeout=20)
            sandbox.send(request(2, sender="bob@example.test"), mail_from="bob@example.test",
                         rcpt_to=[SHARED])  # fmt: skip
            time.sleep(6)  # the disk stays full: nothing may be sent again, nothing new
            assert len(smtp_script.messages) == 1
            filler[0].unlink()  # space again
            _wait(lambda: len(smtp_script.messages) >= 2, 30, "the second receipt")
            time.sleep(2)
            metrics = _scrape(port)
        finally:
            code, _ = stop_daemon(daemon)
        assert code == 0
        sent = [m.rcpt_tos for m in smtp_script.messages]
        assert sorted(sent) == [("alice@example.test",), ("bob@example.test",)]
        rows = mailer(config, "outbox", "--json").stdout
        assert rows.count('"status": "sent"') == 2 and '"pending"' not in rows
    paused = log_events(log, "outbox.paused")
    assert len(paused) == 1, paused  # alerted once
    assert "full" in paused[0]["error"]
    # Only committed batches count: two requests, two receipts, whatever was rolled back.
    assert 'mailer_messages_processed_total{outcome="receipt"} 2.0' in metrics
    assert 'mailer_mail_sent_total{kind="receipt"} 2.0' in metrics
