"""``mailer store copy --to URL``: move this config's SQLite store into PostgreSQL.

Run it while the daemon is stopped; it copies every table into this mailbox's schema of an
empty PostgreSQL store, compares counts and digests table by table, and says what to put in
``[store]`` next. A target that already holds this mailbox's rows is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEMS = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    copy = sub.add_parser(
        "copy", help="copy the SQLite store into an empty PostgreSQL store (daemon stopped)"
    )
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    copy.add_argument(
        "--password-file", metavar="FILE", help="the database password (else trust, .pgpass)"
    )
    copy.set_defaults(handler=run)


def run(args: argparse.Namespace, path: Path) -> int:
    from mailer.config.load import load_settings
    from mailer.store.copy import copy_store

    settings = load_settings(path, reach_secrets=False)
    if not args.to.startswith(("postgresql://", "postgres://")):
        print(f"mailer store copy: --to {args.to}: not a PostgreSQL URL", file=sys.stderr)
        return EXIT_PROBLEMS
    password = None
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
    target = dataclasses.replace(settings.store, url=args.to, password=password)
    source = settings.store.path
    if not source.exists():
        print(f"mailer store copy: no SQLite store at {source}", file=sys.stderr)
        return EXIT_PROBLEMS
    report = copy_store(source, target)
    print(f"{'TABLE':<14} {'ROWS':>8} {'COPIED':>8}  DIGEST (SHA-256 of the rows)  SAME")
    for table in report.tables:
        same = "yes" if table.same else "NO"
        print(f"{table.name:<14} {table.rows:>8} {table.copied:>8}  {table.digest[:28]}  {same}")
    rows = sum(t.rows for t in report.tables)
    if not report.ok:
        print(
            f"mailer store copy: the copy in {report.target} differs from {source}; "
            "do not switch to it",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    print(
        f"copied {rows} rows of {settings.store.mailbox} from {source} into {report.target} "
        f"(schema {report.schema}) in {report.seconds:.1f} s; every table checked.\n"
        f'Next: in [store] put url = "{args.to}" in place of path, then start mailer.'
    )
    return EXIT_OK
