"""``mailer run``: check everything, open the store, run the daemon (or one pass of it).

Everything is checked, templates too, before anything connects; the store is opened with
the daemon's lock; ``[metrics] listen`` serves /metrics and /healthz for the daemon's life.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import structlog

from mailer.cli.main import EXIT_OK, EXIT_UNREACHABLE
from mailer.errors import (
    ConfigError,
    MailerError,
    StoreError,
    StoreLocked,
    StoreOutdated,
    StoreUnavailable,
)
from mailer.ops import logs as logsetup
from mailer.settings import Settings


def run(path: Path, args: argparse.Namespace) -> int:
    from mailer.config import templates
    from mailer.config.checked import known_clean, remember_clean
    from mailer.config.load import check_settings
    from mailer.config.validate import check_templates

    settings_or_none, problems = check_settings(path)
    env = None
    if settings_or_none is not None:  # the daemon runs with the very templates checked here
        env = templates.make_environment(settings_or_none)
        if not known_clean(settings_or_none, env):  # the same inputs passed before
            found = check_templates(settings_or_none, env)
            if not found:
                remember_clean(settings_or_none, env)
            problems = [*problems, *found]
    errors = [p for p in problems if not p.warning]
    if settings_or_none is None or errors:
        raise ConfigError(errors or problems)
    for problem in problems:  # as load_settings reports them
        logging.getLogger("mailer.config").warning("%s", problem)
    return _run(settings_or_none, args, env)


def _run(settings: Settings, args: argparse.Namespace, env: Any = None) -> int:
    once = args.once
    from mailer.daemon.service import Service
    from mailer.store import open_store

    try:
        store = open_store(settings.store, lock=True)
    except (StoreLocked, StoreOutdated):
        raise  # another daemon has it (exit 2), or another mailer version wrote it
    except (StoreError, OSError) as exc:
        hint = exc.hint if isinstance(exc, StoreError) else StoreUnavailable.hint
        raise MailerError(
            f"cannot open the store {settings.store.where}: {exc}; {hint}. Nothing was taken "
            "from the mailbox, so no mail is lost"
        ) from None
    service = Service(
        settings, store, backfill=args.backfill, first_start=args.first_start, env=env
    )
    server = None if once else _serve_metrics(settings, service, args)
    try:
        if not once:
            asyncio.run(service.run_forever())
            return EXIT_OK
        stats = asyncio.run(service.run_once())
    finally:
        if server is not None:
            server.stop()
        store.close()
    if not service.leadership.active and service.leadership.holder is not None:
        print(
            f"mailer: {settings.service.address} is worked by node {service.leadership.holder} "
            "right now; this run did nothing (that node sends the mail)",
            file=sys.stderr,
        )
        return EXIT_OK
    structlog.get_logger("mailer").info(
        "run.once.done",
        processed=stats.processed,
        queued=stats.queued,
        sent=stats.sent,
    )
    if service.outbox.unreachable and stats.sent == 0:
        print(
            f"mailer: cannot reach SMTP {settings.smtp.host}:{settings.smtp.port}; "
            "mail stays queued",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    return EXIT_OK


def _serve_metrics(settings: Settings, service: Any, args: argparse.Namespace) -> Any:
    """``[metrics] listen``: /metrics and /healthz in a thread, for the daemon's life.

    The counters follow the log from here on: the log's chain gets their processor.
    """
    if not settings.metrics.listen:
        return None
    from mailer.ops.metrics import server as metrics

    def state() -> dict[str, object]:
        last = getattr(service, "last_check", None)
        lead = service.leadership
        role = ("active" if lead.active else "standby") if lead.shared else None
        return {
            "connected": service.connected,
            "last_check": last,
            "failed": service.failure,
            "role": role,
            "holder": lead.holder,
        }

    logsetup.configure(json=args.json_logs, verbose=args.verbose, processors=[metrics.count_events])
    try:
        return metrics.start(
            settings.metrics.listen,
            settings.store,
            state,
            max_check_age=metrics.stale_after(settings.imap),
        )
    except OSError as exc:
        raise MailerError(
            f"cannot serve metrics on {settings.metrics.listen}: {exc.strerror or exc}; "
            "free the port or change [metrics] listen"
        ) from None
