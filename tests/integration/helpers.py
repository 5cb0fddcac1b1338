"""Shared helpers for integration tests: configs, running mailer, reading receipts."""

from __future__ import annotations

import contextlib
import email
import email.policy
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sandbox.demo.run import write_sandbox_config
from sandbox.servers import MailSandbox

SHARED = "helpdesk@example.test"


def write_config(directory: Path, sandbox: MailSandbox, **extra: Any) -> Path:
    """A config that uses only the keys the issue lists, plus what a test adds."""
    return write_sandbox_config(directory, sandbox, **extra)


def mailer(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def start_daemon(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log or config.with_suffix(".log"), "ab")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", "--config", str(config), "--json-logs", "run", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 10) -> tuple[int, float]:
    """SIGTERM; returns (exit code, seconds it took)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=timeout)
    return code, time.monotonic() - started


def request(
    n: int,
    *,
    sender: str = "alice@example.test",
    subject: str | None = None,
    body: str = "My laptop cannot reach the VPN since this morning.",
    extra: str = "",
) -> bytes:
    return (
        f"From: Alice Johnson <{sender}>\r\nTo: {SHARED}\r\n"
        f"Subject: {subject or f'VPN problem number {n}'}\r\n"
        f"Message-ID: <request-{n}-{time.time_ns()}@example.test>\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def receipts(sandbox: MailSandbox, user: str) -> list[EmailMessage]:
    """Mail from the help desk in a user's inbox."""
    return [m for m in map(parse, sandbox.messages(user)) if SHARED in str(m.get("From", ""))]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""  # type: ignore[attr-defined]


@contextlib.contextmanager
def small_disk(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only): a disk that really fills up."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                   check=True)  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill_disk(directory: Path) -> Path:
    """Write a file in ``directory`` until its file system has no byte left; returns it (delete
    it to free the space)."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with open(filler, "ab", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    out.write(chunk[:size])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def log_events(log: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``event`` in a daemon's log (start_daemon writes JSON)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found
