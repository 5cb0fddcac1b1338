"""``mailer store copy``: a SQLite store into an empty PostgreSQL one, every table checked;
the requests, references and threads go on there."""

from __future__ import annotations

import dataclasses
import email.utils
import shutil
from pathlib import Path

import pytest

from mailer.cli.main import main
from mailer.config import templates
from mailer.config.load import load_settings
from mailer.daemon.pipeline import Pipeline
from mailer.errors import StoreError, StoreLocked
from mailer.model import InboundMail, MailboxRef
from mailer.store import MailboxState, open_store
from mailer.store.copy import copy_store
from sandbox.postgres import Postgres

DATA = Path(__file__).parents[1] / "data" / "config"
NOW = 1_800_000_000.0


def request(n: int, *, reply_to: str | None = None) -> InboundMail:
    extra = f"In-Reply-To: {reply_to}\r\n" if reply_to else ""
    raw = (
        "Return-Path: <maria@example.org>\r\nFrom: Maria <maria@example.org>\r\n"
        f"To: helpdesk@example.test\r\nSubject: VPN down {n}\r\nMessage-ID: <r{n}@example.org>\r\n"
        f"Date: {email.utils.formatdate(NOW)}\r\n{extra}\r\nMy VPN does not connect ({n}).\r\n"
    ).encode()
    return InboundMail(MailboxRef("INBOX", 7, n), NOW + n, raw, len(raw))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copy(DATA / "minimal.toml", tmp_path / "mailer.toml")
    settings = load_settings(tmp_path / "mailer.toml")
    store = open_store(settings.store)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, NOW))
    pipeline = Pipeline(settings, store, templates.make_environment(settings))
    state = store.mailbox_state("INBOX")
    assert state is not None
    pipeline.process_batch([request(n) for n in (1, 2, 3)], state, NOW + 10)
    store.close()
    return tmp_path / "mailer.toml"


def test_a_copy_checks_every_table_and_the_requests_go_on_there(
    config: Path, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.create_database("copy_goes_on")
    assert main(["--config", str(config), "store", "copy", "--to", url]) == 0
    out = capsys.readouterr().out
    assert "threads" in out and "outbox" in out and " NO" not in out
    assert "every table checked" in out and f'url = "{url}"' in out

    settings = load_settings(config)
    copied = dataclasses.replace(settings, store=dataclasses.replace(settings.store, url=url))
    store = open_store(copied.store)
    assert [t.reference for t in store.threads()] == ["REQ-1000", "REQ-1001", "REQ-1002"]
    assert len(store.outbox_rows()) == 3 and store.pending_count() == 3
    pipeline = Pipeline(copied, store, templates.make_environment(copied))
    state = store.mailbox_state("INBOX")
    assert state is not None and state.last_uid == 3  # the watermark came along
    receipt = next(r for r in store.due(NOW + 100) if r.kind == "receipt")
    [follow_up, new] = pipeline.process_batch(
        [request(4, reply_to=receipt.message_id), request(5)], state, NOW + 20
    )
    assert follow_up.reference == "REQ-1000"  # a follow-up joins its old request
    assert new.reference == "REQ-1003"  # and the numbers go on
    store.close()


def test_a_target_with_rows_of_this_mailbox_is_refused(
    config: Path, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.create_database("copy_twice")
    assert main(["--config", str(config), "store", "copy", "--to", url]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "store", "copy", "--to", url]) == 1
    assert "already holds rows" in capsys.readouterr().err


def test_the_daemon_must_be_stopped(config: Path, postgres: Postgres) -> None:
    settings = load_settings(config)
    daemon = open_store(settings.store, lock=True)
    target = dataclasses.replace(settings.store, url=postgres.create_database("copy_running"))
    with pytest.raises(StoreLocked):
        copy_store(settings.store.path, target)
    daemon.close()
    assert copy_store(settings.store.path, target).ok


@pytest.mark.parametrize("source_started", [True, False], ids=["started", "new"])
def test_the_copy_awaits_a_first_start_exactly_when_its_source_did(
    config: Path, postgres: Postgres, source_started: bool
) -> None:
    """A new PostgreSQL store holds the mark of a first start to come: that alone is no row
    that refuses the copy, and the copy ends with the source's mark, or none."""
    settings = load_settings(config)
    if source_started:
        source = open_store(settings.store)
        with source.transaction():
            source.first_start_done()
        source.close()
    url = postgres.create_database(f"copy_mark_{'started' if source_started else 'new'}")
    target = dataclasses.replace(settings.store, url=url)
    open_store(target).close()  # a daemon met the new store first: it awaits its first start
    report = copy_store(settings.store.path, target)
    assert report.ok and next(t for t in report.tables if t.name == "meta").same
    copied = open_store(target)
    try:
        assert copied.awaits_first_start() is not source_started
    finally:
        copied.close()


def test_a_target_with_any_other_meta_row_is_refused(config: Path, postgres: Postgres) -> None:
    """Only the mark of a first start to come is taken for a new store's: a reference
    counter already there (a request was numbered) refuses the copy."""
    settings = load_settings(config)
    target = dataclasses.replace(settings.store, url=postgres.create_database("copy_counted"))
    store = open_store(target)
    with store.transaction():
        store.next_reference_number(1000)
    store.close()
    with pytest.raises(StoreError, match=r"already holds rows .*\(table meta\)"):
        copy_store(settings.store.path, target)
