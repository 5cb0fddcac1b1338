"""IMAP edge: connect, select, fetch new mail in UID batches, wait with IDLE, move, append.

imapclient is blocking; the service runs these calls in a worker thread. Nothing here
decides anything: it hands ``model.InboundMail`` values (MailboxRef, INTERNALDATE, bytes) to
the service and moves or appends only what the service tells it to, after the store has
committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from mailer.errors import MailboxUnavailable, MailerError
from mailer.model import InboundMail, MailboxRef
from mailer.settings import ImapSettings
from mailer.transport import idle, oauth

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    socket.timeout,
    ssl.SSLError,
    IMAPClientError,
    EOFError,
)
XOAUTH2_HINT = (
    "the token was fresh, so check [imap] username (the mailbox address) and, for "
    "Microsoft 365, that the app's service principal has FullAccess to that mailbox "
    "(Add-MailboxPermission) with IMAP enabled; for Gmail, the scope https://mail.google.com/"
)


class RefusedByServer(MailerError):
    """The server answered NO or BAD to a write (quota, rights): retrying will not help."""


class LoginRefused(MailboxUnavailable):
    """The server refused the credentials (a wrong or rotated password, a revoked token)."""


class CannotLogIn(MailerError):
    """The credentials cannot be sent to this server at all: retrying will not help."""

    hint = (
        "use a password of ASCII characters only, or a server that offers AUTH=PLAIN "
        "(`mailer doctor` shows what it offers)"
    )


def login_mechanism(capabilities: frozenset[bytes], username: str, password: str) -> str:
    """Which IMAP login carries the credentials: "LOGIN", or "PLAIN" for credentials that are
    not ASCII: IMAP LOGIN's strings carry
    ASCII only (imaplib refuses to encode anything else), SASL PLAIN carries UTF-8 (RFC 4616).
    CannotLogIn when neither can carry them."""
    if "\0" in username + password:
        raise CannotLogIn(
            "[imap] username or password holds a NUL character, which no IMAP login carries"
        )
    if (username + password).isascii():
        return "LOGIN"
    if b"AUTH=PLAIN" in capabilities:
        return "PLAIN"
    raise CannotLogIn(
        "[imap] username or password has non-ASCII characters: IMAP LOGIN cannot carry them "
        "and the server does not offer AUTHENTICATE PLAIN, which could"
    )


@dataclass(frozen=True)
class Selected:
    uidvalidity: int
    uidnext: int | None
    can_idle: bool
    can_move: bool
    can_uidplus: bool


class Mailbox:
    """One IMAP connection to the shared mailbox."""

    def __init__(self, settings: ImapSettings, *, readonly: bool) -> None:
        self.settings = settings
        self.readonly = readonly
        self.client: imapclient.IMAPClient | None = None
        self.selected: Selected | None = None

    # ---- connection ----------------------------------------------------------------------

    def connect(self) -> Selected:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file) if s.security != "none" else None
        try:
            client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                use_uid=True,
                ssl=s.security == "tls",
                ssl_context=context,
                timeout=s.timeout,
            )
            _quiet(client)
            if s.security == "starttls":
                client.starttls(context)
        except NETWORK_ERRORS as exc:
            raise MailboxUnavailable(f"cannot reach IMAP {s.host}:{s.port}: {exc}") from exc
        try:
            self._login(client)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self.client = client
        try:
            return self.select()
        except IMAPClientError as exc:
            self.close()
            raise MailboxUnavailable(
                f"cannot open mailbox {s.mailbox!r} on {s.host}:{s.port}: {exc}; "
                "check [imap] mailbox"
            ) from exc

    def _login(self, client: imapclient.IMAPClient) -> None:
        """LOGIN, or AUTHENTICATE XOAUTH2 retried once with a fresh token, never more:
        the service's backoff paces any further attempt."""
        s = self.settings
        hint = "check [imap] username and password"
        try:
            if s.auth != "xoauth2" or s.oauth is None:
                caps = frozenset(bytes(c).upper() for c in client.capabilities())
                if login_mechanism(caps, s.username, s.password) == "PLAIN":
                    client.plain_login(s.username, s.password)
                else:
                    client.login(s.username, s.password)
                return
            hint = XOAUTH2_HINT
            source = oauth.source_for(s.oauth)
            try:
                client.oauth2_login(s.username, source.token())
                return
            except imapclient.exceptions.LoginError:
                source.invalidate()  # maybe revoked or expired early: one fresh try
            client.oauth2_login(s.username, source.token())
        except oauth.OAuthError as exc:
            raise MailboxUnavailable(f"no OAuth token for IMAP: {exc}") from exc
        except imapclient.exceptions.LoginError as exc:
            raise LoginRefused(
                f"IMAP login as {s.username!r} on {s.host}:{s.port} refused: {exc}; {hint}"
            ) from exc
        except NETWORK_ERRORS as exc:
            raise MailboxUnavailable(f"cannot reach IMAP {s.host}:{s.port}: {exc}") from exc

    def select(self) -> Selected:
        client = self._client()
        info = client.select_folder(self.settings.mailbox, readonly=self.readonly)
        caps = {c.upper() for c in client.capabilities()}
        self.selected = Selected(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            can_idle=b"IDLE" in caps and self.settings.idle,
            can_move=b"MOVE" in caps,
            can_uidplus=b"UIDPLUS" in caps,
        )
        return self.selected

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _client(self) -> imapclient.IMAPClient:
        if self.client is None:
            raise MailboxUnavailable("not connected")
        return self.client

    # ---- reading -------------------------------------------------------------------------

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid``; ``N:*`` always returns the highest, so filter."""
        client = self._client()
        idle.take_news(client)  # what this search sees needs no second look
        found = client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(int(u) for u in found if int(u) > last_uid)

    def holds_mail_before(self, when: float) -> bool:
        """Does the mailbox hold a message whose INTERNALDATE is older than ``when``? SEARCH
        works in whole days: BEFORE that day, else the INTERNALDATEs of that one day's mail."""
        client = self._client()
        day = dt.datetime.fromtimestamp(when, tz=dt.UTC).date()
        if client.search(["BEFORE", day]):
            return True
        that_day = client.search(["ON", day])
        dates = client.fetch(that_day, ["INTERNALDATE"]) if that_day else {}
        return any(_epoch(d.get(b"INTERNALDATE")) < when for d in dates.values())

    def fetch(
        self, uids: list[int], max_size: int, *, older_than: float | None = None
    ) -> Iterator[InboundMail]:
        """BODY.PEEK (never sets \\Seen); messages over ``max_size`` are fetched cut.

        Messages whose INTERNALDATE is before ``older_than`` (the backlog a first start
        skips) come with their header only: judging them needs no body, and a first start
        on a mailbox of 100,000 old messages then moves kilobytes, not gigabytes. Three
        FETCH commands a batch, whatever its size: no round trip per message but for the
        few over the size cap.
        """
        if not uids or self.selected is None:
            return
        client = self._client()
        sizes = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
        dates = {u: _epoch(meta.get(b"INTERNALDATE")) for u, meta in sizes.items()}
        old = {u for u in sizes if older_than is not None and dates[u] < older_than}
        small = [u for u in uids if u in sizes and u not in old and _size(sizes[u]) <= max_size]
        big = [u for u in uids if u in sizes and u not in old and _size(sizes[u]) > max_size]
        bodies: dict[int, bytes] = {}
        if old:
            for uid, data in client.fetch(sorted(old), ["BODY.PEEK[HEADER]"]).items():
                bodies[uid] = bytes(data.get(b"BODY[HEADER]") or b"")
        if small:
            for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items():
                bodies[uid] = bytes(data.get(b"BODY[]") or b"")
        for uid in big:
            data = client.fetch([uid], [f"BODY.PEEK[]<0.{max_size}>"]).get(uid, {})
            bodies[uid] = bytes(next((v for k, v in data.items() if k.startswith(b"BODY[")), b""))
        for uid in uids:
            if uid not in sizes:
                continue  # expunged meanwhile: nothing to process
            yield InboundMail(
                ref=MailboxRef(self.settings.mailbox, self.selected.uidvalidity, uid),
                internaldate=dates[uid],
                raw=bodies.pop(uid, b""),
                size=_size(sizes[uid]),
            )

    # ---- waiting -------------------------------------------------------------------------

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> bool:
        """Wait for new mail up to ``timeout`` seconds: IDLE when possible, else NOOP polls.

        Returns True when the server announced something. ``should_stop`` is checked every
        second so that SIGTERM is honoured quickly.
        """
        client = self._client()
        deadline = time.monotonic() + timeout
        if not (self.selected and self.selected.can_idle):
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            return False
        return idle.wait_for_news(client, deadline, should_stop)

    def noop(self) -> None:
        self._client().noop()

    # ---- writing (only after commit) ------------------------------------------------------

    def move(self, uids: list[int], folder: str) -> None:
        """UID MOVE when offered, else UID COPY + \\Deleted + UID EXPUNGE of those UIDs only."""
        if not uids:
            return
        with _refusals():
            self._move(uids, folder)

    def _move(self, uids: list[int], folder: str) -> None:
        client = self._client()
        self._ensure_folder(folder)
        if self.selected and self.selected.can_move:
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        client.add_flags(uids, [imapclient.DELETED], silent=True)
        if self.selected and self.selected.can_uidplus:
            client.uid_expunge(uids)
        # Without UIDPLUS a plain EXPUNGE would remove other people's \Deleted mail too:
        # leave the flagged copies for a human rather than risk that.

    def append(self, folder: str, raw: bytes, when: float) -> None:
        with _refusals():
            self._append(folder, raw, when)

    def _append(self, folder: str, raw: bytes, when: float) -> None:
        client = self._client()
        self._ensure_folder(folder)
        stamp = dt.datetime.fromtimestamp(when, tz=dt.UTC)
        client.append(folder, raw, flags=[imapclient.SEEN], msg_time=stamp)

    def _ensure_folder(self, folder: str) -> None:
        client = self._client()
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except IMAPClientError:
                if not client.folder_exists(folder):
                    raise


def _quiet(client: imapclient.IMAPClient) -> None:
    """imapclient sets imaplib's debug level to 5 to route it to a logger, and imaplib then
    formats every response with ``%r`` whether anyone logs or not: a fetched message's
    bytes twice over, about 2.3 times its size in transient strings (57 MB for a 25 MB
    message). We never read those logs."""
    imap = getattr(client, "_imap", None)  # the imaplib object, as idle.py uses it too
    if imap is not None:
        imap.debug = 0


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A tagged NO/BAD becomes RefusedByServer; a broken connection stays a network error."""
    try:
        yield
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise RefusedByServer(str(exc)) from exc


def _size(meta: Any) -> int:
    return int(meta.get(b"RFC822.SIZE", 0))


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.astimezone()  # imapclient gives local naive times by default
        return float(value.timestamp())
    return time.time()
