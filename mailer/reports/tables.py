"""A report for the terminal (aligned tables) and for scripts (CSV): the numbers of
``core.reporting.export``, so every output says the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from mailer.core.reporting.export import COLUMNS, figures_row, iso
from mailer.core.reporting.figures import AGES, Attainment, Figures
from mailer.core.reporting.report import Report

ALL = "all"


def seconds_text(value: float | None) -> str:
    """Clock seconds as people read them: 42s, 3m05s, 2h10m."""
    if value is None:
        return "-"
    seconds = round(value)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def working_text(value: float | None) -> str:
    """Working time in working hours and minutes: 2h10m, 31h00m (no days: a day is the
    calendar's, and calendars differ)."""
    if value is None:
        return "-"
    minutes = round(value / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def share_text(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def attainment_text(a: Attainment) -> str:
    """``9/10 90%``: met of decided, and the share."""
    decided = a.met + a.missed
    return f"{a.met}/{decided} {share_text(a.share)}" if decided else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        first, *rest = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)


SUMMARY = (
    "", "opened", "resolved", "reopened", "ack p50", "ack p90", "1st resp p50", "p90",
    "resolution p50", "p90", "SLA 1st resp", "SLA resolution", "rating", "open at end",
)  # fmt: skip


def summary_row(f: Figures, name: str) -> list[object]:
    rating = f.ratings
    shown = f"{rating.average:.2f} ({rating.count})" if rating.average is not None else "-"
    return [
        name, f.opened, f.resolved, f.reopened,
        seconds_text(f.acknowledge.median), seconds_text(f.acknowledge.p90),
        working_text(f.first_response.median), working_text(f.first_response.p90),
        working_text(f.resolution.median), working_text(f.resolution.p90),
        attainment_text(f.sla["first_response"]), attainment_text(f.sla["resolution"]),
        shown, f.backlog[-1].open if f.backlog else 0,
    ]  # fmt: skip


def text_report(report: Report, *, with_requesters: bool = False) -> str:
    zone = ZoneInfo(report.timezone)
    t = report.total
    out = [
        f"Service report {iso(t.since, zone)} to {iso(t.until, zone)} ({report.timezone})",
        "Working time (first response, resolution) counts in each team's calendar.",
        *([f"Mailboxes: {', '.join(report.mailboxes)}"] if report.mailboxes else []),
        "",
        table(SUMMARY, [summary_row(t, ALL), *(summary_row(g, g.name) for g in report.groups)]),
        "",
        f"By week (backlog at the end of each week; ages since arrival: "
        f"{', '.join(label for label, _ in AGES)})",
        table(
            [
                "week",
                "opened",
                "resolved",
                "reopened",
                "SLA 1st resp",
                "SLA resolution",
                "open",
                "waiting",
                "by age",
            ],
            [
                [
                    w.name,
                    w.opened,
                    w.resolved,
                    w.reopened,
                    attainment_text(w.sla["first_response"]),
                    attainment_text(w.sla["resolution"]),
                    w.backlog[-1].open,
                    w.backlog[-1].waiting,
                    " ".join(map(str, w.backlog[-1].ages)),
                ]
                for w in report.weeks
            ],
        ),
        "",
        _ratings_line(t),
        "Suppressed (no receipt): "
        + (", ".join(f"{word} {n}" for word, n in (t.suppressed or {}).items()) or "none"),
        f"Duplicates not processed again: {t.duplicates or 0}",
    ]
    if report.oldest_open:
        out += ["", table(*oldest_open_rows(report, with_requesters=with_requesters))]
    return "\n".join(out) + "\n"


def oldest_open_rows(
    report: Report, *, with_requesters: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The oldest open requests as (headers, rows), for the terminal and the page."""
    headers = ["oldest open", "team", "owner", "status", "age (days)"]
    headers += ["requester"] * with_requesters
    rows = [
        [o.reference, o.team or "-", o.owner or "-", o.status, f"{o.age_days:.1f}"]
        + [o.requester] * with_requesters
        for o in report.oldest_open
    ]
    return headers, rows


def _ratings_line(f: Figures) -> str:
    r = f.ratings
    if not (r.count or r.thanks):
        return "Ratings: none"
    stars = " ".join(f"{n}★ {c}" for n, c in enumerate(r.distribution, 1))
    average = f"{r.average:.2f}" if r.average is not None else "-"
    return (
        f"Ratings: {r.count}, average {average} ({stars}); thanks without a score {r.thanks}; "
        f"rated {share_text(r.rated_share)} of the requests resolved"
    )


def csv_report(report: Report) -> str:
    """One row for the period (scope ``all``), one per group and one per week."""
    zone = ZoneInfo(report.timezone)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["scope", *COLUMNS], lineterminator="\n")
    writer.writeheader()
    rows = [(ALL, report.total), *((report.by, g) for g in report.groups)]
    rows += [("week", w) for w in report.weeks] if report.by != "week" else []
    for scope, figures in rows:
        row = figures_row(figures, zone)
        if scope == ALL:
            row["name"] = ALL
        writer.writerow({"scope": scope, **{k: "" if v is None else v for k, v in row.items()}})
    return buffer.getvalue()
