"""The daemon serves /metrics and /healthz when [metrics] listen is set; counters move."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, request, start_daemon, stop_daemon, write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def test_a_scrape_after_mail_flowed_shows_the_counters_moving(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    port = _free_port()
    config = write_config(tmp_path, sandbox, extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    daemon = start_daemon(config)
    try:
        base = f"http://127.0.0.1:{port}"
        before = ""
        for _ in range(50):  # the server is up once the daemon has started
            try:
                before = _get(f"{base}/metrics")
                break
            except OSError:
                time.sleep(0.2)
        assert 'mailer_mail_sent_total{kind="receipt"} 0.0' in before
        for n in range(2):
            sandbox.send(request(n), mail_from="alice@example.test", rcpt_to=[SHARED])
        sandbox.wait_for_messages("alice", 2, timeout=20)
        after = _get(f"{base}/metrics")
        assert 'mailer_messages_processed_total{outcome="receipt"} 2.0' in after
        assert 'mailer_mail_sent_total{kind="receipt"} 2.0' in after
        assert "mailer_receipt_latency_seconds_count 2.0" in after
        assert "mailer_imap_connected 1.0" in after
        assert _get(f"{base}/healthz").strip() == "ok"
    finally:
        code, _ = stop_daemon(daemon)
    assert code == 0
