"""Builders for value objects, so that a test states only what it is about."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from mailer.model import Address, ParsedMessage, Status, ThreadInfo
from mailer.settings import ImapSettings, ServiceSettings, Settings, SmtpSettings, StoreSettings


def message(**overrides: Any) -> ParsedMessage:
    fields: dict[str, Any] = {
        "key": "<req1@example.org>",
        "message_id": "<req1@example.org>",
        "in_reply_to": (),
        "references": (),
        "subject": "Printer on floor 2 is jammed",
        "raw_subject": "Printer on floor 2 is jammed",
        "from_": (Address("Maria Rossi", "maria.rossi@example.org"),),
        "reply_to": (),
        "return_path": "maria.rossi@example.org",
        "recipients": (Address("", "helpdesk@example.test"),),
        "delivered_to": (),
        "headers": (),
        "content_type": "text/plain",
        "text": "Hello,\nthe printer keeps jamming.\nThanks, Maria",
        "html_only": False,
        "attachments": (),
        "has_calendar": False,
        "report": None,
        "size": 300,
        "truncated": False,
    }
    fields.update(overrides)
    return ParsedMessage(**fields)


def thread(**overrides: Any) -> ThreadInfo:
    fields: dict[str, Any] = {
        "id": 1,
        "reference": "REQ-1000",
        "requester": "maria.rossi@example.org",
        "requester_name": "Maria Rossi",
        "subject": "Printer",
        "category": "general",
        "team": None,
        "status": Status.ACKNOWLEDGED,
        "language": "en",
        "rule": "default",
        "root_message_id": "<req1@example.org>",
        "created_at": 0.0,
    }
    fields.update(overrides)
    return ThreadInfo(**fields)


def settings(tmp_path: Any = None, **service: Any) -> Settings:
    from pathlib import Path

    base = Path(tmp_path) if tmp_path is not None else Path("/tmp")
    return Settings(
        service=ServiceSettings(name="IT Help Desk", address="helpdesk@example.test", **service),
        imap=ImapSettings(
            host="127.0.0.1", username="helpdesk", password="secret", port=10143, security="none"
        ),
        smtp=SmtpSettings(host="127.0.0.1", port=10025, security="none"),
        store=StoreSettings(path=base / "mailer.sqlite3"),
    )


def corrupt_pages(path: Path, *names: str) -> None:
    """Damage the root page of each named table or index of an SQLite file (closed): the
    header still reads, ``PRAGMA user_version`` works, a query touching them fails."""
    db = sqlite3.connect(path)
    try:
        page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        marks = ",".join("?" for _ in names)
        roots = [
            int(r)
            for (r,) in db.execute(
                f"SELECT rootpage FROM sqlite_master WHERE name IN ({marks})", names
            )
        ]
    finally:
        db.close()
    assert len(roots) == len(names), f"no such table or index among {names}"
    with open(path, "r+b") as f:
        for root in roots:
            f.seek((root - 1) * page_size)
            f.write(b"\xa5" * page_size)
