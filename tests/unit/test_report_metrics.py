"""SLA metrics and the Grafana dashboard built on them; the report's weeks and the weekly
mail's week; duplicates counted by the store."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailer.cli.main import main
from mailer.core.reporting.weeks import Span, full_week_before, weeks_of
from mailer.daemon.reports import covered_week
from mailer.ops.metrics import server as metrics
from mailer.ops.metrics.events import EVENTS, count_events
from mailer.store import open_store
from sandbox.demo import history

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "mailer-sla.json"
ROME = ZoneInfo("Europe/Rome")
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "histogram_quantile", "le", "team", "target", "result",
    "outcome", "label_values", "without", "avg", "max", "min",
}  # fmt: skip


def scrape(store: Path) -> str:
    server = metrics.start("127.0.0.1:0", store)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return str(reply.read().decode())
    finally:
        server.stop()


def exported(text: str) -> set[str]:
    """Every series name a scrape can show: families and their _total/_bucket/... samples."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names.update(family.name + s for s in suffixes.get(family.type, ()))
    return names


@pytest.fixture(scope="module", name="desk")
def _desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history.fill(tmp_path_factory.mktemp("desk"))


def test_every_dashboard_query_names_a_metric_mailer_exports(desk: Path) -> None:
    names = exported(scrape(desk.with_name("mailer.sqlite3")))
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert len(queries) >= 12
    for query in queries:
        words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", re.sub(r'"[^"]*"|\[[^]]*]', "", query)))
        metric_names = {w for w in words if w.startswith("mailer_")}
        assert metric_names, query
        assert metric_names <= names, (query, metric_names - names)
        assert not (words - metric_names - PROMQL_WORDS), (
            query,
            words - metric_names - PROMQL_WORDS,
        )


def test_open_overdue_and_waiting_per_team_come_from_the_store(desk: Path) -> None:
    found = {
        (s.name, s.labels.get("team")): s.value
        for family in text_string_to_metric_families(scrape(desk.with_name("mailer.sqlite3")))
        for s in family.samples
        if s.name.startswith("mailer_requests_")
    }
    opened = {team: n for (name, team), n in found.items() if name == "mailer_requests_open"}
    assert set(opened) == {"facilities", "hr", "it"} and sum(opened.values()) > 0
    for team in opened:  # the six weeks are long past: every open promise is overdue
        assert found[("mailer_requests_overdue", team)] == opened[team]
        assert found[("mailer_requests_waiting", team)] <= opened[team]


def test_sla_events_fill_the_histograms_and_counters() -> None:
    def sample(name: str, **labels: str) -> float:
        return EVENTS.get_sample_value(name, labels) or 0.0

    import mailer.ops.metrics.sla  # noqa: F401 - registers the SLA series

    before = sample("mailer_sla_targets_total", team="it", target="resolution", result="missed")
    count_events(
        None,
        "info",
        {"event": "promise.verdict", "team": "it", "target": "resolution", "verdict": "missed"},
    )
    count_events(
        None,
        "info",
        {"event": "promise.verdict", "team": "it", "target": "bogus", "verdict": "met"},
    )
    after = sample("mailer_sla_targets_total", team="it", target="resolution", result="missed")
    assert after == before + 1
    count_events(
        None, "info", {"event": "request.first_response", "team": "hr", "working_seconds": 1800.0}
    )
    assert sample("mailer_first_response_working_seconds_bucket", team="hr", le="3600.0") >= 1
    count_events(
        None, "info", {"event": "request.resolved", "team": "a b <c>", "working_seconds": 90000}
    )
    assert sample("mailer_resolution_working_seconds_count", team="other") >= 1


def test_the_daemon_logs_what_the_metrics_count(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import structlog.testing

    with structlog.testing.capture_logs() as logs:
        history.fill(desk.parent / "again", weeks=1)
    kinds = {entry["event"] for entry in logs}
    assert {"request.first_response", "request.resolved", "promise.verdict"} <= kinds
    verdict = next(e for e in logs if e["event"] == "promise.verdict")
    assert verdict["target"] in ("first_response", "resolution") and verdict["team"]


def test_weeks_start_on_monday_midnight_local_across_dst() -> None:
    since = datetime(2025, 10, 20, tzinfo=ROME).timestamp()
    until = datetime(2025, 11, 3, tzinfo=ROME).timestamp()
    first, second = weeks_of(Span("p", since, until), ROME)
    assert (first.name, second.name) == ("2025-W43", "2025-W44")
    assert first.until - first.since == 7 * 86400 + 3600  # 26 October: clocks go back
    assert second.until - second.since == 7 * 86400
    assert datetime.fromtimestamp(second.since, ROME).hour == 0


def test_the_weekly_mail_covers_the_whole_week_before_its_moment() -> None:
    monday_8 = datetime(2025, 12, 22, 8, 0, tzinfo=ROME).timestamp()
    assert covered_week(monday_8, ROME, "mon", 8).name == "2025-W51"
    assert covered_week(monday_8 - 60, ROME, "mon", 8).name == "2025-W50"
    assert covered_week(monday_8 + 5 * 86400, ROME, "fri", 16).name == "2025-W51"
    week = full_week_before(monday_8, ROME)
    assert (
        datetime.fromtimestamp(week.since, UTC).astimezone(ROME).isoformat()
        == "2025-12-15T00:00:00+01:00"
    )


def test_a_message_seen_again_is_counted_as_a_duplicate_by_time_only(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.sqlite3")
    with store.transaction():
        assert store.record_message(key="<a@x>", direction="in", at=10.0) > 0
        assert store.record_message(key="<a@x>", direction="in", at=20.0, sender="x@y") == 0
        assert store.record_message(key="<b@x>", direction="out", at=30.0) > 0
        assert store.record_message(key="<b@x>", direction="out", at=40.0) == 0  # ours: no
    assert [o.at for o in store.duplicates_seen(since=0, until=100)] == [20.0]
    assert store.duplicates_seen(since=21, until=100) == []
    with store.transaction():
        assert store.record_report("lead@x", "2025-W51/all", 1.0)
        assert not store.record_report("lead@x", "2025-W51/all", 2.0)
    assert store.report_sent("lead@x", "2025-W51/all") and not store.report_sent(
        "lead@x", "W52/all"
    )
    store.close()


def test_mailer_config_prints_reports_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = history.write_config(tmp_path)
    text = (
        config.read_text()
        + '[reports]\nto = ["Lead@example.test"]\nteams = { it = ["b@example.test"] }\nhour = 7\n'
    )
    config.write_text(text)
    assert main(["--config", str(config), "config"]) == 0
    printed = capsys.readouterr().out
    assert (
        '[reports]\nto = [\n    "lead@example.test",\n]\nhour = 7\n' in printed
        or "hour = 7" in printed
    )
    assert 'it = [\n    "b@example.test",\n]' in printed or '"b@example.test"' in printed
    config.write_text(text.replace('it = ["b', 'itt = ["b'))
    assert main(["--config", str(config), "check"]) == 1
    assert "unknown team 'itt'" in capsys.readouterr().err
