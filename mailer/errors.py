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


class StoreLocked(MailerError):
    """Another mailer process holds the store."""


class TemporaryDelivery(MailerError):
    """The SMTP server said 4xx or the connection failed: retry later."""


class ServerUnreachable(TemporaryDelivery):
    """No SMTP conversation about this mail happened (refused, dropped, timed out)."""


class PermanentDelivery(MailerError):
    """The SMTP server said 5xx: never retry, dead-letter it."""


class MailboxUnavailable(MailerError):
    """The IMAP server cannot be reached or refused us."""
