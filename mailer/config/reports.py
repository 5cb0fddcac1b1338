"""``[reports]``: who gets the weekly report mail, and when.

```toml
[reports]
to = ["lead@example.test"]                       # every team in one report
teams = { it = ["it-lead@example.test"] }        # one team's report
weekday = "mon"                                  # in the calendar's time zone
hour = 8
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailer.config import values as v
from mailer.config.tables import Table
from mailer.settings import ReportSettings

REPORT_KEYS = ("to", "teams", "weekday", "hour")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ADDRESSES = v.listing(v.address)


def team_lists(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``{ it = ["a@x"], hr = "b@x" }`` -> (("it", ("a@x",)), ("hr", ("b@x",)))."""
    if not isinstance(value, dict):
        raise v.expected('a table of team keys and addresses, e.g. { it = ["lead@x.test"] }', value)
    return tuple(
        (str(key), tuple(a.lower() for a in _ADDRESSES(found))) for key, found in value.items()
    )


def read_reports(table: Table, teams: Mapping[str, Any]) -> ReportSettings | None:
    out: dict[str, Any] = {}
    to = table.get("to", _ADDRESSES, None)
    if to is not None:
        out["to"] = tuple(a.lower() for a in to)
    table.fill(out, "teams", team_lists)
    table.fill(out, "weekday", v.choice(*WEEKDAYS))
    table.fill(out, "hour", v.integer(0, 23))
    for key, _ in out.get("teams", ()):
        if key not in teams:
            known = ", ".join(sorted(teams)) or "none is defined"
            table.problem("teams", f"unknown team {key!r} (teams: {known})")
    return ReportSettings(**out) if table.ok else None


def reports_table(settings: ReportSettings) -> dict[str, Any]:
    """The values ``mailer config`` writes that are not plain fields."""
    return {"teams": {key: list(found) for key, found in settings.teams}}
