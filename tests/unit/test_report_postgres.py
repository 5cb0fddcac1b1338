"""``mailer report`` on a shared PostgreSQL store: the same desk's report as on SQLite, in
every output, and one report over several mailboxes of one database (``--mailbox``).

The stores are filled through the daemon's own pipeline (``sandbox.demo.history``): the
help desk's two weeks go into a SQLite store and into PostgreSQL alike, and a second
mailbox (Facilities' own desk, its own prefix) fills one more week in the same database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailer.cli.main import main
from mailer.config.load import load_settings
from mailer.store import open_store
from sandbox.demo import history
from sandbox.postgres import Postgres

PERIOD = ("--since", "2025-11-10", "--until", "2025-11-24")
HELPDESK, FACILITIES = "helpdesk@example.test", "fm@example.test"


def desk_config(directory: Path, url: str | None = None, *, facilities: bool = False) -> Path:
    """The demo desk's config; on ``url`` (PostgreSQL) rather than its SQLite file; as the
    Facilities mailbox (its own address, prefix and IMAP user) with ``facilities``."""
    config = history.write_config(directory)
    text = config.read_text()
    if url is not None:
        text = text.replace('path = "mailer.sqlite3"', f'url = "{url}"')
    if facilities:
        # the demo's mail is written to the help desk's address: here an alias of this one
        text = text.replace(
            f'address = "{HELPDESK}"', f'address = "{FACILITIES}"\naliases = ["{HELPDESK}"]'
        )
        text = text.replace('reference_prefix = "REQ"', 'reference_prefix = "FM"')
        text = text.replace('username = "helpdesk"', 'username = "fm"')
    config.write_text(text)
    return config


def fill(config: Path, *, seed: int, weeks: int) -> Path:
    """The desk's weeks in its store, registered as its daemon's start registers it (a
    shared store knows its mailboxes by that)."""
    settings = load_settings(config, environ={}, reach_secrets=False)
    open_store(settings.store, lock=True).close()
    history.fill_store(settings, seed=seed, weeks=weeks)
    return config


@pytest.fixture(scope="module", name="desks")
def _desks(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> dict[str, Path]:
    """The help desk on SQLite and on PostgreSQL, and Facilities in the same database."""
    url = postgres.create_database("reports_shared")
    root = tmp_path_factory.mktemp("reports")
    return {
        "sqlite": fill(desk_config(root / "sqlite"), seed=7, weeks=2),
        "postgres": fill(desk_config(root / "postgres", url), seed=7, weeks=2),
        "facilities": fill(desk_config(root / "fm", url, facilities=True), seed=8, weeks=1),
    }


def report(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), "report", *PERIOD, *args]) == 0
    return capsys.readouterr().out


def figures(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(report(config, capsys, "--json", *args))
    return found


def test_a_report_on_postgresql_says_what_the_same_desk_says_on_sqlite(
    desks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    on_pg = figures(desks["postgres"], capsys)
    assert on_pg == figures(desks["sqlite"], capsys)
    assert on_pg["opened"] > 50 and on_pg["mailboxes"] == []  # this config's own only
    assert {g["name"] for g in on_pg["groups"]} == {"facilities", "hr", "it"}
    assert on_pg["ratings"]["count"] > 0 and on_pg["sla"]["resolution"]["met"] > 0
    assert on_pg["duplicates"] > 0 and on_pg["suppressed"]  # robots and re-deliveries
    for output in ((), ("--csv",), ("--by", "week"), ("--with-requesters",)):
        pg_text = report(desks["postgres"], capsys, *output)
        assert pg_text == report(desks["sqlite"], capsys, *output)
    assert "Mailboxes:" not in pg_text


def test_the_report_page_is_drawn_from_postgresql(
    desks: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page, charts = tmp_path / "report.html", tmp_path / "charts"
    report(desks["postgres"], capsys, "--html", str(page), "--png", str(charts))
    html = page.read_text()
    assert "Demo Help Desk: service report" in html and html.count("<svg") >= 5
    assert "Weekly volume: opened vs resolved" in html
    assert len(list(charts.glob("report-*.png"))) >= 5


def test_a_report_spans_the_mailboxes_of_a_shared_store(
    desks: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    helpdesk = figures(desks["postgres"], capsys)
    facilities = figures(desks["postgres"], capsys, "--mailbox", FACILITIES)
    assert facilities["mailboxes"] == [FACILITIES] and facilities["opened"] > 0
    own = figures(desks["facilities"], capsys)  # its own config says the same
    assert own == {**facilities, "mailboxes": []}

    both = figures(desks["postgres"], capsys, "--mailbox", "all", "--by", "mailbox")
    assert sorted(both["mailboxes"]) == [FACILITIES, HELPDESK]
    assert both["opened"] == helpdesk["opened"] + facilities["opened"]
    assert both["resolved"] == helpdesk["resolved"] + facilities["resolved"]
    assert both["duplicates"] == helpdesk["duplicates"] + facilities["duplicates"]
    groups = {g["name"]: g for g in both["groups"]}
    assert set(groups) == {FACILITIES, HELPDESK}
    assert groups[FACILITIES]["opened"] == facilities["opened"]
    assert groups[HELPDESK]["sla"] == helpdesk["sla"]
    oldest = [o["reference"] for o in both["oldest_open"]]
    assert any(r.startswith("FM-") for r in oldest) and any(r.startswith("REQ-") for r in oldest)

    text = report(desks["postgres"], capsys, "--mailbox", "all", "--by", "mailbox")
    assert f"Mailboxes: {', '.join(both['mailboxes'])}" in text and FACILITIES in text
    page = tmp_path / "all.html"
    report(desks["postgres"], capsys, "--mailbox", "all", "--html", str(page))
    assert f"service report ({', '.join(both['mailboxes'])})" in page.read_text()


def test_a_mailbox_the_shared_store_lacks_is_named_with_those_it_has(
    desks: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(desks["postgres"]), "report", "--mailbox", "nobody@example.test"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no mailbox nobody@example.test" in err and FACILITIES in err and HELPDESK in err
