"""The pipeline on real stores (SQLite, PostgreSQL), fed fetched messages directly (no servers)."""

from __future__ import annotations

import contextlib
import email
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mailer.config import templates
from mailer.daemon.pipeline import Pipeline
from mailer.errors import StoreFull
from mailer.model import InboundMail, MailboxRef
from mailer.store import MailboxState, Store, open_store
from tests.factories import settings as make_settings
from tests.stores import sql

NOW = 1_800_000_000.0


def raw(
    n: int,
    *,
    subject: str = "VPN not connecting",
    sender: str = "Maria Rossi <maria@example.org>",
    extra: str = "",
    body: str = "Hello, my VPN does not connect since this morning.",
) -> bytes:
    return (
        f"Return-Path: <{email.utils.parseaddr(sender)[1]}>\r\n"
        f"From: {sender}\r\nTo: helpdesk@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <req{n}@example.org>\r\nDate: Mon, 1 Jan 2026 10:00:00 +0000\r\n{extra}"
        f"\r\n{body}\r\n"
    ).encode()


def fetched(uid: int, data: bytes, internaldate: float = NOW) -> InboundMail:
    return InboundMail(MailboxRef("INBOX", 7, uid), internaldate, data, len(data))


@pytest.fixture(name="store")
def _store(store_where: Path | str) -> Store:
    store = open_store(store_where)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, NOW))
    return store


@pytest.fixture(name="pipeline")
def _pipeline(store: Store, tmp_path: Path) -> Pipeline:
    settings = make_settings(tmp_path)
    return Pipeline(settings, store, templates.make_environment(settings))


def state(store: Store) -> MailboxState:
    s = store.mailbox_state("INBOX")
    assert s is not None
    return s


def test_a_request_opens_a_thread_and_queues_one_receipt(pipeline: Pipeline, store: Store) -> None:
    [out] = pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    assert (out.reason, out.reference, out.queued) == ("receipt", "REQ-1000", 1)
    [row] = store.due(NOW)
    assert row.recipient == "maria@example.org"
    assert row.envelope_sender == "helpdesk@example.test"
    assert state(store).last_uid == 1
    assert store.threads()[0].status == "acknowledged"


def test_the_same_message_twice_is_acknowledged_once(pipeline: Pipeline, store: Store) -> None:
    pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    [out] = pipeline.process_batch([fetched(2, raw(1))], state(store), NOW)
    assert out.reason.startswith("duplicate")
    assert len(store.due(NOW)) == 1


def test_a_follow_up_by_references_joins_the_thread(pipeline: Pipeline, store: Store) -> None:
    pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    receipt_id = store.due(NOW)[0].message_id
    follow = raw(
        2,
        subject="Re: VPN not connecting [REQ-1000]",
        extra=f"In-Reply-To: {receipt_id}\r\nReferences: <req1@example.org> {receipt_id}\r\n",
    )
    [out] = pipeline.process_batch([fetched(2, follow)], state(store), NOW)
    assert (out.reason, out.reference, out.queued) == ("follow-up", "REQ-1000", 0)


def test_a_reference_in_the_subject_from_someone_else_opens_a_new_request(
    pipeline: Pipeline, store: Store
) -> None:
    pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    other = raw(2, subject="Re: VPN [REQ-1000]", sender="Bob <bob@example.org>")
    [out] = pipeline.process_batch([fetched(2, other)], state(store), NOW)
    assert out.reference == "REQ-1001"
    same = raw(3, subject="more on [REQ-1000]")
    [out] = pipeline.process_batch([fetched(3, same)], state(store), NOW)
    assert (out.reason, out.reference) == ("follow-up", "REQ-1000")


def test_backlog_mail_is_skipped_unless_backfilling(pipeline: Pipeline, store: Store) -> None:
    old = NOW - 2 * 86400
    [out] = pipeline.process_batch([fetched(1, raw(1), old)], state(store), NOW)
    assert out.reason == "skipped: backlog"
    [out] = pipeline.process_batch([fetched(2, raw(2), old)], state(store), NOW, backfill=True)
    assert out.reason == "receipt"


def test_out_of_office_reply_gets_nothing(pipeline: Pipeline, store: Store) -> None:
    oof = raw(1, subject="Automatic reply: VPN", extra="Auto-Submitted: auto-replied\r\n")
    [out] = pipeline.process_batch([fetched(1, oof)], state(store), NOW)
    assert out.reason.startswith("suppressed") and out.queued == 0
    assert store.due(NOW) == []


def test_per_sender_cap_stops_receipts_after_twenty(pipeline: Pipeline, store: Store) -> None:
    batch = [fetched(i, raw(i, subject=f"request {i}")) for i in range(1, 23)]
    outcomes = pipeline.process_batch(batch, state(store), NOW)
    assert sum(o.queued for o in outcomes) == 20
    assert outcomes[-1].reason == "suppressed: sender cap"
    assert len(store.threads()) == 22


def test_a_message_that_keeps_failing_is_quarantined_then_requeued(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("mailer.daemon.pipeline.judge", boom)
    for attempt in range(3):
        [out] = pipeline.process_batch([fetched(5, raw(5))], state(store), NOW)
        assert out.reason == ("quarantined" if attempt == 2 else "failed")
    assert store.retry_candidates("INBOX", 7) == []
    assert [q.uid for q in store.quarantined()] == [5]
    assert store.requeue(5, "INBOX") == 1
    assert store.retry_candidates("INBOX", 7) == [5]
    monkeypatch.undo()
    [out] = pipeline.process_batch([fetched(5, raw(5))], state(store), NOW)
    assert out.reason == "receipt"
    assert store.quarantined() == []


def test_one_bad_message_does_not_undo_the_rest_of_the_batch(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # messages are parsed where their arrival facts are read ahead
    import mailer.daemon.lookup as module

    real = module.parse_inbound

    def picky(item: InboundMail, *, max_size: int):  # type: ignore[no-untyped-def]
        if b"req2@" in item.raw:
            raise ValueError("cannot parse")
        return real(item, max_size=max_size)

    monkeypatch.setattr(module, "parse_inbound", picky)
    outs = pipeline.process_batch([fetched(i, raw(i)) for i in (1, 2, 3)], state(store), NOW)
    assert [o.reason for o in outs] == ["receipt", "failed", "receipt"]
    assert state(store).last_uid == 3
    assert store.retry_candidates("INBOX", 7) == [2]


def test_a_crash_before_commit_leaves_nothing_behind(pipeline: Pipeline, store: Store) -> None:
    class Crash(BaseException):
        pass

    def items():  # type: ignore[no-untyped-def]
        yield fetched(1, raw(1))
        raise Crash

    with pytest.raises(Crash):
        pipeline.process_batch(items(), state(store), NOW)
    assert store.due(NOW) == [] and state(store).last_uid == 0 and store.threads() == []


def dsn_for(message_id: str) -> bytes:
    return (
        "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: helpdesk@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; maria@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: VPN\r\n--b--\r\n"
    ).encode()


def test_a_bounce_of_our_receipt_is_tied_to_its_thread_and_never_answered(
    pipeline: Pipeline, store: Store, store_where: Path | str
) -> None:
    pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    receipt_id = store.due(NOW)[0].message_id
    [out] = pipeline.process_batch([fetched(2, dsn_for(receipt_id))], state(store), NOW)
    assert (out.reason, out.reference, out.queued) == ("bounce of our mail", "REQ-1000", 0)
    # the flag is the store's own business
    bounced = sql(store_where, "SELECT bounced FROM outbox WHERE message_id = ?", (receipt_id,))
    assert bounced == [(1,)]


def test_out_of_office_replies_to_a_receipt_join_the_thread_until_the_cap(
    pipeline: Pipeline, store: Store
) -> None:
    pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    receipt_id = store.due(NOW)[0].message_id
    reasons = []
    for n in range(2, 5):
        oof = raw(
            n,
            subject="Automatic reply: VPN",
            extra=(f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {receipt_id}\r\n"),
        )
        [out] = pipeline.process_batch([fetched(n, oof)], state(store), NOW + n)
        reasons.append((out.reason, out.reference, out.queued))
    assert reasons == [("follow-up: auto-submitted", "REQ-1000", 0)] * 3
    assert [t.auto_blocked for t in store.threads()] == [True]


def test_a_batch_that_cannot_commit_logs_nothing_it_did_not_do(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the metrics count log events, and the pipeline logged each message before its
    batch committed, so a batch rolled back (a full disk) was counted again at every retry."""
    real = store.transaction

    @contextlib.contextmanager
    def full_at_commit() -> Iterator[None]:
        with real():
            yield
            raise StoreFull("database or disk is full")

    monkeypatch.setattr(store, "transaction", full_at_commit)
    with capture_logs() as logs, pytest.raises(StoreFull):
        pipeline.process_batch([fetched(1, raw(1)), fetched(2, raw(2))], state(store), NOW)
    assert logs == []
    assert store.threads() == [] and state(store).last_uid == 0
    monkeypatch.setattr(store, "transaction", real)
    with capture_logs() as logs:
        pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    assert [e["event"] for e in logs] == ["message.processed"]


def test_the_stores_trouble_is_not_the_messages_fault(
    pipeline: Pipeline, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that fails while a message is processed (full, read-only, damaged) ends the
    batch, to be retried whole; it does not count a failure against the message (three such
    and it would be quarantined: every message, for the store's fault)."""

    def full(key: str, recipient: str | None, since: float) -> tuple[bool, int]:
        raise StoreFull("database or disk is full")

    monkeypatch.setattr(store, "arrival_facts", full)
    with pytest.raises(StoreFull):
        pipeline.process_batch([fetched(1, raw(1))], state(store), NOW)
    monkeypatch.undo()
    assert store.retry_candidates("INBOX", 7) == [] and state(store).last_uid == 0
