"""Errors the intake cannot recover from are never silent (issue 11): logged with their cause
and what to do, /healthz fails, the process exits non-zero within seconds."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from sandbox.processes import free_port
from sandbox.servers import MailSandbox
from tests.factories import corrupt_pages
from tests.integration.helpers import (
    SHARED,
    log_events,
    mailer,
    receipts,
    request,
    start_daemon,
    write_config,
)


def _healthz(port: int) -> tuple[int, str] | None:
    """(status, body), or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def test_a_store_with_a_damaged_page_stops_the_daemon_visibly(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path, sandbox, extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    assert mailer(config, "run", "--once").returncode == 0
    sandbox.wait_for_messages("alice", 1)
    corrupt_pages(tmp_path / "mailer.sqlite3", "mailboxes")
    sandbox.send(request(2), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log=log)
    answers = []
    started = time.monotonic()
    try:
        while daemon.poll() is None and time.monotonic() - started < 10:
            answers.append(_healthz(port))
            time.sleep(0.05)
        assert daemon.poll() is not None, "the daemon lives on after its intake failed"
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 1
    [failed] = log_events(log, "service.failed")
    assert "StoreCorrupt" in failed["error"] and "malformed" in failed["error"]
    assert "mailer backup" in failed["action"]
    assert all(body != "ok\n" for _, body in filter(None, answers)), answers
    assert len(receipts(sandbox, "alice")) == 1  # nothing sent in the dark


def test_a_non_ascii_imap_password_logs_in(sandbox: MailSandbox, tmp_path: Path) -> None:
    """IMAP LOGIN cannot carry it (imaplib refuses to encode it); AUTHENTICATE PLAIN can."""
    password = "pässwörd-€"
    sandbox.set_password("helpdesk", password)
    try:
        config = write_config(tmp_path, sandbox)
        text = config.read_text().replace(
            f'password = "{sandbox.password}"', f'password = "{password}"'
        )
        config.write_text(text)
        sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED], wait=True)
        result = mailer(config, "run", "--once")
        assert result.returncode == 0, result.stderr[-2000:]
        sandbox.wait_for_messages("alice", 1)
    finally:
        sandbox.set_password("helpdesk", sandbox.password)
