"""Real-world mail delivered the way the acceptance check does it, then ``mailer run --once``.

Every auto/ message gets no receipt, every human/ message that starts a thread gets exactly
one, every malformed/ and unlabelled/ message is processed without a crash, and a second run
sends nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, mailer, parse, write_config

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


def files(folder: str) -> list[Path]:
    found = sorted((CORPUS / folder).glob("*.eml"))
    assert found, f"no corpus files in {CORPUS / folder}"
    return found


def deliver(sandbox: MailSandbox, paths: list[Path]) -> None:
    for path in paths:
        sandbox.deliver_as_acceptance(path.read_bytes(), SHARED)
    sandbox.wait_for_messages("helpdesk", len(paths), timeout=120)


def deliver_and_run(
    folder: str, sandbox: MailSandbox, tmp_path: Path
) -> tuple[list[Path], Path, sqlite3.Connection]:
    """Deliver a corpus folder to the shared mailbox, then ``mailer run --once`` once."""
    paths = files(folder)
    deliver(sandbox, paths)
    config = write_config(tmp_path, sandbox)
    result = mailer(config, "run", "--once")
    assert result.returncode == 0, result.stderr[-3000:]
    return paths, config, sqlite3.connect(tmp_path / "mailer.sqlite3")


def sent_receipts(db: sqlite3.Connection) -> Counter[int]:
    """Receipts the SMTP server accepted, per inbound UID they answer."""
    rows = db.execute(
        "SELECT m.uid, count(o.id) FROM messages m JOIN threads t ON t.id = m.thread_id"
        " JOIN outbox o ON o.thread_id = t.id AND o.kind = 'receipt' AND o.status = 'sent'"
        " WHERE m.direction = 'in' AND m.decision = 'open' GROUP BY m.uid"
    )
    return Counter(dict(rows.fetchall()))


@pytest.mark.parametrize("folder", ["auto", "human"])
def test_corpus_gets_receipts_exactly_where_a_person_wrote(
    folder: str, sandbox: MailSandbox, tmp_path: Path
) -> None:
    _paths, config, db = deliver_and_run(folder, sandbox, tmp_path)
    inbound = db.execute(
        "SELECT uid, decision, reason FROM messages WHERE direction = 'in' ORDER BY uid"
    ).fetchall()
    quarantined = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    assert quarantined == 0
    receipts = sent_receipts(db)
    if folder == "auto":
        answered = [(uid, reason) for uid, decision, reason in inbound if receipts[uid]]
        assert answered == []
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    else:
        openers = [uid for uid, decision, _ in inbound if decision == "open"]
        not_opened = [(uid, d, r) for uid, d, r in inbound if d != "open"]
        # A human message only fails to open a request when it answers an earlier one.
        assert all(d == "follow-up" or r.startswith("duplicate") for _, d, r in not_opened), (
            not_opened
        )
        assert [uid for uid in openers if receipts[uid] != 1] == []
        time.sleep(1)
        delivered = [parse(m) for m in sandbox.messages("catchall")]
        for user in ("alice", "bob", "carol", "staff"):
            delivered += [parse(m) for m in sandbox.messages(user)]
        assert len([m for m in delivered if m["Auto-Submitted"] == "auto-replied"]) == len(openers)
    again = mailer(config, "run", "--once")
    assert again.returncode == 0
    assert db.execute("SELECT count(*) FROM outbox WHERE status != 'sent'").fetchone()[0] == 0
    total = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert total == (len(receipts) if folder == "human" else 0)


@pytest.mark.parametrize("folder", ["malformed", "unlabelled"])
def test_broken_and_odd_mail_is_processed_without_a_crash(
    folder: str, sandbox: MailSandbox, tmp_path: Path
) -> None:
    paths, _config, db = deliver_and_run(folder, sandbox, tmp_path)
    processed = db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0]
    failures = db.execute("SELECT uid, last_error FROM failures").fetchall()
    assert failures == []
    assert processed == len(paths) - _duplicate_ids(paths)


def _duplicate_ids(paths: list[Path]) -> int:
    """Messages sharing a Message-ID with an earlier one are recorded once (by design)."""
    from mailer.core.reading.parse import parse_message

    keys = Counter(parse_message(p.read_bytes(), max_size=1 << 26).key for p in paths)
    return sum(n - 1 for n in keys.values())
