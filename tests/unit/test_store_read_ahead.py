"""Arrival facts read ahead for a window of messages answer exactly as one read each would.

The pipeline tells the store the (key, recipient) of the next messages it judges
(``expect_arrivals``); PostgreSQL reads all their facts in one statement. Whatever the
backend, every answer must be the one ``arrival_facts`` reads at that message's turn,
including after the writes of the messages judged before it in the same transaction.
"""

from __future__ import annotations

from mailer.store import Store, open_store
from mailer.store.postgres import PostgresStore
from sandbox.postgres import Postgres
from tests.stores import statements_sent

NOW = 1_800_000_000.0
DAY = 86400.0


def received(store: Store, key: str) -> None:
    store.record_message(key=key, direction="in", at=NOW)


def receipt(store: Store, recipient: str, at: float, n: int) -> None:
    store.enqueue(
        thread_id=None, message_id=f"<r{n}-{recipient}>", kind="receipt", recipient=recipient,
        envelope_sender="desk@x.test", raw=b"mail", next_attempt=at, created_at=at,
    )  # fmt: skip


def test_read_ahead_answers_as_each_read_would(store: Store) -> None:
    with store.transaction():
        received(store, "<old@x>")
        receipt(store, "ann@x.test", NOW - 10, 1)
        receipt(store, "ann@x.test", NOW - 20, 2)
        receipt(store, "bob@x.test", NOW - 2 * DAY, 3)  # before the window of a day
    arrivals = [
        ("<old@x>", "Ann@X.test"),  # known, and two receipts (an address is any case)
        ("<new@x>", "bob@x.test"),  # new, and no receipt within the day
        ("<other@x>", None),  # no receipt address
    ]
    with store.transaction():
        store.expect_arrivals(arrivals, NOW - DAY)
        got = [store.arrival_facts(key, to, NOW - DAY) for key, to in arrivals]
    assert got == [(True, 2), (False, 0), (False, 0)]


def test_a_message_sees_the_writes_of_the_ones_before_it(store: Store) -> None:
    """The same key twice (a copy delivered twice) and the same recipient twice in one
    window: the second of each sees what the first wrote in this transaction."""
    arrivals = [("<dup@x>", "ann@x.test"), ("<dup@x>", "cy@x.test"), ("<b@x>", "ann@x.test")]
    with store.transaction():
        store.expect_arrivals(arrivals, NOW - DAY)
        assert store.arrival_facts("<dup@x>", "ann@x.test", NOW - DAY) == (False, 0)
        received(store, "<dup@x>")
        receipt(store, "ann@x.test", NOW, 1)
        assert store.arrival_facts("<dup@x>", "cy@x.test", NOW - DAY) == (True, 0)
        assert store.arrival_facts("<b@x>", "ann@x.test", NOW - DAY) == (False, 1)


def test_an_answer_is_used_once_and_only_in_its_transaction(store: Store) -> None:
    arrivals = [("<a@x>", "ann@x.test"), ("<b@x>", "bob@x.test")]
    with store.transaction():
        store.expect_arrivals(arrivals, NOW - DAY)
        assert store.arrival_facts("<a@x>", "ann@x.test", NOW - DAY) == (False, 0)
        received(store, "<a@x>")
        assert store.arrival_facts("<a@x>", "ann@x.test", NOW - DAY) == (True, 0)  # read again
    with store.transaction():
        received(store, "<b@x>")
    with store.transaction():  # a later transaction reads afresh
        assert store.arrival_facts("<b@x>", "bob@x.test", NOW - DAY) == (True, 0)


def test_another_window_of_time_is_read_afresh(store: Store) -> None:
    with store.transaction():
        receipt(store, "ann@x.test", NOW - 2 * DAY, 1)
    arrivals = [("<a@x>", "ann@x.test"), ("<b@x>", "bob@x.test")]
    with store.transaction():
        store.expect_arrivals(arrivals, NOW - DAY)
        assert store.arrival_facts("<a@x>", "ann@x.test", NOW - 3 * DAY) == (False, 1)


def test_a_rolled_back_message_leaves_the_next_ones_answers_true(store: Store) -> None:
    arrivals = [("<a@x>", "ann@x.test"), ("<b@x>", "bob@x.test")]
    with store.transaction():
        store.expect_arrivals(arrivals, NOW - DAY)
        with store.savepoint() as savepoint:
            assert store.arrival_facts("<a@x>", "ann@x.test", NOW - DAY) == (False, 0)
            received(store, "<a@x>")
            savepoint.rollback()
        assert store.arrival_facts("<b@x>", "bob@x.test", NOW - DAY) == (False, 0)
        assert store.arrival_facts("<a@x>", "ann@x.test", NOW - DAY) == (False, 0)


def test_on_postgresql_a_window_costs_one_read(postgres: Postgres) -> None:
    store = open_store(postgres.create_database("read_ahead"))
    assert isinstance(store, PostgresStore)
    arrivals = [(f"<m{n}@x>", f"p{n}@x.test") for n in range(25)]
    try:
        with store.transaction(), statements_sent(store) as sent:
            store.expect_arrivals(arrivals, NOW - DAY)
            facts = [store.arrival_facts(key, to, NOW - DAY) for key, to in arrivals]
    finally:
        store.close()
    assert facts == [(False, 0)] * 25
    assert len(sent) == 1 and "ANY" in sent[0]
