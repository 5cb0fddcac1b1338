"""The SMTP envelope as mailer sends it: MAIL, RCPT and DATA against a real aiosmtpd server.

The outbox sends with its own MAIL/RCPT (``transport.smtp._transaction``), not aiosmtplib's
``sendmail``: these tests hold it to what ``sendmail`` did (SIZE, refusals mapped to
temporary or permanent, the connection usable after a refusal) and to what it adds (an
unsafe address is never put on the command line, SMTPUTF8 only where the server offers it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mailer.errors import PermanentDelivery, TemporaryDelivery
from mailer.settings import SmtpSettings
from mailer.transport.smtp import Sender
from sandbox.processes import free_port

MAIL = b"From: desk@example.test\r\nTo: ann@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"


@dataclass
class Envelopes:
    """Records every MAIL and RCPT with its parameters and every DATA; refuses on cue."""

    refuse_mail: dict[str, str] = field(default_factory=dict)  # address -> reply line
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    mail: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt: list[tuple[str, list[str]]] = field(default_factory=list)
    data: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.mail.append((address, options))
        if address in self.refuse_mail:
            return self.refuse_mail[address]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt.append((address, options))
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or b"")
        self.data.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
        return "250 2.0.0 queued as TEST"


def _server(utf8: bool) -> Iterator[tuple[Envelopes, SmtpSettings]]:
    handler = Envelopes()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=utf8, data_size_limit=10**6
    )
    controller.start()
    try:
        yield handler, SmtpSettings(host="127.0.0.1", port=port, security="none")
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Envelopes, SmtpSettings]]:
    yield from _server(utf8=False)


@pytest.fixture
def smtp_utf8() -> Iterator[tuple[Envelopes, SmtpSettings]]:
    yield from _server(utf8=True)


def _send_all(settings: SmtpSettings, *sends: tuple[bytes, str, str]) -> list[Any]:
    """Each send on one kept connection, in order: its reply or the exception it raised."""

    async def run() -> list[Any]:
        sender = Sender(settings)
        results: list[Any] = []
        try:
            for raw, mail_from, rcpt in sends:
                try:
                    results.append(await sender.send(raw, mail_from, rcpt))
                except Exception as exc:  # the result under test
                    results.append(exc)
        finally:
            await sender.close()
        return results

    return asyncio.run(run())


def _refused_then_a_good_one(settings: SmtpSettings, mail_from: str, rcpt: str) -> Any:
    """What the first of two sends on one connection gave; the second, a good one, went."""
    first, second = _send_all(
        settings, (MAIL, mail_from, rcpt), (MAIL, "desk@example.test", "ann@example.test")
    )
    assert isinstance(second, str)  # the connection went on after the refusal
    return first


def test_a_mail_goes_with_its_size_and_bare_envelope(smtp: tuple[Envelopes, SmtpSettings]) -> None:
    server, settings = smtp
    [reply] = _send_all(settings, (MAIL, "desk@example.test", "ann@example.test"))
    assert "queued as TEST" in reply
    assert server.mail == [("desk@example.test", [f"SIZE={len(MAIL)}"])]
    assert server.rcpt == [("ann@example.test", [])]
    assert server.data == [("desk@example.test", ["ann@example.test"], MAIL)]


def test_the_null_sender_and_an_admins_display_form(smtp: tuple[Envelopes, SmtpSettings]) -> None:
    server, settings = smtp
    _send_all(
        settings,
        (MAIL, "", "ann@example.test"),
        (MAIL, "IT Help <desk@example.test>", "Ann <ann@example.test>"),
    )
    assert [m[0] for m in server.mail] == ["<>", "desk@example.test"]
    assert [r[0] for r in server.rcpt] == ["ann@example.test", "ann@example.test"]
    assert len(server.data) == 2


def test_bare_line_feeds_are_counted_as_sent(smtp: tuple[Envelopes, SmtpSettings]) -> None:
    server, settings = smtp
    raw = MAIL.replace(b"\r\n", b"\n")
    _send_all(settings, (raw, "desk@example.test", "ann@example.test"))
    assert server.mail[0][1] == [f"SIZE={len(MAIL)}"]  # as transmitted, with CRLF
    assert server.data[0][2] == MAIL


def test_a_refused_recipient_is_permanent_and_the_connection_goes_on(
    smtp: tuple[Envelopes, SmtpSettings],
) -> None:
    server, settings = smtp
    server.refuse_rcpt["gone@example.test"] = "550 5.1.1 no such user"
    refused = _refused_then_a_good_one(settings, "desk@example.test", "gone@example.test")
    assert isinstance(refused, PermanentDelivery)
    assert "550 5.1.1 no such user" in str(refused)
    assert [d[1] for d in server.data] == [["ann@example.test"]]


def test_a_sender_refused_for_now_is_temporary(smtp: tuple[Envelopes, SmtpSettings]) -> None:
    server, settings = smtp
    server.refuse_mail["busy@example.test"] = "451 4.3.0 try later"
    refused = _refused_then_a_good_one(settings, "busy@example.test", "ann@example.test")
    assert isinstance(refused, TemporaryDelivery)
    assert not isinstance(refused, PermanentDelivery)
    assert "451 4.3.0 try later" in str(refused)
    assert len(server.data) == 1 and server.rcpt == [("ann@example.test", [])]


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.test> NOTIFY=SUCCESS",
        "ann@example.test\r\nRCPT TO:<x@evil.test>",
        "a b@x.test",
        '"a\\\r"@x.test',
    ],
)
def test_an_address_that_would_inject_is_never_put_on_the_line(
    smtp: tuple[Envelopes, SmtpSettings], address: str
) -> None:
    server, settings = smtp
    refused = _refused_then_a_good_one(settings, "desk@example.test", address)
    assert isinstance(refused, PermanentDelivery)
    assert "envelope address" in str(refused)
    assert server.mail == [("desk@example.test", [f"SIZE={len(MAIL)}"])]  # only the good one
    assert [d[1] for d in server.data] == [["ann@example.test"]]


def test_a_quoted_local_part_is_one_address(smtp: tuple[Envelopes, SmtpSettings]) -> None:
    server, settings = smtp
    [reply] = _send_all(settings, (MAIL, "desk@example.test", '"ann smith"@example.test'))
    assert isinstance(reply, str)
    assert server.rcpt == [('"ann smith"@example.test', [])]


def test_an_international_address_uses_smtputf8_where_offered(
    smtp_utf8: tuple[Envelopes, SmtpSettings],
) -> None:
    server, settings = smtp_utf8
    [reply] = _send_all(settings, (MAIL, "desk@example.test", "évi@example.test"))
    assert isinstance(reply, str)
    assert "SMTPUTF8" in server.mail[0][1]
    assert server.data[0][1] == ["évi@example.test"]


def test_an_international_address_without_smtputf8_is_refused_before_sending(
    smtp: tuple[Envelopes, SmtpSettings],
) -> None:
    server, settings = smtp
    refused = _refused_then_a_good_one(settings, "desk@example.test", "évi@example.test")
    assert isinstance(refused, PermanentDelivery)
    assert "SMTPUTF8" in str(refused) and "évi@example.test" in str(refused)
    assert len(server.mail) == 1 and len(server.data) == 1
