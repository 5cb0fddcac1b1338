"""A store created from nothing awaits the daemon's first start, on SQLite and on PostgreSQL
alike; a store being migrated does not (it served its mailbox already), so the first-start
guard (``daemon.watermark``) stops a store that lost its watermark on either backend.

Every test runs on both backends (``store_where``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import cast

import pytest

from mailer.daemon.watermark import check_uidvalidity, guard_first_start
from mailer.errors import StoreMismatch
from mailer.settings import ImapSettings
from mailer.store import SCHEMA_VERSION, open_store
from mailer.transport.imap import Mailbox, Selected
from tests.stores import set_schema_version, sql

IMAP = ImapSettings(host="imap.example.test", username="helpdesk", password="")
# The objects migration 4 (the last) makes: dropped, the store is one of version 3.
VERSION_4 = ("DROP TABLE repeats", "DROP TABLE reports", "DROP INDEX messages_at")


class _ServedMailbox:
    """A mailbox that holds mail older than ``[imap] backlog``: it was served before."""

    def holds_mail_before(self, when: float) -> bool:
        return True


class _Selected:
    """The mailbox as the daemon selected it: only its UIDVALIDITY counts here."""

    uidvalidity = 7


def _guard(where: Path | str) -> None:
    store = open_store(where)
    try:
        asyncio.run(guard_first_start(store, cast(Mailbox, _ServedMailbox()), IMAP))
    finally:
        store.close()


def _first_start(where: Path | str) -> None:
    """What the daemon does at its first start: the first watermark, the mark gone."""
    store = open_store(where)
    try:
        check_uidvalidity(store, IMAP.mailbox, cast(Selected, _Selected()))
    finally:
        store.close()


def test_a_new_store_awaits_its_first_start_until_the_first_watermark(
    store_where: Path | str,
) -> None:
    store = open_store(store_where)
    assert store.awaits_first_start()
    store.close()
    _first_start(store_where)
    again = open_store(store_where)
    assert not again.awaits_first_start()
    state = again.mailbox_state(IMAP.mailbox)
    assert state is not None and state.uidvalidity == 7
    again.close()


def test_a_new_store_passes_the_guard_though_its_mailbox_holds_old_mail(
    store_where: Path | str,
) -> None:
    _guard(store_where)  # no StoreMismatch: a first start, not a lost watermark


def test_a_store_that_lost_its_watermark_is_stopped_by_the_guard(store_where: Path | str) -> None:
    _first_start(store_where)
    sql(store_where, "DELETE FROM mailboxes")  # the watermark is lost
    with pytest.raises(StoreMismatch, match="no watermark for mailbox 'INBOX'"):
        _guard(store_where)


def test_a_store_migrated_from_an_older_version_awaits_no_first_start(
    store_where: Path | str,
) -> None:
    _first_start(store_where)
    sql(store_where, "DELETE FROM mailboxes")  # and it lost its watermark, too
    for statement in VERSION_4:
        sql(store_where, statement)
    set_schema_version(store_where, SCHEMA_VERSION - 1)
    store = open_store(store_where)  # migrated to the current version
    try:
        assert store.duplicates_seen(since=0, until=time.time()) == []  # version 4's table
        assert not store.awaits_first_start()
    finally:
        store.close()
    with pytest.raises(StoreMismatch):
        _guard(store_where)
