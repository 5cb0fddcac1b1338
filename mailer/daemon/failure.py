"""What an error the intake cannot recover from does: it is never silent.

The intake rides out what passes (servers down, a full disk, a busy store). Anything else (a
damaged store, a password no login can carry, a bug) used to end the intake while the process
lived on, fed the watchdog and answered /healthz with 200. Now it is logged (critical) with
its cause and what to do, the caller marks the daemon failed (/healthz, systemd STATUS, no
more watchdog pings), and ``IntakeFailed`` makes the process exit with status 1.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator

import structlog

from mailer.errors import MailerError

log = structlog.get_logger("mailer.service")


class IntakeFailed(MailerError):
    """The intake met an error it cannot recover from: the daemon exits with status 1."""


@contextlib.contextmanager
def fatal_errors(
    recoverable: tuple[type[BaseException], ...], failed: Callable[[str], None]
) -> Iterator[None]:
    """Within: ``recoverable`` errors pass as they are; any other is logged, reported to
    ``failed`` (one line: "Type: message") and raised again as ``IntakeFailed``."""
    try:
        yield
    except recoverable:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        hint = getattr(exc, "hint", None) or "fix the cause, then start mailer again"
        where = {} if isinstance(exc, MailerError) else {"traceback": traceback.format_exc()}
        log.critical(
            "service.failed",
            error=error,
            action=f"{hint}; mailer exits with status 1 (systemd restarts it)",
            **where,
        )
        failed(error)
        raise IntakeFailed(f"the intake stopped: {error}; {hint}") from exc
