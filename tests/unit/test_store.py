"""The store's own contract: typed rows, the savepoint, update_thread's pairs, its errors.

Every test with ``store`` or ``store_where`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from mailer.errors import (
    MailerError,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreOutdated,
    StoreReadOnly,
    StoreUnavailable,
)
from mailer.model import Event, Status
from mailer.store import SCHEMA_VERSION, MailboxState, Store, ThreadRow, open_store
from mailer.store.sqlerrors import store_error
from mailer.store.sqlite import SqliteStore
from tests.stores import set_schema_version

NOW = 1_800_000_000.0


def new_thread(store: Store, reference: str = "REQ-1000") -> int:
    return store.create_thread(
        reference=reference,
        requester="maria@example.org",
        requester_name="Maria",
        subject="VPN down",
        category="general",
        team=None,
        team_address=None,
        priority="normal",
        rule="default",
        language="en",
        status=Status.ACKNOWLEDGED,
        root_message_id="<m1@example.org>",
        root_references=None,
        root_thread_index=None,
        parent_reference=None,
        created_at=NOW,
        updated_at=NOW,
    )


def only_thread(store: Store) -> ThreadRow:
    [row] = store.threads()
    return row


def test_open_store_takes_the_settings_or_a_path(tmp_path: Path) -> None:
    from mailer.settings import StoreSettings

    store = open_store(StoreSettings(path=tmp_path / "a" / "s.sqlite3"))
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "a" / "s.sqlite3"
    store.close()


def test_rows_come_back_typed(store: Store) -> None:
    with store.transaction():
        thread_id = new_thread(store)
        store.add_event(thread_id, NOW, Event("opened", "maria@example.org"), "<m1@example.org>")
        store.record_message(key="<m1@example.org>", direction="in", at=NOW, thread_id=thread_id)
    row = only_thread(store)
    assert (row.status, row.auto_blocked, row.rating_thanked) == (Status.ACKNOWLEDGED, False, False)
    [event] = store.events(thread_id)
    assert (event.kind, event.from_status, event.internal) == ("opened", None, False)
    [message] = store.thread_messages(thread_id)
    assert (message.key, message.automatic) == ("<m1@example.org>", False)
    [logged] = store.message_log()
    assert logged.reference == "REQ-1000"


def test_update_thread_leaves_what_is_not_given_and_writes_the_pairs(store: Store) -> None:
    with store.transaction():
        thread_id = new_thread(store)
        store.update_thread(
            thread_id, updated_at=NOW + 1, status=Status.RESOLVED, resolved_at=NOW + 1
        )
        store.update_thread(thread_id, updated_at=NOW + 2, owner="sam@example.test")
    row = only_thread(store)
    assert (row.status, row.resolved_at, row.owner, row.owner_name) == (
        Status.RESOLVED,
        NOW + 1,
        "sam@example.test",
        "",  # owner writes owner_name with it
    )
    with store.transaction():  # a reopened request has no resolved_at
        store.update_thread(thread_id, updated_at=NOW + 3, status=Status.IN_PROGRESS)
        store.update_thread(thread_id, updated_at=NOW + 4, rating="5/5", rating_thanked=True)
    row = only_thread(store)
    assert (row.status, row.resolved_at, row.owner, row.updated_at) == (
        Status.IN_PROGRESS,
        None,
        "sam@example.test",
        NOW + 4,
    )
    assert (row.rating, row.rating_thanked, row.auto_blocked) == ("5/5", True, False)


def test_peek_reference_number_takes_nothing(store: Store) -> None:
    assert store.peek_reference_number(1000) == 1000
    with store.transaction():
        assert store.next_reference_number(1000) == 1000
    assert store.peek_reference_number(1000) == store.peek_reference_number(1000) == 1001
    assert store.peek_reference_number(5000) == 5000


def test_a_savepoint_undoes_only_its_own_writes(store: Store) -> None:
    with store.transaction():
        new_thread(store, "REQ-1")
        with store.savepoint() as savepoint:
            new_thread(store, "REQ-2")
            savepoint.rollback()
        with store.savepoint():
            new_thread(store, "REQ-3")
        with pytest.raises(ValueError), store.savepoint():
            new_thread(store, "REQ-4")
            raise ValueError("this part fails")
    assert [t.reference for t in store.threads()] == ["REQ-1", "REQ-3"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (sqlite3.OperationalError("database is locked"), StoreBusy),
        (sqlite3.OperationalError("database or disk is full"), StoreFull),
        (sqlite3.OperationalError("attempt to write a readonly database"), StoreReadOnly),
        (sqlite3.OperationalError("disk I/O error"), StoreUnavailable),
        (sqlite3.OperationalError("unable to open database file"), StoreUnavailable),
        (sqlite3.DatabaseError("file is not a database"), StoreCorrupt),
        (sqlite3.IntegrityError("UNIQUE constraint failed: threads.reference"), StoreError),
    ],
)
def test_sqlite_errors_become_store_errors_in_sqlites_words(
    error: sqlite3.Error, kind: type[StoreError]
) -> None:
    found = store_error(error)
    assert type(found) is kind and isinstance(found, MailerError)
    assert str(found) == str(error)


def test_a_failing_call_raises_a_store_error_with_the_cause(store: Store) -> None:
    with store.transaction():
        new_thread(store)
    with pytest.raises(StoreError) as caught, store.transaction():
        new_thread(store)  # the same reference again
    assert type(caught.value) is StoreError and "unique" in str(caught.value).lower()
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError | psycopg.IntegrityError)


def test_a_file_that_is_not_a_store_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_text("this is not a database, it is a text file with enough bytes in it" * 10)
    with pytest.raises(StoreCorrupt):
        open_store(path)


def test_damage_hints_fit_the_damage(tmp_path: Path) -> None:
    """Issue 11: 'file is not a database' and 'malformed' were told to look for a full disk."""
    path = tmp_path / "s.sqlite3"
    path.write_text("this is not a database, it is a text file with enough bytes in it" * 10)
    with pytest.raises(StoreCorrupt) as caught:
        open_store(path)
    assert "not a mailer store" in caught.value.hint and "full" not in caught.value.hint
    malformed = store_error(sqlite3.DatabaseError("database disk image is malformed"))
    assert "damaged" in malformed.hint and "mailer backup" in malformed.hint


def test_an_empty_store_file_is_refused_not_taken_for_a_new_store(tmp_path: Path) -> None:
    """Issue 11: a zero-length store was migrated into a new, empty one (a first start), and
    the requests it had acknowledged got a second receipt. mailer never leaves one behind: a
    new store is made whole beside its path, then linked into place."""
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"")
    for read_only in (False, True):
        with pytest.raises(StoreCorrupt, match="is empty") as caught:
            open_store(path, read_only=read_only)
        assert "backup" in caught.value.hint
    assert path.stat().st_size == 0  # left as found, for the admin to look at


def test_a_new_store_is_made_whole_and_awaits_its_first_start(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = open_store(path)
    assert sorted(p.name for p in tmp_path.iterdir() if "sqlite3" in p.name)[0] == "s.sqlite3"
    assert not [p for p in tmp_path.iterdir() if ".new" in p.name]
    assert store.awaits_first_start()
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, NOW))
        store.first_start_done()
    store.close()
    again = open_store(path)
    assert not again.awaits_first_start()
    again.close()


def test_a_store_of_another_version_is_outdated(store_where: Path | str) -> None:
    open_store(store_where).close()
    with pytest.raises(StoreOutdated, match="newer than this mailer"):
        set_schema_version(store_where, SCHEMA_VERSION + 1)
        open_store(store_where)
    with pytest.raises(StoreOutdated, match="start the daemon once"):
        open_store(store_where, read_only=True)


def test_a_missing_store_cannot_be_read(store_where: Path | str) -> None:
    with pytest.raises(StoreUnavailable):
        open_store(store_where, read_only=True)
    assert isinstance(store_where, str) or not store_where.exists()
