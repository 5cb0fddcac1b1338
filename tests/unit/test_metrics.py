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
import structlog
import structlog.testing
from prometheus_client.parser import text_string_to_metric_families

from mailer.config import templates
from mailer.daemon.pipeline import Pipeline
from mailer.model import SENDER_CAP, InboundMail, MailboxRef, Reason, ReasonCode, Robot
from mailer.ops.metrics import server as metrics
from mailer.ops.metrics.events import EVENTS, count_events, outcome_of
from mailer.settings import ImapSettings
from mailer.store import MailboxState, open_store
from tests.factories import settings as make_settings

NOW = 1_800_000_000.0


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


C = ReasonCode


@pytest.mark.parametrize(
    ("why", "text", "outcome", "reason"),
    [
        (Reason(C.RECEIPT), "receipt", "receipt", None),
        (Reason(C.SUPPRESSED, Robot.LIST), "suppressed: list", "suppressed", "list"),
        (
            Reason(C.SUPPRESSED, Robot.OUT_OF_OFFICE),
            "suppressed: out-of-office",
            "suppressed",
            "out-of-office",
        ),
        (
            Reason(C.SUPPRESSED, Robot.NO_VALID_SENDER, "suppressed: no valid sender"),
            "suppressed: no valid sender",
            "suppressed",
            "no-valid-sender",
        ),
        (
            Reason(C.SUPPRESSED, SENDER_CAP, "suppressed: sender cap"),
            "suppressed: sender cap",
            "suppressed",
            "sender-cap",
        ),
        (Reason(C.SUPPRESSED, "something new"), "suppressed: something new", "suppressed", "other"),
        (Reason(C.NO_RECEIPT, "rule printers"), "no receipt: rule printers", "no-receipt", None),
        (
            Reason(C.DUPLICATE, "already processed"),
            "duplicate: already processed",
            "duplicate",
            None,
        ),
        (Reason(C.SKIPPED, "backlog"), "skipped: backlog", "skipped", None),
        (Reason(C.BOUNCE), "bounce of our mail", "bounce", None),
        (Reason(C.FOLLOW_UP), "follow-up", "follow-up", None),
        (
            Reason(C.FOLLOW_UP, Robot.AUTO_SUBMITTED),
            "follow-up: auto-submitted",
            "follow-up",
            None,
        ),
        (Reason(C.STAFF, "#take #in-progress"), "staff: #take #in-progress", "staff", None),
        (Reason(C.STAFF, "#resolved"), "staff: #resolved", "staff", None),
        (Reason(C.REQUESTER, "#close"), "requester: #close", "requester", None),
        (Reason(C.REQUESTER, "rating", "rating"), "rating", "requester", None),
        (Reason(C.REQUESTER, "reopened", "reopened"), "reopened", "requester", None),
    ],
)
def test_reasons_map_to_a_fixed_set_of_outcomes_from_their_codes(
    why: Reason, text: str, outcome: str, reason: str | None
) -> None:
    assert why.text == str(why) == text  # what people read (the store, the log's decision)
    assert outcome_of(why.code.value, str(why.detail)) == (outcome, reason)
    assert outcome_of(why.code.value, text) == (outcome, None if reason is None else "other")


@pytest.mark.parametrize(
    ("reason", "detail"),
    [("who knows", ""), ("suppressed: list", ""), (None, None), (7, "list"), ("", "list")],
)
def test_anything_but_a_code_is_other(reason: object, detail: object) -> None:
    assert outcome_of(reason, detail) == ("other", None)


def test_processed_events_move_the_outcome_and_reason_counters() -> None:
    before = value("mailer_messages_processed_total", outcome="suppressed")
    list_before = value("mailer_suppressed_total", reason="list")
    emit(
        "message.processed",
        uid=7,
        reason="suppressed",
        detail="list",
        decision="suppressed: list",
        rule="default",
    )
    assert value("mailer_messages_processed_total", outcome="suppressed") == before + 1
    assert value("mailer_suppressed_total", reason="list") == list_before + 1


def test_every_reason_code_and_robot_has_its_series_from_the_start() -> None:
    for code in ReasonCode:
        assert value("mailer_messages_processed_total", outcome=code.value) >= 0
    for robot in Robot:
        assert value("mailer_suppressed_total", reason=robot.value) >= 0
    assert value("mailer_suppressed_total", reason=SENDER_CAP) >= 0


def test_the_pipeline_logs_codes_and_the_counters_follow_them(tmp_path: Path) -> None:
    """message.processed carries ``reason`` (a code) and ``detail`` beside the text."""
    settings = make_settings(tmp_path)
    store = open_store(settings.store)
    with store.transaction():
        store.set_mailbox_state("INBOX", MailboxState(7, 0, NOW))
    pipeline = Pipeline(settings, store, templates.make_environment(settings))
    person = b"From: Maria <maria@example.org>\r\nTo: helpdesk@example.test\r\n"
    oof = person + b"Auto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\naway\r\n"
    request = person + b"Subject: VPN\r\nMessage-ID: <r@example.org>\r\n\r\nhelp\r\n"
    batch = [
        InboundMail(MailboxRef("INBOX", 7, n), NOW, raw, len(raw))
        for n, raw in [(1, oof), (2, request)]
    ]
    suppressed = value("mailer_suppressed_total", reason="auto-submitted")
    receipts = value("mailer_messages_processed_total", outcome="receipt")
    saved = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[count_events, capture])
    try:
        state = store.mailbox_state("INBOX")
        assert state is not None
        pipeline.process_batch(batch, state, NOW)
    finally:
        structlog.configure(**saved)
        store.close()
    processed = [e for e in capture.entries if e["event"] == "message.processed"]
    assert [(e["reason"], e["detail"], e["decision"]) for e in processed] == [
        ("suppressed", "auto-submitted", "suppressed: auto-submitted"),
        ("receipt", "", "receipt"),
    ]
    assert value("mailer_suppressed_total", reason="auto-submitted") == suppressed + 1
    assert value("mailer_messages_processed_total", outcome="receipt") == receipts + 1


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
    emit("message.processed", reason="receipt", internaldate=time.time() - 4)
    emit("message.processed", reason="receipt")  # no internaldate, no sample
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
    emit("message.processed", reason=None, detail=7, internaldate="yesterday")
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
