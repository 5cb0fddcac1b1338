"""structlog set-up: readable on a terminal, one JSON object per line otherwise.

Under systemd (stdout or stderr is the journal: ``$JOURNAL_STREAM``) or with ``--json-logs``
the JSON lines go to stdout; under the journal each line also starts with its syslog
priority (``<4>``), which journald strips and keeps, so ``journalctl -p warning`` works.

One stream: records of the stdlib ``logging`` module (mailer's config and OAuth code,
imapclient, aiosmtplib, asyncio) pass through the same processors as structlog's events
(``ProcessorFormatter``), with a ``logger`` field naming who wrote them. The chatty
libraries are heard from at WARNING, at INFO with ``verbose``; never at DEBUG, where
imapclient logs the IMAP conversation (message bodies included).

Light on purpose: no metrics here. The daemon that serves metrics adds their counting
processor (``processors=``), so ``mailer --version`` does not load prometheus_client.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO

import structlog
from structlog.types import EventDict, Processor

PRIORITIES = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}
NOISY = ("imapclient", "aiosmtplib", "asyncio")  # libraries whose INFO lines are chatter
_HANDLER = "mailer"  # the name of our handler on the root logger, replaced by configure()


def journal_attached(environ: Mapping[str, str], *streams: IO[str]) -> bool:
    """True when one of ``streams`` is the journal stream systemd gave us.

    ``$JOURNAL_STREAM`` is inherited by children (a shell started from a unit), so it counts
    only when its ``device:inode`` is really one of our streams, as sd-daemon(3) advises.
    """
    wanted = environ.get("JOURNAL_STREAM", "")
    if not wanted:
        return False
    for stream in streams:
        try:
            st = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):  # closed or replaced (pytest capture)
            continue
        if f"{st.st_dev}:{st.st_ino}" == wanted:
            return True
    return False


def _with_priority(render: Processor) -> Processor:
    """Prefix the rendered line with ``<N>``, the level as journald reads it."""

    def prefixed(logger: object, name: str, event: EventDict) -> str:
        priority = PRIORITIES.get(str(event.get("level", "info")), 6)
        line = render(logger, name, event)
        return f"<{priority}>{line.decode() if isinstance(line, bytes) else line}"

    return prefixed


def configure(
    *,
    json: bool | None = None,
    level: int = logging.INFO,
    verbose: bool = False,
    processors: Sequence[Processor] = (),
) -> None:
    """Console renderer for people, JSON for journald and log shippers.

    ``processors`` run on every event and record before the timestamp and the renderer
    (the metrics' counter, see mailer.ops.metrics.events). ``verbose``: DEBUG lines, and the
    INFO lines of imapclient, aiosmtplib and asyncio. Calling it again replaces the set-up.
    """
    journal = journal_attached(os.environ, sys.stdout, sys.stderr)
    stream = sys.stdout if journal or json else sys.stderr
    if json is None:
        json = journal or not sys.stderr.isatty()
    level = min(level, logging.DEBUG) if verbose else level
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    if journal and json:
        renderer = _with_priority(renderer)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        *processors,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The console renderer lays out exceptions itself; JSON wants them as a string field.
    exceptions: Processor = (
        structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer()
    )
    structlog.configure(
        processors=[*shared, exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # The stdlib's records: same chain, same stream, with the name of the logger that wrote.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exceptions,
            renderer,
        ],
    )
    _route_stdlib(stream, formatter, level=level, verbose=verbose)


def _route_stdlib(
    stream: IO[str], formatter: logging.Formatter, *, level: int, verbose: bool
) -> None:
    """Our one handler on the root logger (an earlier one of ours is replaced)."""
    handler = logging.StreamHandler(stream)
    handler.name = _HANDLER
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.name == _HANDLER]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)  # other handlers (pytest's caplog) stay
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(level, logging.INFO if verbose else logging.WARNING))
