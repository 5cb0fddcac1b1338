"""A store that cannot grow (a full disk) gives a clear error and loses no mail.

The full disk is simulated with RLIMIT_FSIZE in the daemon's process: every write that would
grow a file fails with EFBIG, which SQLite reports like ENOSPC ("disk I/O error").
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, receipts, request, write_config


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
