"""Working time: due times in a team's calendar, holidays, lunch breaks, DST, closed days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailer.config.calendars import closed_days, holiday_region, weekly_hours
from mailer.config.values import Invalid
from mailer.core.timing.calendar import NoWorkingTime, WorkingCalendar
from mailer.core.timing.durations import WorkTime, parse_worktime
from mailer.settings import CalendarSettings

ROME = ZoneInfo("Europe/Rome")
OFFICE_HOURS = weekly_hours(["mon-fri 08:30-12:30", "mon-fri 13:30-17:30"])


def office(**changes: object) -> WorkingCalendar:
    settings = CalendarSettings("office", "Europe/Rome", OFFICE_HOURS, "IT-MI")
    for key, value in changes.items():
        settings = CalendarSettings(**{**settings.__dict__, key: value})
    return WorkingCalendar(settings)


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def due(calendar: WorkingCalendar, start: datetime, target: str) -> datetime:
    return calendar.due(start, parse_worktime(target)).astimezone(ROME)


def test_friday_afternoon_request_skips_the_weekend_santambrogio_and_the_immacolata() -> None:
    # 1.5 h on Friday; Monday 7 is Milan's patron saint, Tuesday 8 a national holiday.
    assert due(office(), rome(2026, 12, 4, 16, 0), "4h") == rome(2026, 12, 9, 11, 0)


def test_without_the_subdivision_only_the_national_holiday_is_skipped() -> None:
    assert due(office(holidays="IT"), rome(2026, 12, 4, 16, 0), "4h") == rome(2026, 12, 7, 11, 0)


def test_the_lunch_break_does_not_count() -> None:
    assert due(office(), rome(2026, 12, 10, 11, 0), "2h") == rome(2026, 12, 10, 14, 0)


def test_work_that_ends_at_a_closing_is_due_at_that_closing() -> None:
    assert due(office(), rome(2026, 12, 11, 13, 30), "4h") == rome(2026, 12, 11, 17, 30)


def test_days_keep_the_working_time_position() -> None:
    assert due(office(), rome(2026, 12, 15, 10, 0), "2d") == rome(2026, 12, 17, 10, 0)


def test_a_day_counted_from_a_weekend_is_due_at_the_closing_before_the_next_opening() -> None:
    assert due(office(), rome(2026, 12, 12, 10, 0), "1d") == rome(2026, 12, 14, 17, 30)


def test_a_request_at_23_59_on_new_years_eve() -> None:
    # 1 January is a holiday, then the weekend: Monday 4 January from 08:30.
    assert due(office(), rome(2026, 12, 31, 23, 59), "4h") == rome(2027, 1, 4, 12, 30)


def test_closed_days_and_half_days_are_skipped() -> None:
    calendar = office(closed=closed_days(["2026-12-24", "2026-12-31 13:00-"]))
    assert due(calendar, rome(2026, 12, 23, 16, 0), "2h") == rome(2026, 12, 28, 9, 0)
    # 30 minutes left on the 31st before the half day closes at 13:00
    assert due(calendar, rome(2026, 12, 31, 12, 0), "2h") == rome(2027, 1, 4, 10, 0)


def test_a_dst_change_inside_the_working_hours_counts_the_real_minutes() -> None:
    always = weekly_hours(["mon-sun 00:00-24:00"])
    calendar = WorkingCalendar(CalendarSettings("24/7", "Europe/Rome", always))
    # 29 March 2026: at 02:00 the clocks go to 03:00; 4 real hours after 00:00 is 05:00.
    start = rome(2026, 3, 29, 0, 0)
    assert due(calendar, start, "4h") == rome(2026, 3, 29, 5, 0)
    assert calendar.working_between(start, rome(2026, 3, 30, 0, 0)) == timedelta(hours=23)
    # 25 October 2026: the day has 25 hours.
    autumn = rome(2026, 10, 25, 0, 0)
    assert calendar.working_between(autumn, rome(2026, 10, 26, 0, 0)) == timedelta(hours=25)


def test_working_time_between_two_instants() -> None:
    calendar = office()
    friday, wednesday = rome(2026, 12, 4, 16, 0), rome(2026, 12, 9, 11, 0)
    assert calendar.working_between(friday, wednesday) == timedelta(hours=4)
    assert calendar.working_between(wednesday, friday) == timedelta()


def test_outside_hours_the_next_opening_is_known() -> None:
    calendar = office()
    saturday = rome(2026, 12, 5, 10, 0).astimezone(UTC)
    assert not calendar.is_open(saturday)
    assert calendar.next_open(saturday).astimezone(ROME) == rome(2026, 12, 9, 8, 30)
    assert calendar.is_open(rome(2026, 12, 9, 9, 0))


def test_a_calendar_without_working_time_is_an_error_not_an_endless_loop() -> None:
    never = WorkingCalendar(CalendarSettings("never", "UTC", ((),) * 7))
    with pytest.raises(NoWorkingTime, match="no working time"):
        never.due(datetime(2026, 1, 1, tzinfo=UTC), WorkTime(minutes=60))


def test_durations_as_admins_write_them() -> None:
    assert parse_worktime("4h") == WorkTime(0, 240)
    assert parse_worktime("30m") == WorkTime(0, 30)
    assert parse_worktime("2d") == WorkTime(2, 0)
    assert parse_worktime("1d 4h") == WorkTime(1, 240)
    assert str(parse_worktime("1h30m")) == "1h30m"
    for wrong in ("", "4", "four hours", "4x", "-4h", "4h and more"):
        with pytest.raises(ValueError, match="working-time duration"):
            parse_worktime(wrong)


def test_weekly_hours_are_read_with_several_intervals_a_day() -> None:
    hours = weekly_hours(["mon-fri 08:30-12:30", "mon-fri 13:30-17:30", "sat 09:00-12:00"])
    assert hours[0] == ((time(8, 30), time(12, 30)), (time(13, 30), time(17, 30)))
    assert hours[5] == ((time(9, 0), time(12, 0)),)
    assert hours[6] == ()
    assert weekly_hours(["fri-mon 10:00-11:00"])[6] == ((time(10), time(11)),)


@pytest.mark.parametrize(
    ("hours", "says"),
    [
        (["monday to friday 9-17"], "write days and hours"),
        (["mon-fri 17:00-09:00"], "end must come after"),
        (["mon-fri 08:00-12:00", "mon 11:00-13:00"], "overlap"),
        (["xyz 08:00-12:00"], "days are mon"),
        (["mon 25:00-26:00"], "not a time of day"),
        ("mon-fri 09:00-17:00", "expected a list"),
    ],
)
def test_broken_hours_say_what_to_write(hours: object, says: str) -> None:
    with pytest.raises(Invalid, match=says):
        weekly_hours(hours)


def test_closed_days_and_half_days_are_read() -> None:
    spans = closed_days(["2026-12-24", "2026-12-31 13:00-", "2027-01-02 -10:00"])
    assert [(s.day, s.start, s.end) for s in spans] == [
        (date(2026, 12, 24), None, None),
        (date(2026, 12, 31), time(13), None),
        (date(2027, 1, 2), None, time(10)),
    ]
    with pytest.raises(Invalid, match="write a date"):
        closed_days(["24/12/2026"])
    with pytest.raises(Invalid, match="month must be"):
        closed_days(["2026-13-01"])


def test_holiday_regions_are_checked_against_the_holidays_package() -> None:
    assert holiday_region("it-mi") == "IT-MI"
    assert holiday_region("IT") == "IT"
    with pytest.raises(Invalid, match="unknown country"):
        holiday_region("XX")
    with pytest.raises(Invalid, match="no subdivision"):
        holiday_region("IT-ZZ")
