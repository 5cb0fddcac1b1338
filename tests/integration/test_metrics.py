"""Metrics against real Dovecot + Postfix: the service runs in-process with the counting
processor in its structlog chain, as ``mailer run`` will once it is wired."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from mailer.config.load import load_settings
from mailer.daemon.service import Service
from mailer.ops.metrics import server as metrics
from mailer.store import open_store
from sandbox.servers import MailSandbox
from tests.integration.helpers import SHARED, request, write_config


@pytest.fixture
def counting_logs() -> Iterator[None]:
    """structlog with ``count_events`` before the renderer; the old set-up comes back after."""
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            metrics.count_events,
            structlog.processors.JSONRenderer(),
        ],
        cache_logger_on_first_use=False,
    )
    yield
    structlog.configure(**saved)


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_run_moves_the_counters_and_the_store_gauges(
    sandbox: MailSandbox, tmp_path: Path, counting_logs: None
) -> None:
    settings = load_settings(write_config(tmp_path, sandbox))
    oof = request(3, sender="bob@example.test", extra="Auto-Submitted: auto-replied\r\n")
    for raw, who in ((request(1), "alice"), (request(2, sender="carol@example.test"), "carol")):
        sandbox.send(raw, mail_from=f"{who}@example.test", rcpt_to=[SHARED])
    sandbox.send(oof, mail_from="bob@example.test", rcpt_to=[SHARED])
    sandbox.wait_for_messages("helpdesk", 3)

    store = open_store(settings.store, lock=True)
    service = Service(settings, store)
    served = metrics.start(
        "127.0.0.1:0",
        settings.store.path,
        lambda: {"connected": service.connected},
        max_check_age=metrics.stale_after(settings.imap),
    )
    try:
        before = scrape(served.port)
        stats = asyncio.run(service.run_once())
        after = scrape(served.port)
    finally:
        served.stop()
        store.close()

    def moved(name: str) -> float:
        return after[name] - before[name]

    assert stats.processed == 3 and stats.sent >= 2
    assert moved("mailer_messages_processed_total{outcome=receipt}") == 2
    assert moved("mailer_messages_processed_total{outcome=suppressed}") == 1
    assert moved("mailer_suppressed_total{reason=auto-submitted}") == 1
    assert moved("mailer_mail_sent_total{kind=receipt}") == 2
    assert moved("mailer_imap_connects_total") == 1
    assert after["mailer_outbox_pending"] == 0
    assert after["mailer_outbox_oldest_pending_age_seconds"] == 0
    assert after["mailer_store_readable"] == 1
    assert after["mailer_last_check_age_seconds"] < 60
    assert after["mailer_imap_connected"] == 0  # run_once closed it; the service's flag says so
    assert len(sandbox.wait_for_messages("alice", 1)) == 1
    assert len(sandbox.wait_for_messages("carol", 1)) == 1
