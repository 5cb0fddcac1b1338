"""SMTP edge: one reused aiosmtplib connection; failures mapped to temporary or permanent."""

from __future__ import annotations

import asyncio
import email.utils
import re
import ssl

import aiosmtplib
from aiosmtplib import SMTPStatus

from mailer.errors import PermanentDelivery, ServerUnreachable, TemporaryDelivery
from mailer.settings import SmtpSettings
from mailer.transport import oauth

# what would end an envelope path or start a parameter on the command line
_UNSAFE = re.compile(r'[\s<>"\x00-\x1f\x7f]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\r\n]|\\.)*"(?=@)')  # RFC 5321: "a b"@host is one


class Sender:
    """Keeps one SMTP connection open across sends and reconnects when it drops."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        xoauth2 = s.auth == "xoauth2" and s.oauth is not None
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=context,
            timeout=s.timeout,
            local_hostname=s.helo,
            username=None if xoauth2 else s.username,
            password=None if xoauth2 else s.password,
        )
        await client.connect()
        if xoauth2:
            try:
                await self._xoauth2(client)
            except BaseException:
                client.close()
                raise
        return client

    async def _xoauth2(self, client: aiosmtplib.SMTP) -> None:
        """AUTH XOAUTH2, retried once with a fresh token; the outbox's backoff does the rest."""
        s = self.settings
        assert s.oauth is not None
        source = oauth.source_for(s.oauth)
        try:
            try:
                token = await asyncio.to_thread(source.token)
                await client.auth_xoauth2(s.username or "", token)
                return
            except aiosmtplib.SMTPAuthenticationError:
                source.invalidate()  # maybe revoked or expired early: one fresh try
            token = await asyncio.to_thread(source.token)
            await client.auth_xoauth2(s.username or "", token)
        except oauth.OAuthError as exc:
            raise ServerUnreachable(f"no OAuth token for SMTP: {exc}") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ServerUnreachable(
                f"SMTP AUTH XOAUTH2 as {s.username!r} on {s.host}:{s.port} refused: "
                f"{exc.code} {exc.message}; the token was fresh, so check [smtp] username "
                "(the mailbox address) and, for Microsoft 365, that SMTP AUTH is enabled for "
                "the mailbox and the app's service principal may send as it"
            ) from exc

    async def send(self, raw: bytes, mail_from: str, rcpt: str) -> str:
        """Send once; returns the server's reply. Raises Temporary/PermanentDelivery."""
        if self.client is None or not self.client.is_connected:
            try:
                self.client = await self._connect()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                # A refused greeting or AUTH (even 5xx) says nothing about this mail:
                # keep it queued and report the server as unreachable.
                self.client = None
                raise ServerUnreachable(
                    f"cannot use SMTP {self.settings.host}:{self.settings.port}: {exc}"
                ) from exc
        client = self.client
        assert client is not None
        try:
            return await _transaction(client, raw, mail_from, rcpt)
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            raise _classify(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            raise ServerUnreachable(f"{type(exc).__name__}: {exc}") from exc

    async def _reset(self) -> None:
        if self.client is None:
            return
        try:
            await self.client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self.close()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


async def _transaction(client: aiosmtplib.SMTP, raw: bytes, mail_from: str, rcpt: str) -> str:
    """MAIL, RCPT and DATA for one mail to one recipient; returns the server's last reply.

    The outbox holds bare envelope addresses, checked once here: aiosmtplib's ``sendmail``
    would parse each of them twice and scan the whole mail twice for line endings, which
    was a tenth of the daemon's CPU per receipt."""
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    utf8 = not (mail_from.isascii() and rcpt.isascii())
    if utf8 and not client.supports_extension("smtputf8"):
        raise PermanentDelivery(
            f"the address {rcpt if not rcpt.isascii() else mail_from!r} needs SMTPUTF8, "
            "which the SMTP server does not offer"
        )
    sender, recipient = _path(mail_from), _path(rcpt)  # both before anything is sent
    options = [b"SMTPUTF8"] if utf8 else []
    if client.supports_extension("size"):  # RFC 1870: octets as sent, CRLF included
        options.append(b"SIZE=%d" % (len(raw) + raw.count(b"\n") - raw.count(b"\r\n")))
    reply = await client.execute_command(b"MAIL", b"FROM:" + sender, *options)
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail_from)
    notify = [b"NOTIFY=NEVER"] if client.supports_extension("dsn") else []
    reply = await client.execute_command(b"RCPT", b"TO:" + recipient, *notify)
    if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, rcpt)
    return (await client.data(raw)).message


def _path(address: str) -> bytes:
    """``<address>`` for MAIL FROM or RCPT TO (``<>``: the null sender); an address that
    would end the path or start another parameter there is refused, never sent."""
    bare = address.strip()
    if bare.endswith(">") and not _CONTROL.search(bare):  # "Name <a@b>", as an admin wrote it
        bare = email.utils.parseaddr(bare)[1] or bare
    if _CONTROL.search(bare) or _UNSAFE.search(_QUOTED_LOCAL.sub("", bare, count=1)):
        raise PermanentDelivery(f"{address!r} cannot be an SMTP envelope address")
    address = bare
    return b"<" + address.encode() + b">"


def _classify(code: int, message: str) -> TemporaryDelivery | PermanentDelivery:
    text = f"{code} {message}".strip()
    if 500 <= code < 600:
        return PermanentDelivery(text)
    return TemporaryDelivery(text)
