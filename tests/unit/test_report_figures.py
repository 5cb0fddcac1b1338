"""``mailer report`` on six weeks of a desk's life, checked against a recount of our own.

The store is filled through the daemon's own pipeline (``sandbox.demo.history``): a few
hundred requests for three teams, staff taking, asking and waiting, resolving, requesters
rating, thanking and reopening, robots and duplicates; Facilities work in Milan's calendar,
whose holiday (Monday 8 December 2025) lies inside the period. The recount below reads the
store with plain SQL and counts working time with its own loop over office hours, sharing
nothing with ``mailer.core.reporting``; the terminal and CSV outputs must say the same.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from mailer.cli.main import main
from sandbox.demo import history

ROME = ZoneInfo("Europe/Rome")
SINCE, UNTIL = "2025-11-10", "2025-12-22"
HOURS = ((time(8, 30), time(12, 30)), (time(13, 30), time(17, 30)))
MILAN_HOLIDAYS = holidays.country_holidays("IT", subdiv="MI", years=2025)
DONE = ("resolved", "closed")


@pytest.fixture(scope="module", name="config")
def _config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history.fill(tmp_path_factory.mktemp("desk"))


def report(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["--config", str(config), "report", "--since", SINCE, "--until", UNTIL, *args])
    assert code == 0
    return capsys.readouterr().out


# ---- the recount: plain SQL, our own working-time loop ----------------------------------


def working(start: float, end: float, team: str | None) -> float:
    """Seconds of office hours (Milan's holidays off for Facilities) between two instants."""
    total = 0.0
    day = datetime.fromtimestamp(start, ROME).date()
    while datetime.combine(day, time.min, ROME).timestamp() < end:
        closed = day.weekday() >= 5 or (team == "facilities" and day in MILAN_HOLIDAYS)
        for a, b in () if closed else HOURS:
            lo = max(start, datetime.combine(day, a, ROME).timestamp())
            hi = min(end, datetime.combine(day, b, ROME).timestamp())
            total += max(0.0, hi - lo)
        day += timedelta(days=1)
    return total


def median_p90(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return {
        "count": len(values),
        "median": round(statistics.median(ordered), 1),
        "p90": round(p90, 1),
    }


def recount(db_path: Path) -> dict[str, dict[str, Any]]:
    """The figures per team and for all ("all"), from the tables as they are."""
    since = datetime.combine(date.fromisoformat(SINCE), time.min, ROME).timestamp()
    until = datetime.combine(date.fromisoformat(UNTIL), time.min, ROME).timestamp()
    inside = lambda t: t is not None and since <= t < until  # noqa: E731
    db = sqlite3.connect(db_path)
    threads = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT t.id, t.team, t.first_response_at, min(t.created_at, coalesce((SELECT"
            " min(internaldate) FROM messages m WHERE m.thread_id = t.id AND direction = 'in'),"
            " t.created_at)), (SELECT min(sent_at) FROM outbox o WHERE o.thread_id = t.id AND"
            " kind = 'receipt' AND status = 'sent') FROM threads t"
        )
    }
    events = defaultdict(list)
    for thread_id, at, kind, keyword, old, new, note in db.execute(
        "SELECT thread_id, at, kind, keyword, from_status, to_status, note FROM events ORDER BY id"
    ):
        events[thread_id].append((at, kind, keyword, old, new, note))
    found: dict[str, dict[str, Any]] = {}
    for name in ("all", "facilities", "hr", "it"):
        n: dict[str, Any] = defaultdict(int)
        ack, first, solving, scores = [], [], [], []
        for thread_id, (team, first_at, arrived, acked) in threads.items():
            if name != "all" and team != name:
                continue
            if inside(acked):
                ack.append(max(0.0, acked - arrived))
            if inside(first_at):
                first.append(working(arrived, first_at, team))
            cycle = arrived
            for at, kind, keyword, old, new, note in events[thread_id]:
                if kind == "status" and old in DONE and new not in DONE:
                    cycle = at
                    n["reopened"] += inside(at)
                if not inside(at):
                    continue
                n["opened"] += kind == "opened"
                if kind == "status" and new in DONE and old not in DONE:
                    n["resolved"] += 1
                    solving.append(working(cycle, at, team))
                if kind == "sla" and keyword in ("met", "missed"):
                    n[f"{note.split()[0]}.{keyword}"] += 1
            ratings = [e for e in events[thread_id] if e[1] == "rating"]
            if ratings and inside(ratings[-1][0]):
                score = re.match(r"([1-5])/5", ratings[-1][5])
                if score:
                    scores.append(int(score.group(1)))
        found[name] = {
            **{k: n[k] for k in ("opened", "resolved", "reopened")},
            "sla": {
                t: {"met": n[f"{t}.met"], "missed": n[f"{t}.missed"]}
                for t in ("first_response", "resolution")
            },
            "ratings": {
                "count": len(scores),
                "average": round(sum(scores) / len(scores), 2) if scores else None,
            },
            "acknowledge_seconds": median_p90(ack),
            "first_response_seconds": median_p90(first),
            "resolution_seconds": median_p90(solving),
        }
    return found


def shown(figures: dict[str, Any]) -> dict[str, Any]:
    """The keys the recount knows, as the report gives them."""
    return {
        **{k: figures[k] for k in ("opened", "resolved", "reopened")},
        "sla": {t: {k: figures["sla"][t][k] for k in ("met", "missed")} for t in figures["sla"]},
        "ratings": {k: figures["ratings"][k] for k in ("count", "average")},
        **{
            k: figures[k]
            for k in ("acknowledge_seconds", "first_response_seconds", "resolution_seconds")
        },
    }


# ---- the tests ------------------------------------------------------------------------------


def test_json_figures_are_the_recounted_ones(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(report(config, capsys, "--json"))
    expected = recount(config.with_name("mailer.sqlite3"))
    assert (
        data["since"] == "2025-11-10T00:00:00+01:00"
        and data["until"] == "2025-12-22T00:00:00+01:00"
    )
    assert 250 <= data["opened"] <= 400 and data["reopened"] > 5 and data["ratings"]["count"] > 50
    assert data["sla"]["first_response"]["missed"] > 0 and data["sla"]["resolution"]["met"] > 0
    assert shown(data) == expected["all"]
    groups = {g["name"]: g for g in data["groups"]}
    assert set(groups) == {"facilities", "hr", "it"}
    for name, group in groups.items():
        assert shown(group) == expected[name], name
    assert set(data["suppressed"]) == {"auto-submitted", "list"}
    assert data["suppressed"]["auto-submitted"] > 0 and data["duplicates"] > 0


def test_the_holiday_counts_no_working_time(config: Path) -> None:
    monday = datetime.combine(date(2025, 12, 8), time(9), ROME).timestamp()  # Immacolata
    assert working(monday, monday + 3600, "facilities") == 0
    assert working(monday, monday + 3600, "it") == 3600


def test_terminal_and_csv_say_what_json_says(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(report(config, capsys, "--json"))
    rows = {
        r["name"]: r
        for r in csv.DictReader(io.StringIO(report(config, capsys, "--csv")))
        if r["scope"] != "week"
    }
    terminal = report(config, capsys)
    for name, figures in [("all", data), *((g["name"], g) for g in data["groups"])]:
        row = rows[name]
        assert [int(row[k]) for k in ("opened", "resolved", "reopened")] == [
            figures["opened"],
            figures["resolved"],
            figures["reopened"],
        ]
        for target in ("first_response", "resolution"):
            for word in ("met", "missed"):
                assert int(row[f"sla_{target}_{word}"]) == figures["sla"][target][word]
        assert float(row["ratings_average"]) == figures["ratings"]["average"]
        assert float(row["acknowledge_median_s"]) == figures["acknowledge_seconds"]["median"]
        assert float(row["resolution_p90_s"]) == figures["resolution_seconds"]["p90"]
        line = next(x for x in terminal.splitlines() if x.split()[:1] == [name])
        assert line.split()[1:4] == [
            str(figures["opened"]),
            str(figures["resolved"]),
            str(figures["reopened"]),
        ]
        sla = figures["sla"]["first_response"]
        assert f"{sla['met']}/{sla['met'] + sla['missed']}" in line
        assert f"{figures['ratings']['average']:.2f} ({figures['ratings']['count']})" in line
    weeks = [
        r
        for r in csv.DictReader(io.StringIO(report(config, capsys, "--csv")))
        if r["scope"] == "week"
    ]
    assert [w["name"] for w in weeks] == [w["name"] for w in data["weeks"]] and len(weeks) == 6
    assert sum(int(w["opened"]) for w in weeks) == data["opened"]


def test_by_week_category_and_owner(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    total = json.loads(report(config, capsys, "--json"))
    for by, names in (
        ("week", {f"2025-W{n}" for n in range(46, 52)}),
        ("category", {"hardware", "people", "building"}),
        ("owner", {"sam@example.test", "hana@example.test", "fabio@example.test"}),
    ):
        data = json.loads(report(config, capsys, "--json", "--by", by))
        assert {g["name"] for g in data["groups"]} >= names, by
        assert sum(g["opened"] for g in data["groups"]) == total["opened"], by
        assert (
            sum(g["sla"]["resolution"]["met"] for g in data["groups"])
            == total["sla"]["resolution"]["met"]
        )


def test_no_request_text_and_requesters_only_when_asked(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page = tmp_path / "r.html"
    outputs = [report(config, capsys, *flags) for flags in (("--json",), ("--csv",), ())]
    outputs.append(report(config, capsys, "--html", str(page)) and page.read_text())
    for text in outputs:
        assert "user" not in text and "@example.test" not in text.replace("sam@", "").replace(
            "hana@", ""
        ).replace("fabio@", "")
        for words in (
            "VPN drops",
            "payslip",
            "could you please",
            "Done.",
            "still not working",
            "Thanks a lot",
        ):
            assert words not in text
    data = json.loads(report(config, capsys, "--json", "--with-requesters"))
    assert all(o["requester"].startswith("user") for o in data["oldest_open"])
    assert "user" in report(config, capsys, "--with-requesters")


def test_the_page_is_self_contained_with_every_chart_titled(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page = tmp_path / "r.html"
    report(config, capsys, "--html", str(page), "--png", str(tmp_path / "png"))
    html = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page.read_text())  # names, never fetched
    for banned in ("http://", "https://", "<script", "@import", "<link", "<img", "<iframe"):
        assert banned not in html, banned
    assert not re.search(r"url\((?!#)", html)  # only references inside the page
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    titles = [re.search(r"<title[^>]*>(.*?)</title>", s).group(1) for s in svgs]  # type: ignore[union-attr]
    assert titles == [
        "Weekly volume: opened vs resolved",
        "SLA attainment per week",
        "Time to resolution",
        "Satisfaction",
        "Backlog at the end of each week, by age",
    ]
    assert all("<desc" in s and "viewBox" in s and len(s) > 5000 for s in svgs)
    pngs = sorted((tmp_path / "png").iterdir())
    assert len(pngs) == 5 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_a_bad_period_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--config", str(config), "report", "--since", "2025-12-01", "--until", "2025-11-01"])
        == 1
    )
    assert main(["--config", str(config), "report", "--since", "yesterday"]) == 1
    assert "ISO date" in capsys.readouterr().err
