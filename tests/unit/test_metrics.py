"""Metrics: log events -> counters, the store -> gauges, /metrics and /healthz over HTTP."""

from __future__ import annotations

import dataclasses
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailer.ops.metrics import server as metrics
from mailer.ops.metrics.events import EVENTS, count_events, outcome_of
from mailer.settings import ImapSettings
from mailer.store import open_store


def value(name: str, **labels: str) -> float:
    found = EVENTS.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def emit(event: str, **fields: Any) -> dict[str, Any]:
    event_dict = {"event": event, **fields}
    out = count_events(None, "info", event_dict)
    assert out is event_dict  # passed on unchanged
    assert out == {"event": event, **fields}
    return out


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[str, float]:
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize(
    ("decision", "outcome", "reason"),
    [
        ("receipt", "receipt", None),
        ("suppressed: list", "suppressed", "list"),
        ("suppressed: out-of-office", "suppressed", "out-of-office"),
        ("suppressed: no valid sender", "suppressed", "no-valid-sender"),
        ("suppressed: sender cap", "suppressed", "sender-cap"),
        ("suppressed: something new", "suppressed", "other"),
        ("no receipt: rule printers", "no-receipt", None),
        ("duplicate: already processed", "duplicate", None),
        ("skipped: backlog", "skipped", None),
        ("bounce of our mail", "bounce", None),
        ("follow-up", "follow-up", None),
        ("follow-up: auto-submitted", "follow-up", None),
        ("staff: #take #in-progress", "staff", None),
        ("staff: #resolved", "staff", None),
        ("requester: #close", "requester", None),
        ("rating", "requester", None),
        ("reopened", "requester", None),
        ("who knows", "other", None),
    ],
)
def test_decisions_map_to_a_fixed_set_of_outcomes(
    decision: str, outcome: str, reason: str | None
) -> None:
    assert outcome_of(decision) == (outcome, reason)


def test_processed_events_move_the_outcome_and_reason_counters() -> None:
    before = value("mailer_messages_processed_total", outcome="suppressed")
    list_before = value("mailer_suppressed_total", reason="list")
    emit("message.processed", uid=7, decision="suppressed: list", rule="default")
    assert value("mailer_messages_processed_total", outcome="suppressed") == before + 1
    assert value("mailer_suppressed_total", reason="list") == list_before + 1


def test_failures_count_as_failed_or_quarantined() -> None:
    failed = value("mailer_messages_processed_total", outcome="failed")
    quarantined = value("mailer_messages_processed_total", outcome="quarantined")
    emit("message.failed", uid=1, error="boom", quarantined=False)
    emit("message.failed", uid=1, error="boom", quarantined=True)
    assert value("mailer_messages_processed_total", outcome="failed") == failed + 1
    assert value("mailer_messages_processed_total", outcome="quarantined") == quarantined + 1


def test_receipt_latency_comes_from_the_internaldate_when_the_event_has_it() -> None:
    count = value("mailer_receipt_latency_seconds_count")
    under_10 = value("mailer_receipt_latency_seconds_bucket", le="10.0")
    emit("message.processed", decision="receipt", internaldate=time.time() - 4)
    emit("message.processed", decision="receipt")  # today's event: no internaldate, no sample
    assert value("mailer_receipt_latency_seconds_count") == count + 1
    assert value("mailer_receipt_latency_seconds_bucket", le="10.0") == under_10 + 1


def test_sent_dead_and_deferred_mail_by_kind() -> None:
    receipts = value("mailer_mail_sent_total", kind="receipt")
    progress = value("mailer_mail_sent_total", kind="progress")
    other = value("mailer_mail_sent_total", kind="other")
    dead = value("mailer_dead_letters_total", kind="notify")
    deferred = value("mailer_mail_deferred_total")
    emit("mail.sent", kind="receipt", recipient="alice@example.test", message_id="<a@x>")
    emit("mail.sent", kind="progress", recipient="alice@example.test")
    emit("mail.sent", kind="made-up")
    emit("mail.dead_letter", kind="notify", recipient="it@example.test", reply="550 no")
    emit("mail.deferred", recipient="it@example.test", reply="451 later")
    assert value("mailer_mail_sent_total", kind="receipt") == receipts + 1
    assert value("mailer_mail_sent_total", kind="progress") == progress + 1
    assert value("mailer_mail_sent_total", kind="other") == other + 1
    assert value("mailer_dead_letters_total", kind="notify") == dead + 1
    assert value("mailer_mail_deferred_total") == deferred + 1


def test_reloads_imap_and_staff_events() -> None:
    refused = value("mailer_reloads_total", result="refused")
    done = value("mailer_reloads_total", result="done")
    connects = value("mailer_imap_connects_total")
    errors = value("mailer_imap_errors_total")
    ignored = value("mailer_staff_commands_ignored_total")
    emit("reload.refused", problems=["x"])
    emit("reload.done", rules=3)
    emit("imap.connected", uidvalidity=1)
    emit("imap.error", error="ConnectionResetError")
    emit("staff.command_ignored", sender="bob@example.test", reference="IT-1000")
    assert value("mailer_reloads_total", result="refused") == refused + 1
    assert value("mailer_reloads_total", result="done") == done + 1
    assert value("mailer_imap_connects_total") == connects + 1
    assert value("mailer_imap_errors_total") == errors + 1
    assert value("mailer_staff_commands_ignored_total") == ignored + 1


def test_odd_events_pass_through_untouched() -> None:
    assert count_events(None, "info", {"event": 42}) == {"event": 42}
    assert count_events(None, "info", {}) == {}
    emit("message.processed", decision=None, internaldate="yesterday")
    emit("mail.sent", kind=None)


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:9101", ("127.0.0.1", 9101)),
        ("[::1]:0", ("::1", 0)),
        (" 0.0.0.0:80 ", ("0.0.0.0", 80)),
    ],
)
def test_listen_addresses(listen: str, address: tuple[str, int]) -> None:
    assert metrics.MetricsSettings(listen).address == address


@pytest.mark.parametrize("listen", ["9101", ":9101", "127.0.0.1:", "127.0.0.1:http", "h:70000"])
def test_bad_listen_addresses_say_what_is_expected(listen: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|port must be"):
        metrics.parse_listen(listen)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A real store with two pending mails (the older from 2 minutes ago) and a dead one."""
    path = tmp_path / "mailer.sqlite3"
    store = open_store(path)
    now = time.time()
    for n, (status, age) in enumerate([("pending", 120), ("pending", 5), ("dead", 600)]):
        row_id = store.enqueue(
            thread_id=None,
            message_id=f"<m{n}@example.test>",
            kind="receipt",
            recipient="alice@example.test",
            envelope_sender="helpdesk@example.test",
            raw=b"\x00",
            next_attempt=now,
            created_at=now - age,
        )
        if status == "dead":
            store.mark_dead(row_id, "550 5.1.1 no such user")
    store.close()
    return path


@pytest.fixture
def server(store_path: Path) -> Iterator[metrics.Metrics]:
    running = metrics.start("127.0.0.1:0", store_path, dict, max_check_age=60)
    yield running
    running.stop()


def test_metrics_endpoint_serves_counters_and_store_gauges(server: metrics.Metrics) -> None:
    emit("mail.sent", kind="receipt", recipient="alice@example.test", message_id="<a@x>")
    status, text = get(server.port, "/metrics")
    assert status == 200
    found = samples(text)
    assert found["mailer_store_readable"] == 1
    assert found["mailer_outbox_pending"] == 2
    assert 119 <= found["mailer_outbox_oldest_pending_age_seconds"] < 200
    assert found["mailer_outbox_dead"] == 1
    assert found["mailer_quarantined_messages"] == 0
    assert found["mailer_mail_sent_total{kind=receipt}"] >= 1
    assert "mailer_messages_processed_total{outcome=suppressed}" in found
    assert all(name.startswith("mailer_") for name in found)
    assert "alice" not in text and "example.test" not in text  # nothing personal
    assert get(server.port, "/nope")[0] == 404


def test_a_missing_store_is_reported_not_fatal(tmp_path: Path) -> None:
    running = metrics.start("127.0.0.1:0", tmp_path / "absent.sqlite3", dict)
    try:
        status, text = get(running.port, "/metrics")
    finally:
        running.stop()
    assert status == 200
    assert samples(text)["mailer_store_readable"] == 0
    assert "mailer_outbox_pending" not in text


def test_healthz_follows_the_imap_events(server: metrics.Metrics) -> None:
    emit("imap.connected", uidvalidity=1)
    assert get(server.port, "/healthz") == (200, "ok\n")
    found = samples(get(server.port, "/metrics")[1])
    assert found["mailer_imap_connected"] == 1
    assert found["mailer_last_check_age_seconds"] < 5
    emit("imap.error", error="OSError: gone")
    assert get(server.port, "/healthz") == (503, "imap not connected\n")
    assert samples(get(server.port, "/metrics")[1])["mailer_imap_connected"] == 0


def test_healthz_fails_when_the_last_check_is_too_old(store_path: Path) -> None:
    state: dict[str, object] = {"connected": True, "last_check": time.time() - 100}
    running = metrics.start("127.0.0.1:0", store_path, lambda: state, max_check_age=60)
    try:
        status, body = get(running.port, "/healthz")
        assert status == 503
        assert body.startswith("last mailbox check 100 s ago (limit 60 s)")
        state["last_check"] = time.time()
        assert get(running.port, "/healthz") == (200, "ok\n")
        state["connected"] = False  # the service's own flag wins over the events
        assert get(running.port, "/healthz") == (503, "imap not connected\n")
    finally:
        running.stop()


def test_healthz_fails_once_the_intake_failed(store_path: Path) -> None:
    """Issue 11: the intake died and /healthz still answered 200 until the check went stale."""
    state: dict[str, object] = {"connected": True, "last_check": time.time()}
    running = metrics.start("127.0.0.1:0", store_path, lambda: state, max_check_age=60)
    try:
        assert get(running.port, "/healthz") == (200, "ok\n")
        state["failed"] = "StoreCorrupt: database disk image is malformed"
        status, body = get(running.port, "/healthz")
    finally:
        running.stop()
    assert (status, body) == (
        503,
        "intake failed: StoreCorrupt: database disk image is malformed\n",
    )


def test_health_before_any_check() -> None:
    assert metrics.health(lambda: {"connected": True, "last_check": None}, 60) in (
        None,  # an earlier test's events may have recorded a check
        "mailbox not checked yet",
    )
    assert metrics.health(lambda: {"connected": True, "last_check": 0.0}, 60, now=30.0) is None


def test_a_broken_state_callback_does_not_break_the_scrape(store_path: Path) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("service half torn down")

    running = metrics.start("127.0.0.1:0", store_path, broken)
    try:
        assert get(running.port, "/metrics")[0] == 200
        assert get(running.port, "/healthz")[0] in (200, 503)
    finally:
        running.stop()


def test_stale_after_uses_the_longest_wait_between_polls() -> None:
    idle = ImapSettings(host="h", username="u", password="p", idle_renew=600, catchup_interval=300)
    assert metrics.stale_after(idle) == 900
    polling = dataclasses.replace(idle, idle=False, poll_interval=60)
    assert metrics.stale_after(polling) == 180
