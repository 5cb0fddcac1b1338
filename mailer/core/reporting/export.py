"""A report as plain data (``mailer report --json``) and as rows (``--csv``, the tables):
the same numbers, rounded the same way, in every output.

Times are ISO 8601 with the report's time-zone offset; durations are seconds (working
seconds for first response and resolution); shares are fractions from 0 to 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailer.core.reporting.figures import AGES, RESOLUTION_HOURS, Figures, Spread
from mailer.core.reporting.report import Report


def iso(epoch: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).isoformat(timespec="seconds")


def _number(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def spread_data(spread: Spread) -> dict[str, Any]:
    return {"count": spread.count, "median": _number(spread.median), "p90": _number(spread.p90)}


def figures_data(f: Figures, zone: ZoneInfo) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f.name,
        "since": iso(f.since, zone),
        "until": iso(f.until, zone),
        "opened": f.opened,
        "resolved": f.resolved,
        "reopened": f.reopened,
        "acknowledge_seconds": spread_data(f.acknowledge),
        "first_response_seconds": spread_data(f.first_response),
        "resolution_seconds": spread_data(f.resolution),
        "resolution_distribution": dict(
            zip((label for label, _ in RESOLUTION_HOURS), f.resolution_hours, strict=True)
        ),
        "sla": {
            target: {"met": a.met, "missed": a.missed, "attainment": _number(a.share, 3)}
            for target, a in f.sla.items()
        },
        "ratings": {
            "count": f.ratings.count,
            "average": _number(f.ratings.average, 2),
            "distribution": {str(n): c for n, c in enumerate(f.ratings.distribution, 1)},
            "thanks": f.ratings.thanks,
            "rated_share": _number(f.ratings.rated_share, 3),
        },
        "backlog": [
            {
                "week": b.week,
                "at": iso(b.at, zone),
                "open": b.open,
                "waiting": b.waiting,
                "ages": dict(zip((label for label, _ in AGES), b.ages, strict=True)),
            }
            for b in f.backlog
        ],
    }
    if f.suppressed is not None:
        data["suppressed"] = f.suppressed
        data["duplicates"] = f.duplicates
    return data


def report_data(report: Report, *, with_requesters: bool = False) -> dict[str, Any]:
    """The whole report; requesters' addresses only ``with_requesters``."""
    zone = ZoneInfo(report.timezone)
    data = figures_data(report.total, zone)
    del data["name"]
    oldest = []
    for item in report.oldest_open:
        row: dict[str, Any] = {
            "reference": item.reference,
            "team": item.team,
            "owner": item.owner,
            "status": item.status,
            "age_days": round(item.age_days, 1),
        }
        if with_requesters:
            row["requester"] = item.requester
        oldest.append(row)
    return {
        **data,
        "timezone": report.timezone,
        "mailboxes": list(report.mailboxes),
        "by": report.by,
        "weeks": [figures_data(w, zone) for w in report.weeks],
        "groups": [
            {**figures_data(g, zone), "weeks": [figures_data(w, zone) for w in weeks]}
            for g, weeks in zip(report.groups, _group_weeks(report), strict=True)
        ],
        "oldest_open": oldest,
    }


COLUMNS = (
    "name", "since", "until", "opened", "resolved", "reopened",
    "acknowledge_median_s", "acknowledge_p90_s",
    "first_response_count", "first_response_median_s", "first_response_p90_s",
    "resolution_count", "resolution_median_s", "resolution_p90_s",
    "sla_first_response_met", "sla_first_response_missed",
    "sla_resolution_met", "sla_resolution_missed",
    "ratings_count", "ratings_average", "ratings_thanks", "rated_share",
    "backlog_open", "backlog_waiting",
)  # fmt: skip


def figures_row(f: Figures, zone: ZoneInfo) -> dict[str, Any]:
    """One CSV row (and one table row): the figures flattened, backlog at the last week."""
    d = figures_data(f, zone)
    last = d["backlog"][-1] if d["backlog"] else {"open": 0, "waiting": 0}
    sla, ratings = d["sla"], d["ratings"]
    values = [
        d["name"], d["since"], d["until"], d["opened"], d["resolved"], d["reopened"],
        d["acknowledge_seconds"]["median"], d["acknowledge_seconds"]["p90"],
        d["first_response_seconds"]["count"], d["first_response_seconds"]["median"],
        d["first_response_seconds"]["p90"],
        d["resolution_seconds"]["count"], d["resolution_seconds"]["median"],
        d["resolution_seconds"]["p90"],
        sla["first_response"]["met"], sla["first_response"]["missed"],
        sla["resolution"]["met"], sla["resolution"]["missed"],
        ratings["count"], ratings["average"], ratings["thanks"], ratings["rated_share"],
        last["open"], last["waiting"],
    ]  # fmt: skip
    return dict(zip(COLUMNS, values, strict=True))


def _group_weeks(report: Report) -> tuple[tuple[Figures, ...], ...]:
    return report.group_weeks or tuple(() for _ in report.groups)
