"""IMAP checks of ``mailer doctor``: the daemon's connection (``imap.Mailbox.connect``),
walked one step at a time so that the first thing that breaks is named, with its fix.

The mailbox is SELECTed read-write, even where the daemon would EXAMINE it: only then does
a server report PERMANENTFLAGS. Nothing is changed: no CLOSE (it would expunge), no CREATE.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Callable
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from mailer.config.transport import is_loopback
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
from mailer.settings import ImapSettings
from mailer.transport import oauth
from mailer.transport.imap import CannotLogIn, login_mechanism


class ImapProbe:
    """One IMAP session, opened by the steps and closed by ``close``."""

    def __init__(self, settings: ImapSettings, password_source: str) -> None:
        self.s = settings
        self.source = password_source
        self.timeout = step_timeout(settings.timeout)
        self.client: imapclient.IMAPClient | None = None
        self.caps: frozenset[bytes] = frozenset()
        self.selected: dict[bytes, Any] = {}

    def steps(self) -> list[Step]:
        s = self.s
        found = [
            Step("TCP", f"IMAP TCP connection to {s.host}:{s.port}", self.tcp),
            Step("TLS" if s.security != "none" else "greeting", self._connect_name(), self.connect),
            Step("login", f"IMAP login as {s.username}", self.login),
            Step("IDLE", "IMAP IDLE", self.idle),
            Step("MOVE", "IMAP MOVE", self.move),
            Step("UIDPLUS", "IMAP UIDPLUS", self.uidplus),
            Step("SELECT", f"IMAP mailbox {s.mailbox!r} exists and can be selected", self.mailbox),
            Step("keywords", "IMAP custom keywords kept (PERMANENTFLAGS \\*)", self.keywords),
        ]
        if not is_ip(s.host):
            found.insert(0, Step("DNS", f"IMAP host {s.host} resolves", self.dns))
        for key, folder in (("move_to", s.move_to), ("sent_folder", s.sent_folder)):
            if folder:
                found.append(Step(key, f"IMAP folder {folder!r} ({key})", self._folder(folder)))
        return found

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _connect_name(self) -> str:
        s = self.s
        if s.security == "tls":
            return f"IMAP TLS handshake and certificate of {s.host}"
        if s.security == "starttls":
            return f"IMAP STARTTLS and certificate of {s.host}"
        return 'IMAP greeting (no TLS: security = "none")'

    def dns(self) -> Outcome:
        return resolve("imap", self.s.host, self.timeout)

    def tcp(self) -> Outcome:
        s = self.s
        return tcp_connect("imap", s.host, s.port, s.security, self.timeout)

    def connect(self) -> Outcome:
        s = self.s
        try:
            context = tls_context(s.security, s.ca_file)
        except (OSError, ssl.SSLError) as exc:
            return fail(f"cannot load ca_file {s.ca_file}: {exc}", "it must hold PEM certificates")
        try:
            self.client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                use_uid=True,
                ssl=s.security == "tls",
                ssl_context=context,
                timeout=self.timeout,
            )
        except Exception as exc:
            return self._connect_failure(exc)
        client = self.client
        if s.security == "starttls":
            if b"STARTTLS" not in _upper(client.capabilities()):
                return fail(
                    "the server does not offer STARTTLS on this port",
                    'set [imap] security = "tls" and port = 993 if the server has TLS there',
                )
            try:
                client.starttls(context)
            except Exception as exc:
                return self._connect_failure(exc)
        if s.security != "none":
            return describe_tls(client.socket())
        welcome = re.sub(r"^\* OK (\[CAPABILITY [^]]*\] )?", "", _text(client.welcome))
        if not is_loopback(s.host.strip("[]")):
            return warn(
                f"connected in clear text; the server says {welcome!r}",
                'the password travels unencrypted: use security = "tls" or "starttls"',
            )
        return ok(f"the server says {welcome!r}")

    def _connect_failure(self, exc: Exception) -> Outcome:
        s = self.s
        found = tls_failure(exc, "imap", s.host, s.ca_file)
        if found is not None:
            return found
        if isinstance(exc, TimeoutError):
            if s.security == "tls":
                return fail(
                    f"no TLS handshake or greeting within {self.timeout:g} s",
                    'the port may speak plain text first: try security = "starttls"',
                )
            return fail(
                f"connected, but no IMAP greeting within {self.timeout:g} s",
                'if this is the TLS port (993), set [imap] security = "tls"',
            )
        if isinstance(exc, IMAPClientError):
            return fail(f"not an IMAP server? {_text(exc)}", port_hint("imap", s.port, s.security))
        return fail(f"{type(exc).__name__}: {exc}", port_hint("imap", s.port, s.security))

    def login(self) -> Outcome:
        s, client = self.s, self._client()
        if b"LOGINDISABLED" in _upper(client.capabilities()):
            return fail(
                "the server refuses LOGIN on this connection (LOGINDISABLED)",
                'it wants TLS first: set [imap] security = "starttls" (or "tls", port 993)',
            )
        try:
            if s.auth == "xoauth2" and s.oauth is not None:
                client.oauth2_login(s.username, oauth.source_for(s.oauth).token())
            elif login_mechanism(_upper(client.capabilities()), s.username, s.password) == "PLAIN":
                client.plain_login(s.username, s.password)  # what the daemon does too
            else:
                client.login(s.username, s.password)
        except CannotLogIn as exc:
            return fail(str(exc), exc.hint)
        except oauth.OAuthError as exc:
            return fail(f"no OAuth token: {exc}", "fix [imap.oauth] as the message says")
        except LoginError as exc:
            return fail(
                f"authentication failed: {_text(exc)}",
                f"check [imap] username and {self.source}",
            )
        self.caps = _upper(client.capabilities())
        return ok()

    def idle(self) -> Outcome:
        s = self.s
        if b"IDLE" not in self.caps:
            return warn(
                f"not offered: mailer polls every {s.poll_interval:g} s (poll_interval)",
                "lower [imap] poll_interval for faster receipts",
            )
        if not s.idle:
            return ok(f"offered, but [imap] idle = false: polls every {s.poll_interval:g} s")
        return ok("offered; new mail is seen at once")

    def move(self) -> Outcome:
        if b"MOVE" in self.caps:
            return ok("offered")
        if self.s.move_to is None:
            return ok("not offered; only needed with [imap] move_to")
        return warn("not offered: mailer moves by COPY, \\Deleted and UID EXPUNGE instead")

    def uidplus(self) -> Outcome:
        if b"UIDPLUS" in self.caps:
            return ok("offered")
        if self.s.move_to is None or b"MOVE" in self.caps:
            return ok("not offered; not needed (no [imap] move_to, or the server has MOVE)")
        return warn(
            "not offered, nor MOVE: moved mail stays behind flagged \\Deleted (a plain "
            "EXPUNGE could remove other deleted mail)",
            "expunge the mailbox now and then, or use a server with MOVE or UIDPLUS",
        )

    def mailbox(self) -> Outcome:
        s, client = self.s, self._client()
        try:
            info = client.select_folder(s.mailbox, readonly=False)
        except IMAPClientError as exc:
            names = self._folder_names()
            if s.mailbox.upper() != "INBOX" and s.mailbox not in names:
                shown = ", ".join(repr(n) for n in names[:10]) + (" …" if len(names) > 10 else "")
                return fail(
                    f"no mailbox {s.mailbox!r}",
                    f"check [imap] mailbox; {s.username} has {shown or 'no folders'}",
                )
            return fail(f"cannot select it: {_text(exc)}", "check the account's rights on it")
        self.selected = dict(info)
        if b"READ-ONLY" in info and s.move_to:
            return fail(
                "opened read-only: mailer could not move processed mail",
                f"give {s.username} write access to it, or remove [imap] move_to",
            )
        return ok(f"{info.get(b'EXISTS', 0)} messages, UIDVALIDITY {info.get(b'UIDVALIDITY')}")

    def keywords(self) -> Outcome:
        flags = [_text(f) for f in self.selected.get(b"PERMANENTFLAGS", ())]
        if "\\*" in flags:
            return ok("the server keeps keywords clients set on messages")
        return warn(
            f"PERMANENTFLAGS ({' '.join(flags)}) has no \\*: the server drops custom keywords",
            "mailer needs none; tags that staff's mail clients set on requests will not stick",
        )

    def _folder(self, folder: str) -> Callable[[], Outcome]:
        def check() -> Outcome:
            if self._client().folder_exists(folder):
                return ok("exists")
            return warn("does not exist yet: mailer creates it when it first needs it")

        return check

    def _folder_names(self) -> list[str]:
        try:
            return [str(name) for _, _, name in self._client().list_folders()]
        except IMAPClientError:
            return []

    def _client(self) -> imapclient.IMAPClient:
        assert self.client is not None  # the chain runs no step after a failed connect
        return self.client


def _upper(caps: Any) -> frozenset[bytes]:
    return frozenset(bytes(c).upper() for c in caps)


def _text(value: object) -> str:
    """A server's words without Python's b'...' wrapping."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    text = str(value).strip()
    found = re.fullmatch(r"b(['\"])(.*)\1", text)
    return found.group(2) if found else re.sub(r"\bb'([^']*)'", r"'\1'", text)
