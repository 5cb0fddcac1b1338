"""IMAP IDLE without a blind spot: every way news of new mail can arrive is looked at.

imapclient's ``idle_check`` only reads what reaches the socket while IDLE runs. News that
came earlier is lost to it in three ways, each closed here: an ``EXISTS`` answered to an
earlier command (a FETCH, the APPEND of a Sent copy) is filed by imaplib in
``untagged_responses``; one sent before ``+ idling`` is filed there too; and one that came in
the same packet as ``+ idling`` sits in imaplib's read buffer, where polling the socket cannot
see it. A request that arrives in any of those windows is fetched at once instead of waiting
for the next mail or the catch-up poll.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError

from mailer.errors import MailboxUnavailable

_NEWS_LINE = re.compile(rb"\* \d+ (EXISTS|RECENT)\b", re.I)
_QUIET: tuple[type[BaseException], ...] = (OSError, EOFError, IMAPClientError)


def wait_for_news(
    client: imapclient.IMAPClient, deadline: float, should_stop: Callable[[], bool]
) -> bool:
    """IDLE until the server announces new mail (True), ``deadline`` or ``should_stop``."""
    if changed_since_last_look(client):
        return True
    start_idle(client)
    news = take_news(client) or buffered_news(client)  # sent before or with "+ idling"
    empty_wakeups = 0
    try:
        while not news and time.monotonic() < deadline and not should_stop():
            step = min(1.0, deadline - time.monotonic())
            started = time.monotonic()
            responses = client.idle_check(timeout=step)
            if any(is_bye(r) for r in responses):
                raise MailboxUnavailable("the IMAP server closed the connection (BYE)")
            news = any(is_news(r) for r in responses)
            # imapclient swallows EOF inside idle_check: a socket that is "readable"
            # at once but yields nothing, twice in a row, is a closed connection.
            quick = not responses and time.monotonic() - started < step / 2
            empty_wakeups = empty_wakeups + 1 if quick else 0
            if empty_wakeups >= 2:
                raise MailboxUnavailable("the IMAP connection was closed by the server")
    finally:
        with contextlib.suppress(*_QUIET):
            client.idle_done()
    return news


def start_idle(client: imapclient.IMAPClient) -> None:
    """``IDLE`` up to the server's ``+ idling``, filing what comes before it.

    imapclient's own ``idle()`` refuses an untagged answer before the continuation ("Unexpected
    IDLE response"), which servers do send when mail arrived just then.
    """
    imap = client._imap
    tag = imap._command("IDLE")
    while imap._get_response() is not None:  # None: the continuation; untagged ones are filed
        refused = imap.tagged_commands.get(tag)
        if refused is not None:
            raise IMAPClientError(f"IDLE refused: {refused}")
    client._idle_tag = tag


def changed_since_last_look(client: imapclient.IMAPClient) -> bool:
    """Did mail arrive since the last UID SEARCH? Asked right before IDLE.

    The news imaplib filed away comes first; then a NOOP asks the server, for servers that
    only tell at the end of a command. What arrives between the NOOP and ``+ idling`` comes
    before or with the continuation, where ``wait_for_news`` looks next.
    """
    if take_news(client):
        return True
    _, responses = client.noop()
    return any(is_news(r) for r in responses) or take_news(client)


def take_news(client: imapclient.IMAPClient) -> bool:
    """Take the EXISTS/RECENT that imaplib filed away outside IDLE: did any arrive?"""
    filed = client._imap.untagged_responses
    found = False
    for name in ("EXISTS", "RECENT"):
        found = bool(filed.pop(name, None)) or found
    return found


def buffered_news(client: imapclient.IMAPClient) -> bool:
    """Whole untagged lines already in imaplib's buffer, read without blocking.

    A partial line is left for ``idle_check``, whose poll wakes when the rest arrives.
    """
    imap = client._imap
    sock = client.socket()
    news = False
    sock.setblocking(False)
    try:
        while b"\n" in _peek(imap.file):
            news = bool(_NEWS_LINE.match(imap._get_line())) or news
    except _QUIET:
        pass  # a closed connection: idle_check will say so
    finally:
        sock.setblocking(True)
    return news


def _peek(file: Any) -> bytes:
    """What the reader has buffered (one non-blocking read if nothing is)."""
    try:
        return bytes(file.peek(1))
    except (OSError, ValueError):  # no data without waiting (TLS: SSLWantReadError)
        return b""


def is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


def is_news(response: Any) -> bool:
    return (
        isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
    )
