"""SMTP edge: one reused aiosmtplib connection; failures mapped to temporary or permanent."""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from mailer.errors import PermanentDelivery, ServerUnreachable, TemporaryDelivery
from mailer.settings import SmtpSettings
from mailer.transport import oauth


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
            options = ["NOTIFY=NEVER"] if client.supports_extension("dsn") else []
            errors, reply = await client.sendmail(mail_from, [rcpt], raw, rcpt_options=options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            await self._reset()
            if refusal is not None:
                raise _classify(refusal.code, refusal.message) from exc
            raise TemporaryDelivery(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            raise _classify(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.close()
            raise ServerUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if rcpt in errors:
            code, message = errors[rcpt]
            raise _classify(code, message)
        return reply

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


def _classify(code: int, message: str) -> TemporaryDelivery | PermanentDelivery:
    text = f"{code} {message}".strip()
    if 500 <= code < 600:
        return PermanentDelivery(text)
    return TemporaryDelivery(text)
