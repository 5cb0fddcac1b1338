"""A shared PostgreSQL store: many mailboxes, each its own; two nodes, one lease, one sender."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from mailer.errors import (
    DeskTaken,
    LeaseLost,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)
from mailer.model import Status
from mailer.settings import StoreSettings
from mailer.store import MailboxState, open_store
from mailer.store import postgres as pgstore
from mailer.store.pgresult import store_error
from mailer.store.postgres import PostgresStore
from sandbox.postgres import Postgres
from sandbox.processes import free_port

NOW = 1_800_000_000.0
T = TypeVar("T")


@pytest.fixture
def url(postgres: Postgres, request: pytest.FixtureRequest) -> str:
    return postgres.create_database(f"shared_{request.node.name[:40].lower()}")


def desk(url: str, address: str, prefix: str, imap: str = "") -> StoreSettings:
    return StoreSettings(
        path=Path("unused"), url=url, mailbox=address, prefix=prefix, imap=imap or address
    )


@pytest.fixture
def it_desk(url: str) -> StoreSettings:
    return desk(url, "it-help@example.test", "IT", "it@127.0.0.1:143/INBOX")


def node(settings: StoreSettings, name: str) -> PostgresStore:
    return PostgresStore(settings, lock=True, node=name)


@pytest.fixture
def two(it_desk: StoreSettings) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    a, b = node(it_desk, "node-a:1"), node(it_desk, "node-b:2")
    yield a, b
    a.close()
    b.close()


def open_thread(store: PostgresStore | object, prefix: str) -> str:
    assert isinstance(store, PostgresStore)
    number = store.next_reference_number(1000)
    store.create_thread(
        reference=f"{prefix}-{number}", requester="maria@example.org", requester_name="Maria",
        subject="VPN", category="general", team=None, team_address=None, priority="normal",
        rule="default", language="en", status=Status.ACKNOWLEDGED, root_message_id="<m1@x>",
        root_references=None, root_thread_index=None, parent_reference=None, created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip
    return f"{prefix}-{number}"


def test_each_mailbox_keeps_its_own_rows_references_and_watermarks(url: str) -> None:
    it = open_store(desk(url, "it-help@example.test", "IT"))
    hr = open_store(desk(url, "hr@example.test", "HR"))
    assert isinstance(it, PostgresStore) and isinstance(hr, PostgresStore)
    with it.transaction():
        assert open_thread(it, "IT") == "IT-1000"
        it.set_mailbox_state("INBOX", MailboxState(7, 42, NOW))
        it.record_message(key="<same@example.org>", direction="in", at=NOW)
    with hr.transaction():
        assert open_thread(hr, "HR") == "HR-1000"  # its own counter
        hr.set_mailbox_state("INBOX", MailboxState(9, 3, NOW))
    assert [t.reference for t in it.threads()] == ["IT-1000"]
    assert [t.reference for t in hr.threads()] == ["HR-1000"]
    assert it.mailbox_state("INBOX") == MailboxState(7, 42, NOW)
    assert hr.mailbox_state("INBOX") == MailboxState(9, 3, NOW)
    # a mail sent to both shared addresses is a new request in each mailbox
    known = [s.arrival_facts("<same@example.org>", None, 0.0)[0] for s in (it, hr)]
    assert known == [True, False]
    assert it.thread_by_reference("HR-1000") is None
    it.close()
    hr.close()


def test_a_second_config_for_a_mailbox_its_prefix_or_its_imap_mailbox_is_refused(
    url: str, it_desk: StoreSettings
) -> None:
    node(it_desk, "a:1").close()
    node(it_desk, "b:2").close()  # the same config on another node is welcome
    with pytest.raises(DeskTaken, match="a second config for the same mailbox"):
        node(dataclasses.replace(it_desk, prefix="HELP"), "c:3")
    with pytest.raises(
        DeskTaken, match=re.escape("prefix 'IT' is already used by it-help@example.test")
    ):
        node(desk(url, "hr@example.test", "IT", "hr@127.0.0.1:143/INBOX"), "d:4")
    with pytest.raises(
        DeskTaken, match=re.escape("IMAP mailbox it@127.0.0.1:143/INBOX is already worked")
    ):
        node(desk(url, "hr@example.test", "HR", it_desk.imap), "e:5")
    node(desk(url, "hr@example.test", "HR", "hr@127.0.0.1:143/INBOX"), "f:6").close()


def test_only_the_lease_holder_writes_and_a_takeover_fences_the_old_one(
    two: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two
    with pytest.raises(LeaseLost), a.transaction():  # no lease yet: nothing is written
        open_thread(a, "IT")
    assert a.take_lease(ttl=0.5) and not b.take_lease()
    with a.transaction():
        open_thread(a, "IT")
    a.mark_bounced("<none>", "x")  # an autocommitted write is fenced too
    [lease] = a.lease_holders()
    assert (lease.mailbox, lease.prefix, lease.node) == ("it-help@example.test", "IT", "node-a:1")
    time.sleep(0.7)  # node a pauses: its lease runs out
    assert b.take_lease()
    with pytest.raises(LeaseLost, match="lost the lease"), a.transaction():
        open_thread(a, "IT")  # a wakes up: refused before writing anything
    with pytest.raises(LeaseLost):
        a.mark_bounced("<none>", "x")
    assert not a.renew_lease() and not a.take_lease()
    assert [t.reference for t in b.threads()] == ["IT-1000"]
    assert b.lease_holders()[0].token == lease.token + 1


def queued(store: PostgresStore, message_id: str) -> int:
    """One mail queued in a batch, as the pipeline queues it; its row's id."""
    with store.transaction():  # inside a batch the row goes with the COMMIT: no id yet
        assert not store.enqueue(
            thread_id=None, message_id=message_id, kind="receipt", recipient="m@x",
            envelope_sender="h@x", raw=b"mail", next_attempt=NOW, created_at=NOW,
        )  # fmt: skip
    return next(r.id for r in store.due(NOW) if r.message_id == message_id)


def test_an_outbox_row_is_sent_by_one_node_only(two: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = two
    assert a.take_lease()
    row = queued(a, "<r1@x>")
    with a.claim(row) as mine:
        assert mine
        with b.claim(row) as theirs:  # locked: skipped, never waited for
            assert not theirs
        a.mark_sent(row, NOW, copy_wanted=False)
    with a.claim(row) as again:  # sent: nobody claims it again
        assert not again
    assert [r.status for r in a.outbox_rows()] == ["sent"]
    a.drop_lease()  # a clean stop: the other node takes over at once
    assert b.take_lease()
    with a.claim(row) as stale:
        assert not stale


def test_a_holder_stopped_mid_transaction_cannot_hold_up_a_takeover(
    it_desk: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgstore, "INTAKE_IDLE_TIMEOUT", "1s")
    a, b = node(it_desk, "a:1"), node(it_desk, "b:2")
    assert a.take_lease(ttl=0.5)
    a.db.execute("BEGIN IMMEDIATE")  # the batch began ... and the process stops here
    time.sleep(1.5)  # the server ends the idle transaction, and the lease runs out
    assert b.take_lease()
    with pytest.raises(StoreUnavailable):
        a.db.execute("COMMIT")
    a.close()
    b.close()


def again(read: Callable[[], T]) -> T:
    """A read after a restart: the first call may meet a connection the server cut."""
    try:
        return read()
    except StoreUnavailable:
        return read()


def test_the_store_carries_on_after_a_server_restart(url: str, postgres: Postgres) -> None:
    store = open_store(url)
    assert store.pending_count() == 0
    postgres.restart()
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(store.pending_count())
        except StoreUnavailable:
            outcomes.append(None)
    assert outcomes[-1] == 0 and outcomes.count(None) <= 1
    store.close()


def test_a_mail_sent_while_the_server_restarts_is_marked_sent_once_it_is_back(
    it_desk: StoreSettings, postgres: Postgres
) -> None:
    a = node(it_desk, "a:1")
    assert a.take_lease()
    row = queued(a, "<r2@x>")
    with a.claim(row) as mine:
        assert mine
        postgres.restart()  # the SMTP server took the mail; the claim's connection dies
        a.mark_sent(row, NOW, copy_wanted=False)
    assert [(r.status, r.attempts) for r in again(a.outbox_rows)] == [("sent", 1)]
    a.close()


def test_several_hosts_lead_to_the_one_that_takes_writes(postgres: Postgres) -> None:
    """libpq's own failover: the first host is down, the second is the primary."""
    url = postgres.create_database("several_hosts")
    here = f"127.0.0.1:{postgres.port}"
    several = url.replace(here, f"127.0.0.1:{free_port()},{here}")
    store = open_store(several + "?target_session_attrs=read-write&connect_timeout=2")
    with store.transaction():
        assert open_thread(store, "REQ") == "REQ-1000"
    assert store.pending_count() == 0
    store.close()


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("40001", StoreBusy),  # serialization failure
        ("40P01", StoreBusy),  # deadlock
        ("55P03", StoreBusy),  # lock not available
        ("53100", StoreFull),  # disk full
        ("25006", StoreReadOnly),  # read-only transaction: a standby after a failover
        ("57P01", StoreUnavailable),  # admin shutdown: a restart
        ("08006", StoreUnavailable),  # connection failure
        ("XX001", StoreCorrupt),  # data corrupted
        ("23505", StoreError),  # unique violation: a bug, never retried as such
    ],
)
def test_postgresql_errors_become_store_errors_in_its_words(
    sqlstate: str, kind: type[StoreError]
) -> None:
    error = psycopg.errors.lookup(sqlstate)(f"the server says {sqlstate}")
    found = store_error(error)
    assert type(found) is kind and str(found) == f"the server says {sqlstate}"
