"""The store's views for an admin's shell: requests, one timeline, messages, outbox, quarantine.

``threads --overdue`` and ``--due-before WHEN`` read the promises (``core.timing.clocks``);
every listing is a table for people or JSON for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from mailer.core.timing.clocks import standings_of
from mailer.core.timing.notices import running
from mailer.settings import Settings
from mailer.store import Store

EXIT_OK, EXIT_PROBLEMS = 0, 1


def show(store: Store, settings: Settings, args: argparse.Namespace, *, now: float) -> int:
    """Run one of the store commands (``args.command``)."""
    if args.command == "requeue":
        return _requeue(store, args.uid, settings.imap.mailbox)
    if args.command == "quarantine":
        return _print_rows(
            store.quarantined(),
            as_json=False,
            columns=("uid", "mailbox", "attempts", "last_error"),
        )
    if args.command == "threads":
        rows = store.threads(status=args.status, team=_team_key(settings, args.team))
        columns = ("reference", "status", "team", "owner", "requester", "subject")
        if args.overdue or args.due_before:
            rows = _promised(store, rows, args, now)
            columns = (*columns[:4], "due", "subject")
        return _print_rows(rows, as_json=args.json, columns=columns)
    if args.command == "thread":
        return _thread(store, settings, args.reference, as_json=args.json, now=now)
    if args.command == "messages":
        return _print_rows(
            store.message_log(limit=args.limit),
            as_json=args.json,
            columns=("uid", "sender", "subject", "reason", "reference", "rule"),
        )
    if args.command == "outbox":
        return _print_rows(
            store.outbox_rows(status=args.status),
            as_json=args.json,
            columns=("id", "kind", "status", "recipient", "attempts", "last_error"),
        )
    return EXIT_PROBLEMS


def _team_key(settings: Settings, given: str | None) -> str | None:
    """``--team`` takes a team's key or its name, in any case."""
    if given is None:
        return None
    wanted = given.strip().casefold()
    found = next(
        (t.key for t in settings.teams if wanted in (t.key.casefold(), t.name.casefold())), None
    )
    return found or given


def _promised(store: Store, rows: Sequence[Any], args: argparse.Namespace, now: float) -> list[Any]:
    """The open requests among ``rows`` that are overdue / due before ``--due-before``, each
    with its next due time (``due``, ISO 8601), soonest first."""
    wanted = {row.id for row in rows}
    before = _when(args.due_before) if args.due_before else None
    found = []
    for thread in store.promised_threads():
        if thread.id not in wanted:
            continue
        due = min((when for _, when in running(thread)), default=None)
        standing = standings_of(thread, now)
        if args.overdue and not any(s.state == "overdue" for s in standing.values()):
            continue
        if before is not None and (due is None or due >= before):
            continue
        row = next(r for r in rows if r.id == thread.id)
        found.append((due or 0.0, _Due(row, _iso(due))))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


class _Due:
    """A thread row with its next due time, for the table and JSON."""

    def __init__(self, row: Any, due: str | None) -> None:
        self.row, self.due = row, due

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.row), "due": self.due}


def _when(text: str) -> float:
    """``2026-12-09`` (its midnight, local time) or ``2026-12-09T11:00+01:00``."""
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"mailer: --due-before {text!r}: give an ISO date or time") from None
    return (at if at.tzinfo else at.astimezone()).timestamp()


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def _thread(store: Store, settings: Settings, reference: str, *, as_json: bool, now: float) -> int:
    from mailer.admin.timeline import render_text, timeline

    story = timeline(store, reference, settings=settings, now=now)
    if story is None:
        print(f"mailer: no request {reference} (see 'mailer threads')", file=sys.stderr)
        return EXIT_PROBLEMS
    print(json.dumps(story, ensure_ascii=False, indent=2) if as_json else render_text(story))
    return EXIT_OK


def _requeue(store: Store, uid: int, mailbox: str) -> int:
    changed = store.requeue(uid, mailbox)
    if not changed:
        print(f"mailer: no quarantined message with UID {uid} in {mailbox}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"UID {uid} will be retried by the next run")
    return EXIT_OK


def _print_rows(rows: Sequence[Any], *, as_json: bool, columns: tuple[str, ...]) -> int:
    """The store's rows (frozen dataclasses) as a table of ``columns``, or every field as JSON."""
    if as_json:
        plain = [  # flags as the store's 0/1, as scripts have always seen them
            {k: int(v) if isinstance(v, bool) else v for k, v in _fields(r).items()} for r in rows
        ]
        print(json.dumps(plain, default=str, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("(none)")
        return EXIT_OK
    cells = [{c: str(getattr(r, c) or "") for c in columns} for r in rows]
    widths = {c: min(40, max(len(c), *(len(cell[c]) for cell in cells))) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for cell in cells:
        print("  ".join(cell[c][: widths[c]].ljust(widths[c]) for c in columns))
    return EXIT_OK


def _fields(row: Any) -> dict[str, Any]:
    return row.as_dict() if isinstance(row, _Due) else asdict(row)
