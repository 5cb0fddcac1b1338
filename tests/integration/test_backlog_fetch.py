"""A first start judges the backlog it skips from headers: old bodies are never fetched."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from mailer.settings import ImapSettings
from mailer.transport.imap import Mailbox
from sandbox.servers import MailSandbox
from tests.integration.helpers import request

pytestmark = pytest.mark.integration


def test_old_messages_come_with_their_header_only_and_new_ones_whole(
    sandbox: MailSandbox,
) -> None:
    body = "x" * 200_000
    three_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    for n in range(3):
        sandbox.append("helpdesk", request(n, body=body), internaldate=three_days_ago)
    sandbox.append("helpdesk", request(9, body=body))
    settings = ImapSettings(
        host="127.0.0.1", port=sandbox.imap_port, security="none",
        username="helpdesk", password=sandbox.password,
    )  # fmt: skip
    mailbox = Mailbox(settings, readonly=True)
    mailbox.connect()
    try:
        uids = mailbox.uids_after(0)
        fetched = list(mailbox.fetch(uids, 25 << 20, older_than=time.time() - 86400))
    finally:
        mailbox.close()
    old, new = fetched[:3], fetched[3]
    assert all(b"Message-ID: <request-" in m.raw and body.encode() not in m.raw for m in old)
    assert all(len(m.raw) < 2000 and m.size > 200_000 for m in old)
    assert body.encode() in new.raw
