"""News of new mail is never lost between the last look and IDLE, whatever the server does.

A scripted IMAP server on 127.0.0.1 (the one case where Dovecot cannot be made to misbehave
on cue) announces a new message in each of the windows imapclient's ``idle_check`` cannot
see: in the answer to an earlier command, before ``+ idling``, and in the same packet as
``+ idling``. ``Mailbox.wait`` must come back at once in each, not at its timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from mailer.settings import ImapSettings
from mailer.transport.imap import Mailbox

pytestmark = pytest.mark.integration

Script = Callable[[str, str], bytes]  # (tag, command line) -> what the server writes


class ScriptedImap:
    """Just enough IMAP4rev1 for imapclient: LOGIN, SELECT, SEARCH, NOOP, IDLE, LOGOUT."""

    def __init__(self, on_command: dict[str, Script]) -> None:
        self.on_command = on_command
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []
        self.idle_tag = ""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] scripted\r\n")
            for raw in lines:
                tag, _, rest = raw.decode().strip().partition(" ")
                verb = rest.split(" ")[0].upper()
                self.seen.append(verb if tag != "DONE" else "DONE")
                if tag == "DONE":
                    conn.sendall(self.idle_tag.encode() + b" OK IDLE done\r\n")
                    continue
                if verb == "IDLE":
                    self.idle_tag = tag
                script = self.on_command.get(verb, default_answer)
                conn.sendall(script(tag, rest))
                if verb == "LOGOUT":
                    return

    def close(self) -> None:
        self.listener.close()


Connect = Callable[[dict[str, Script]], tuple[Mailbox, ScriptedImap]]


def default_answer(tag: str, rest: str) -> bytes:
    verb = rest.split(" ")[0].upper()
    if verb in ("SELECT", "EXAMINE"):
        return (
            b"* 1 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n"
            + tag.encode()
            + b" OK [READ-ONLY] EXAMINE done\r\n"
        )
    if verb == "CAPABILITY":
        return b"* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n" + tag.encode() + b" OK done\r\n"
    if verb == "IDLE":
        return b"+ idling\r\n"
    if verb == "UID" and "SEARCH" in rest.upper():
        return b"* SEARCH 1\r\n" + tag.encode() + b" OK done\r\n"
    if verb == "LOGOUT":
        return b"* BYE bye\r\n" + tag.encode() + b" OK done\r\n"
    return tag.encode() + b" OK done\r\n"


def answered(prefix: bytes, suffix: bytes = b"") -> Script:
    return lambda tag, rest: prefix + default_answer(tag, rest) + suffix


@pytest.fixture(name="connect")
def _connect() -> Iterator[Connect]:
    opened: list[tuple[Mailbox, ScriptedImap]] = []

    def connect(on_command: dict[str, Script]) -> tuple[Mailbox, ScriptedImap]:
        server = ScriptedImap(on_command)
        settings = ImapSettings(
            host="127.0.0.1", port=server.port, security="none", username="u", password="p"
        )
        mailbox = Mailbox(settings, readonly=True)
        mailbox.connect()
        assert mailbox.uids_after(0) == [1]  # the daemon's last look before it waits
        opened.append((mailbox, server))
        return mailbox, server

    yield connect
    for mailbox, server in opened:
        mailbox.close()
        server.close()


def waited(mailbox: Mailbox, timeout: float = 5.0) -> tuple[bool, float]:
    started = time.monotonic()
    news = mailbox.wait(timeout, lambda: False)
    return news, time.monotonic() - started


def test_exists_in_the_answer_to_an_earlier_command_is_not_lost(connect: Connect) -> None:
    mailbox, server = connect({"CHECK": answered(b"* 2 EXISTS\r\n")})
    mailbox.client._imap.check()  # type: ignore[union-attr]  # imaplib files the EXISTS away
    news, took = waited(mailbox)
    assert news and took < 1.0
    assert "IDLE" not in server.seen  # no need to wait at all: the mailbox changed


def test_exists_in_the_answer_to_noop_before_idle_is_not_lost(connect: Connect) -> None:
    mailbox, server = connect({"NOOP": answered(b"* 2 EXISTS\r\n")})
    news, took = waited(mailbox)
    assert news and took < 1.0
    assert "NOOP" in server.seen


def test_exists_sent_before_plus_idling_is_not_lost(connect: Connect) -> None:
    mailbox, server = connect({"IDLE": answered(b"* 2 EXISTS\r\n")})
    news, took = waited(mailbox)
    assert news and took < 1.0
    assert server.seen[-1] == "DONE"  # IDLE was left properly


def test_exists_in_the_same_packet_as_plus_idling_is_not_lost(connect: Connect) -> None:
    mailbox, server = connect({"IDLE": answered(b"", b"* 2 EXISTS\r\n")})
    news, took = waited(mailbox)
    assert news and took < 1.0
    assert server.seen[-1] == "DONE"


def test_a_quiet_mailbox_waits_for_the_whole_timeout(connect: Connect) -> None:
    mailbox, server = connect({})
    news, took = waited(mailbox, timeout=1.5)
    assert not news and took >= 1.4
    assert server.seen[-1] == "DONE"
