"""structlog set-up: readable on a terminal, one JSON object per line otherwise.

Under systemd (stdout or stderr is the journal: ``$JOURNAL_STREAM``) or with ``--json-logs``
the JSON lines go to stdout; under the journal each line also starts with its syslog
priority (``<4>``), which journald strips and keeps, so ``journalctl -p warning`` works.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import IO

import structlog

from mailer.ops.metrics.events import count_events

PRIORITIES = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


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


def _with_priority(render: structlog.types.Processor) -> structlog.types.Processor:
    """Prefix the rendered line with ``<N>``, the level as journald reads it."""

    def prefixed(logger: object, name: str, event: structlog.types.EventDict) -> str:
        priority = PRIORITIES.get(str(event.get("level", "info")), 6)
        line = render(logger, name, event)
        return f"<{priority}>{line.decode() if isinstance(line, bytes) else line}"

    return prefixed


def configure(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Console renderer for people, JSON for journald and log shippers."""
    journal = journal_attached(os.environ, sys.stdout, sys.stderr)
    stream = sys.stdout if journal or json else sys.stderr
    if json is None:
        json = journal or not sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    if journal and json:
        renderer = _with_priority(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            count_events,  # the Prometheus counters (mailer.ops.metrics.server) follow the log
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info
            if json
            else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
