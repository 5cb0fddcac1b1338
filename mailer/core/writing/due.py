"""Due times as a person reads them, in their language and the team's time zone.

"mercoledì 9 dicembre, 11:00", "Wednesday 9 December, 11:00" (CLDR through ``babel``), and
the promise itself: "within 4 working hours", "entro 2 giorni lavorativi". Templates get
these as ``due.*``; a request that came in outside working hours also gets ``due.back_at``,
when the team is next at work.
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_datetime

from mailer.core.timing.calendar import WorkingCalendar
from mailer.core.timing.clocks import standings_of
from mailer.core.timing.durations import parse_worktime
from mailer.core.timing.promises import calendar_named
from mailer.model import Promise, ThreadInfo
from mailer.settings import Settings

PATTERN = "EEEE d MMMM, HH:mm"  # the weekday and date written out, then the time
_UNITS = {  # (one, several) per language
    "en": {"d": ("working day", "working days"), "h": ("working hour", "working hours"),
           "m": ("working minute", "working minutes"), "within": "within {}", "and": " and "},
    "it": {"d": ("giorno lavorativo", "giorni lavorativi"),
           "h": ("ora lavorativa", "ore lavorative"),
           "m": ("minuto lavorativo", "minuti lavorativi"), "within": "entro {}", "and": " e "},
}  # fmt: skip


NOTHING_DUE: dict[str, object] = {  # ``due`` when nothing was promised
    "first_response": None,
    "first_response_iso": None,
    "first_response_within": None,
    "resolution": None,
    "resolution_iso": None,
    "resolution_within": None,
    "back_at": None,
    "timezone": None,
}


def when(epoch: float, calendar: WorkingCalendar, language: str) -> str:
    """One instant in the calendar's time zone, as a person would write it."""
    instant = datetime.fromtimestamp(epoch, UTC).astimezone(calendar.zone)
    locale = language if language in _UNITS else "en"
    return str(format_datetime(instant, PATTERN, locale=locale))


def within(target: str, language: str) -> str:
    """ "4h" -> "within 4 working hours"; "1d 2h" -> "within 1 working day and 2 working hours"."""
    words = _UNITS.get(language, _UNITS["en"])
    amount = parse_worktime(target)
    hours, minutes = divmod(amount.minutes, 60)
    parts = [
        f"{n} {words[unit][n != 1]}"
        for n, unit in ((amount.days, "d"), (hours, "h"), (minutes, "m"))
        if n
    ]
    return str(words["within"]).format(str(words["and"]).join(parts) or f"0 {words['m'][1]}")


def due_context(
    promise: Promise, calendar: WorkingCalendar, language: str, now: float
) -> dict[str, object]:
    """``due.*`` for templates: empty values when nothing was promised."""
    context = {**NOTHING_DUE, "timezone": calendar.settings.timezone}
    for key in ("first_response", "resolution"):
        due: float | None = getattr(promise, f"{key}_due")
        target: str | None = getattr(promise, f"{key}_target")
        if due is None or target is None:
            continue
        context[key] = when(due, calendar, language)
        context[f"{key}_iso"] = iso_local(due, calendar)
        context[f"{key}_within"] = within(target, language)
    arrived = datetime.fromtimestamp(now, UTC)
    if promise.any and not calendar.is_open(arrived):
        context["back_at"] = when(calendar.next_open(arrived).timestamp(), calendar, language)
    return context


def iso_local(epoch: float, calendar: WorkingCalendar) -> str:
    """ISO 8601 with the calendar's offset: 2026-12-09T11:00:00+01:00."""
    instant = datetime.fromtimestamp(epoch, UTC).astimezone(calendar.zone)
    return instant.isoformat(timespec="seconds")


def promise_lines(
    settings: Settings, thread: ThreadInfo, language: str, now: float
) -> list[dict[str, object]]:
    """Each promised target of a request for a ``#status`` answer: due when, and its state."""
    calendar = calendar_named(settings, thread.promise.calendar)
    found = standings_of(thread, now)
    return [
        {"target": target, "due": when(s.due, calendar, language), "state": s.state}
        for target, s in found.items()
    ]
