"""The report as one self-contained HTML page (``mailer report --html``, the weekly mail's
attachment): inline CSS and SVG charts, no script, no font, no image or link to fetch, so
it opens the same offline, attached to a mail, on a phone and on paper.

Only references, teams, categories, owners and figures appear; requesters' addresses only
``with_requesters``. Every text that came from the store is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from mailer.core.reporting.export import iso
from mailer.core.reporting.figures import Figures
from mailer.core.reporting.report import Report
from mailer.reports.charts import Chart, draw
from mailer.reports.tables import (
    ALL,
    SUMMARY,
    attainment_text,
    oldest_open_rows,
    seconds_text,
    share_text,
    summary_row,
    working_text,
)

CSS = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5a5a5a; --line: #d8d8d8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; margin: 0 auto; padding: 1rem; max-width: 64rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
p.period, p.note { color: var(--muted); margin: 0 0 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9.5rem, 1fr)); gap: .6rem; }
.card { border: 1px solid var(--line); border-radius: .5rem; padding: .6rem .75rem; }
.card b { display: block; font-size: 1.35rem; }
.card span { color: var(--muted); font-size: .85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(24rem, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid var(--line); border-radius: .5rem; padding: .5rem;
  break-inside: avoid; page-break-inside: avoid; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: .85rem; min-width: 100%; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
@media (max-width: 40rem) { body { font-size: 14px; padding: .6rem; }
  .charts { grid-template-columns: 1fr; } }
@media print { body { max-width: none; padding: 0; font-size: 11pt; }
  .card, figure { border-color: #999; }
  h2 { break-after: avoid; page-break-after: avoid; } table { font-size: 8.5pt; }
  .scroll { overflow: visible; } }
"""

WEEK_COLUMNS = (
    "week", "opened", "resolved", "reopened", "1st resp p50", "resolution p50",
    "SLA 1st resp", "SLA resolution", "rating", "open at end",
)  # fmt: skip


def render_page(
    report: Report,
    *,
    title: str = "Service report",
    charts: Sequence[Chart] | None = None,
    with_requesters: bool = False,
) -> str:
    zone = ZoneInfo(report.timezone)
    t = report.total
    drawn = draw(report) if charts is None else charts
    period = f"{iso(t.since, zone)} to {iso(t.until, zone)} ({report.timezone})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f'<header><h1>{escape(title)}</h1><p class="period">{escape(period)}</p></header>',
        "<main>",
        _cards(t),
        '<h2 id="charts">Charts</h2><div class="charts">',
        *(_figure(chart) for chart in drawn),
        "</div>",
        f'<h2 id="groups">By {escape(report.by)}</h2>',
        _table(SUMMARY, [summary_row(t, ALL), *(summary_row(g, g.name) for g in report.groups)]),
        '<p class="note">Median and 90th percentile (p90). First response and resolution count '
        "working time in each team's calendar; acknowledgement counts clock time until the "
        "receipt was accepted by the mail server. SLA: targets met of those decided.</p>",
    ]
    for group, weeks in zip(report.groups, report.group_weeks, strict=False):
        parts += [f"<h3>{escape(group.name)}</h3>", _weeks_table(weeks)]
    parts += [
        '<h2 id="more">Ratings, robots and duplicates</h2>',
        _table(["", "count"], _more_rows(t)),
    ]
    if report.oldest_open:
        headers, rows = oldest_open_rows(report, with_requesters=with_requesters)
        parts += ['<h2 id="oldest">Oldest open requests</h2>', _table(headers, rows)]
    parts += ["</main></body></html>"]
    return "\n".join(parts) + "\n"


def _cards(t: Figures) -> str:
    rating = f"{t.ratings.average:.2f}" if t.ratings.average is not None else "-"
    cards = [
        (str(t.opened), "opened"),
        (str(t.resolved), "resolved"),
        (str(t.reopened), "reopened"),
        (seconds_text(t.acknowledge.median), "to acknowledge (median)"),
        (working_text(t.first_response.median), "to first response (median, working)"),
        (working_text(t.resolution.median), "to resolution (median, working)"),
        (share_text(t.sla["first_response"].share), "first responses on time"),
        (share_text(t.sla["resolution"].share), "resolutions on time"),
        (rating, f"average rating ({t.ratings.count})"),
        (str(t.backlog[-1].open if t.backlog else 0), "open at the end"),
    ]
    inner = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(label)}</span></div>'
        for v, label in cards
    )
    return f'<section class="cards" aria-label="Key figures">{inner}</section>'


def _figure(chart: Chart) -> str:
    return (
        f'<figure id="chart-{chart.key}">{chart.svg}'
        f"<figcaption>{escape(chart.alt)}</figcaption></figure>"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(_cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _cell(index: int, value: object) -> str:
    return (
        f'<th scope="row">{escape(str(value))}</th>'
        if index == 0
        else f"<td>{escape(str(value))}</td>"
    )


def _weeks_table(weeks: Sequence[Figures]) -> str:
    rows = []
    for w in weeks:
        r = w.ratings
        rows.append(
            [
                w.name,
                w.opened,
                w.resolved,
                w.reopened,
                working_text(w.first_response.median),
                working_text(w.resolution.median),
                attainment_text(w.sla["first_response"]),
                attainment_text(w.sla["resolution"]),
                f"{r.average:.2f} ({r.count})" if r.average is not None else "-",
                w.backlog[-1].open if w.backlog else 0,
            ]
        )
    return _table(WEEK_COLUMNS, rows)


def _more_rows(t: Figures) -> list[list[object]]:
    rows: list[list[object]] = [[f"rated {n}★", c] for n, c in enumerate(t.ratings.distribution, 1)]
    rows += [["thanks without a score", t.ratings.thanks]]
    rows += [["rated share of the resolved", share_text(t.ratings.rated_share)]]
    rows += [[f"suppressed: {word}", n] for word, n in (t.suppressed or {}).items()]
    rows += [["duplicates not processed again", t.duplicates or 0]]
    return rows
