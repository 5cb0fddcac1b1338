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
    """The store failed; the message is the database's own words (the cause is chained).

    ``hint`` says what the admin does about it: each kind has its own, and an error may carry
    a more precise one (``hint=``)."""

    hint = "run `mailer doctor`: it checks the store step by step"

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class StoreLocked(StoreError):
    """Another mailer process holds the store (its lock file): stop it, or use another path."""

    hint = "stop the other mailer first, or give this one its own [store] path"


class DeskTaken(StoreLocked):
    """A second config for a mailbox (or prefix) that another config already works in this
    shared store: give it its own mailbox and prefix, or use the same config file."""


class StoreOutdated(StoreError):
    """The store's schema is not the one this mailer knows: newer, or not yet upgraded."""

    hint = "run the mailer version that wrote it, or start this one once to upgrade the store"


class StoreUnavailable(StoreError):
    """The store cannot be used right now: busy, a full disk, an I/O error, read-only, or it
    cannot be opened. Nothing was written; the same work can be retried once the cause goes."""

    hint = (
        "check that its disk has room and works, and that the user mailer runs as may write "
        "the store, its -wal and -shm files and its directory (`mailer doctor`)"
    )


class StoreBusy(StoreUnavailable):
    """Another connection held the write lock longer than the busy timeout."""

    hint = "another program holds the store's write lock: let it finish, or stop it"


class StoreFull(StoreUnavailable):
    """The disk (or the file size limit) has no room for what the store had to write."""

    hint = "free space on the store's disk (or raise the file size limit)"


class StoreReadOnly(StoreUnavailable):
    """The store file, or its directory, cannot be written by this user."""

    hint = (
        "make the store, its -wal and -shm files and its directory writable by the user "
        "mailer runs as (systemd: StateDirectory=mailer), and its file system read-write"
    )


class LeaseLost(StoreUnavailable):
    """This node does not hold (or no longer holds) its mailbox's lease in a shared store:
    another node works the mailbox, and nothing was written. It waits to take over."""


class StoreCorrupt(StoreError):
    """Not a database, or a damaged one: an admin must restore it (``mailer backup``)."""

    hint = (
        "the store is damaged: stop mailer, put the last copy `mailer backup` made at "
        "[store] path (remove any -wal and -shm files beside it), then start mailer; "
        "`sqlite3 STORE .recover` may save what the copy lacks"
    )


class StoreEmpty(StoreCorrupt):
    """A zero-length file where the store should be: truncated or replaced, never new."""

    hint = (
        "mailer never leaves an empty store behind (it makes a new one whole beside its "
        "path, then links it into place), so this one was truncated or replaced; taking it "
        "for a new store would acknowledge the mailbox's recent requests again. Put the last "
        "copy `mailer backup` made at [store] path; if mailer never ran with this store, "
        "delete the empty file"
    )


class StoreMismatch(StoreError):
    """The store has no watermark for the mailbox, yet it is no new store and the mailbox
    holds mail older than the backlog window: taking it for a first start would answer the
    mailbox's recent requests again."""

    hint = (
        "put back the store mailer used with this mailbox (the last copy `mailer backup` "
        "made); if [imap] mailbox was changed on purpose, set it back, or start once with "
        "`mailer run --first-start` to serve it from this store (mail older than [imap] "
        "backlog is skipped, newer mail the store does not know is acknowledged)"
    )


class TemporaryDelivery(MailerError):
    """The SMTP server said 4xx or the connection failed: retry later."""


class ServerUnreachable(TemporaryDelivery):
    """No SMTP conversation about this mail happened (refused, dropped, timed out)."""


class PermanentDelivery(MailerError):
    """The SMTP server said 5xx: never retry, dead-letter it."""


class MailboxUnavailable(MailerError):
    """The IMAP server cannot be reached or refused us."""
