"""Fixtures for tests against real servers: Dovecot + Postfix (MailSandbox) and a scripted SMTP.

Nothing here skips: a machine without Dovecot/Postfix fails loudly, saying how to install them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sandbox.processes import free_port
from sandbox.servers import MailSandbox, SandboxError

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test below tests/integration gets the ``integration`` mark."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


def _started(sandbox: MailSandbox) -> Iterator[MailSandbox]:
    """Start a session's sandbox (a failure to start is a test failure, never a skip)."""
    try:
        sandbox.start()
    except SandboxError as exc:
        pytest.fail(f"cannot start the mail sandbox: {exc}", pytrace=False)
    yield sandbox
    sandbox.stop()


def _emptied(sandbox: MailSandbox) -> MailSandbox:
    """Empty the sandbox for the next test; one that a test broke is started afresh."""
    try:
        if not sandbox.running:
            raise SandboxError("servers not running")
        sandbox.reset()
    except Exception:
        sandbox.stop()
        sandbox.start()
    return sandbox


@pytest.fixture(scope="session")
def mail_sandbox() -> Iterator[MailSandbox]:
    """One Dovecot + Postfix for the whole run (start ~0.1 s, stop ~0.2-0.6 s)."""
    yield from _started(MailSandbox())


@pytest.fixture
def sandbox(mail_sandbox: MailSandbox) -> MailSandbox:
    """The session sandbox with empty mailboxes, an empty queue and no earlier deliveries.

    Emptying (~50 ms) beats a fresh sandbox per test (~0.6 s); a test that broke the
    servers (killed, or a failed restart) gets a freshly started one. UIDs keep growing across
    tests (UIDVALIDITY stays): never assume the first message is UID 1. The drift noted for
    big benchmark runs on one long-lived server does not matter at test sizes.
    """
    return _emptied(mail_sandbox)


@pytest.fixture(scope="session")
def mail_sandbox_tls() -> Iterator[MailSandbox]:
    """A second sandbox in TLS mode: a throw-away CA (``ca_file``), imaps and STARTTLS."""
    yield from _started(MailSandbox(tls=True))


@pytest.fixture
def tls_sandbox(mail_sandbox_tls: MailSandbox) -> MailSandbox:
    """The TLS sandbox with empty mailboxes (see ``sandbox``)."""
    return _emptied(mail_sandbox_tls)


@dataclass(frozen=True)
class SmtpMessage:
    """One DATA received by the scripted server, with the code it answered."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    code: int


_CANNED = {
    250: "250 2.0.0 OK (scripted)",
    421: "421 4.3.2 service shutting down (scripted)",
    450: "450 4.2.0 mailbox busy (scripted)",
    451: "451 4.3.0 try again later (scripted)",
    452: "452 4.3.1 insufficient storage (scripted)",
    550: "550 5.1.1 mailbox unavailable (scripted)",
    552: "552 5.3.4 message too big (scripted)",
    554: "554 5.7.1 rejected (scripted)",
}


class ScriptedSmtp:
    """An aiosmtpd server recording every DATA; answers follow a script, then 250.

    ``set_script([451, 250])``: the first DATA gets 451, the second 250, later ones 250.
    A code may also be a full reply line such as ``"550 5.7.1 go away"``.
    ``before_reply`` (optional) runs with each DATA before the answer goes out: a test's
    way to change the world at the moment the server accepts a mail.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._lock = threading.Lock()
        self._script: list[int | str] = []
        self._messages: list[SmtpMessage] = []
        self.before_reply: Callable[[], None] | None = None
        self._controller = Controller(self, hostname=self.host, port=self.port)

    def set_script(self, codes: list[int | str]) -> None:
        with self._lock:
            self._script = list(codes)

    @property
    def messages(self) -> list[SmtpMessage]:
        """Every DATA received, whatever was answered (see ``.code``)."""
        with self._lock:
            return list(self._messages)

    @property
    def accepted(self) -> list[SmtpMessage]:
        return [m for m in self.messages if 200 <= m.code < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SmtpMessage]:
        """Wait until ``count`` DATA commands arrived (any answer); return them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} SMTP messages arrived")
            time.sleep(0.02)
        return self.messages

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.before_reply is not None:
            self.before_reply()
        with self._lock:
            answer = self._script.pop(0) if self._script else 250
            reply = _CANNED.get(answer, f"{answer} scripted") if isinstance(answer, int) else answer
            self._messages.append(
                SmtpMessage(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=bytes(envelope.original_content or envelope.content or b""),
                    code=int(reply[:3]),
                )
            )
        return reply

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_script() -> Iterator[ScriptedSmtp]:
    """A scripted SMTP server on a free 127.0.0.1 port (for delivery-failure tests)."""
    server = ScriptedSmtp()
    server.start()
    yield server
    server.stop()
