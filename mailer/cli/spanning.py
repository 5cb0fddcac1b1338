"""Commands that look across the mailboxes of a shared store, and at who works them.

``mailer threads --mailbox all`` (or an address) lists the requests of every mailbox of a
PostgreSQL store, with a MAILBOX column; ``mailer status`` says which node works which
mailbox (its lease) and until when.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mailer.settings import Settings
from mailer.store import open_store, open_stores

EXIT_OK = 0
THREAD_COLUMNS = ("mailbox", "reference", "status", "team", "owner", "requester", "subject")


def threads(settings: Settings, args: argparse.Namespace) -> int:
    """The requests of the mailboxes ``--mailbox`` names, oldest first per mailbox."""
    rows: list[dict[str, Any]] = []
    for mailbox, store in open_stores(settings.store, args.mailbox):
        try:
            found = store.threads(status=args.status, team=args.team)
        finally:
            store.close()
        rows += [{"mailbox": mailbox, **asdict(row)} for row in found]
    return _print(rows, THREAD_COLUMNS, as_json=args.json)


def status(settings: Settings, args: argparse.Namespace) -> int:
    """Which node works which mailbox; a SQLite store: the daemon holding its lock file."""
    if not settings.store.url:
        row = {
            "mailbox": settings.store.mailbox,
            "prefix": settings.store.prefix,
            "node": _lock_holder(settings.store.path),
            "role": "active",
            "store": str(settings.store.path),
        }
        return _print([row], ("mailbox", "prefix", "node", "store"), as_json=args.json)
    store = open_store(settings.store)
    try:
        leases = store.lease_holders()
    finally:
        store.close()
    rows = [
        {
            "mailbox": lease.mailbox,
            "prefix": lease.prefix,
            "node": lease.node or "(none: waiting for a node)",
            "since": _when(lease.since) if lease.node else "",
            "lease_left": f"{lease.expires_in:.1f} s" if lease.node and lease.expires_in else "",
            "token": lease.token,
        }
        for lease in leases
    ]
    columns = ("mailbox", "prefix", "node", "since", "lease_left", "token")
    return _print(rows, columns, as_json=args.json)


def _lock_holder(path: Path) -> str:
    try:
        pid = int(path.with_name(path.name + ".lock").read_text().strip())
    except (OSError, ValueError):
        return "(no daemon)"
    alive = os.path.exists(f"/proc/{pid}")
    return f"{os.uname().nodename}:{pid}" if alive else "(no daemon)"


def _when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return dt.datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def _print(rows: list[dict[str, Any]], columns: tuple[str, ...], *, as_json: bool) -> int:
    if as_json:
        plain = [{k: int(v) if isinstance(v, bool) else v for k, v in r.items()} for r in rows]
        print(json.dumps(plain, default=str, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("(none)")
        return EXIT_OK
    cells = [{c: str(r.get(c) or "") for c in columns} for r in rows]
    widths = {c: min(40, max(len(c), *(len(cell[c]) for cell in cells))) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for cell in cells:
        print("  ".join(cell[c][: widths[c]].ljust(widths[c]) for c in columns))
    return EXIT_OK
