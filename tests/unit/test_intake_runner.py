"""Where the intake's batches run: on the event loop with SQLite, beside it with PostgreSQL.

On a shared store the intake works in a thread of its own on a store of its own (its own
connection and transaction), writing under the lease of the node's main store, so that
the outbox sends while a batch is judged.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from mailer.daemon.intake import IntakeRunner
from mailer.errors import LeaseLost
from mailer.settings import StoreSettings
from mailer.store import open_store
from mailer.store.postgres import PostgresStore
from sandbox.postgres import Postgres

NOW = 1_800_000_000.0


def where(_: str) -> int:
    return threading.get_ident()


def test_with_sqlite_a_batch_runs_on_the_event_loop_on_the_same_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.sqlite3")
    runner = IntakeRunner(store)

    async def run() -> tuple[int, int]:
        return threading.get_ident(), await runner.run(where, "batch")

    try:
        loop_thread, batch_thread = asyncio.run(run())
        assert runner.store is store
        assert batch_thread == loop_thread
    finally:
        runner.close()
        store.close()


@pytest.fixture
def desk(postgres: Postgres, request: pytest.FixtureRequest) -> StoreSettings:
    url = postgres.create_database(f"intake_{request.node.name[:40].lower()}")
    return StoreSettings(path=Path("unused"), url=url, mailbox="it@example.test", prefix="IT")


def test_with_postgresql_a_batch_runs_beside_the_loop_under_the_same_lease(
    desk: StoreSettings,
) -> None:
    store = PostgresStore(desk, lock=True, node="node-a:1")
    assert store.take_lease()
    runner = IntakeRunner(store)

    def batch(key: str) -> int:
        with runner.store.transaction():  # fenced: written under node-a's lease
            runner.store.record_message(key=key, direction="in", at=NOW)
        return threading.get_ident()

    async def run() -> tuple[int, int, int]:
        first = await runner.run(batch, "<m1@x>")
        second = await runner.run(batch, "<m2@x>")
        return threading.get_ident(), first, second

    try:
        loop_thread, first, second = asyncio.run(run())
        assert runner.store is not store
        assert first != loop_thread and first == second  # one thread of its own, always it
        assert store.arrival_facts("<m2@x>", None, 0.0) == (True, 0)  # committed, seen
        runner.close()
        assert store.holds_lease()  # closing the intake's store kept the node's lease
        store.drop_lease()
        with pytest.raises(LeaseLost):  # the fence is shared: the lease is gone for both
            asyncio.run(runner.run(batch, "<m3@x>"))
        assert store.arrival_facts("<m3@x>", None, 0.0) == (False, 0)
    finally:
        runner.close()
        store.close()
