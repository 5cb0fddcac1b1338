"""One exception root; each error is named after who has to act on it."""

from __future__ import annotations

from dataclasses import dataclass


class MailerError(Exception):
    """Root of every error mailer raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem, printed as ``PATH:LINE: [section] key: message``."""

    path: str
    line: int | None
    section: str | None
    key: str | None
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line or 0}:"
        scope = f" [{self.section}]" if self.section else ""
        key = f" {self.key}:" if self.key else ""
        kind = " warning:" if self.warning else ""
        return f"{where}{kind}{scope}{key} {self.message}"


class ConfigError(MailerError):
    """The configuration cannot be used; an admin must fix the file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(MailerError):
    """The store failed; the message is the database's own words (the cause is chained)."""


class StoreLocked(StoreError):
    """Another mailer process holds the store (its lock file): stop it, or use another path."""


class DeskTaken(StoreLocked):
    """A second config for a mailbox (or prefix) that another config already works in this
    shared store: give it its own mailbox and prefix, or use the same config file."""


class StoreOutdated(StoreError):
    """The store's schema is not the one this mailer knows: newer, or not yet upgraded."""


class StoreUnavailable(StoreError):
    """The store cannot be used right now: busy, a full disk, an I/O error, read-only, or it
    cannot be opened. Nothing was written; the same work can be retried once the cause goes."""


class StoreBusy(StoreUnavailable):
    """Another connection held the write lock longer than the busy timeout."""


class StoreFull(StoreUnavailable):
    """The disk (or the file size limit) has no room for what the store had to write."""


class StoreReadOnly(StoreUnavailable):
    """The store file, or its directory, cannot be written by this user."""


class LeaseLost(StoreUnavailable):
    """This node does not hold (or no longer holds) its mailbox's lease in a shared store:
    another node works the mailbox, and nothing was written. It waits to take over."""


class StoreCorrupt(StoreError):
    """Not a database, or a damaged one: an admin must restore it (``mailer backup``)."""


class TemporaryDelivery(MailerError):
    """The SMTP server said 4xx or the connection failed: retry later."""


class ServerUnreachable(TemporaryDelivery):
    """No SMTP conversation about this mail happened (refused, dropped, timed out)."""


class PermanentDelivery(MailerError):
    """The SMTP server said 5xx: never retry, dead-letter it."""


class MailboxUnavailable(MailerError):
    """The IMAP server cannot be reached or refused us."""
