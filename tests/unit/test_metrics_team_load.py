"""The per-team SLA gauges (open, overdue, waiting) scraped from ``/metrics``, read from the
configured store at each scrape: a SQLite file or a shared PostgreSQL database alike.

Every test runs on both backends (``store_where``)."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailer.model import Promise, Status
from mailer.ops.metrics import server as metrics
from mailer.settings import StoreSettings
from mailer.store import Store, open_store

HOUR = 3600.0


def configured(where: Path | str) -> StoreSettings:
    """``[store]`` as the loader gives it: a path, or a PostgreSQL URL (the default mailbox)."""
    if isinstance(where, str):
        return StoreSettings(path=Path("unused"), url=where)
    return StoreSettings(path=where)


def scrape(store: StoreSettings) -> dict[tuple[str, str], float]:
    """The team gauges of one scrape: (series, team) -> value."""
    server = metrics.start("127.0.0.1:0", store)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
    finally:
        server.stop()
    return {
        (sample.name, sample.labels["team"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("mailer_requests_")
    }


def request(
    store: Store,
    n: int,
    team: str | None,
    status: Status,
    promise: Promise,
    *,
    answered: bool = False,
) -> None:
    now = time.time()
    thread_id = store.create_thread(
        reference=f"REQ-{n}", requester="maria@example.org", requester_name="Maria",
        subject="VPN down", category="general", team=team, team_address=None,
        priority="normal", rule="default", language="en", status=status,
        root_message_id=f"<m{n}@example.org>", root_references=None, root_thread_index=None,
        parent_reference=None, created_at=now - 10 * HOUR, updated_at=now - 10 * HOUR,
    )  # fmt: skip
    store.set_promise(thread_id, promise)
    if answered:
        store.update_thread(thread_id, updated_at=now, first_response_at=now - 5 * HOUR)


@pytest.fixture(name="desk")
def _desk(store_where: Path | str) -> StoreSettings:
    """Requests of two teams and of none, each a case of the overdue rule."""
    now = time.time()
    past, future = now - HOUR, now + HOUR
    store = open_store(store_where)
    with store.transaction():
        # it: a first response late; a late resolution paused while waiting; an answered one
        # on time; a late one resolved since (no longer open)
        request(store, 1, "it", Status.ACKNOWLEDGED, Promise(first_response_due=past))
        request(
            store, 2, "it", Status.WAITING, Promise(resolution_due=past, paused_at=now - 2 * HOUR)
        )
        request(
            store, 3, "it", Status.IN_PROGRESS,
            Promise(first_response_due=past, resolution_due=future), answered=True,
        )  # fmt: skip
        request(store, 4, "it", Status.RESOLVED, Promise(resolution_due=past))
        # hr: a resolution clock running past its due time
        request(store, 5, "hr", Status.NEW, Promise(resolution_due=past))
        # no team, nothing promised
        request(store, 6, None, Status.ACKNOWLEDGED, Promise())
    store.close()
    return configured(store_where)


def test_open_overdue_and_waiting_per_team_are_scraped_from_the_configured_store(
    desk: StoreSettings,
) -> None:
    assert scrape(desk) == {
        ("mailer_requests_open", "it"): 3,
        ("mailer_requests_overdue", "it"): 1,
        ("mailer_requests_waiting", "it"): 1,
        ("mailer_requests_open", "hr"): 1,
        ("mailer_requests_overdue", "hr"): 1,
        ("mailer_requests_waiting", "hr"): 0,
        ("mailer_requests_open", "none"): 1,
        ("mailer_requests_overdue", "none"): 0,
        ("mailer_requests_waiting", "none"): 0,
    }


def test_each_scrape_reads_the_store_as_it_is_now(desk: StoreSettings) -> None:
    assert scrape(desk)[("mailer_requests_open", "hr")] == 1
    store = open_store(desk)
    with store.transaction():
        found = store.thread_by_reference("REQ-5")
        assert found is not None
        store.update_thread(found.id, updated_at=time.time(), status=Status.RESOLVED)
    store.close()
    after = scrape(desk)
    assert ("mailer_requests_open", "hr") not in after
    assert after[("mailer_requests_open", "it")] == 3


def test_a_store_not_there_yet_shows_no_team_gauges(store_where: Path | str) -> None:
    """Before the daemon's first start there is no store to read: no gauge, no failure."""
    assert scrape(configured(store_where)) == {}
