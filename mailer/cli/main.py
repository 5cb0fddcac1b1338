"""Command line: ``mailer [--config PATH] run | check | requeue | threads | thread | demo``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import mailer
from mailer import checkout
from mailer.cli import views
from mailer.errors import (
    ConfigError,
    MailboxUnavailable,
    MailerError,
    StoreLocked,
)
from mailer.model import Status
from mailer.ops import logs as logsetup

if TYPE_CHECKING:  # the commands import what they need when they run: a fast --help
    pass

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailer",
        description="Make a shared help mailbox answer like a great internal service desk.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the TOML config (default: $MAILER_CONFIG, else /etc/mailer/mailer.toml)",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument(
        "--json-logs", action="store_true", default=None, help="log JSON lines even on a terminal"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="log debug lines too, and the info lines of imapclient, aiosmtplib and asyncio",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="watch the mailbox and answer (foreground, for systemd)")
    run.add_argument(
        "--once",
        action="store_true",
        help="process what is in the mailbox, send the outbox, and exit",
    )
    run.add_argument(
        "--backfill",
        action="store_true",
        help="also acknowledge mail older than [imap] backlog at first start",
    )
    run.add_argument(
        "--first-start",
        action="store_true",
        help="take a store without this mailbox's watermark as new (after changing [imap] "
        "mailbox on purpose): mail older than [imap] backlog is skipped",
    )

    sub.add_parser("check", help="validate config, rules and templates without connecting")

    requeue = sub.add_parser("requeue", help="retry a quarantined message")
    requeue.add_argument("uid", type=int, help="its IMAP UID (see 'mailer quarantine')")

    sub.add_parser("quarantine", help="list quarantined messages")

    threads = sub.add_parser("threads", help="list requests")
    threads.add_argument(
        "--status", choices=[s.value for s in Status], help="only requests in this status"
    )
    threads.add_argument("--team", help="only this team (its key or its name)")
    threads.add_argument(
        "--overdue", action="store_true", help="only open requests past a due time"
    )
    threads.add_argument(
        "--due-before", metavar="WHEN", help="only open requests due before WHEN (ISO date or time)"
    )
    threads.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    threads.add_argument(
        "--mailbox",
        metavar="ADDRESS",
        help='a shared store: this mailbox\'s requests, or "all" mailboxes (default: this one)',
    )

    status = sub.add_parser("status", help="which node works which mailbox (a shared store)")
    status.add_argument("--json", action="store_true", help="one JSON array, for scripts")

    thread = sub.add_parser("thread", help="one request's timeline: messages, steps, who, when")
    thread.add_argument("reference", help="the request's reference, e.g. IT-1024")
    thread.add_argument("--json", action="store_true", help="one JSON object, for scripts")

    messages = sub.add_parser("messages", help="the newest inbound messages and the decisions")
    messages.add_argument("--limit", type=int, default=50)
    messages.add_argument("--json", action="store_true")

    outbox = sub.add_parser("outbox", help="list mail waiting, sent or dead-lettered")
    outbox.add_argument("--status", choices=["pending", "sent", "dead"])
    outbox.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo", help="run the whole flow on local sandbox mail servers")
    demo.add_argument("--keep", action="store_true", help="keep the sandbox directory")

    from mailer.cli.admin import register

    register(sub)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed metadata is read only when asked (a fast start)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"mailer {mailer.version()}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logsetup.configure(json=args.json_logs, verbose=args.verbose)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except StoreLocked as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except MailboxUnavailable as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except MailerError as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130


def _demo(*, keep: bool) -> int:
    """Run the checkout's demo as its own program; the sandbox is not part of the product."""
    root = checkout()
    if root is None or not (root / "sandbox" / "demo").is_dir():
        print(
            "mailer demo: the demo needs the test mail servers of a source checkout, which an\n"
            "installed wheel does not carry. From a checkout, run:  bash scripts/demo.sh",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    argv = [sys.executable, "-m", "sandbox.demo", *(["--keep"] if keep else [])]
    return subprocess.run(argv, cwd=root, check=False).returncode


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _demo(keep=args.keep)
    from mailer.config.load import load_settings, resolve_config_path

    path = resolve_config_path(args.config, os.environ)
    handler = getattr(args, "handler", None)
    if handler is not None:  # init, rules ..., templates ...: see cli_admin
        code: int = handler(args, path)
        return code
    if args.command == "check":
        return _check(path)
    if args.command == "run":
        from mailer.cli.run import run

        return run(path, args)
    # Only the daemon connects: the store commands work from an admin's shell without secrets.
    settings = load_settings(path, reach_secrets=False)
    if args.command == "status" or getattr(args, "mailbox", None):
        from mailer.cli import spanning

        return (
            spanning.status(settings, args)
            if args.command == "status"
            else (spanning.threads(settings, args))
        )
    from mailer.store import open_store

    store = open_store(settings.store)
    try:
        return views.show(store, settings, args, now=time.time())
    finally:
        store.close()


def _check(path: Path) -> int:
    from mailer.config.validate import check_all

    settings, problems = check_all(path)
    for problem in problems:
        print(problem, file=sys.stderr if not problem.warning else sys.stdout)
    errors = [p for p in problems if not p.warning]
    if errors:
        print(f"{path}: {len(errors)} problem(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{path}: OK ({len(settings.rules) if settings else 0} rules)")
    if settings is not None:
        from mailer.admin.rules.listing import promises_text

        for line in promises_text(settings):
            print(line)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
