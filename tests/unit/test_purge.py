"""Retention and backups: ``mailer purge`` and ``mailer backup`` on a store the real
pipeline filled, with the daemon's connection open the whole time."""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
from pathlib import Path

import pytest

from mailer.admin import purge as purge_cmd
from mailer.config import templates
from mailer.daemon.pipeline import Pipeline
from mailer.model import InboundMail, MailboxRef
from mailer.settings import StaffSettings, WorkflowSettings
from mailer.store import MailboxState, PurgeCounts, open_store
from mailer.store.sqlite import SqliteStore
from tests.factories import settings as make_settings
from tests.stores import sql

NOW = 1_800_000_000.0
DAY = 86400.0
OLD = NOW - 400 * DAY
STAFF = "sam@example.test"
CONFIG = """
[service]
name = "IT Help Desk"
address = "helpdesk@example.test"
[imap]
host = "127.0.0.1"
port = 10143
security = "none"
username = "helpdesk"
password = "secret"
[smtp]
host = "127.0.0.1"
port = 10025
security = "none"
[store]
path = "s.sqlite3"
"""


class Desk:
    """The daemon's side: a pipeline on a temp store, fed messages at chosen times."""

    def __init__(self, tmp_path: Path, where: Path | str | None = None) -> None:
        self.path = where or tmp_path / "s.sqlite3"
        self.settings = dataclasses.replace(
            make_settings(tmp_path),
            staff=StaffSettings(addresses=(STAFF,)),
            workflow=WorkflowSettings(reopen_days=14),
        )
        store = open_store(self.path)
        assert isinstance(store, SqliteStore)  # the tests look at its rows in SQL too (_one)
        self.store = store
        with self.store.transaction():
            self.store.set_mailbox_state("INBOX", MailboxState(7, 0, OLD - DAY))
        env = templates.make_environment(self.settings)
        self.pipeline = Pipeline(self.settings, self.store, env)
        self.uid = 0
        self.refs: dict[str, str] = {}

    def deliver(self, raw: bytes, at: float) -> str:
        self.uid += 1
        item = InboundMail(MailboxRef("INBOX", 7, self.uid), at, raw, len(raw))
        state = self.store.mailbox_state("INBOX")
        assert state is not None
        [out] = self.pipeline.process_batch([item], state, at)
        return out.reason

    def request(self, n: int, body: str, at: float, sender: str) -> str:
        """A new request; its reference."""
        assert self.deliver(mail(n, body, sender, subject=body), at) == "receipt"
        return self.store.threads()[-1].reference

    def reply(self, n: int, ref: str, body: str, sender: str, at: float) -> str:
        """A reply to the request's receipt; the pipeline's reason."""
        row = self.store._one(
            "SELECT o.message_id FROM outbox o JOIN threads t ON t.id = o.thread_id"
            " WHERE t.reference = ? AND o.kind = 'receipt'",
            (ref,),
        )
        assert row is not None
        return self.deliver(mail(n, body, sender, reply_to=row["message_id"]), at)

    def staff(self, n: int, ref: str, words: str, at: float) -> None:
        assert self.reply(n, ref, words, f"Sam <{STAFF}>", at).startswith("staff:")

    def send_all(self, at: float, *, except_ref: str | None = None) -> None:
        """The outbox sends everything due (the rows of ``except_ref`` stay pending)."""
        skip = self.store.thread_by_reference(except_ref) if except_ref else None
        with self.store.transaction():
            for row in self.store.due(NOW + DAY, limit=1000):
                if skip is None or row.thread_id != skip.id:
                    self.store.mark_sent(row.id, at, copy_wanted=False)

    def dump(self) -> list[str]:
        if isinstance(self.path, Path):
            return list(self.store.db.iterdump())
        tables = ("threads", "messages", "outbox", "events", "failures", "meta", "mailboxes")
        return [repr(r) for t in tables for r in sql(self.path, f"SELECT * FROM {t} ORDER BY 1")]


def mail(
    n: int,
    body: str,
    sender: str,
    *,
    subject: str = "VPN down",
    reply_to: str | None = None,
    extra: str = "",
) -> bytes:
    threading = f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n" if reply_to else ""
    return (
        f"From: {sender}\r\nTo: helpdesk@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{n}@example.org>\r\nDate: Mon, 1 Jan 2026 10:00:00 +0000\r\n"
        f"{threading}{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


MARIA = "Maria Rossi <maria@example.org>"


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    """A year-old SQLite store (see ``seeded``), for what only a file has: bytes, backups."""
    return seeded(Desk(tmp_path))


@pytest.fixture
def any_desk(tmp_path: Path, store_where: Path | str) -> Desk:
    """The same year-old store on SQLite and on PostgreSQL: the purge rules are the store's."""
    return seeded(Desk(tmp_path, store_where))


def seeded(d: Desk) -> Desk:
    """A year-old store: closed, resolved-and-rated, open and waiting requests, a robot."""
    refs = d.refs
    refs["closed"] = d.request(1, "My VPN password hunter2 leaks", OLD, MARIA)
    d.staff(2, refs["closed"], "#closed\nReset it, call me.", OLD + 3600)
    refs["rated"] = d.request(3, "Printer jam on floor 2", OLD, "Bob <bob@example.org>")
    d.staff(4, refs["rated"], "#resolved\nCleared the jam.", OLD + 3600)
    assert d.reply(5, refs["rated"], "5/5 great", "Bob <bob@example.org>", OLD + 7200) == "rating"
    refs["open"] = d.request(6, "Laptop broken, still open", OLD, "Luca <luca@example.org>")
    refs["waiting"] = d.request(7, "Old closed, mail stuck", OLD, "Eva <eva@example.org>")
    d.staff(8, refs["waiting"], "#closed\nDone.", OLD + 3600)
    ooo = mail(9, "I am away", "Zoe <zoe@example.org>", extra="Auto-Submitted: auto-replied\r\n")
    assert d.deliver(ooo, OLD).startswith("suppressed")
    d.send_all(OLD + 7200, except_ref=refs["waiting"])
    refs["recent"] = d.request(10, "Closed just now", NOW - DAY, "Ada <ada@example.org>")
    d.staff(11, refs["recent"], "#closed\nFixed.", NOW - DAY)
    return d


def purge(desk: Desk, *, days: int = 30, dry_run: bool = False) -> PurgeCounts:
    """What ``mailer purge`` does, from a second connection, as an admin's shell would."""
    admin = open_store(desk.path)
    try:
        counts = admin.purge(purge_cmd.cutoffs(NOW, days, 14), dry_run=dry_run)
        if not dry_run:
            admin.compact()
        return counts
    finally:
        admin.close()


def test_closed_and_rated_requests_past_retention_go_with_their_events_and_mail(
    any_desk: Desk,
) -> None:
    note = "SELECT 1 FROM events WHERE note LIKE '%Reset it%'"
    rating = "SELECT 1 FROM events WHERE kind = 'rating'"
    assert any_desk.store._one(note) is not None and any_desk.store._one(rating) is not None
    counts = purge(any_desk)
    gone = [any_desk.refs[k] for k in ("closed", "rated")]
    assert [any_desk.store.thread_by_reference(r) for r in gone] == [None, None]
    assert counts.requests == 2
    left = {t.reference for t in any_desk.store.threads()}
    assert left == {any_desk.refs[k] for k in ("open", "waiting", "recent")}
    assert any_desk.store._one(note) is None and any_desk.store._one(rating) is None
    # their inbound mail stays as bare keys, for duplicate detection only
    row = any_desk.store._one("SELECT * FROM messages WHERE key = '<m1@example.org>'")
    assert row is not None
    assert (row["thread_id"], row["sender"], row["subject"]) == (None, None, None)
    assert counts.request_mails_in_kept_as_keys == 5  # requests, staff replies, the rating


def test_a_re_delivered_purged_message_is_still_a_duplicate(any_desk: Desk) -> None:
    purge(any_desk)
    threads, queued = len(any_desk.store.threads()), any_desk.store.pending_count()
    again = "My VPN password hunter2 leaks"
    reason = any_desk.deliver(mail(1, again, MARIA, subject=again), NOW)
    assert reason == "duplicate: already processed"
    assert (len(any_desk.store.threads()), any_desk.store.pending_count()) == (threads, queued)


def test_open_requests_and_waiting_mail_are_untouched(any_desk: Desk) -> None:
    open_ref, waiting_ref = any_desk.refs["open"], any_desk.refs["waiting"]
    open_thread = any_desk.store.thread_by_reference(open_ref)
    assert open_thread is not None
    before = (any_desk.store.thread_messages(open_thread.id), any_desk.store.events(open_thread.id))
    pending = {r.id: r.raw for r in any_desk.store.due(NOW + DAY, limit=1000)}
    counts = purge(any_desk)
    assert (
        any_desk.store.thread_messages(open_thread.id),
        any_desk.store.events(open_thread.id),
    ) == before
    assert {r.id: r.raw for r in any_desk.store.due(NOW + DAY, limit=1000)} == pending
    assert all(pending.values())
    assert any_desk.store.thread_by_reference(waiting_ref) is not None
    assert counts.requests_kept_mail_waiting == 1
    # the open request's old mail keeps its row (who, when, what) but not its bytes
    sent = any_desk.store._one(
        "SELECT length(raw) AS n, recipient FROM outbox WHERE thread_id = ? AND kind = 'receipt'",
        (open_thread.id,),
    )
    assert sent is not None and (sent["n"], sent["recipient"]) == (0, "luca@example.org")


def test_recent_closed_requests_stay(any_desk: Desk) -> None:
    purge(any_desk)
    recent = any_desk.store.thread_by_reference(any_desk.refs["recent"])
    assert recent is not None and recent.subject


def test_mail_in_no_request_loses_sender_and_subject(any_desk: Desk) -> None:
    counts = purge(any_desk)
    row = any_desk.store._one("SELECT * FROM messages WHERE key = '<m9@example.org>'")
    assert row is not None and (row["sender"], row["subject"]) == (None, None)
    assert row["reason"].startswith("suppressed")  # what was decided stays
    assert counts.unthreaded_messages_anonymised == 1


def test_dry_run_changes_nothing_and_counts_what_the_purge_does(any_desk: Desk) -> None:
    before = any_desk.dump()
    would = purge(any_desk, dry_run=True)
    assert any_desk.dump() == before
    assert would.changed > 0
    assert purge(any_desk) == would
    assert purge(any_desk).changed == 0  # a second purge finds nothing


def test_the_removed_bytes_leave_the_file(desk: Desk) -> None:
    def on_disk() -> bytes:
        wal = desk.path.with_name(desk.path.name + "-wal")
        return desk.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    desk.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"hunter2" in on_disk()
    purge(desk)
    assert b"hunter2" not in on_disk()
    assert b"Laptop broken, still open" in on_disk()  # the open request's subject stays
    assert b"Closed just now" in on_disk()  # a request closed yesterday stays whole


def test_resolved_requests_wait_for_the_reopen_window() -> None:
    limits = purge_cmd.cutoffs(NOW, 10, 14)
    assert (limits.closed, limits.resolved) == (NOW - 10 * DAY, NOW - 14 * DAY)


# ---- the command ------------------------------------------------------------------------


def config(tmp_path: Path, retention: str = "") -> Path:
    path = tmp_path / "mailer.toml"
    path.write_text(CONFIG + retention)
    return path


def test_purge_without_retention_says_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(days=None, dry_run=False)
    assert purge_cmd.run(args, config(tmp_path)) == 1
    assert "retention_days" in capsys.readouterr().err


def test_purge_command_reports_counts_per_kind(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, "retention_days = 30\n")
    before = desk.dump()
    assert purge_cmd.run(argparse.Namespace(days=None, dry_run=True), cfg) == 0
    dry = capsys.readouterr().out
    assert desk.dump() == before
    assert "would remove:" in dry and "kept: 1 request(s)" in dry
    assert purge_cmd.run(argparse.Namespace(days=None, dry_run=False), cfg) == 0
    out = capsys.readouterr().out
    assert "removed:" in out and "compacted:" in out
    assert _count(out, "requests (closed") == 2 == _count(dry, "requests (closed")
    assert desk.store.thread_by_reference(desk.refs["closed"]) is None


def _count(report: str, label: str) -> int:
    [line] = [line for line in report.splitlines() if label in line]
    return int(line.split()[-1])


def test_days_must_be_positive() -> None:
    parser = argparse.ArgumentParser()
    purge_cmd.add_arguments(parser)
    assert parser.parse_args(["--days", "90", "--dry-run"]).days == 90
    with pytest.raises(SystemExit):
        parser.parse_args(["--days", "0"])


# ---- backup -----------------------------------------------------------------------------


def test_backup_while_a_write_transaction_is_open_is_a_consistent_copy(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = len(desk.store.threads())
    desk.store.db.execute("BEGIN IMMEDIATE")  # the daemon, mid-batch
    desk.store.db.execute("UPDATE threads SET subject = 'half-written'")
    dest = tmp_path / "copy.sqlite3"
    args = argparse.Namespace(dest=str(dest), force=False)
    assert purge_cmd.run_backup(args, config(tmp_path)) == 0
    desk.store.db.execute("COMMIT")  # the daemon was never blocked
    assert "integrity ok" in capsys.readouterr().out
    copy = sqlite3.connect(dest)
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM threads").fetchone()[0] == committed
        assert (
            copy.execute("SELECT count(*) FROM threads WHERE subject = 'half-written'").fetchone()[
                0
            ]
            == 0
        )
    finally:
        copy.close()
    assert dest.stat().st_mode & 0o077 == 0
    assert not dest.with_name(dest.name + "-wal").exists()


def test_backup_refuses_to_overwrite_without_force(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "copy.sqlite3"
    dest.write_bytes(b"keep me")
    args = argparse.Namespace(dest=str(dest), force=False)
    assert purge_cmd.run_backup(args, config(tmp_path)) == 1
    assert dest.read_bytes() == b"keep me" and "--force" in capsys.readouterr().err
    assert (
        purge_cmd.run_backup(argparse.Namespace(dest=str(dest), force=True), config(tmp_path)) == 0
    )
    assert dest.read_bytes().startswith(b"SQLite format 3")


def test_backup_into_a_directory_writes_a_dated_file(desk: Desk, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    assert (
        purge_cmd.run_backup(argparse.Namespace(dest=str(folder), force=False), config(tmp_path))
        == 0
    )
    [copy] = folder.iterdir()
    assert copy.name.startswith("s-") and copy.suffix == ".sqlite3"


def test_backup_refuses_to_overwrite_the_live_store(tmp_path: Path) -> None:
    import argparse

    from mailer.admin import purge as purge_cmd
    from mailer.store import open_store
    from tests.unit.test_config import config_text, write

    config = write(tmp_path, config_text())
    open_store(tmp_path / "mailer.sqlite3").close()
    before = (tmp_path / "mailer.sqlite3").read_bytes()
    for dest in ("mailer.sqlite3", "mailer.sqlite3-wal"):
        args = argparse.Namespace(dest=str(tmp_path / dest), force=True)
        assert purge_cmd.run_backup(args, config) == 1
    assert (tmp_path / "mailer.sqlite3").read_bytes() == before


def test_backup_refuses_the_live_store_behind_a_symlink(tmp_path: Path) -> None:
    import argparse

    from mailer.admin import purge as purge_cmd
    from mailer.store import open_store
    from tests.unit.test_config import config_text, write

    config = write(tmp_path, config_text())
    (tmp_path / "data").mkdir()
    open_store(tmp_path / "data" / "real.db").close()
    (tmp_path / "mailer.sqlite3").symlink_to(tmp_path / "data" / "real.db")
    for dest in ("mailer.sqlite3", "data/real.db", "data/real.db-wal"):
        args = argparse.Namespace(dest=str(tmp_path / dest), force=True)
        assert purge_cmd.run_backup(args, config) == 1, dest
    assert (tmp_path / "mailer.sqlite3").is_symlink()
