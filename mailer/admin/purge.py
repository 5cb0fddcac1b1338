"""``mailer purge [--days N] [--dry-run]`` and ``mailer backup DEST [--force]``.

Both are safe while the daemon runs, and neither takes the daemon's lock file: the purge is
one ``BEGIN IMMEDIATE`` transaction that waits its turn (busy timeout) between the daemon's
batches; the backup uses SQLite's online backup API, which copies one consistent snapshot
of a WAL store without stopping writers. What the purge removes is in ``store/retention.py``,
how the copy is made in ``store/backup.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.errors import StoreError
from mailer.store.rows import Cutoffs, PurgeCounts

if TYPE_CHECKING:
    from mailer.store import Store

DAY = 86400.0
LABELS = {
    "requests": "requests (closed, or resolved past the reopen window)",
    "request_events": "  their steps, notes and ratings (events)",
    "request_outbox_rows": "  their outbox rows (mail sent or dead)",
    "request_mails_out": "  their records of mail we sent",
    "request_mails_in_kept_as_keys": "  their incoming mails, kept as bare keys (duplicates)",
    "outbox_bodies_emptied": "bodies of sent or dead mail in the outbox",
    "unthreaded_messages_anonymised": "senders and subjects of mail in no request",
}


# ---- purge ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--days",
        type=_days,
        metavar="N",
        help="retention in days (default: [store] retention_days)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would go, change nothing"
    )


def cutoffs(now: float, days: int, reopen_days: int) -> Cutoffs:
    """A resolved request can still be reopened by a reply: it waits for both windows."""
    return Cutoffs(closed=now - days * DAY, resolved=now - max(days, reopen_days) * DAY)


def report(counts: PurgeCounts, *, dry_run: bool) -> list[str]:
    """The lines ``mailer purge`` prints: one count per kind, zeros included."""
    width = max(len(label) for label in LABELS.values())
    lines = ["would remove:" if dry_run else "removed:"]
    for f in fields(counts):
        if f.name in LABELS:
            lines.append(f"  {LABELS[f.name]:<{width}}  {getattr(counts, f.name)}")
    if counts.requests_kept_mail_waiting:
        lines.append(
            f"kept: {counts.requests_kept_mail_waiting} request(s) past retention with mail"
            " still waiting to go out (the next purge takes them)"
        )
    return lines


def run(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings
    from mailer.store import open_store

    settings = load_settings(config_path, reach_secrets=False)
    days = args.days or settings.store.retention_days
    if days is None:
        print(
            f"mailer: no retention set: add 'retention_days = N' to [store] in {config_path},"
            " or pass --days N",
            file=sys.stderr,
        )
        return 1
    path = settings.store.path
    if not path.exists():
        print(f"mailer: no store at {path}", file=sys.stderr)
        return 1
    limits = cutoffs(time.time(), days, settings.workflow.reopen_days)
    print(f"retention {days} days: closed requests and mail before {_day(limits.closed)},")
    print(f"resolved requests before {_day(limits.resolved)}")
    try:
        store = open_store(path)  # no lock file: the daemon may be running
    except StoreError as exc:
        print(f"mailer: the store {path}: {exc}", file=sys.stderr)
        return 1
    try:
        try:
            counts = store.purge(limits, dry_run=args.dry_run)
        except StoreError as exc:  # e.g. locked longer than the busy timeout
            print(f"mailer: the store {path}: {exc}; nothing was changed", file=sys.stderr)
            return 1
        print("\n".join(report(counts, dry_run=args.dry_run)))
        if not args.dry_run and counts.changed:
            print(_compact(store, path))
    finally:
        store.close()
    return 0


def _compact(store: Store, path: Path) -> str:
    """The purge zeroed what it removed (secure_delete); VACUUM gives the space back."""
    before = _size(path)
    try:
        truncated = store.compact()
    except StoreError as exc:
        return f"not compacted ({exc}): the removed bytes are zeroed; the file keeps its size"
    wal = "" if truncated else "; the WAL was in use and is reset at its next checkpoint"
    return f"compacted: {_mb(before)} -> {_mb(_size(path))} (VACUUM{wal})"


# ---- backup -----------------------------------------------------------------------------


def add_backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dest", metavar="DEST", help="the copy to write (a directory: a dated file in it)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite DEST if it exists")


def run_backup(args: argparse.Namespace, config_path: Path) -> int:
    from mailer.config.load import load_settings
    from mailer.store.backup import backup_store

    source = load_settings(config_path, reach_secrets=False).store.path
    if not source.exists():
        print(f"mailer: no store at {source}", file=sys.stderr)
        return 1
    dest = Path(args.dest)
    if dest.is_dir():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{source.stem}-{stamp}{source.suffix or '.sqlite3'}"
    if _is_live(source, dest):
        print(f"mailer: {dest} is the store itself; give another path or a directory",
              file=sys.stderr)  # fmt: skip
        return 1
    if dest.exists() and not args.force:
        print(f"mailer: {dest} exists; --force overwrites it", file=sys.stderr)
        return 1
    try:
        done = backup_store(source, dest)
    except (StoreError, OSError) as exc:
        print(f"mailer: backup of {source} failed: {exc}", file=sys.stderr)
        return 1
    if done.problems:
        print(
            f"mailer: the copy fails PRAGMA integrity_check, left as {done.path}:", file=sys.stderr
        )
        print("\n".join(done.problems[:20]), file=sys.stderr)
        return 1
    print(f"backup: {done.path} ({_mb(done.size)}, {done.seconds:.2f} s, integrity ok)")
    return 0


def _is_live(source: Path, dest: Path) -> bool:
    """DEST is the store, its WAL, shm or lock file, through any symlink or hard link."""
    real = source.resolve()
    names = {source.name, real.name}
    live = {
        folder / (name + end)
        for folder in (source.absolute().parent, real.parent)
        for name in names
        for end in ("", "-wal", "-shm", ".lock")
    }
    if dest.absolute() in live or dest.resolve() in {p.resolve() for p in live}:
        return True
    try:
        return dest.exists() and os.path.samefile(dest, real)
    except OSError:
        return False


# ---- helpers ----------------------------------------------------------------------------


def _days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= 36500:
        raise argparse.ArgumentTypeError("N must be between 1 and 36500 days")
    return days


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _size(path: Path) -> int:
    """The store's bytes on disk, its WAL included (where purged pages may linger)."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"
