"""New requests opened in one transaction, as a batch opens them: the same on both backends.

On PostgreSQL the first new request of a transaction moves the reference counter and
writes its row in one statement and takes ids for the next ones; the next ones cost no
round trip. What they store and what ``thread`` answers must not show it.
"""

from __future__ import annotations

import pytest

from mailer.model import Status, ThreadInfo
from mailer.store import Store, open_store
from mailer.store.postgres import PostgresStore
from sandbox.postgres import Postgres
from tests.stores import statements_sent

NOW = 1_800_000_000.0


def open_one(store: Store, n: int) -> ThreadInfo:
    thread_id = store.open_request(
        "IT", 1000,
        requester=f"p{n}@example.org", requester_name=f"Person {n}", subject=f"VPN {n}",
        category="general", team="net" if n % 2 else None, team_address=None,
        priority="normal", rule="default", language="en", status=Status.ACKNOWLEDGED,
        root_message_id=f"<m{n}@example.org>", root_references=None, root_thread_index=None,
        parent_reference=None, created_at=NOW + n, updated_at=NOW + n,
    )  # fmt: skip
    thread = store.thread(thread_id)
    assert thread is not None
    return thread


def test_requests_of_one_transaction_are_numbered_in_turn(store: Store) -> None:
    with store.transaction():
        opened = [open_one(store, n) for n in range(5)]
    assert [t.reference for t in opened] == [f"IT-{1000 + n}" for n in range(5)]
    assert opened == [store.thread(t.id) for t in opened]  # as stored, defaults included
    with store.transaction():
        assert open_one(store, 5).reference == "IT-1005"


def test_a_rolled_back_request_gives_its_number_to_the_next(store: Store) -> None:
    with store.transaction():
        first = open_one(store, 0)
        with store.savepoint() as savepoint:
            open_one(store, 1)
            savepoint.rollback()
        with store.savepoint():
            open_one(store, 2)
        with pytest.raises(RuntimeError), store.savepoint():
            open_one(store, 3)
            raise RuntimeError("this message failed")
        last = open_one(store, 4)
    assert [first.reference, last.reference] == ["IT-1000", "IT-1002"]
    assert [t.reference for t in store.threads()] == ["IT-1000", "IT-1001", "IT-1002"]
    assert store.thread(last.id) == last


def test_on_postgresql_the_next_requests_cost_no_round_trip(postgres: Postgres) -> None:
    store = open_store(postgres.create_database("open_requests"))
    assert isinstance(store, PostgresStore)
    try:
        with store.transaction(), statements_sent(store) as sent:
            opened = [open_one(store, n) for n in range(10)]
        assert len([s for s in sent if "threads" in s]) == 1  # the first one's statement
        assert [t.reference for t in opened] == [f"IT-{1000 + n}" for n in range(10)]
        assert opened == [store.thread(t.id) for t in opened]
    finally:
        store.close()
