"""``mailer run`` under a stand-in for systemd: READY, STATUS, WATCHDOG, then STOPPING."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, request, stop_daemon, write_config


class FakeSystemd:
    """The notify socket: collects every datagram the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[str] = []

    def _read(self) -> None:
        with contextlib.suppress(TimeoutError):  # nothing within 0.2 s
            self.got.append(self.sock.recv(4096).decode())

    def until(self, wanted: str, timeout: float = 15.0) -> list[str]:
        """Read until a datagram contains ``wanted``; everything received so far."""
        deadline = time.monotonic() + timeout
        while not any(wanted in m for m in self.got):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {wanted!r} from the daemon; got {self.got}")
            self._read()
        return self.got

    def listen(self, seconds: float) -> list[str]:
        """Everything that arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read()
        return self.got


def test_the_daemon_reports_to_systemd_and_says_when_it_stops(
    sandbox: MailSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox)
    systemd = FakeSystemd(tmp_path / "notify")
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "WATCHDOG_PID")}
    env.update(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="2000000", PYTHONUNBUFFERED="1")
    with config.with_suffix(".log").open("ab") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "mailer", "--config", str(config), "--json-logs", "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        systemd.until("READY=1")
        systemd.until("STATUS=idle on IMAP, 0 in outbox")
        sandbox.send(request(1), mail_from="alice@example.test", rcpt_to=[SHARED])
        sandbox.wait_for_messages("alice", 1, timeout=15)
        pings = systemd.got.count("WATCHDOG=1")
        # WATCHDOG_USEC=2 s: a ping at least every second while the daemon idles
        assert systemd.listen(3.5).count("WATCHDOG=1") >= pings + 3
    finally:
        code, took = stop_daemon(daemon)
    got = systemd.until("STOPPING=1")
    systemd.sock.close()
    assert code == 0 and took < 5
    ready = next(i for i, m in enumerate(got) if m.startswith("READY=1"))
    stopping = next(i for i, m in enumerate(got) if m.startswith("STOPPING=1"))
    assert ready < stopping and sum(m.startswith("READY=1") for m in got) == 1
    assert got[stopping] == "STOPPING=1\nSTATUS=stopping, 0 in outbox"
    assert all(m == "WATCHDOG=1" or "STATUS=" in m for m in got), got
    statuses = [line for m in got for line in m.splitlines() if line.startswith("STATUS=")]
    assert "STATUS=idle on IMAP, 0 in outbox" in statuses
