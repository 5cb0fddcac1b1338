"""SMTP checks of ``mailer doctor``: what ``smtp.Sender`` does in one ``connect``, step by step.

EHLO is reported as the server answers it (does it offer STARTTLS? AUTH, before and after
TLS?), because "AUTH not offered" before STARTTLS is the usual cause of a refused login.
The optional test mail goes to the service's own address and carries our loop header, so
the daemon records it as its own mail and never answers it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import socket
import ssl
from collections.abc import Coroutine
from email.utils import format_datetime
from typing import Any, TypeVar

import aiosmtplib

from mailer.config.transport import is_loopback
from mailer.core.writing import mime
from mailer.core.writing.render import LOOP_HEADER
from mailer.daemon.mail_queue import envelope_sender
from mailer.ops.doctor.checklist import Outcome, Step, fail, ok, warn
from mailer.ops.doctor.net import (
    describe_tls,
    is_ip,
    port_hint,
    resolve,
    step_timeout,
    tcp_connect,
    tls_context,
    tls_failure,
)
from mailer.settings import Settings
from mailer.transport import oauth

T = TypeVar("T")
TEST_SUBJECT = "mailer doctor: test message"


class SmtpProbe:
    """One SMTP session, opened by the steps and closed by ``close``."""

    def __init__(self, settings: Settings, password_source: str, *, send_test: bool) -> None:
        self.settings = settings
        self.s = settings.smtp
        self.source = password_source
        self.send_test = send_test
        self.timeout = step_timeout(settings.smtp.timeout)
        self.loop = asyncio.new_event_loop()
        self.client: aiosmtplib.SMTP | None = None

    def steps(self) -> list[Step]:
        s = self.s
        found = [Step("TCP", f"SMTP TCP connection to {s.host}:{s.port}", self.tcp)]
        if not is_ip(s.host):
            found.insert(0, Step("DNS", f"SMTP host {s.host} resolves", self.dns))
        if s.security == "tls":
            found.append(
                Step("TLS", f"SMTP TLS handshake and certificate of {s.host}", self.connect)
            )
        else:
            found.append(Step("greeting", "SMTP greeting", self.connect))
        found.append(Step("EHLO", "SMTP EHLO", self.ehlo))
        if s.security == "starttls":
            found.append(Step("STARTTLS", f"SMTP STARTTLS and certificate of {s.host}", self.tls))
        who = f" as {s.username}" if s.username else ""
        found.append(Step("AUTH", f"SMTP AUTH{who}", self.auth))
        if self.send_test:
            address = self.settings.service.address
            found.append(Step("test mail", f"SMTP test mail to {address}", self.test_mail))
        return found

    def close(self) -> None:
        client, self.client = self.client, None
        try:
            if client is not None and client.is_connected:
                try:
                    self._run(client.quit())
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        finally:
            self.loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """One step's conversation, never longer than the step's timeout (plus a margin)."""
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, self.timeout + 1))

    def dns(self) -> Outcome:
        return resolve("smtp", self.s.host, self.timeout)

    def tcp(self) -> Outcome:
        s = self.s
        return tcp_connect("smtp", s.host, s.port, s.security, self.timeout)

    def connect(self) -> Outcome:
        s = self.s
        try:
            context = tls_context(s.security, s.ca_file)
        except (OSError, ssl.SSLError) as exc:
            return fail(f"cannot load ca_file {s.ca_file}: {exc}", "it must hold PEM certificates")
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=False,  # a step of its own, after EHLO has shown it is offered
            tls_context=context,
            timeout=self.timeout,
            local_hostname=s.helo,
        )
        try:
            greeting = self._run(client.connect())
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return self._connect_failure(exc)
        self.client = client
        if s.security == "tls":
            return describe_tls(client.get_transport_info("ssl_object"))
        said = f"the server says '{greeting.code} {greeting.message}'"
        if s.security == "none" and not is_loopback(s.host.strip("[]")):
            return warn(
                f"connected in clear text; {said}",
                'mail (and any password) travels unencrypted: use security = "starttls" or "tls"',
            )
        return ok(said)

    def _connect_failure(self, exc: BaseException) -> Outcome:
        s = self.s
        found = tls_failure(exc, "smtp", s.host, s.ca_file)
        if found is not None:
            return found
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if exc.code < 0:  # aiosmtplib's code for a line that is not SMTP
                hint = port_hint("smtp", s.port, s.security)
                return fail(f"not an SMTP server? {exc.message}", hint)
            return fail(f"the server refused us: {exc.code} {exc.message}", "see the server's log")
        if isinstance(exc, TimeoutError):
            if s.security == "tls":
                return fail(
                    f"no TLS handshake or greeting within {self.timeout:g} s",
                    'the port may speak plain text first: try security = "starttls" (port 587)',
                )
            return fail(
                f"connected, but no SMTP greeting within {self.timeout:g} s",
                'if this is the TLS port (465), set [smtp] security = "tls"',
            )
        return fail(f"{exc}", port_hint("smtp", s.port, s.security))

    def ehlo(self) -> Outcome:
        client = self._client()
        try:
            self._run(client.ehlo())
        except aiosmtplib.SMTPResponseException as exc:
            return fail(f"refused: {exc.code} {exc.message}", "set [smtp] helo to this host's name")
        if self.s.security == "starttls" and not client.supports_extension("starttls"):
            return fail(
                "the server does not offer STARTTLS on this port",
                'set [smtp] security = "tls" and port = 465 if the server has TLS there',
            )
        return ok(f"offers {_offers(client)}")

    def tls(self) -> Outcome:
        client = self._client()
        try:
            self._run(client.starttls())
            self._run(client.ehlo())
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return self._connect_failure(exc)
        found = describe_tls(client.get_transport_info("ssl_object"))
        return Outcome(
            found.status, f"{found.detail}; EHLO now offers {_offers(client)}", found.fix
        )

    def auth(self) -> Outcome:
        s, client = self.s, self._client()
        offered = client.supports_extension("auth")
        if s.username is None:
            note = " (the server offers AUTH)" if offered else ""
            return ok(f"not used: no [smtp] username{note}; the server must take our mail without")
        if not offered:
            fix = (
                'servers offer AUTH over TLS only: set [smtp] security = "starttls" or "tls"'
                if s.security == "none"
                else "ask the mail admin for the submission port with AUTH (usually 587)"
            )
            return fail("the server offers no AUTH on this connection", fix)
        try:
            if s.auth == "xoauth2" and s.oauth is not None:
                token = oauth.source_for(s.oauth).token()
                self._run(client.auth_xoauth2(s.username or "", token))
            else:
                self._run(client.login(s.username, s.password or ""))
        except oauth.OAuthError as exc:
            return fail(f"no OAuth token: {exc}", "fix [smtp.oauth] as the message says")
        except aiosmtplib.SMTPAuthenticationError as exc:
            return fail(
                f"authentication failed: {exc.code} {exc.message}",
                f"check [smtp] username and {self.source}",
            )
        except aiosmtplib.SMTPException as exc:
            return fail(f"{exc}", f"check [smtp] username and {self.source}")
        return ok("accepted")

    def test_mail(self) -> Outcome:
        client, service = self._client(), self.settings.service
        sender = envelope_sender(self.settings)
        try:
            errors, reply = self._run(client.sendmail(sender, [service.address], self.message()))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            said = f"{first.code} {first.message}" if first else str(exc)
            return fail(f"recipient refused: {said}", "check [service] address")
        except aiosmtplib.SMTPSenderRefused as exc:
            return fail(
                f"sender <{sender}> refused: {exc.code} {exc.message}",
                "check [smtp] envelope_sender, and that [smtp] username may send as "
                f"{service.address}",
            )
        except aiosmtplib.SMTPResponseException as exc:
            hint = (
                "set [smtp] username and a password" if exc.code == 530 else "see the server's log"
            )
            return fail(f"refused: {exc.code} {exc.message}", hint)
        if errors:
            return fail(f"refused: {errors}", "check [service] address")
        return ok(
            f"accepted: 250 {reply}; the daemon records it as its own mail and does not answer it"
        )

    def message(self) -> bytes:
        """A short mail From and To the service, marked as ours (``LOOP_HEADER``)."""
        service = self.settings.service
        now = dt.datetime.now(dt.UTC)
        ours = mime.address(service.name, service.address)
        lines = [
            mime.header_line("From", ours, structured=True),
            mime.header_line("To", ours, structured=True),
            mime.header_line("Subject", TEST_SUBJECT),
            mime.header_line("Date", format_datetime(now)),
            mime.header_line(
                "Message-ID", f"<{secrets.token_hex(16)}.doctor@{service.domain}>", structured=True
            ),
            mime.header_line("Auto-Submitted", "auto-generated", structured=True),
            mime.header_line("X-Auto-Response-Suppress", "All", structured=True),
            mime.header_line(LOOP_HEADER, service.address, structured=True),
        ]
        text = (
            f"A test from 'mailer doctor --send-test' on {socket.gethostname()} at "
            f"{now:%Y-%m-%d %H:%M} UTC.\n\nmailer records it as its own mail and sends no "
            "receipt. You may delete it.\n"
        )
        return mime.compose(lines, text, None, f"doctor-{secrets.token_hex(8)}", ())

    def _client(self) -> aiosmtplib.SMTP:
        assert self.client is not None  # the chain runs no step after a failed connect
        return self.client


def _offers(client: aiosmtplib.SMTP) -> str:
    starttls = "STARTTLS" if client.supports_extension("starttls") else "no STARTTLS"
    methods = " ".join(m.upper() for m in client.server_auth_methods)
    auth = f"AUTH {methods}" if methods else "no AUTH"
    return f"{starttls}, {auth}"
