"""[calendars.NAME], [targets] and the teams' and rules' own targets, as mailer check sees them."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from mailer.config.dump import effective_toml
from mailer.config.load import check_settings
from mailer.settings import Targets
from tests.unit.test_config import SERVICE, config_text, errors, marked_line, write

OFFICE = """
[calendars.office]
timezone = "Europe/Rome"
hours = ["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"]
holidays = "IT-MI"
closed = ["2026-12-24", "2026-12-31 13:00-"]

[targets]
first_response = "4h"
resolution = "2d"

[targets.urgent]
first_response = "30m"

[teams.it]
name = "IT Support"
address = "it-team@example.test"
calendar = "office"
escalate_to = ["lead@example.test"]
resolution = "1d"

[[rules]]
name = "vpn"
team = "it"
first_response = "2h"
  [rules.match]
  subject = ["vpn"]
"""


def test_calendars_and_targets_are_read(tmp_path: Path) -> None:
    text = config_text(service=SERVICE + '\ncalendar = "office"', extra=OFFICE)
    settings, problems = check_settings(write(tmp_path, text))
    assert errors(problems) == [] and settings is not None
    (office,) = settings.calendars
    assert (office.name, office.timezone, office.holidays) == ("office", "Europe/Rome", "IT-MI")
    assert office.hours[0] == ((time(8, 30), time(12, 30)), (time(13, 30), time(17, 30)))
    assert settings.default_calendar == "office"
    assert settings.targets == Targets("4h", "2d")
    assert settings.priority_targets == (("urgent", Targets("30m", None)),)
    team = settings.team("it")
    assert team is not None
    assert (team.calendar, team.escalate_to, team.targets) == (
        "office", ("lead@example.test",), Targets(None, "1d")
    )  # fmt: skip
    assert settings.rules[0].targets == Targets("2h", None)


def check(tmp_path: Path, extra: str, service: str = SERVICE) -> list[str]:
    path = write(tmp_path, config_text(service=service, extra=extra))
    settings, problems = check_settings(path)
    found = errors(problems)
    line = marked_line(path.read_text())
    assert settings is None and found, problems
    assert line is None or any(p.line == line for p in found), (line, found)
    return [str(p) for p in found]


def test_an_unknown_calendar_is_named_with_the_ones_there_are(tmp_path: Path) -> None:
    extra = OFFICE.replace('calendar = "office"', 'calendar = "ofice"  # <-')
    (found,) = check(tmp_path, extra)
    assert "unknown calendar 'ofice' (calendars: office)" in found
    (found,) = check(tmp_path, OFFICE, service=SERVICE + '\ncalendar = "shop"')
    assert "[service] calendar: unknown calendar 'shop'" in found


def test_a_malformed_duration_says_how_to_write_one(tmp_path: Path) -> None:
    (found,) = check(tmp_path, OFFICE.replace('resolution = "1d"', 'resolution = "1 day"  # <-'))
    assert "[teams.it] resolution:" in found and 'e.g. "4h", "30m", "2d"' in found


def test_a_calendar_without_working_hours_is_an_error(tmp_path: Path) -> None:
    extra = OFFICE.replace('hours = ["mon-fri', 'hours = []  # <-\n# ["mon-fri')
    (found,) = check(tmp_path, extra)
    assert "[calendars.office] hours:" in found


def test_an_unknown_time_zone_or_holiday_region_is_an_error(tmp_path: Path) -> None:
    extra = OFFICE.replace('"Europe/Rome"', '"Europe/Milano"  # <-')
    assert "unknown time zone 'Europe/Milano'" in check(tmp_path, extra)[0]
    extra = OFFICE.replace('"IT-MI"', '"IT-XX"  # <-')
    assert "IT has no subdivision 'XX'" in check(tmp_path, extra)[0]


def test_mailer_config_prints_calendars_and_targets_that_load_the_same(tmp_path: Path) -> None:
    text = config_text(service=SERVICE + '\ncalendar = "office"', extra=OFFICE)
    settings, _ = check_settings(write(tmp_path, text))
    assert settings is not None
    for defaults in (False, True):
        printed = effective_toml(settings, defaults=defaults).replace('"********"', '"secret"')
        again, problems = check_settings(tmp_path / "printed.toml", config_text=printed)
        assert errors(problems) == [] and again is not None, problems
        assert again.calendars == settings.calendars
        assert (again.targets, again.priority_targets) == (
            settings.targets,
            settings.priority_targets,
        )
        assert again.teams == settings.teams and again.default_calendar == "office"
        assert [r.targets for r in again.rules] == [r.targets for r in settings.rules]
